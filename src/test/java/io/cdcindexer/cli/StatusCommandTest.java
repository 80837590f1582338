package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;

import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.StackPorts;
import io.cdcindexer.stack.SupervisorState;
import io.cdcindexer.stack.SupervisorState.Service;
import io.cdcindexer.stack.SupervisorState.Status;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code ./cdc status} says about a degraded pipeline: the supervisor's file written to a temporary data folder, the
 * job as a stand-in for Flink's REST API ({@link FakeFlinkRest}) shows it. The lag rules are {@link ConsumerLagTest}'s
 * and {@link SlotLagTest}'s.
 */
class StatusCommandTest {

    private static final Instant NOW = Instant.parse("2026-12-01T12:03:00Z");
    private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    private static final List<String> PROCESSES = List.of("postgres/postgres", "elasticsearch/elasticsearch",
            "kafka/kafka", "flink/jobmanager", "flink/taskmanager-1", "flink/taskmanager-2", "connect/connect");
    private static final Set<String> SERVICE_FOLDERS = Set.of("postgres", "kafka", "connect", "flink", "elasticsearch");
    private static final String ES = "http://localhost:9200";
    private static final String REFUSAL_TRACE = String.join("\n",
            "java.io.IOException: Elasticsearch at http://localhost:9200 refused the job's request (authentication or "
                    + "authorization): 401 security_exception: missing authentication credentials for REST request "
                    + "[/_bulk]. Check the credentials and the role's privileges on the indices; the job restarts and "
                    + "tries again.",
            "\tat io.cdcindexer.elasticsearch.ElasticsearchIndexWriter.refusedCredentials(ElasticsearchIndexWriter.java:480)");

    @TempDir
    Path dataDir;

    FakeFlinkRest flink;

    @BeforeEach
    void start() throws Exception {
        flink = new FakeFlinkRest();
    }

    @AfterEach
    void stop() {
        flink.close();
    }

    /** A supervisor state as this process's (alive) supervisor would write it, every process running. */
    private static SupervisorState supervised() {
        return SupervisorState.initial(ProcessHandle.current().pid(), PROCESSES);
    }

    private SupervisorReport written(SupervisorState state) {
        state.write(dataDir);
        return SupervisorReport.read(dataDir, CLOCK, SupervisorReport::alive);
    }

    private static StatusCommand.Check flinkLine() {
        return new StatusCommand.Check("Flink", "http://localhost:8081", true,
                "Flink 1.20.5, 2 TaskManagers, 1 of 4 slots free (pid 11, 12, 13)");
    }

    private StatusCommand.JobReport job(Optional<String> resumes) {
        return StatusCommand.job(new FlinkRest(flink.url()), "cdc-indexer", ES, resumes, CLOCK);
    }

    private static long ago(long seconds) {
        return NOW.minusSeconds(seconds).toEpochMilli();
    }

    @Test
    void aProcessBeingRestartedMakesItsServiceUnhealthyAndSaysSinceWhenAndWhy() {
        SupervisorReport report = written(supervised().with("flink/taskmanager-2",
                new Service(Status.RESTARTING, 3, "2026-12-01T12:01:03Z", "exited with code 137 (killed)")));

        StatusCommand.Check flinkCheck = report.annotate(flinkLine(), "flink");

        assertThat(flinkCheck.healthy()).isFalse();
        assertThat(flinkCheck.detail()).isEqualTo("Flink 1.20.5, 2 TaskManagers, 1 of 4 slots free (pid 11, 12, 13)\n"
                + "taskmanager-2 restarting (since 12:01:03, restart 3: exited with code 137 (killed))");
        assertThat(report.annotate(new StatusCommand.Check("Kafka", "localhost:9092", true, "1 broker"), "kafka"))
                .as("the other services say nothing more").isEqualTo(
                        new StatusCommand.Check("Kafka", "localhost:9092", true, "1 broker"));
        assertThat(report.supervisorCheck(SERVICE_FOLDERS)).hasValueSatisfying(line -> {
            assertThat(line.healthy()).isTrue();
            assertThat(line.target()).isEqualTo("pid " + ProcessHandle.current().pid());
            assertThat(line.detail()).isEqualTo("running, watching 7 processes");
        });
    }

