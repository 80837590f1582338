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
}
