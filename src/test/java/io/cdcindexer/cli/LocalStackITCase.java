package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.kafka.TestProducers;

import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.Stack;
import io.cdcindexer.stack.StackPorts;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The local stack as a user drives it: {@code ./cdc up --detach} on free ports starts every service once (each its own
 * process) and submits the job; the tests check what a user sees of each service, of status and of submit; and
 * {@code ./cdc down} stops it all.
 */
class LocalStackITCase {

    @TempDir
    static Path dataDir;

    static StackPorts ports;
    /** The connection options every command takes. */
    static String[] flags;
    static CliRun up;

    @BeforeAll
    static void up() {
        ports = StackPorts.free();
        flags = ConnectionOptions.flagsFor(ports);
        up = CliRun.with("up", flags, "--detach", "--data-dir", dataDir.toString());
        assertThat(up.exitCode()).as(up.toString()).isZero();
    }

    @AfterAll
    static void down() {
        CliRun down = CliRun.of("down", "--data-dir", dataDir.toString());

        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(down.out()).contains("stopped supervisor, connect/connect", "postgres/postgres");
        assertThat(Stack.running(dataDir)).isEmpty();
        assertThat(List.of(ports.postgres(), ports.kafka(), ports.connect(), ports.elasticsearch(), ports.flink()))
                .noneMatch(FreePorts::inUse);
    }

    @Test
    void upPrintsWhereEachServiceIsAndReady() {
        assertThat(up.out())
                .contains("Flink web UI   " + flink())
                .contains("Elasticsearch  " + elasticsearch())
                .contains("Kafka Connect  " + connect())
                .contains("Prometheus     " + FlinkCluster.metricsUrl(recordedPorts().jobManagerMetrics())
                        + " (JobManager), " + FlinkCluster.metricsUrl(recordedPorts().taskManagerMetrics(1)))
                .contains("submit: job cdc-indexer submitted")
                .containsPattern("(?m)^ready$");
        assertThat(Stack.running(dataDir)).hasSize(Stack.processCount());
    }

    @Test
    void aSecondUpSaysSoAndChangesNothing() {
        Map<String, ProcessHandle> before = Stack.running(dataDir);

        CliRun again = CliRun.with("up", flags, "--detach", "--data-dir", dataDir.toString());

        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertThat(again.out()).contains("already running");
        assertThat(Stack.running(dataDir)).isEqualTo(before);
    }

    @Test
    void postgresIsReadyForLogicalDecoding() throws SQLException {
        try (Connection connection = DriverManager.getConnection(jdbcUrl(), "postgres", "postgres");
                Statement statement = connection.createStatement()) {
            assertThat(single(statement, "SHOW wal_level")).isEqualTo("logical");

            statement.execute("SELECT pg_create_logical_replication_slot('it_slot', 'pgoutput')");
            assertThat(single(statement, "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'it_slot'"))
                    .isEqualTo("pgoutput");
            statement.execute("SELECT pg_drop_replication_slot('it_slot')");
        }
    }

    @Test
    void postgresChecksThePasswordOverTcp() {
        assertThatThrownBy(() -> DriverManager.getConnection(jdbcUrl(), "postgres", "wrong").close())
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("password authentication failed");
    }

    @Test
    void elasticsearchAnswersAsVersion7() throws Exception {
        assertThat(Http.get(elasticsearch()).json().path("version").path("number").asText()).isEqualTo("7.10.2");
    }

    @Test
    void kafkaAcceptsATopicAndARecord() throws Exception {
        Map<String, Object> common = Map.of("bootstrap.servers", "localhost:" + ports.kafka());
        try (Admin admin = Admin.create(common)) {
            admin.createTopics(List.of(new NewTopic("it.topic", 2, (short) 1))).all().get();
        }
        try (KafkaProducer<String, String> producer = TestProducers.strings("localhost:" + ports.kafka())) {
            producer.send(new ProducerRecord<>("it.topic", "1", "hello")).get();
        }

        List<ConsumerRecord<String, String>> received = new ArrayList<>();
        Map<String, Object> consumerConfig = Map.of("bootstrap.servers", "localhost:" + ports.kafka(),
                "group.id", "it", "auto.offset.reset", "earliest");
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(consumerConfig, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(Set.of("it.topic"));
            Instant deadline = Instant.now().plusSeconds(60);
            while (received.isEmpty() && Instant.now().isBefore(deadline)) {
                consumer.poll(Duration.ofMillis(500)).forEach(received::add);
            }
        }
        assertThat(received).singleElement().satisfies(record -> {
            assertThat(record.key()).isEqualTo("1");
            assertThat(record.value()).isEqualTo("hello");
        });
    }

