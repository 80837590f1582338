package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaConnectWorkerITCase {

    @TempDir
    static Path dir;

    static KafkaBroker kafka;
    static KafkaConnectWorker connect;

    @BeforeAll
    static void start() {
        kafka = KafkaBroker.start(dir.resolve("kafka"), FreePorts.next());
        connect = KafkaConnectWorker.start(dir.resolve("connect"), FreePorts.next(), kafka.bootstrapServers(), 5432);
    }

    @AfterAll
    static void stop() {
        try (KafkaBroker k = kafka; KafkaConnectWorker c = connect) {
            // closed in reverse order: the worker, then the broker
        }
    }

    @Test
    void offersTheDebeziumPostgresConnector() throws Exception {
        JsonNode plugins = Http.get(connect.url() + "/connector-plugins").json();

        List<String> classes = new ArrayList<>();
        plugins.forEach(plugin -> classes.add(plugin.path("class").asText()));
        assertThat(classes).contains("io.debezium.connector.postgresql.PostgresConnector");
    }

    @Test
    void answersWithItsVersion() throws Exception {
        assertThat(Http.get(connect.url() + "/").json().path("version").asText()).isEqualTo("4.3.0");
    }
}
