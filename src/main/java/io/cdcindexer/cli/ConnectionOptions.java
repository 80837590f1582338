package io.cdcindexer.cli;

import io.cdcindexer.elasticsearch.ElasticsearchConnection;
import io.cdcindexer.kafka.KafkaClientProperties;
import io.cdcindexer.stack.StackPorts;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Where each service listens. Flags win over environment variables, which win over the defaults; the defaults are the
 * ports both the local stack and the Docker stack use.
 */
public final class ConnectionOptions {

    @Option(names = "--pg-host", paramLabel = "HOST", defaultValue = "${env:PGHOST:-localhost}", description = "PostgreSQL host (env PGHOST, default ${DEFAULT-VALUE}).")
    public String pgHost;

    @Option(names = "--pg-port", paramLabel = "PORT", defaultValue = "${env:PGPORT:-5432}", description = "PostgreSQL port (env PGPORT, default ${DEFAULT-VALUE}).")
    public int pgPort;

    @Option(names = "--pg-database", paramLabel = "NAME", defaultValue = "${env:PGDATABASE:-testdb}", description = "Database (env PGDATABASE, default ${DEFAULT-VALUE}).")
    public String pgDatabase;

    @Option(names = "--pg-user", paramLabel = "USER", defaultValue = "${env:PGUSER:-postgres}", description = "User (env PGUSER, default ${DEFAULT-VALUE}).")
    public String pgUser;

    @Option(names = "--pg-password", paramLabel = "PASSWORD", defaultValue = "${env:PGPASSWORD:-postgres}", description = "Password (env PGPASSWORD, default ${DEFAULT-VALUE}).", showDefaultValue = picocli.CommandLine.Help.Visibility.NEVER)
    public String pgPassword;

    @Option(names = "--kafka", paramLabel = "SERVERS", defaultValue = "${env:KAFKA_BOOTSTRAP_SERVERS:-localhost:9092}", description = "Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS, default ${DEFAULT-VALUE}).")
    public String kafka;

    @Option(names = "--connect", paramLabel = "URL", defaultValue = "${env:CONNECT_URL:-http://localhost:8083}", description = "Kafka Connect REST URL (env CONNECT_URL, default ${DEFAULT-VALUE}).")
    public String connect;

    @Option(names = "--elasticsearch", paramLabel = "URL", defaultValue = "${env:ELASTICSEARCH_URL:-http://localhost:9200}", description = "Elasticsearch URL (env ELASTICSEARCH_URL, default ${DEFAULT-VALUE}).")
    public String elasticsearch;

    @Option(names = "--elasticsearch-username", paramLabel = "USER", defaultValue = "${env:ELASTICSEARCH_USERNAME:-}", description = "Elasticsearch user for basic authentication (env ELASTICSEARCH_USERNAME); its password comes from env ELASTICSEARCH_PASSWORD or --elasticsearch-password-file, never from a flag.")
    public String elasticsearchUsername;

    @Option(names = "--elasticsearch-password-file", paramLabel = "FILE", defaultValue = "${env:ELASTICSEARCH_PASSWORD_FILE:-}", description = "File whose first line is the Elasticsearch user's password (env ELASTICSEARCH_PASSWORD_FILE).")
    public String elasticsearchPasswordFile;

    @Option(names = "--elasticsearch-api-key-file", paramLabel = "FILE", defaultValue = "${env:ELASTICSEARCH_API_KEY_FILE:-}", description = "File whose first line is an Elasticsearch API key (env ELASTICSEARCH_API_KEY_FILE; or the key itself in env ELASTICSEARCH_API_KEY).")
    public String elasticsearchApiKeyFile;

    @Option(names = "--elasticsearch-ca", paramLabel = "FILE", defaultValue = "${env:ELASTICSEARCH_CA:-}", description = "PEM file of the CA that signed Elasticsearch's certificate (env ELASTICSEARCH_CA); default: the JVM's trusted CAs.")
    public String elasticsearchCa;

    @Option(names = "--elasticsearch-verify-hostname", paramLabel = "BOOL", arity = "1", defaultValue = "${env:ELASTICSEARCH_VERIFY_HOSTNAME:-true}", description = "Whether Elasticsearch's certificate must name the host (env ELASTICSEARCH_VERIFY_HOSTNAME, default ${DEFAULT-VALUE}).")
    public boolean elasticsearchVerifyHostname;

    @Option(names = "--kafka-properties", paramLabel = "FILE", defaultValue = "${env:KAFKA_PROPERTIES_FILE:-}", description = "Kafka client properties (security.protocol, sasl.*, ssl.*) for every Kafka client (env KAFKA_PROPERTIES_FILE).")
    public String kafkaProperties;

    @Option(names = "--flink", paramLabel = "URL", defaultValue = "${env:FLINK_URL:-http://localhost:8081}", description = "Flink REST URL (env FLINK_URL, default ${DEFAULT-VALUE}).")
    public String flink;

    /** The flags that point a command at a local stack on {@code ports}, with the default database and user. */
    public static String[] flagsFor(StackPorts ports) {
        return new String[] {
            "--pg-port", Integer.toString(ports.postgres()),
            "--kafka", "localhost:" + ports.kafka(),
            "--connect", "http://localhost:" + ports.connect(),
            "--elasticsearch", "http://localhost:" + ports.elasticsearch(),
            "--flink", "http://localhost:" + ports.flink(),
        };
    }

    /** The options as {@code flags} set them, with the defaults for the rest. */
    public static ConnectionOptions parse(String... flags) {
        Holder holder = new Holder();
        new picocli.CommandLine(holder).parseArgs(flags);
        return holder.options;
    }

    @picocli.CommandLine.Command
    private static final class Holder {
        @picocli.CommandLine.Mixin
        ConnectionOptions options;
    }

    /** Where Elasticsearch is and how to authenticate, as the flags and the environment say (secrets by reference). */
    public ElasticsearchConnection elasticsearchConnection() {
        try {
            return new ElasticsearchConnection(List.of(elasticsearch), elasticsearchUsername, elasticsearchPasswordFile,
                    elasticsearchApiKeyFile, elasticsearchCa, elasticsearchVerifyHostname);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage() + " (--elasticsearch-* flags, ELASTICSEARCH_* variables)");
        }
    }

    /** A client of the configured Elasticsearch, with its credentials and TLS trust. */
    public ElasticsearchHttp elasticsearchClient() {
        return new ElasticsearchHttp(elasticsearchConnection());
    }

    /** The user's Kafka client settings ({@code --kafka-properties}), for every Kafka client of a command. */
    public Map<String, String> kafkaSettings() {
        try {
            return KafkaClientProperties.read(kafkaProperties);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
    }

    /**
     * A Kafka client's properties: the user's settings ({@code --kafka-properties}) and the bootstrap servers; the
     * caller adds its own on top.
     */
    public java.util.Properties kafkaClient() {
        java.util.Properties properties = kafkaClient(kafka);
        properties.putAll(kafkaSettings()); // which never set bootstrap.servers (KafkaClientProperties refuses it)
        return properties;
    }

    /** A Kafka client's properties with these bootstrap servers and nothing else (the local stack, tests). */
    public static java.util.Properties kafkaClient(String bootstrapServers) {
        java.util.Properties properties = new java.util.Properties();
        properties.put("bootstrap.servers", bootstrapServers);
        return properties;
    }

    /** JDBC URL of the configured database. */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + pgHost + ":" + pgPort + "/" + pgDatabase;
    }
}
