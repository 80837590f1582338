package io.cdcindexer.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * A single-node Kafka 4.3 cluster (KRaft: one process is broker and controller) in its own process: clients on
 * localhost:{@code port}, the controller on localhost:{@code controllerPort}, topics kept in {@code dir/data}, log in
 * {@code dir/kafka.log}.
 */
public final class KafkaBroker implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration FORMAT_TIMEOUT = Duration.ofSeconds(120);

    private final ServiceProcess process;
    private final int port;

    private KafkaBroker(ServiceProcess process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Starts a broker with its controller on a free port. */
    public static KafkaBroker start(Path dir, int port) {
        return start(dir, port, FreePorts.next());
    }

    /** Starts a broker (formatting its storage on first use) and returns once it answers an admin request. */
    public static KafkaBroker start(Path dir, int port, int controllerPort) {
        return start(dir, port, controllerPort, "");
    }

    /**
     * Starts a broker that also takes SASL/PLAIN clients on {@code saslPort} ({@code SASL_PLAINTEXT}), knowing these
     * users and passwords (tests of the Kafka client settings the job and ./cdc pass through).
     */
    public static KafkaBroker startWithSasl(Path dir, int port, int saslPort, Map<String, String> users) {
        StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required");
        users.forEach((user, password) -> jaas.append(" user_").append(user).append("=\"").append(password).append('"'));
        jaas.append(';');
        int controllerPort = FreePorts.next();
        return start(dir, port, controllerPort, String.join("\n",
                "listeners=PLAINTEXT://localhost:" + port + ",CONTROLLER://localhost:" + controllerPort
                        + ",SASL_PLAINTEXT://localhost:" + saslPort,
                "advertised.listeners=PLAINTEXT://localhost:" + port + ",SASL_PLAINTEXT://localhost:" + saslPort,
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
                "sasl.enabled.mechanisms=PLAIN",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + jaas,
                ""));
    }

    private static KafkaBroker start(Path dir, int port, int controllerPort, String overrides) {
        String classpath = ServiceClasspath.of("kafka");
        Path config = dir.resolve("server.properties");
        Path data = dir.resolve("data");
        try {
            Files.createDirectories(dir);
            Files.writeString(config, withOverrides(serverProperties(data, port, controllerPort),
                    overrides));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> jvm = List.of("-Xms256m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError");
        if (!Files.exists(data.resolve("meta.properties"))) {
            ServiceProcess.run("Kafka storage format", dir, "kafka", ServiceProcess.java(classpath, jvm,
                    "kafka.tools.StorageTool", List.of("format", "-t", randomClusterId(), "-c", config.toString())), FORMAT_TIMEOUT);
        }
        ServiceProcess process = ServiceProcess.start("Kafka", dir, "kafka",
                ServiceProcess.java(classpath, jvm, "kafka.Kafka", List.of(config.toString())), Map.of());
        KafkaBroker broker = new KafkaBroker(process, port);
        try (Admin admin = Admin.create(adminConfig(broker.bootstrapServers()))) {
            process.awaitReady(START_TIMEOUT, () -> !admin.describeCluster(new DescribeClusterOptions().timeoutMs(2000))
                    .nodes().get().isEmpty());
        }
        return broker;
    }

    /** The broker's configuration: one node that is broker and controller, every internal topic with one replica. */
    static String serverProperties(Path data, int port, int controllerPort) {
        return String.join("\n",
                "# Written by KafkaBroker on every start: a single-node KRaft cluster on localhost.",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@localhost:" + controllerPort,
                "listeners=PLAINTEXT://localhost:" + port + ",CONTROLLER://localhost:" + controllerPort,
                "advertised.listeners=PLAINTEXT://localhost:" + port,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs=" + data.toAbsolutePath(),
                "num.partitions=1",
                "auto.create.topics.enable=true",
                "message.max.bytes=16777216", // records up to 16 MB (a row with a large TOASTed column)
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                // One node: nobody else will join the group, so don't wait for them.
                "group.initial.rebalance.delay.ms=0",
                "");
    }

    // The lines of the overrides replace the configuration's lines of the same keys.
    private static String withOverrides(String properties, String overrides) {
        Map<String, String> replaced = new java.util.LinkedHashMap<>();
        for (String line : overrides.split("\n")) {
            if (line.contains("=")) {
                replaced.put(line.substring(0, line.indexOf('=')), line);
            }
        }
        StringBuilder out = new StringBuilder();
        for (String line : properties.split("\n", -1)) {
            String key = line.contains("=") ? line.substring(0, line.indexOf('=')) : null;
            out.append(key != null && replaced.containsKey(key) ? replaced.remove(key) : line).append('\n');
        }
        replaced.values().forEach(line -> out.append(line).append('\n'));
        return out.toString();
    }

    /** A cluster id as Kafka makes them: 16 random bytes, URL-safe Base64 without padding, not starting with '-'. */
    static String randomClusterId() {
        SecureRandom random = new SecureRandom();
        byte[] bytes = new byte[16];
        String id;
        do {
            random.nextBytes(bytes);
            id = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        } while (id.startsWith("-"));
        return id;
    }

    private static Properties adminConfig(String bootstrapServers) {
        Properties properties = new Properties();
        properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        properties.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000);
        properties.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 2000);
        properties.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        return properties;
    }

    public int port() {
        return port;
    }

    /**
     * Creates a topic as the connector does on this one-broker stack (topic.creation.default.partitions, replication 1),
     * for tests that write to a table's topic before any connector has.
     */
    public void createTopic(String name, int partitions) throws Exception {
        Properties properties = new Properties();
        properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        try (Admin admin = Admin.create(properties)) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
        }
    }

    /** {@code localhost:<port>}. */
    public String bootstrapServers() {
        return "localhost:" + port;
    }

    public ServiceProcess process() {
        return process;
    }

    @Override
    public void close() {
        process.close();
    }
}