    @Test
    void connectOffersTheDebeziumPostgresConnector() throws Exception {
        List<String> classes = new ArrayList<>();
        Http.get(connect() + "/connector-plugins").json().forEach(plugin -> classes.add(plugin.path("class").asText()));

        assertThat(classes).contains("io.debezium.connector.postgresql.PostgresConnector");
    }

    @Test
    void flinkHasTwoTaskManagersWithTwoSlotsEachAndTheRepositoryConfiguration() throws Exception {
        JsonNode overview = Http.get(flink() + "/overview").json();
        assertThat(overview.path("flink-version").asText()).isEqualTo("1.20.5");
        assertThat(overview.path("taskmanagers").asInt()).isEqualTo(2);
        assertThat(overview.path("slots-total").asInt()).isEqualTo(4);
        assertThat(Http.get(flink() + "/").body()).contains("Apache Flink Web Dashboard");

        JsonNode config = Http.get(flink() + "/jobmanager/config").json();
        assertThat(valueOf(config, "restart-strategy.type")).isEqualTo("exponential-delay");
        assertThat(valueOf(config, "state.backend.type")).isEqualTo("hashmap");
        assertThat(valueOf(config, "execution.checkpointing.dir"))
                .isEqualTo("file://" + dataDir.resolve("flink/checkpoints"));
    }

    @Test
    void statusShowsEveryServiceWithItsPidAndTheRunningJob() throws Exception {
        awaitJobRunning();

        CliRun status = CliRun.with("status", flags, "--data-dir", dataDir.toString());

        assertThat(status.out()).as(status.toString())
                .containsPattern("ok +PostgreSQL .*PostgreSQL 17.* \\(pid \\d+\\)")
                .containsPattern("ok +Kafka .*1 broker \\(pid \\d+\\)")
                .containsPattern("ok +Kafka Connect .*Kafka Connect 4.3.0 \\(pid \\d+\\)")
                .containsPattern("ok +supervisor +pid \\d+ +running, watching 7 processes")
                .containsPattern("ok +Flink .*2 TaskManagers.* \\(pid \\d+, \\d+, \\d+\\)")
                .containsPattern("ok +Elasticsearch .*\\(pid \\d+\\)")
                .containsPattern("ok +Flink job +cdc-indexer +RUNNING")
                .containsPattern("ok +captured tables +public\\.\\* +\\d+ tables, all indexable")
                .contains("metrics for Prometheus: " + FlinkCluster.metricsUrl(recordedPorts().jobManagerMetrics()));
    }

    /**
     * Real Debezium events (their source.ts_ms is PostgreSQL's commit time) through the job, as Prometheus scrapes the
     * TaskManagers: a metric per table appears with the table's first change since the job's tasks started.
     */
    @Test
    void theTaskManagersServeTheJobsMetricsPerTable() throws Exception {
        awaitJobRunning();
        try (Connection connection = DriverManager.getConnection(jdbcUrl(), "postgres", "postgres");
                Statement statement = connection.createStatement()) {
            statement.execute("UPDATE users SET username = username WHERE id = 1");
            statement.execute("UPDATE orders SET status = status WHERE id = 1");
        }
        String changesDecoded = "(?m)^flink_taskmanager_job_task_operator_table_changesDecoded\\{.*table=\"public\\.users\"";
        String delay = "(?m)^flink_taskmanager_job_task_operator_table_commitToAcknowledgedMs\\{.*"
                + "table=\"public\\.orders\".*quantile=\"0\\.99\"";
        Instant deadline = Instant.now().plusSeconds(60);
        String scraped = scrapeTaskManagers();
        while (!(Pattern.compile(changesDecoded).matcher(scraped).find() && Pattern.compile(delay).matcher(scraped).find())
                && Instant.now().isBefore(deadline)) {
            Thread.sleep(500);
            scraped = scrapeTaskManagers();
        }

        assertThat(scraped).containsPattern(changesDecoded).containsPattern(delay)
                .containsPattern("(?m)^flink_taskmanager_job_task_operator_pendingRecords\\{");
    }

