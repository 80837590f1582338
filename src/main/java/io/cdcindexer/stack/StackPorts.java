package io.cdcindexer.stack;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where each service of the local stack listens. The first five are the ones users and tools connect to; the Kafka
 * controller and Flink RPC ports are internal; {@code flinkMetrics} are the Flink processes' Prometheus endpoints, the
 * JobManager's first, then each TaskManager's ({@link FlinkCluster#TASK_MANAGERS}).
 */
public record StackPorts(int postgres, int kafka, int connect, int elasticsearch, int flink, int kafkaController,
        int flinkRpc, List<Integer> flinkMetrics) {

    /** The Prometheus reporter's usual port: the JobManager's here, the TaskManagers' the ones after it when free. */
    static final int PROMETHEUS = 9249;

    public StackPorts {
        if (flinkMetrics.size() != FlinkCluster.TASK_MANAGERS + 1) {
            throw new IllegalArgumentException("One metrics port per Flink process (" + (FlinkCluster.TASK_MANAGERS + 1)
                    + "), not " + flinkMetrics);
        }
        flinkMetrics = List.copyOf(flinkMetrics);
    }

    /** The ports both stacks use: PostgreSQL 5432, Kafka 9092, Connect 8083, Elasticsearch 9200, Flink 8081. */
    public static StackPorts defaults() {
        return of(5432, 9092, 8083, 9200, 8081);
    }

    /** Free ports for everything: a test's own stack, next to whatever else runs. */
    public static StackPorts free() {
        return new StackPorts(FreePorts.next(), FreePorts.next(), FreePorts.next(), FreePorts.next(), FreePorts.next(),
                FreePorts.next(), FreePorts.next(), freeMetricsPorts());
    }

    /**
     * The given public ports; the internal ones are Kafka's and Flink's usual 9093 and 6123 when free, else any, and the
     * metrics ports 9249, 9250, ... when free, else any.
     */
    public static StackPorts of(int postgres, int kafka, int connect, int elasticsearch, int flink) {
        // Nothing listens on the public ports yet: they are taken here, so no internal port lands on one of them.
        Set<Integer> taken = new HashSet<>(List.of(postgres, kafka, connect, elasticsearch, flink));
        int kafkaController = internal(9093, taken);
        int flinkRpc = internal(6123, taken);
        List<Integer> metrics = new ArrayList<>();
        for (int i = 0; i <= FlinkCluster.TASK_MANAGERS; i++) {
            metrics.add(internal(PROMETHEUS + i, taken));
        }
        return new StackPorts(postgres, kafka, connect, elasticsearch, flink, kafkaController, flinkRpc, metrics);
    }

    /** A free port for each Flink process's Prometheus endpoint. */
    public static List<Integer> freeMetricsPorts() {
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i <= FlinkCluster.TASK_MANAGERS; i++) {
            ports.add(FreePorts.next());
        }
        return ports;
    }

    // The preferred port when free and not taken, else any free one; either way it is taken from then on.
    private static int internal(int preferred, Set<Integer> taken) {
        int port = preferred;
        while (taken.contains(port) || FreePorts.inUse(port)) {
            port = FreePorts.next();
        }
        taken.add(port);
        return port;
    }

    /** The JobManager's Prometheus port. */
    public int jobManagerMetrics() {
        return flinkMetrics.get(0);
    }

    /** TaskManager {@code index}'s (1-based) Prometheus port. */
    public int taskManagerMetrics(int index) {
        return flinkMetrics.get(index);
    }

    /** Each port with what listens on it, in start order. */
    public Map<String, Integer> byComponent() {
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("PostgreSQL", postgres);
        ports.put("Elasticsearch", elasticsearch);
        ports.put("Kafka", kafka);
        ports.put("Kafka controller", kafkaController);
        ports.put("Flink REST", flink);
        ports.put("Flink RPC", flinkRpc);
        ports.put("Flink JobManager metrics", jobManagerMetrics());
        for (int i = 1; i <= FlinkCluster.TASK_MANAGERS; i++) {
            ports.put("Flink TaskManager " + i + " metrics", taskManagerMetrics(i));
        }
        ports.put("Kafka Connect", connect);
        return ports;
    }
}
