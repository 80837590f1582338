package io.cdcindexer.cli;

import io.cdcindexer.stack.StackPorts;
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

    /** JDBC URL of the configured database. */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + pgHost + ":" + pgPort + "/" + pgDatabase;
    }
}