    @Test
    void aProcessRestartedAndRunningAgainIsSaidButHealthy() {
        SupervisorReport report = written(supervised()
                .with("flink/taskmanager-1", new Service(Status.RUNNING, 2, "2026-12-01T11:58:41Z", "exited with code 1"))
                .with("flink/jobmanager", new Service(Status.RUNNING, 1, "2026-11-30T23:10:00Z", "exited with code 143")));

        StatusCommand.Check flinkCheck = report.annotate(flinkLine(), "flink");

        assertThat(flinkCheck.healthy()).isTrue();
        assertThat(flinkCheck.detail()).endsWith("(pid 11, 12, 13)\n"
                + "jobmanager restarted once, last at 2026-11-30 23:10:00 (exited with code 143)\n"
                + "taskmanager-1 restarted 2 times, last at 11:58:41 (exited with code 1)");
    }

    @Test
    void aProcessWhoseRestartFailedMakesItsServiceUnhealthy() {
        SupervisorReport report = written(supervised().with("elasticsearch/elasticsearch",
                new Service(Status.FAILED, 5, "2026-12-01T12:02:30Z", "not ready within 120 s, see elasticsearch.log")));

        StatusCommand.Check es = report.annotate(
                new StatusCommand.Check("Elasticsearch", ES, false, "not reachable: connection refused"), "elasticsearch");

        assertThat(es.healthy()).isFalse();
        assertThat(es.detail()).isEqualTo("not reachable: connection refused\n"
                + "elasticsearch down, its restart failed (since 12:02:30, restart 5: not ready within 120 s, see "
                + "elasticsearch.log); the supervisor tries again after a growing pause");
    }

    @Test
    void aSupervisorThatIsGoneMeansTheStackIsNoLongerSupervised() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        SupervisorState state = new SupervisorState(gone.pid(), "2026-12-01T11:40:00Z", supervised().services(), 0, null);

        Optional<StatusCommand.Check> line = written(state).supervisorCheck(SERVICE_FOLDERS);