    private static String scrapeTaskManagers() throws Exception {
        StringBuilder scraped = new StringBuilder();
        for (int i = 1; i <= FlinkCluster.TASK_MANAGERS; i++) {
            scraped.append(Http.get(FlinkCluster.metricsUrl(recordedPorts().taskManagerMetrics(i))).body());
        }
        return scraped.toString();
    }

    private static StackPorts recordedPorts() {
        return Stack.readPorts(dataDir).orElseThrow();
    }

    @Test
    void statusNamesATableThePipelineCannotIndex() throws Exception {
        try (Connection connection = DriverManager.getConnection(jdbcUrl(), "postgres", "postgres");
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE audit_log(message text)");
            try {
                CliRun status = CliRun.with("status", flags, "--data-dir", dataDir.toString());

                assertThat(status.exitCode()).as(status.toString()).isEqualTo(1);
                assertThat(status.out()).containsPattern(
                        "FAIL +captured tables +public\\.\\* +audit_log: no primary key, its changes go to the dead-letter queue");
            } finally {
                statement.execute("DROP TABLE audit_log");
            }
        }
    }

    @Test
    void submitReplacesTheRunningJobThroughASavepoint() throws Exception {
        String before = awaitJobRunning();

        CliRun submit = CliRun.with("submit", flags);

        assertThat(submit.exitCode()).as(submit.toString()).isZero();
        assertThat(submit.out()).contains("stopping job cdc-indexer (" + before + ") with a savepoint",
                "restored from file:" + dataDir.resolve("flink/savepoints"));
        List<String> live = new ArrayList<>();
        Http.get(flink() + "/jobs/overview").json().path("jobs").forEach(job -> {
            if (!Set.of("FINISHED", "CANCELED", "FAILED").contains(job.path("state").asText())) {
                live.add(job.path("jid").asText());
            }
        });
        assertThat(live).hasSize(1).doesNotContain(before);
        assertThat(Http.get(flink() + "/jars").json().path("files")).as("uploaded jars left on the JobManager").isEmpty();
    }

    @Test
    void theJobRunsAtTheClustersDefaultParallelism() throws Exception {
        String job = awaitJobRunning();

        List<Integer> parallelism = new ArrayList<>();
        Http.get(flink() + "/jobs/" + job).json().path("vertices")
                .forEach(vertex -> parallelism.add(vertex.path("parallelism").asInt()));

        assertThat(parallelism).as("parallelism of each vertex: parallelism.default of flink-conf/config.yaml")
                .isNotEmpty().containsOnly(1);
    }

    /** Waits until the cdc-indexer job and all its tasks run (a savepoint needs them all); returns its id. */
    private static String awaitJobRunning() throws Exception {
        Instant deadline = Instant.now().plusSeconds(120);
        while (true) {
            for (JsonNode job : Http.get(flink() + "/jobs/overview").json().path("jobs")) {
                if (job.path("state").asText().equals("RUNNING")) {
                    String id = job.path("jid").asText();
                    boolean allRunning = true;
                    for (JsonNode vertex : Http.get(flink() + "/jobs/" + id).json().path("vertices")) {
                        allRunning &= vertex.path("status").asText().equals("RUNNING");
                    }
                    if (allRunning) {
                        return id;
                    }
                }
            }
            assertThat(Instant.now()).as("the job runs within 120 s").isBefore(deadline);
            Thread.sleep(500);
        }
    }

    private static String jdbcUrl() {
        return "jdbc:postgresql://localhost:" + ports.postgres() + "/testdb";
    }

    private static String elasticsearch() {
        return "http://localhost:" + ports.elasticsearch();
    }

    private static String connect() {
        return "http://localhost:" + ports.connect();
    }

    private static String flink() {
        return "http://localhost:" + ports.flink();
    }

    private static String valueOf(JsonNode config, String key) {
        for (JsonNode entry : config) {
            if (entry.path("key").asText().equals(key)) {
                return entry.path("value").asText();
            }
        }
        return null;
    }

    private static String single(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }
}
