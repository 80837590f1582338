package io.cdcindexer.stack;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where each service of the local stack listens. The first five are the ones users and tools connect to; the Kafka
 * controller and Flink RPC ports are internal.
 */
public record StackPorts(int postgres, int kafka, int connect, int elasticsearch, int flink, int kafkaController,
        int flinkRpc) {

    /** The ports both stacks use: PostgreSQL 5432, Kafka 9092, Connect 8083, Elasticsearch 9200, Flink 8081. */
    public static StackPorts defaults() {
        return of(5432, 9092, 8083, 9200, 8081);
    }

    /** Free ports for everything: a test's own stack, next to whatever else runs. */
    public static StackPorts free() {
        return new StackPorts(FreePorts.next(), FreePorts.next(), FreePorts.next(), FreePorts.next(), FreePorts.next(),
                FreePorts.next(), FreePorts.next());
    }

    /** The given public ports; the internal ones are Kafka's and Flink's usual 9093 and 6123 when free, else any. */
    public static StackPorts of(int postgres, int kafka, int connect, int elasticsearch, int flink) {
        return new StackPorts(postgres, kafka, connect, elasticsearch, flink, internal(9093), internal(6123));
    }

    private static int internal(int preferred) {
        return FreePorts.inUse(preferred) ? FreePorts.next() : preferred;
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
        ports.put("Kafka Connect", connect);
        return ports;
    }
}
