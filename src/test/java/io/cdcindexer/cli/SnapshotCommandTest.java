package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

class SnapshotCommandTest {

    private static final Path FILE = Path.of("connector.json");

    @Test
    void asksForABlockingSnapshotOfTheTables() {
        assertThat(SnapshotCommand.signalData(List.of("public.users", "public.orders")))
                .isEqualTo("{\"data-collections\":[\"public.users\",\"public.orders\"],\"type\":\"blocking\"}");
    }

    @Test
    void readsTheSignalTableFromTheShippedConnectorConfiguration() {
        KafkaConnectClient.ConnectorConfig shipped = KafkaConnectClient.ConnectorConfig.read(
                Path.of("configs/debezium-postgres-connector.json"));

        assertThat(SignalTable.of(shipped, FILE).name()).isEqualTo("debezium.signal");
    }

    @Test
    void aConfigurationWithoutSignalTableIsAClearError() {
        KafkaConnectClient.ConnectorConfig connector = new KafkaConnectClient.ConnectorConfig("c",
                Json.parse("{\"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\"}", "test"));

        assertThatThrownBy(() -> SignalTable.of(connector, FILE))
                .isInstanceOf(CliException.class)
                .hasMessageContaining("connector.json names no signal table (\"signal.data.collection\"");
    }

    @Test
    void aTableIsRequired() {
        CliRun run = CliRun.of("snapshot");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("Missing required option: '--table=NAME'");
    }
}
