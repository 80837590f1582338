package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaConnectClientTest {

    private static KafkaConnectClient.Status status(String json) {
        return KafkaConnectClient.Status.of(Json.parse(json, "t"));
    }

    @Test
    void runningMeansTheConnectorAndEveryTaskRun() {
        assertThat(status("{\"connector\":{\"state\":\"RUNNING\"},\"tasks\":[{\"id\":0,\"state\":\"RUNNING\"}]}")
                .running()).isTrue();
        assertThat(status("{\"connector\":{\"state\":\"RUNNING\"},\"tasks\":[]}").running()).isFalse();
        assertThat(status("{\"connector\":{\"state\":\"RUNNING\"},\"tasks\":[{\"id\":0,\"state\":\"UNASSIGNED\"}]}")
                .running()).isFalse();
    }

    @Test
    void aFailedTaskIsReportedWithItsTrace() {
        KafkaConnectClient.Status failed = status("{\"connector\":{\"state\":\"RUNNING\",\"worker_id\":\"w:8083\"},"
                + "\"tasks\":[{\"id\":0,\"state\":\"FAILED\",\"worker_id\":\"w:8083\",\"trace\":\"PSQLException: boom\"}]}");
        assertThat(failed.failure()).hasValueSatisfying(state -> {
            assertThat(state.what()).isEqualTo("task 0");
            assertThat(state.trace()).isEqualTo("PSQLException: boom");
        });
        assertThat(failed.summary()).isEqualTo("connector RUNNING, task 0 FAILED");
    }

    @Test
    void readsTheCheckedInConnectorConfiguration() {
        KafkaConnectClient.ConnectorConfig config = KafkaConnectClient.ConnectorConfig.read(
                Path.of("configs/debezium-postgres-connector.json"));
        assertThat(config.name()).isEqualTo("cdc-postgres");
        assertThat(config.config().path("database.password").asText()).isEqualTo("${env:POSTGRES_PASSWORD}");
    }

    @Test
    void refusesAFileThatIsNoConnectorConfiguration(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("c.json"), "{\"name\":\"x\"}");
        assertThatThrownBy(() -> KafkaConnectClient.ConnectorConfig.read(file))
                .isInstanceOf(CliException.class).hasMessageContaining("is no connector configuration");
        assertThatThrownBy(() -> KafkaConnectClient.ConnectorConfig.read(dir.resolve("missing.json")))
                .isInstanceOf(CliException.class).hasMessageContaining("No connector configuration at");
    }

    @Test
    void showsConnectsErrorMessage() {
        assertThat(KafkaConnectClient.errorMessage("{\"error_code\":400,\"message\":\"Connector configuration is invalid\"}"))
                .isEqualTo("Connector configuration is invalid");
        assertThat(KafkaConnectClient.errorMessage("<html>")).isEqualTo("<html>");
    }
}
