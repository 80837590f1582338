package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.KafkaConnectWorker;
import io.cdcindexer.stack.PostgresServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI end to end up to Kafka: setup-db, setup-connectors with the checked-in connector configuration, then consume
 * shows the snapshot and the basic scenario's changes as real Debezium wrote them.
 */
@ExtendWith(SharedServices.class)
class SetupConnectorsITCase {

    @TempDir
    static Path dir;

    static PostgresServer postgres;
    static KafkaBroker kafka;
    static KafkaConnectWorker connect;

    /** A broker of its own: the connector's topics (cdc.*) would otherwise mix with ConsumeITCase's hand-made ones. */
    @BeforeAll
    static void start(PostgresServer server) {
        postgres = server;
        kafka = KafkaBroker.start(dir.resolve("kafka"), FreePorts.next());
        connect = KafkaConnectWorker.start(dir.resolve("connect"), FreePorts.next(), kafka.bootstrapServers(),
                server.port());
    }

    @AfterAll
    static void stop() {
        try {
            if (connect != null) {
                connect.close();
            }
        } finally {
            if (kafka != null) {
                kafka.close();
            }
        }
    }

    @Test
    void registersTheConnectorAndItsEventsArrive() {
        String[] pg = SharedServices.postgresFlags(postgres, PostgresServer.DATABASE);
        assertThat(CliRun.with("setup-db", pg).exitCode()).isZero();

        CliRun setup = CliRun.of("setup-connectors", "--connect", connect.url(), "--timeout", "120s");
        assertThat(setup.exitCode()).as(setup.toString()).isZero();
        assertThat(setup.out()).contains("created connector cdc-postgres").contains("cdc-postgres is running");

        CliRun again = CliRun.of("setup-connectors", "--connect", connect.url(), "--timeout", "120s");
        assertThat(again.out()).as(again.toString()).contains("updated connector cdc-postgres");

        assertThat(CliRun.with("produce", pg, "--step-delay", "0").exitCode()).isZero();
        CliRun consume = CliRun.of("consume", "--kafka", kafka.bootstrapServers(), "--topic", "cdc\\.public\\.users",
                "--from-beginning", "--max-messages", "9", "--timeout", "120s");

        assertThat(consume.exitCode()).as(consume.toString()).isZero();
        List<String> lines = consume.out().lines().toList();
        assertThat(lines).filteredOn(line -> line.startsWith("op=r public.users ")).hasSize(5);
        assertThat(lines).anySatisfy(line -> assertThat(line).startsWith("op=r public.users id=1 snapshot  after: "
                + "{\"id\":1,\"username\":\"alice\",\"email\":\"alice@example.com\",\"created_at\":\""));
        assertThat(lines.subList(5, 9)).satisfiesExactly(
                line -> assertThat(line).startsWith("op=c public.users id=6 tx="),
                line -> assertThat(line).containsPattern("op=u public.users id=6 tx=\\d+  email: \"demo_\\w+@example.com\""
                        + " → \"demo_\\w+@example.org\""),
                line -> assertThat(line).startsWith("op=d public.users id=6 tx="),
                line -> assertThat(line).startsWith("tombstone public.users id=6"));
    }

    /** Orders, not users: registersTheConnectorAndItsEventsArrive reads the users topic record by record. */
    @Test
    void snapshotReadsATableAgainWhileTheConnectorRuns() {
        String[] pg = SharedServices.postgresFlags(postgres, PostgresServer.DATABASE);
        assertThat(CliRun.with("setup-db", pg).exitCode()).isZero();
        CliRun setup = CliRun.of("setup-connectors", "--connect", connect.url(), "--timeout", "120s");
        assertThat(setup.exitCode()).as(setup.toString()).isZero();

        CliRun snapshot = CliRun.with("snapshot", pg, "--table", "orders");

        assertThat(snapshot.exitCode()).as(snapshot.toString()).isZero();
        assertThat(snapshot.out()).contains("asked Debezium to read public.orders again", "in debezium.signal");
        CliRun consume = CliRun.of("consume", "--kafka", kafka.bootstrapServers(), "--topic", "cdc\\.public\\.orders",
                "--from-beginning", "--max-messages", "16", "--timeout", "120s");
        assertThat(consume.exitCode()).as(consume.toString()).isZero();
        assertThat(consume.out().lines()).as("8 rows from the initial snapshot, then the same 8 again")
                .hasSize(16).allMatch(line -> line.startsWith("op=r public.orders id="));
    }

    @Test
    void saysWhyABrokenConnectorDoesNotRun(@TempDir Path configs) throws IOException {
        Path broken = Files.writeString(configs.resolve("broken.json"), """
                {"name": "it-broken", "config": {
                  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
                  "database.hostname": "localhost", "database.port": "1", "database.user": "postgres",
                  "database.password": "postgres", "database.dbname": "testdb", "topic.prefix": "broken",
                  "plugin.name": "pgoutput", "slot.name": "it_broken"}}""");

        CliRun run = CliRun.of("setup-connectors", "--connect", connect.url(), "--config", broken.toString(),
                "--timeout", "60s");

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
        assertThat(run.err()).containsAnyOf("Kafka Connect refused the configuration of it-broken", "FAILED");
    }
}
