import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Runs PostgreSQL 17 for the local stack until SIGTERM: {@code java -cp <postgres classpath> PostgresLauncher.java PORT DIR}.
 *
 * <p>The server is configured for logical decoding (Debezium's pgoutput plugin), has database {@code testdb}, and checks
 * the password of user {@code postgres} (password {@code postgres}) on TCP, as the Docker image does. Its data lives in
 * {@code DIR/data} and survives restarts. Prints {@code PostgreSQL ready ...} once clients can connect.
 */
public final class PostgresLauncher {

    static final String USER = "postgres";
    static final String PASSWORD = "postgres";
    static final String DATABASE = "testdb";

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("Usage: PostgresLauncher PORT DATA_DIR");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        Path dataDir = Path.of(args[1]).toAbsolutePath().resolve("data");
        Files.createDirectories(dataDir);

        EmbeddedPostgres postgres = EmbeddedPostgres.builder()
                .setPort(port)
                .setDataDirectory(dataDir)
                .setCleanDataDirectory(false)
                .setRegisterShutdownHook(false)
                .setServerConfig("listen_addresses", "localhost")
                // Same as the generated postgresql.conf: zonky would pass 300, which a configuration reload reports as an error.
                .setServerConfig("max_connections", "100")
                // zonky turns synchronous_commit off; PostgreSQL's default (and the Docker image's) is on. Off, a commit
                // reaches the WAL sender only when the WAL writer flushes (every 200 ms), which Debezium sees as latency.
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("wal_level", "logical")
                .setServerConfig("max_wal_senders", "10")
                .setServerConfig("max_replication_slots", "10")
                .setServerConfig("password_encryption", "scram-sha-256")
                // The start-up check connects over TCP too: once pg_hba.conf asks for a password, it needs it.
                .setConnectConfig("password", PASSWORD)
                .setOutputRedirector(ProcessBuilder.Redirect.INHERIT)
                .setErrorRedirector(ProcessBuilder.Redirect.INHERIT)
                .start();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("PostgreSQL stopping");
            try {
                postgres.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
            stopped.countDown();
        }, "postgres-stop"));

        prepare(port, dataDir);
        System.out.println("PostgreSQL ready on port " + port + ", database " + DATABASE + ", data in " + dataDir);
        // The launcher stands for the server: should the postmaster die, the launcher exits too, so that whoever
        // watches the launcher (the local stack's supervisor) sees PostgreSQL gone and starts it again.
        ProcessHandle postmaster = ProcessHandle.of(Long.parseLong(
                Files.readAllLines(dataDir.resolve("postmaster.pid")).get(0).trim())).orElse(null);
        while (!stopped.await(1, java.util.concurrent.TimeUnit.SECONDS)) {
            if (postmaster == null || !postmaster.isAlive()) {
                System.out.println("PostgreSQL's postmaster exited; the launcher exits with it");
                System.exit(1);
            }
        }
    }

    /** Sets the password, requires it on TCP and creates the database; each step is a no-op when already done. */
    private static void prepare(int port, Path dataDir) throws Exception {
        String url = "jdbc:postgresql://localhost:" + port + "/postgres";
        try (Connection connection = DriverManager.getConnection(url, USER, PASSWORD);
                Statement statement = connection.createStatement()) {
            statement.execute("ALTER USER " + USER + " PASSWORD '" + PASSWORD + "'");
            try (ResultSet rs = statement.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + DATABASE + "'")) {
                if (!rs.next()) {
                    statement.execute("CREATE DATABASE " + DATABASE);
                }
            }
            // initdb trusts every local connection; ask for the password on TCP like a real installation does, and
            // allow replication connections (Debezium's streaming) with the same password.
            Path hba = dataDir.resolve("pg_hba.conf");
            List<String> wanted = List.of(
                    "# Written by PostgresLauncher: trust the Unix socket, ask for a password on TCP.",
                    "local   all           all                        trust",
                    "host    all           all        127.0.0.1/32    scram-sha-256",
                    "host    all           all        ::1/128         scram-sha-256",
                    "host    replication   all        127.0.0.1/32    scram-sha-256",
                    "host    replication   all        ::1/128         scram-sha-256");
            if (!Files.readAllLines(hba).equals(wanted)) {
                Files.write(hba, wanted);
                statement.execute("SELECT pg_reload_conf()");
            }
        }
    }
}
