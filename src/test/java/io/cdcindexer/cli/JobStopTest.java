package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.FreePorts;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How {@code down} (and {@code submit}) stop the job without losing its state, decided against a stand-in for Flink's
 * REST API ({@link FakeFlinkRest}). Elasticsearch that does not answer is a port nobody listens on.
 */
class JobStopTest {

    FakeFlinkRest flink;
    StringWriter printed = new StringWriter();

    @BeforeEach
    void start() throws Exception {
        flink = new FakeFlinkRest();
    }

    @AfterEach
    void stop() {
        flink.close();
    }

    @Test
    void withElasticsearchDownNoSavepointIsAskedForAndTheJobIsCanceledKeepingItsCheckpoints() {
        flink.job("old", "RUNNING", 100).completedCheckpoint(7, "file:/checkpoints/old/chk-7");
        String nobody = "http://localhost:" + FreePorts.next();
        long started = System.nanoTime();

        SubmitCommand.stopWithSavepoint(out(), "down", new FlinkRest(flink.url()),
                List.of(JobStop.Dependency.elasticsearch(nobody)));

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(20));
        assertThat(flink.requests("POST", "/jobs/old/stop")).as("no savepoint asked for").isEmpty();
        assertThat(flink.requests("PATCH", "/jobs/old?mode=cancel")).hasSize(1);
        assertThat(printed.toString())
                .contains("down: Elasticsearch at " + nobody + " does not answer (connection refused)")
                .contains("a savepoint cannot complete without it")
                .contains("down: canceling job cdc-indexer (old) instead; the cluster keeps its retained checkpoints")
                .contains("down: the next ./cdc up resumes from retained checkpoint 7 of job old: file:/checkpoints/old/chk-7");
    }

    @Test
    void whileWaitingForTheSavepointItSaysHowFarItGotAndGivesUpAtTheTimeout() throws Exception {
        flink.job("old", "RUNNING", 100).savepointNeverCompletes().inProgress(15, true, 3, 4)
                .completedCheckpoint(14, "file:/checkpoints/old/chk-14");

        JobStop.Outcome outcome = stopper(List.of(answering("Elasticsearch")), Duration.ofSeconds(2)).stop("old", "cdc-indexer");

        assertThat(printed.toString())
                .contains("down: stopping job cdc-indexer (old) with a savepoint (Elasticsearch answer) ...")
                .containsPattern("down: still waiting for the savepoint \\(\\d s of at most 2\\): savepoint 15 in "
                        + "progress, 3/4 subtasks acknowledged")
                .contains("down: the savepoint did not complete within 2 s");
        assertThat(outcome).isEqualTo(new JobStop.Outcome.Canceled(
                new FlinkRest.State("file:/checkpoints/old/chk-14", "retained checkpoint 14 of job old")));
    }

    @Test
    void aServiceThatStopsAnsweringWhileItWaitsEndsTheWaitAtOnce() throws Exception {
        flink.job("old", "RUNNING", 100).savepointNeverCompletes().completedCheckpoint(14, "file:/checkpoints/old/chk-14");
        AtomicInteger asked = new AtomicInteger();
        JobStop.Dependency kafka = new JobStop.Dependency("Kafka", "localhost:9092",
                () -> asked.incrementAndGet() <= 2 ? Optional.empty() : Optional.of("no answer within 3 s"));
        long started = System.nanoTime();

        JobStop.Outcome outcome = stopper(List.of(kafka), Duration.ofMinutes(3)).stop("old", "cdc-indexer");

        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(20));
        assertThat(printed.toString()).contains("down: Kafka at localhost:9092 stopped answering (no answer within 3 s) "
                + "while the savepoint was under way");
        assertThat(flink.requests("PATCH", "/jobs/old?mode=cancel")).hasSize(1);
        assertThat(outcome).isInstanceOf(JobStop.Outcome.Canceled.class);
    }

    @Test
    void aJobWhoseCheckpointsACancelWouldDeleteIsLeftRunning() throws Exception {
        flink.job("old", "RUNNING", 100).savepointFails("CheckpointException: not all tasks running")
                .completedCheckpoint(14, "file:/checkpoints/old/chk-14").deletesCheckpointsOnCancel();

        JobStop.Outcome outcome = stopper(List.of(), Duration.ofSeconds(10)).stop("old", "cdc-indexer");

        assertThat(outcome).isInstanceOfSatisfying(JobStop.Outcome.LeftRunning.class,
                left -> assertThat(left.reason()).contains("deletes job cdc-indexer (old)'s checkpoints when it is canceled"));
        assertThat(flink.requests("PATCH", "/jobs/old")).as("no cancel").isEmpty();
        assertThat(printed.toString()).contains("down: the savepoint failed: CheckpointException: not all tasks running");
    }

    @Test
    void aSavepointThatCompletesIsAllThereIsToIt() throws Exception {
        flink.job("old", "RUNNING", 100);

        JobStop.Outcome outcome = stopper(List.of(answering("Elasticsearch"), answering("Kafka")), Duration.ofSeconds(10))
                .stop("old", "cdc-indexer");

        assertThat(outcome).isEqualTo(new JobStop.Outcome.Savepoint("file:/savepoints/savepoint-old"));
        assertThat(printed.toString()).contains("(Elasticsearch and Kafka answer)");
        assertThat(flink.requests("PATCH", "/jobs/old")).isEmpty();
    }

    @Test
    void elasticsearchAndKafkaThatNobodyServesDoNotAnswer() {
        int port = FreePorts.next();

        assertThat(JobStop.Dependency.firstDown(List.of(JobStop.Dependency.elasticsearch("http://localhost:" + port))))
                .hasValue(new JobStop.Down("Elasticsearch at http://localhost:" + port, "connection refused"));
        assertThat(JobStop.Dependency.firstDown(List.of(JobStop.Dependency.kafka("localhost:" + port))))
                .hasValueSatisfying(down -> assertThat(down.problem()).isEqualTo("no answer within 3 s"));
    }

    /** A service that answers; the probes themselves are tried against real services in JobStopITCase. */
    private static JobStop.Dependency answering(String name) {
        return new JobStop.Dependency(name, "localhost", Optional::empty);
    }

    private JobStop stopper(List<JobStop.Dependency> dependencies, Duration timeout) {
        return new JobStop(out(), "down", new FlinkRest(flink.url()), dependencies)
                .timing(timeout, Duration.ofMillis(500), Duration.ofMillis(200), Duration.ofMillis(50));
    }

    private PrintWriter out() {
        return new PrintWriter(printed, true);
    }
}
