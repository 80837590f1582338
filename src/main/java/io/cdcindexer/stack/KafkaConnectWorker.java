package io.cdcindexer.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A Kafka Connect 4.3 worker (distributed mode, one node) with the Debezium PostgreSQL connector, in its own process:
 * REST on localhost:{@code port}, log in {@code dir/connect.log}. Connectors read the database coordinates from the
 * worker's environment ({@code ${env:POSTGRES_HOST}} ...), as in the Docker stack.
 */
public final class KafkaConnectWorker implements AutoCloseable {

    /** The REST API answers 404 for a while after it listens; this covers a slow first start. */
    private static final Duration START_TIMEOUT = Duration.ofSeconds(180);

    private final ServiceProcess process;
    private final int port;

    private KafkaConnectWorker(ServiceProcess process, int port) {
        this.process = process;
        this.port = port;
    }

    /**
     * Starts a worker that stores its state in {@code kafkaBootstrapServers} and gives connectors the PostgreSQL on
     * localhost:{@code postgresPort} (database testdb, user and password postgres). Returns once the REST API answers.
     */
    public static KafkaConnectWorker start(Path dir, int port, String kafkaBootstrapServers, int postgresPort) {
        String classpath = ServiceClasspath.of("connect");
        Path config = dir.resolve("worker.properties");
        try {
            Files.createDirectories(dir);
            Files.writeString(config, workerProperties(port, kafkaBootstrapServers));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> environment = Map.of(
                "POSTGRES_HOST", "localhost",
                "POSTGRES_PORT", Integer.toString(postgresPort),
                "POSTGRES_USER", PostgresServer.USER,
                "POSTGRES_PASSWORD", PostgresServer.PASSWORD,
                "POSTGRES_DB", PostgresServer.DATABASE);
        ServiceProcess process = ServiceProcess.start("Kafka Connect", dir, "connect",
                ServiceProcess.java(classpath, List.of("-Xms256m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError"),
                        "org.apache.kafka.connect.cli.ConnectDistributed", List.of(config.toString())),
                environment);
        KafkaConnectWorker worker = new KafkaConnectWorker(process, port);
        process.awaitReady(START_TIMEOUT, () -> Http.answers(worker.url() + "/"));
        return worker;
    }

    /** The worker's configuration: JSON converters, internal topics with one replica, secrets from the environment. */
    static String workerProperties(int port, String kafkaBootstrapServers) {
        return String.join("\n",
                "# Written by KafkaConnectWorker on every start.",
                "bootstrap.servers=" + kafkaBootstrapServers,
                "group.id=cdc-connect",
                "listeners=http://localhost:" + port,
                "rest.advertised.host.name=localhost",
                "rest.advertised.port=" + port,
                "key.converter=org.apache.kafka.connect.json.JsonConverter",
                "value.converter=org.apache.kafka.connect.json.JsonConverter",
                "config.storage.topic=connect-configs",
                "offset.storage.topic=connect-offsets",
                "status.storage.topic=connect-status",
                "config.storage.replication.factor=1",
                "offset.storage.replication.factor=1",
                "status.storage.replication.factor=1",
                "offset.storage.partitions=1",
                "status.storage.partitions=1",
                "offset.flush.interval.ms=5000",
                // The connector JSON in configs/ says ${env:POSTGRES_PASSWORD}: no secret is stored in Kafka.
                "config.providers=env",
                "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
                "");
    }

    public int port() {
        return port;
    }

    /** {@code http://localhost:<port>}. */
    public String url() {
        return "http://localhost:" + port;
    }

    public ServiceProcess process() {
        return process;
    }

    @Override
    public void close() {
        process.close();
    }
}