        assertThat(line).hasValueSatisfying(check -> {
            assertThat(check.healthy()).isFalse();
            assertThat(check.detail()).isEqualTo("not running (its last report was at 11:40:00): the stack is no longer "
                    + "supervised, a process that dies now stays down");
        });
    }

    @Test
    void withoutTheSupervisorsFileThereIsNoSupervisorLineAndNothingIsAdded() {
        SupervisorReport report = SupervisorReport.read(dataDir, CLOCK, SupervisorReport::alive);

        assertThat(report.supervisorCheck(SERVICE_FOLDERS)).isEmpty();
        assertThat(report.annotate(flinkLine(), "flink")).isEqualTo(flinkLine());
        assertThat(report.jobResumes()).isEmpty();
    }

    @Test
    void processesOfAServiceWithoutALineOfItsOwnAreOnTheSupervisorsLine() {
        SupervisorReport report = written(supervised().with("schema-registry/registry",
                new Service(Status.RESTARTING, 1, "2026-12-01T12:02:50Z", "exited with code 1")));

        assertThat(report.supervisorCheck(SERVICE_FOLDERS)).hasValueSatisfying(line -> {
            assertThat(line.healthy()).isFalse();
            assertThat(line.detail()).isEqualTo("running, watching 8 processes\n"
                    + "registry restarting (since 12:02:50, restart 1: exited with code 1)");
        });
    }

    @Test
    void aRestartingJobSaysHowOftenItRestartedItsLastExceptionAndItsResumptions() {
        flink.job("job-1", "RESTARTING", 100).restarts(4).completedCheckpointAt(12, ago(40))
                .failed(ago(90), "java.lang.IllegalStateException: older\n\tat x")
                .failed(ago(20), String.join("\n",
                        "org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy",
                        "Caused by: org.apache.kafka.common.errors.TimeoutException: Timeout of 60000ms expired before "
                                + "the position for partition cdc.public.orders-0 could be determined",
                        "\t... 12 more"));
        SupervisorReport supervisor = written(supervised().withJobResumed("resumed from chk-41 of job job-0")
                .withJobResumed("resumed from chk-12 of job job-1"));

        StatusCommand.JobReport report = job(supervisor.jobResumes());

        assertThat(report.job().healthy()).isFalse();
        assertThat(report.job().detail()).isEqualTo(String.join("\n",
                "RESTARTING (job-1), restarted 4 times, last checkpoint #12 40 s ago",
                "last exception at 12:02:40 (20 s ago): org.apache.kafka.common.errors.TimeoutException: Timeout of "
                        + "60000ms expired before the position for partition cdc.public.orders-0 could be determined",
                "resumed 2 times after JobManager restarts (last: resumed from chk-12 of job job-1)"));
        assertThat(report.writes().healthy()).as("not a refusal").isTrue();
        assertThat(report.checkpointIntervalMs()).isEqualTo(10_000);
    }

    @Test
    void aRunningJobThatFailedMinutesAgoIsHealthyButSaysSo() {
        flink.job("job-1", "RUNNING", 100).restarts(1).completedCheckpointAt(80, ago(3))
                .failed(ago(600), "java.lang.RuntimeException: a hiccup\n\tat x");

        StatusCommand.JobReport report = job(Optional.empty());

        assertThat(report.job().healthy()).isTrue();
        assertThat(report.job().detail()).isEqualTo("RUNNING (job-1), restarted once, last checkpoint #80 3 s ago\n"
                + "last exception at 11:53:00 (10 min ago): java.lang.RuntimeException: a hiccup");
    }

    @Test
    void elasticsearchRefusingTheJobsCredentialsIsSaidWithItsReason() {
        flink.job("job-1", "RUNNING", 100).restarts(7).completedCheckpointAt(3, ago(200)).failed(ago(12), REFUSAL_TRACE)
                .vertex("v-sink", "Drop stale changes -> Elasticsearch: Writer",
                        Map.of("Elasticsearch__Writer.rejectedTooManyRequestsPerSecond", 0.0));

        StatusCommand.JobReport report = job(Optional.empty());

        assertThat(report.writes()).isEqualTo(new StatusCommand.Check("index writes", ES, false,
                "Elasticsearch refuses the job's writes (401/403): 401 security_exception: missing authentication "
                        + "credentials for REST request [/_bulk]"));
        assertThat(report.job().healthy()).as("it fails and restarts").isFalse();
        assertThat(report.job().detail()).startsWith("RUNNING (job-1), restarted 7 times, last checkpoint #3 3 min ago")
                .contains("last exception at 12:02:48 (12 s ago): java.io.IOException: Elasticsearch at "
                        + "http://localhost:9200 refused the job's request");
    }

    @Test
    void aRefusalLongAgoNoLongerCounts() {
        flink.job("job-1", "RUNNING", 100).restarts(7).completedCheckpointAt(300, ago(2)).failed(ago(3_600), REFUSAL_TRACE)
                .vertex("v-sink", "Elasticsearch: Writer",
                        Map.of("Elasticsearch__Writer.rejectedTooManyRequestsPerSecond", 0.0));

        StatusCommand.JobReport report = job(Optional.empty());

        assertThat(report.writes()).isEqualTo(
                new StatusCommand.Check("index writes", ES, true, "no refusals, no 429 in the last minute"));
        assertThat(report.job().healthy()).isTrue();
    }

    @Test
    void elasticsearchPushingBackWith429SaysHowManyRetriesInTheLastMinute() {
        flink.job("job-1", "RUNNING", 100).completedCheckpointAt(9, ago(1))
                .vertex("v-source", "Source: Kafka: Debezium topics", Map.of("Source__Kafka.numRecordsOut", 5.0))
                .vertex("v-sink", "Drop stale changes -> Elasticsearch: Writer", Map.of(
                        "Elasticsearch__Writer.rejectedTooManyRequestsPerSecond", 0.55,
                        "Elasticsearch__Writer.rejectedTooManyRequests", 1234.0,
                        "Elasticsearch__Writer.actionsRetried", 1500.0));

        StatusCommand.JobReport report = job(Optional.empty());

        assertThat(report.writes()).isEqualTo(new StatusCommand.Check("index writes", ES, false,
                "Elasticsearch is pushing back (429): 33 retries in the last minute (1,234 since the job's tasks "
                        + "started); the writer retries them, indexing slows down"));
        assertThat(report.job().healthy()).as("the job itself runs").isTrue();
        assertThat(flink.requests("GET", "/jobs/job-1/vertices/v-sink/subtasks/metrics?get="))
                .extracting(FakeFlinkRest.Request::path)
                .contains("/jobs/job-1/vertices/v-sink/subtasks/metrics"
                        + "?get=Elasticsearch__Writer.rejectedTooManyRequestsPerSecond&agg=sum");
    }

    @Test
    void no429sInTheLastMinuteIsHealthyAndAJobWithoutTheMeterSaysItCannotTell() {
        flink.job("job-1", "RUNNING", 100).completedCheckpointAt(9, ago(1)).vertex("v-sink", "Elasticsearch: Writer",
                Map.of("Elasticsearch__Writer.rejectedTooManyRequestsPerSecond", 0.0,
                        "Elasticsearch__Writer.rejectedTooManyRequests", 1234.0));
        flink.job("job-2", "RUNNING", 200).completedCheckpointAt(9, ago(1)).vertex("v-sink", "Elasticsearch: Writer",
                Map.of("Elasticsearch__Writer.actionsRetried", 3.0));

        assertThat(StatusCommand.job(new FlinkRest(flink.url()), "cdc-indexer", ES, Optional.empty(), CLOCK).writes())
                .as("job-2, the newer, has no meter").isEqualTo(new StatusCommand.Check("index writes", ES, true,
                        "no refusals; 429s unknown (the job reports no rejectedTooManyRequests yet)"));
        flink.jobs.remove("job-2");
        assertThat(job(Optional.empty()).writes()).isEqualTo(
                new StatusCommand.Check("index writes", ES, true, "no refusals, no 429 in the last minute"));
    }

    /**
     * The p99 of commit → acknowledged is the slowest subtask's; a table's own p99 (a labelled metric whose name ends
     * the same) is not taken for it.
     */
    @Test
    void theIndexDelayIsTheSlowestSubtasksP99FromCommitToAcknowledged() {
        flink.job("job-1", "RUNNING", 100).completedCheckpointAt(9, ago(1))
                .vertexSubtasks("v-sink", "Collapse transactions -> Elasticsearch: Writer", Map.of(
                        "Elasticsearch__Writer.commitToAcknowledgedMs_p99", new double[] {850, 2_340},
                        "Elasticsearch__Writer.table.public_users.commitToAcknowledgedMs_p99", new double[] {99_000, 1}));

        assertThat(StatusCommand.delay(new FlinkRest(flink.url()), "cdc-indexer")).isEqualTo(new StatusCommand.Check(
                "index delay", "commit → acknowledged", true, "p99 2.3 s (the slowest subtask's, over its last 1,024 "
                        + "writes of the last 5 min)"));
    }

    @Test
    void theLocalStacksPrometheusEndpointsAreListedForItsFlinkOnly() {
        StackPorts ports = new StackPorts(5432, 9092, 8083, 9200, 8081, 9093, 6123, List.of(9249, 9250, 9251));

        assertThat(StatusCommand.prometheusEndpoints(ports, "http://localhost:8081")).hasValue("metrics for "
                + "Prometheus: http://localhost:9249/metrics (JobManager), http://localhost:9250/metrics, "
                + "http://localhost:9251/metrics (TaskManagers: the job's own)");
        assertThat(StatusCommand.prometheusEndpoints(ports, "http://localhost:18081")).as("another Flink").isEmpty();
    }

    @Test
    void anIndexDelayNotMeasuredYetOrWithoutAJobIsSaid() {
        flink.job("job-1", "RUNNING", 100).completedCheckpointAt(9, ago(1)).vertexSubtasks("v-sink",
                "Elasticsearch: Writer", Map.of("Elasticsearch__Writer.commitToAcknowledgedMs_p99",
                        new double[] {Double.NaN, Double.NaN}));

        assertThat(StatusCommand.delay(new FlinkRest(flink.url()), "cdc-indexer")).isEqualTo(new StatusCommand.Check(
                "index delay", "commit → acknowledged", true,
                "not measured (no write acknowledged in the last 5 min)"));
        flink.jobs.get("job-1").state = "CANCELED";
        assertThat(StatusCommand.delay(new FlinkRest(flink.url()), "cdc-indexer")).isEqualTo(new StatusCommand.Check(
                "index delay", "commit → acknowledged", false, "unknown: no job running"));
        assertThat(StatusCommand.millis(850.4)).isEqualTo("850 ms");
        assertThat(StatusCommand.millis(185_000)).isEqualTo("3 min");
    }

    @Test
    void aJobThatFailedForGoodIsNotRunningAndSaysWhy() {
        flink.job("job-0", "CANCELED", 50);
        flink.job("job-1", "FAILED", 100).failed(ago(30), REFUSAL_TRACE);

        StatusCommand.JobReport report = job(Optional.empty());

        assertThat(report.job().healthy()).isFalse();
        assertThat(report.job().detail()).startsWith("not running (./cdc submit)\n"
                + "the last one, job-1, failed at 12:02:30 (30 s ago): java.io.IOException: Elasticsearch at");
        assertThat(report.writes().healthy()).isFalse();
    }

    @Test
    void theWholeCommandShowsTheSupervisorAndWhatItRestarts() throws Exception {
        flink.job("job-1", "RUNNING", 100).restarts(2).completedCheckpointAt(5, System.currentTimeMillis() - 1_000);
        supervised().with("flink/taskmanager-2", new Service(Status.RESTARTING, 1, Instant.now().toString(),
                "exited with code 137")).write(dataDir);
        String closed = Integer.toString(FreePorts.next());
        // The ports of a local stack whose Flink is the one asked about: its Prometheus endpoints are listed.
        java.util.Properties ports = new java.util.Properties();
        for (String key : List.of("postgres", "kafka", "connect", "elasticsearch", "kafka-controller", "flink-rpc")) {
            ports.setProperty(key, closed);
        }
        ports.setProperty("flink", Integer.toString(java.net.URI.create(flink.url()).getPort()));
        ports.setProperty("flink-metrics", "19249,19250,19251");
        try (var writer = java.nio.file.Files.newBufferedWriter(dataDir.resolve("ports.properties"))) {
            ports.store(writer, null);
        }

        long started = System.nanoTime();
        CliRun run = CliRun.of("status", "--data-dir", dataDir.toString(), "--flink", flink.url(),
                "--pg-port", closed, "--kafka", "localhost:" + closed, "--connect", "http://localhost:" + closed,
                "--elasticsearch", "http://localhost:" + closed);
        long tookMs = (System.nanoTime() - started) / 1_000_000;

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.out()).as(run.toString())
                .containsPattern("(?m)^  ok    supervisor +pid " + ProcessHandle.current().pid()
                        + " +running, watching 7 processes$")
                .containsPattern("(?m)^  FAIL  Flink +" + java.util.regex.Pattern.quote(flink.url())
                        + " +Flink 1\\.20\\.5, 2 TaskManagers, 1 of 4 slots free$")
                .containsPattern("(?m)^ +metrics for Prometheus: http://localhost:19249/metrics \\(JobManager\\), "
                        + "http://localhost:19250/metrics, http://localhost:19251/metrics \\(TaskManagers: the job's own\\)\n"
                        + " +taskmanager-2 restarting")
                .containsPattern("(?m)^ +taskmanager-2 restarting \\(since \\d\\d:\\d\\d:\\d\\d, restart 1: exited with code 137\\)$")
                .containsPattern("(?m)^  ok    Flink job +cdc-indexer +RUNNING \\(job-1\\), restarted 2 times, last checkpoint #5 \\d+ s ago$")
                .containsPattern("(?m)^  FAIL  consumer lag +cdc-indexer +unknown: Kafka not reachable$")
                .containsPattern("(?m)^  ok    index delay +commit → acknowledged +not measured \\(no write")
                .contains("not healthy: PostgreSQL, Kafka, Kafka Connect, Flink, Elasticsearch,");
        assertThat(tookMs).as("status stays quick with Kafka not answering").isLessThan(6_000);
    }

    @Test
    void rendersAlignedLinesAndAVerdict() {
        String report = StatusCommand.render(List.of(
                new StatusCommand.Check("Kafka", "localhost:9092", true, "1 broker (pid 42)"),
                new StatusCommand.Check("connector", "cdc-postgres", false, "not registered (./cdc setup-connectors)"),
                new StatusCommand.Check("indices", "", true, "cdc.public.orders: 5 documents\ncdc.public.users: 3 documents")));

        assertThat(report).isEqualTo(String.join("\n",
                "  ok    Kafka      localhost:9092  1 broker (pid 42)",
                "  FAIL  connector  cdc-postgres    not registered (./cdc setup-connectors)",
                "  ok    indices                    cdc.public.orders: 5 documents",
                "                                   cdc.public.users: 3 documents",
                "1 not healthy: connector.",
                ""));
    }

    @Test
    void allHealthySaysSo() {
        String report = StatusCommand.render(List.of(new StatusCommand.Check("Flink", "http://localhost:8081", true, "ok")));

        assertThat(report).endsWith("All healthy.\n");
    }

    @Test
    void aRefusalsReasonIsElasticsearchsWithoutTheWritersAdvice() {
        assertThat(StatusCommand.refusal(StatusCommand.rootCause(REFUSAL_TRACE)))
                .isEqualTo("401 security_exception: missing authentication credentials for REST request [/_bulk]");
    }

    @Test
    void agesReadAsAHumanWouldSayThem() {
        assertThat(StatusCommand.ago(4_200)).isEqualTo("4 s");
        assertThat(StatusCommand.ago(300_000)).isEqualTo("5 min");
        assertThat(StatusCommand.ago(3 * 3_600_000)).isEqualTo("3 h");
        assertThat(StatusCommand.ago(-5)).isEqualTo("0 s");
    }

    @Test
    void aFailureReadsAsItsRootCause() {
        String trace = String.join("\n",
                "org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy",
                "\tat org.apache.flink.runtime...",
                "Caused by: org.apache.flink.util.FlinkRuntimeException: mailbox",
                "\tat ...",
                "Caused by: java.io.IOException: Elasticsearch at http://es:9200 refused the job's request "
                        + "(authentication or authorization): missing authentication credentials for REST request.",
                "\t... 12 more");

        assertThat(StatusCommand.rootCause(trace)).isEqualTo("java.io.IOException: Elasticsearch at http://es:9200 refused "
                + "the job's request (authentication or authorization): missing authentication credentials for REST request.");
        assertThat(StatusCommand.rootCause("java.lang.IllegalStateException: alone\n\tat x"))
                .isEqualTo("java.lang.IllegalStateException: alone");
    }

    @Test
    void eachAliasShowsTheIndexBehindItsMappingAndItsDocumentsAndAGuessedMappingIsSaidSo() {
        List<String> lines = StatusCommand.indexLines(
                Json.parse("[{\"index\":\"cdc.public.users_v1\",\"docs.count\":\"3\"},"
                        + "{\"index\":\"cdc.public.orders\",\"docs.count\":\"5\"},"
                        + "{\"index\":\".tasks\",\"docs.count\":\"1\"}]", "cat"),
                Json.parse("{\"cdc.public.users_v1\":{\"aliases\":{\"cdc.public.users\":{}}},"
                        + "\"cdc.public.orders\":{\"aliases\":{}}}", "aliases"),
                Json.parse("{\"cdc.public.users_v1\":{\"mappings\":{\"_meta\":{\"cdc-indexer\":{\"mapping\":\"3f2a\"}}}},"
                        + "\"cdc.public.orders\":{\"mappings\":{\"properties\":{}}}}", "mappings"),
                Json.array(), Map.of());

        assertThat(lines).containsExactly(
                "cdc.public.users → cdc.public.users_v1 (mapping 3f2a, 3 documents)",
                "cdc.public.orders: 5 documents, mapping guessed by Elasticsearch");
    }

    /** The lines for cdc.public.users_v1 behind its alias, with {@code documents} and this record of its first fill. */
    private static List<String> usersLinesWithInitialLoad(int documents, String record) {
        return StatusCommand.indexLines(
                Json.parse("[{\"index\":\"cdc.public.users_v1\",\"docs.count\":\"" + documents + "\"}]", "cat"),
                Json.parse("{\"cdc.public.users_v1\":{\"aliases\":{\"cdc.public.users\":{}}}}", "aliases"),
                Json.parse("{\"cdc.public.users_v1\":{\"mappings\":{\"_meta\":{\"cdc-indexer\":{\"mapping\":\"3f2a\","
                        + "\"initialLoad\":" + record + "}}}}}", "mappings"),
                Json.array(), Map.of());
    }

    @Test
    void anIndexASnapshotIsFillingWithoutRefreshIsSaidSoNextToItsDocuments() {
        List<String> lines = usersLinesWithInitialLoad(0, "{\"index.refresh_interval\":\"1s\"}");

        assertThat(lines).containsExactly("cdc.public.users → cdc.public.users_v1 (mapping 3f2a, first filled by a "
                + "snapshot without refresh: documents not counted or searchable until its snapshot is over, or the job "
                + "puts refresh back, 0 documents)");
    }

    @Test
    void anIndexWhoseFirstFillEndedIsNotFlagged() {
        List<String> lines = usersLinesWithInitialLoad(5, "{\"index.refresh_interval\":\"1s\",\"endedAt\":1}");

        assertThat(lines).containsExactly("cdc.public.users → cdc.public.users_v1 (mapping 3f2a, 5 documents)");
    }

    @Test
    void aReindexUnderWayShowsTheNextIndexNextToTheAliasWithItsDocumentsSoFar() {
        List<String> lines = StatusCommand.indexLines(
                Json.parse("[{\"index\":\"cdc.public.users_v1\",\"docs.count\":\"30\"},"
                        + "{\"index\":\"cdc.public.users_v2\",\"docs.count\":\"12\"},"
                        + "{\"index\":\"cdc-indexer-reindex\",\"docs.count\":\"1\"}]", "cat"),
                Json.parse("{\"cdc.public.users_v1\":{\"aliases\":{\"cdc.public.users\":{}}},"
                        + "\"cdc.public.users_v2\":{\"aliases\":{}},\"cdc-indexer-reindex\":{\"aliases\":{}}}", "aliases"),
                Json.parse("{\"cdc.public.users_v1\":{\"mappings\":{\"_meta\":{\"cdc-indexer\":{\"mapping\":\"3f2a\"}}}},"
                        + "\"cdc.public.users_v2\":{\"mappings\":{\"_meta\":{\"cdc-indexer\":{\"mapping\":\"77b0\"}}}}}",
                        "mappings"),
                Json.parse("[{\"_id\":\"cdc.public.users\",\"_source\":{\"to\":\"cdc.public.users_v2\","
                        + "\"startedAt\":\"2026-11-30T16:00:00Z\"}}]", "reindexes"), Map.of());

        assertThat(lines).containsExactly("cdc.public.users → cdc.public.users_v1 (mapping 3f2a, 30 documents); "
                + "reindexing into cdc.public.users_v2 since 2026-11-30T16:00:00Z (mapping 77b0, 12 documents so far)");
    }

    @Test
    void aJoinedDocumentIndexSaysSoAndCountsItsDocumentsNotTheNestedObjectsInThem() {
        // Elasticsearch's _cat/indices counts every nested object as a document of its own: 5 users with 8 orders = 13.
        JsonNode mappings = Json.parse("{\"cdc.documents.users_v1\":{\"mappings\":{\"dynamic\":\"strict\","
                + "\"_meta\":{\"cdc-indexer\":{\"document\":\"cdc.documents.users\"}},\"properties\":{"
                + "\"id\":{\"type\":\"integer\"},\"orders\":{\"type\":\"nested\",\"properties\":{}}}}},"
                + "\"cdc.public.users_v1\":{\"mappings\":{\"properties\":{\"id\":{\"type\":\"integer\"}}}}}",
                "mappings");

        assertThat(StatusCommand.withNestedObjects(mappings)).containsExactly("cdc.documents.users_v1");
        List<String> lines = StatusCommand.indexLines(
                Json.parse("[{\"index\":\"cdc.documents.users_v1\",\"docs.count\":\"13\"}]", "cat"),
                Json.parse("{\"cdc.documents.users_v1\":{\"aliases\":{\"cdc.documents.users\":{}}}}", "aliases"),
                mappings, Json.array(), Map.of("cdc.documents.users_v1", 5L));

        assertThat(lines).containsExactly(
                "cdc.documents.users → cdc.documents.users_v1 (mapping of joined documents, 5 documents)");
    }
}
