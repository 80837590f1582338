package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.ServerSocket;
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

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Starts the whole local stack once, on free ports, and checks each service as a user would see it. */
class StackITCase {

    @TempDir
    static Path dataDir;

    static Stack stack;

    @BeforeAll
    static void start() {
        stack = Stack.start(dataDir, StackPorts.free());
    }

    /** Stops the stack the way {@code ./cdc down} does: from the recorded PIDs. */
    @AfterAll
    static void stop() {
        if (stack == null) {
            return;
        }
        try {
            assertThat(Stack.stopRecorded(dataDir)).hasSize(Stack.PROCESSES.size());
            assertThat(stack.processes()).noneMatch(ServiceProcess::isAlive);
            assertThat(Stack.running(dataDir)).isEmpty();
        } finally {
            stack.close();
        }
    }

    @Test
    void recordsEveryProcess() {
        assertThat(Stack.running(dataDir)).containsOnlyKeys(Stack.PROCESSES);
        assertThat(dataDir.resolve("kafka/kafka.log")).exists();
    }

    @Test
    void refusesASecondStackOnTheSamePorts() {
        assertThatThrownBy(() -> Stack.start(dataDir.resolve("second"), stack.ports()))
                .isInstanceOf(StackException.class)
                .hasMessageContaining("PostgreSQL port " + stack.ports().postgres())
                .hasMessageContaining("already in use");
    }

    @Test
    void postgresIsReadyForLogicalDecoding() throws SQLException {
        try (Connection connection = stack.postgres().connect(); Statement statement = connection.createStatement()) {
            assertThat(single(statement, "SHOW wal_level")).isEqualTo("logical");
            assertThat(single(statement, "SELECT current_database()")).isEqualTo("testdb");

            statement.execute("SELECT pg_create_logical_replication_slot('it_slot', 'pgoutput')");
            assertThat(single(statement, "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'it_slot'"))
                    .isEqualTo("pgoutput");
            statement.execute("SELECT pg_drop_replication_slot('it_slot')");
        }
    }

    @Test
    void postgresChecksThePasswordOverTcp() {
        assertThatThrownBy(() -> DriverManager.getConnection(stack.postgres().jdbcUrl(), "postgres", "wrong").close())
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("password authentication failed");
    }

    @Test
    void elasticsearchAnswersAsVersion7() throws Exception {
        JsonNode root = Http.get(stack.elasticsearch().url()).json();

        assertThat(root.path("version").path("number").asText()).isEqualTo("7.10.2");
    }

    @Test
    void kafkaAcceptsATopicAndARecord() throws Exception {
        Map<String, Object> common = Map.of("bootstrap.servers", stack.kafka().bootstrapServers());
        try (Admin admin = Admin.create(common)) {
            admin.createTopics(List.of(new NewTopic("it.topic", 2, (short) 1))).all().get();
        }
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(common, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>("it.topic", "1", "hello")).get();
        }

        List<ConsumerRecord<String, String>> received = new ArrayList<>();
        Map<String, Object> consumerConfig = Map.of("bootstrap.servers", stack.kafka().bootstrapServers(),
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
        JsonNode plugins = Http.get(stack.connect().url() + "/connector-plugins").json();

        List<String> classes = new ArrayList<>();
        plugins.forEach(plugin -> classes.add(plugin.path("class").asText()));
        assertThat(classes).contains("io.debezium.connector.postgresql.PostgresConnector");
    }

    @Test
    void flinkHasOneTaskManagerWithTwoSlots() throws Exception {
        JsonNode overview = Http.get(stack.flink().url() + "/overview").json();

        assertThat(overview.path("flink-version").asText()).isEqualTo("1.20.5");
        assertThat(overview.path("taskmanagers").asInt()).isEqualTo(1);
        assertThat(overview.path("slots-total").asInt()).isEqualTo(2);
        assertThat(Http.get(stack.flink().url() + "/").body()).contains("Apache Flink Web Dashboard");
    }

    @Test
    void flinkRunsWithTheRepositoryConfigurationAndItsOwnFolders() throws Exception {
        JsonNode config = Http.get(stack.flink().url() + "/jobmanager/config").json();

        assertThat(valueOf(config, "restart-strategy.type")).isEqualTo("exponential-delay");
        assertThat(valueOf(config, "state.backend.type")).isEqualTo("hashmap");
        assertThat(valueOf(config, "execution.checkpointing.dir"))
                .isEqualTo(dataDir.resolve("flink/checkpoints").toUri().toString());
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
