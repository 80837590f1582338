package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StackTest {

    @Test
    void aFailedStartStopsWhatDidStartAndReportsEachFailureOnce() {
        List<String> closed = new ArrayList<>();
        StackException kafkaDown = new StackException("Kafka was not ready within 120 s; see kafka.log");
        CompletableFuture<AutoCloseable> postgres = CompletableFuture.completedFuture(() -> closed.add("postgres"));
        CompletableFuture<AutoCloseable> kafka = CompletableFuture.failedFuture(kafkaDown);
        // Connect waits for Kafka, so it fails with the very same exception.
        CompletableFuture<AutoCloseable> connect = kafka.thenApply(broker -> () -> closed.add("connect"));
        CompletableFuture<AutoCloseable> flink = CompletableFuture.completedFuture(() -> closed.add("flink"));

        RuntimeException failure = Stack.stopStarted(List.of(postgres, kafka, connect, flink));

        assertThat(failure).isSameAs(kafkaDown);
        assertThat(failure.getSuppressed()).isEmpty();
        assertThat(closed).containsExactly("postgres", "flink");
    }

    @Test
    void eachServiceHasItsFolder() {
        assertThat(Stack.SERVICE_FOLDERS).containsExactly("postgres", "elasticsearch", "kafka", "flink", "connect");
    }

    @Test
    void defaultPortsAreTheOnesBothStacksUse() {
        StackPorts ports = StackPorts.defaults();

        assertThat(List.of(ports.postgres(), ports.kafka(), ports.connect(), ports.elasticsearch(), ports.flink()))
                .containsExactly(5432, 9092, 8083, 9200, 8081);
        assertThat(ports.flinkMetrics()).as("the JobManager's and each TaskManager's Prometheus port")
                .hasSize(FlinkCluster.TASK_MANAGERS + 1).doesNotHaveDuplicates();
    }

    @Test
    void thePortsAStackWasStartedOnAreReadBackMetricsPortsIncluded(@TempDir Path dir) {
        StackPorts ports = StackPorts.free();

        Stack.writePorts(dir, ports);

        assertThat(Stack.readPorts(dir)).hasValue(ports);
        assertThat(ports.byComponent()).containsEntry("Flink TaskManager 2 metrics", ports.taskManagerMetrics(2));
    }

    /**
     * An internal port (Kafka's controller, Flink's RPC, the Prometheus endpoints) is never one of the public ports
     * asked for: nothing listens on those yet when the ports are chosen, so "free" alone let a second stack's Kafka on
     * 9093, or its Flink on 9250, share a port with its own controller or a TaskManager's reporter.
     */
    @Test
    void noInternalPortIsOneOfThePublicOnes() {
        StackPorts ports = StackPorts.of(5432, 9093, 8083, 9250, 6123);

        List<Integer> internal = new ArrayList<>(ports.flinkMetrics());
        internal.add(ports.kafkaController());
        internal.add(ports.flinkRpc());
        assertThat(internal).doesNotContainAnyElementsOf(List.of(5432, 9093, 8083, 9250, 6123)).doesNotHaveDuplicates();
    }

    /**
     * A stack started before its Flink processes had metrics ports recorded none. Each reader (./cdc status, the
     * supervisor restarting a TaskManager, ./cdc up starting what is missing) must see the same ports, and the ones a
     * restarted process serves on: not a new free set per read, which status listed as endpoints where nothing served.
     */
    @Test
    void aStackRecordedWithoutMetricsPortsGetsThemOnceForEveryReader(@TempDir Path dir) throws Exception {
        java.nio.file.Files.writeString(dir.resolve("ports.properties"), String.join("\n", "postgres=15432",
                "kafka=19092", "connect=18083", "elasticsearch=19200", "flink=18081", "kafka-controller=19093",
                "flink-rpc=16123", ""));

        StackPorts first = Stack.readPorts(dir).orElseThrow();
        StackPorts second = Stack.readPorts(dir).orElseThrow();

        assertThat(second.flinkMetrics()).isEqualTo(first.flinkMetrics());
        assertThat(second.flink()).isEqualTo(18081);
    }
}
