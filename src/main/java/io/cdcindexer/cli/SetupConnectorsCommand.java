package io.cdcindexer.cli;

import io.cdcindexer.stack.ProjectHome;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc setup-connectors}: registers the Debezium connector with Kafka Connect and waits until it runs. */
@Command(
        name = "setup-connectors",
        mixinStandardHelpOptions = true,
        description = {
            "Registers the Debezium PostgreSQL connector with Kafka Connect (PUT /connectors/<name>/config: creates "
                    + "it, or updates it if it exists), then waits until the connector and its task run.",
            "The configuration is used as it is: it reads the database coordinates from the Connect worker's "
                    + "environment ($${env:POSTGRES_HOST} and so on), so no password is stored in Kafka.",
            "Once running, the connector snapshots the existing rows (op=r events), then streams every change from "
                    + "the replication slot to the topics cdc.public.<table>.",
        })
public final class SetupConnectorsCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", defaultValue = "configs/debezium-postgres-connector.json",
            description = "Connector configuration; a relative path is resolved against the repository root "
                    + "(default ${DEFAULT-VALUE}).")
    Path config;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "60s", converter = DurationConverter.class,
            description = "How long to wait for the connector and its task to run (default ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        Path file = config.isAbsolute() ? config : home().resolve(config);
        KafkaConnectClient.ConnectorConfig connector = KafkaConnectClient.ConnectorConfig.read(file);
        KafkaConnectClient connect = new KafkaConnectClient(connection.connect);
        boolean created = connect.putConfig(connector);
        out.println("setup-connectors: " + (created ? "created" : "updated") + " connector " + connector.name()
                + " from " + file + " at " + connection.connect);
        out.flush();

        long deadline = System.nanoTime() + timeout.toNanos();
        String lastSummary = null;
        while (true) {
            Optional<KafkaConnectClient.Status> status = connect.status(connector.name());
            String summary = status.map(KafkaConnectClient.Status::summary).orElse("not known to the worker yet");
            if (!summary.equals(lastSummary)) {
                out.println("  " + summary);
                out.flush();
                lastSummary = summary;
            }
            if (status.isPresent() && status.get().running()) {
                out.println("setup-connectors: " + connector.name() + " is running; ./cdc consume shows its events");
                out.flush();
                return 0;
            }
            Optional<KafkaConnectClient.State> failure = status.flatMap(KafkaConnectClient.Status::failure);
            if (failure.isPresent()) {
                throw new CliException("The " + failure.get().what() + " of " + connector.name() + " FAILED on "
                        + failure.get().workerId() + ":\n" + failure.get().trace());
            }
            if (System.nanoTime() >= deadline) {
                throw new CliException(connector.name() + " is not running after " + timeout.toSeconds() + " s ("
                        + summary + "). Its worker's log tells why; ./cdc status shows the whole pipeline.");
            }
            TimeUnit.MILLISECONDS.sleep(500); // poll interval while the connector starts
        }
    }

    /** The repository root: -Dcdc.home as the ./cdc launcher sets it, else the working directory. */
    private static Path home() {
        String configured = System.getProperty(ProjectHome.PROPERTY);
        return configured == null || configured.isBlank() ? Path.of("").toAbsolutePath() : Path.of(configured);
    }
}
