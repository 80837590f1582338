package io.cdcindexer.cli;

import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.PostgresServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Real services for the CLI's ITCases, started on free ports the first time a test asks for one and stopped when the
 * whole test run ends (also on failure), so that several test classes share one start-up. Ask by declaring a parameter
 * of type {@link PostgresServer}, {@link ElasticsearchNode} or {@link KafkaBroker} in a {@code @BeforeAll} method.
 */
final class SharedServices implements ParameterResolver {

    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(SharedServices.class);

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == PostgresServer.class || type == ElasticsearchNode.class || type == KafkaBroker.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        ExtensionContext.Store store = context.getRoot().getStore(NAMESPACE);
        if (type == PostgresServer.class) {
            return store.getOrComputeIfAbsent(type, t -> new Running<>("postgres", dir -> PostgresServer.start(dir,
                    FreePorts.next())), Running.class).service;
        }
        if (type == ElasticsearchNode.class) {
            return store.getOrComputeIfAbsent(type, t -> new Running<>("elasticsearch",
                    dir -> ElasticsearchNode.start(dir, FreePorts.next())), Running.class).service;
        }
        return store.getOrComputeIfAbsent(type, t -> new Running<>("kafka", dir -> KafkaBroker.start(dir,
                FreePorts.next())), Running.class).service;
    }

    /** A new, empty database on the shared server, so that each test class starts from a clean slate. */
    static String createDatabase(PostgresServer postgres, String name) throws SQLException {
        try (Connection connection = postgres.connect(); Statement statement = connection.createStatement()) {
            statement.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            statement.execute("CREATE DATABASE " + name);
        }
        return name;
    }

    /** A connection to a database of the shared server. */
    static Connection connect(PostgresServer postgres, String database) throws SQLException {
        return java.sql.DriverManager.getConnection("jdbc:postgresql://localhost:" + postgres.port() + "/" + database,
                PostgresServer.USER, PostgresServer.PASSWORD);
    }

    /** The CLI's connection flags for a database of the shared server. */
    static String[] postgresFlags(PostgresServer postgres, String database) {
        return new String[] {"--pg-host", "localhost", "--pg-port", Integer.toString(postgres.port()), "--pg-database",
                database, "--pg-user", PostgresServer.USER, "--pg-password", PostgresServer.PASSWORD};
    }

    /** A started service and its directory, both removed when the test run ends. */
    private static final class Running<S extends AutoCloseable> implements ExtensionContext.Store.CloseableResource {
        final S service;
        final Path dir;

        Running(String name, Function<Path, S> start) {
            try {
                dir = Files.createTempDirectory("cdc-cli-it-" + name);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            service = start.apply(dir);
        }

        @Override
        public void close() throws Exception {
            try {
                service.close();
            } finally {
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
                }
            }
        }
    }
}
