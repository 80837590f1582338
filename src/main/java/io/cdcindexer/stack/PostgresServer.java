package io.cdcindexer.stack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * PostgreSQL 17 in its own process ({@code src/stack/postgres/PostgresLauncher.java}): logical decoding on, database
 * {@code testdb}, user and password {@code postgres}, data kept in {@code dir/data}, log in {@code dir/postgres.log}.
 */
public final class PostgresServer implements AutoCloseable {

    public static final String DATABASE = "testdb";
    public static final String USER = "postgres";
    public static final String PASSWORD = "postgres";

    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    private final ServiceProcess process;
    private final Path dir;
    private final int port;

    private PostgresServer(ServiceProcess process, Path dir, int port) {
        this.process = process;
        this.dir = dir;
        this.port = port;
    }

    /** Starts the server on localhost:{@code port} and returns once {@code testdb} accepts the password. */
    public static PostgresServer start(Path dir, int port) {
        Path home = ProjectHome.dir();
        List<String> command = ServiceProcess.java(ServiceClasspath.of("postgres"),
                List.of("-Xmx128m", "-XX:+UseSerialGC"),
                home.resolve("src/stack/postgres/PostgresLauncher.java").toString(),
                List.of(Integer.toString(port), dir.toAbsolutePath().toString()));
        ServiceProcess process = ServiceProcess.start("PostgreSQL", dir, "postgres", command, Map.of());
        PostgresServer server = new PostgresServer(process, dir, port);
        process.awaitReady(START_TIMEOUT, () -> {
            try (Connection connection = server.connect()) {
                return connection.isValid(2);
            }
        });
        return server;
    }

    public int port() {
        return port;
    }

    /** {@code jdbc:postgresql://localhost:<port>/testdb}. */
    public String jdbcUrl() {
        return "jdbc:postgresql://localhost:" + port + "/" + DATABASE;
    }

    /** A new connection to {@code testdb} as {@code postgres}. */
    public Connection connect() throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", USER);
        properties.setProperty("password", PASSWORD);
        properties.setProperty("connectTimeout", "5");
        return DriverManager.getConnection(jdbcUrl(), properties);
    }

    public ServiceProcess process() {
        return process;
    }

    @Override
    public void close() {
        process.close();
        stopLeftovers(dir);
    }

    /**
     * SIGINT: PostgreSQL's fast shutdown, which disconnects clients; SIGTERM (smart shutdown) would wait for every
     * client, Debezium's replication connection included, until the grace period ends in a SIGKILL and crash recovery.
     */
    private static void fastShutdown(ProcessHandle postmaster) {
        try {
            new ProcessBuilder("kill", "-INT", Long.toString(postmaster.pid())).start().waitFor();
        } catch (IOException e) {
            postmaster.destroy();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            postmaster.destroy();
        }
    }

    /**
     * Stops a postmaster that outlived its launcher (the launcher was killed before it could stop it): PostgreSQL runs
     * as a grandchild that pg_ctl hands over to init, so stopping the launcher's process tree does not reach it.
     */
    static void stopLeftovers(Path dir) {
        Path postmasterPid = dir.resolve("data/postmaster.pid");
        try {
            if (Files.isRegularFile(postmasterPid)) {
                long pid = Long.parseLong(Files.readAllLines(postmasterPid).get(0).trim());
                ProcessHandle.of(pid)
                        .filter(handle -> handle.info().command().map(command -> command.contains("postgres")).orElse(false))
                        .ifPresent(handle -> {
                            fastShutdown(handle);
                            handle.onExit().orTimeout(ServiceProcess.STOP_GRACE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)
                                    .exceptionally(timeout -> {
                                        handle.destroyForcibly();
                                        return handle;
                                    }).join();
                        });
            }
        } catch (IOException | RuntimeException e) {
            // Best effort: the usual path (the launcher's own shutdown) has already stopped the server.
        }
    }
}
