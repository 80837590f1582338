package io.cdcindexer.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.cli.SampleSchema;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.PostgresServer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chaos load against a real PostgreSQL 17: its rate, the changes PostgreSQL's logical replication (pgoutput, as
 * Debezium reads it) carries for it, and how it lives through a restart of the server.
 */
class ChaosLoadITCase {

    static final String SLOT = "chaos_it";
    static final int RATE = 500;

    @TempDir
    static Path dir;

    static int port;
    static PostgresServer postgres;

    @BeforeAll
    static void startPostgres() throws SQLException {
        port = FreePorts.next();
        postgres = PostgresServer.start(dir.resolve("postgres"), port);
        try (Connection db = connect()) {
            SampleSchema.apply(db);
            ChaosSchema.create(db);
            ChaosSchema.create(db); // idempotent
        }
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Test
    void reachesItsRateAndReplicationCarriesExactlyTheChangesItCounts() throws Exception {
        try (Connection db = connect(); Statement statement = db.createStatement()) {
            statement.execute("CREATE PUBLICATION chaos_it FOR ALL TABLES");
            statement.execute("SELECT pg_create_logical_replication_slot('" + SLOT + "', 'pgoutput')");
        }
        long rowsBefore = chaosRows();
        long ledgerBefore = ledgerRows();
        ChaosLoad load = new ChaosLoad(ChaosLoadITCase::connection, 4, RATE, 7);
        long start = System.nanoTime();
        load.start();
        sleep(Duration.ofSeconds(3));
        String large = load.commitLargeRow(5 * 1024 * 1024);
        sleep(Duration.ofSeconds(3));
        long changes = load.committedChanges();
        double seconds = (System.nanoTime() - start) / 1e9;
        load.close();

        assertThat(changes / seconds).as("changes/s over %.1f s", seconds).isGreaterThan(RATE * 0.9);
        assertThat(load.failedTransactions()).as("failures, the last: %s", load.lastFailure()).isZero();
        Map<ChangeKind, Long> kinds = load.committedByKind();
        assertThat(kinds).allSatisfy((kind, count) -> assertThat(count).as(kind.name()).isPositive());
        assertThat(kinds.get(ChangeKind.LARGE_ROW)).isEqualTo(1);
        assertThat(kinds.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(load.committedChanges());
        assertThat(chaosRows() - rowsBefore).as("rows now in the load's key ranges")
                .isEqualTo(kinds.get(ChangeKind.INSERT) + kinds.get(ChangeKind.REINSERT) + kinds.get(ChangeKind.LARGE_ROW)
                        - kinds.get(ChangeKind.DELETE) - load.committedCascades());
        assertThat(load.committedCascades()).as("orders deleted by their user's cascade").isPositive();

        long ledger = ledgerRows() - ledgerBefore;
        assertThat(ledger).as("one ledger row per load transaction (the large row's is none)")
                .isEqualTo(load.committedTransactions() - kinds.get(ChangeKind.LARGE_ROW));
        Replicated replicated = replicatedMessages();
        assertThat(replicated.rowChanges()).as("I, U and D messages: the changes, the cascaded deletes and the ledger rows")
                .isEqualTo(load.committedChanges() + load.committedCascades() + ledger);
        assertThat(replicated.count('C')).as("commits").isEqualTo(load.committedTransactions());
        assertThat(replicated.documentUpdatesWithoutBody).as("chaos_documents updates sent without the body ('u'): %s",
                        replicated.documentUpdateShapes)
                .isEqualTo(kinds.get(ChangeKind.TOAST_UNCHANGED));
        assertThat(replicated.documentUpdatesWithBody).as("chaos_documents updates sent with the body")
                .isEqualTo(kinds.get(ChangeKind.TOAST_CHANGED));

        try (Connection db = connect(); Statement statement = db.createStatement()) {
            assertThat(single(statement, "SELECT relreplident FROM pg_class WHERE oid = 'public.chaos_documents'::regclass"))
                    .as("replica identity of chaos_documents").isEqualTo("d");
            assertThat(single(statement, "SELECT count(*) FROM public.chaos_documents "
                    + "WHERE pg_column_compression(body) IS NOT NULL")).as("compressed bodies").isEqualTo("0");
            String toast = single(statement, "SELECT reltoastrelid::regclass FROM pg_class "
                    + "WHERE oid = 'public.chaos_documents'::regclass");
            assertThat(Long.parseLong(single(statement, "SELECT count(DISTINCT chunk_id) FROM " + toast)))
                    .as("bodies stored out of line").isEqualTo(Long.parseLong(single(statement,
                            "SELECT count(*) FROM public.chaos_documents")));
            String id = large.replaceAll("^public\\.chaos_documents id=(\\d+) .*$", "$1");
            assertThat(single(statement, "SELECT octet_length(body) FROM public.chaos_documents WHERE id = " + id))
                    .as(large).isEqualTo(Integer.toString(5 * 1024 * 1024));
            statement.execute("SELECT pg_drop_replication_slot('" + SLOT + "')");
        }
    }

    @Test
    void survivesAPostgresRestartAndGoesOn() throws Exception {
        ChaosLoad load = new ChaosLoad(ChaosLoadITCase::connection, 4, RATE, 8);
        load.start();
        try {
            awaitUntil(Duration.ofSeconds(30), () -> load.committedChanges() >= 1000);
            postgres.close();
            sleep(Duration.ofMillis(200)); // a commit answered just before the shutdown is counted right after it
            long down = load.committedChanges();
            sleep(Duration.ofSeconds(3));
            assertThat(load.committedChanges()).as("nothing commits while PostgreSQL is down").isEqualTo(down);
            postgres = PostgresServer.start(dir.resolve("postgres"), port);
            long restarted = load.committedChanges();
            awaitUntil(Duration.ofSeconds(30), () -> load.committedChanges() >= restarted + 1000);
            assertThat(load.failedTransactions()).as("transactions cut off by the restart").isPositive();
            assertThat(load.failedConnects()).as("connects refused while PostgreSQL was down").isPositive();
            assertThat(load.lastFailure()).isNotNull();
            // Afterwards the workers' key models agree with the database again: nothing fails any more.
            long failed = load.failedTransactions();
            long committed = load.committedChanges();
            sleep(Duration.ofSeconds(3));
            assertThat(load.failedTransactions()).as("failures after the recovery, the last: %s", load.lastFailure())
                    .isEqualTo(failed);
            assertThat(load.committedChanges() - committed).as("changes in 3 s after the recovery")
                    .isGreaterThan(3 * RATE * 8 / 10);
        } finally {
            load.close();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    static Connection connect() throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", PostgresServer.USER);
        properties.setProperty("password", PostgresServer.PASSWORD);
        properties.setProperty("connectTimeout", "2");
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/" + PostgresServer.DATABASE,
                properties);
    }

    /** What ChaosLoad gets: a new connection per call, throwing while PostgreSQL is down. */
    static Connection connection() {
        try {
            return connect();
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot connect to PostgreSQL: " + e.getMessage(), e);
        }
    }

    /** The rows in the key ranges of the load (every chaos_daily_totals row is the load's). */
    static long chaosRows() throws SQLException {
        try (Connection db = connect(); Statement statement = db.createStatement()) {
            long base = ChaosPlanner.KEY_BASE;
            return Long.parseLong(single(statement, "SELECT (SELECT count(*) FROM public.users WHERE id >= " + base
                    + ") + (SELECT count(*) FROM public.orders WHERE id >= " + base
                    + ") + (SELECT count(*) FROM public.chaos_order_lines WHERE order_id >= " + base
                    + ") + (SELECT count(*) FROM public.chaos_daily_totals)"
                    + " + (SELECT count(*) FROM public.chaos_documents WHERE id >= " + base + ")"));
        }
    }

    static long ledgerRows() throws SQLException {
        try (Connection db = connect(); Statement statement = db.createStatement()) {
            return Long.parseLong(single(statement, "SELECT count(*) FROM public.chaos_ledger"));
        }
    }

    /** pgoutput messages by type, and how chaos_documents updates carried their body column. */
    static final class Replicated {
        final Map<Character, Long> byType = new HashMap<>();
        long documentUpdatesWithoutBody;
        long documentUpdatesWithBody;
        final Map<String, Long> documentUpdateShapes = new HashMap<>();

        long count(char type) {
            return byType.getOrDefault(type, 0L);
        }

        long rowChanges() {
            return count('I') + count('U') + count('D');
        }
    }

    /**
     * Consumes the slot. pgoutput (protocol 1) sends a Relation message ('R': oid, namespace, name, ...) before a
     * table's first change, and an Update ('U': oid, optional old tuple, 'N' and the new tuple) whose columns are each
     * 'n' (null), 'u' (an unchanged TOASTed value, which Debezium turns into its placeholder) or 't' (text).
     */
    static Replicated replicatedMessages() throws SQLException {
        Replicated replicated = new Replicated();
        Map<Integer, String> relations = new HashMap<>();
        try (Connection db = connect(); Statement statement = db.createStatement();
                ResultSet rs = statement.executeQuery("SELECT data FROM pg_logical_slot_get_binary_changes('" + SLOT
                        + "', NULL, NULL, 'proto_version', '1', 'publication_names', 'chaos_it')")) {
            while (rs.next()) {
                ByteBuffer message = ByteBuffer.wrap(rs.getBytes(1));
                char type = (char) message.get();
                replicated.byType.merge(type, 1L, Long::sum);
                if (type == 'R') {
                    int oid = message.getInt();
                    cString(message); // namespace
                    relations.put(oid, cString(message));
                } else if (type == 'U' && "chaos_documents".equals(relations.get(message.getInt()))) {
                    byte tuple = message.get();
                    if (tuple == 'K' || tuple == 'O') {
                        skipTuple(message);
                        tuple = message.get();
                    }
                    char[] kinds = columnKinds(message);
                    replicated.documentUpdateShapes.merge((char) tuple + ":" + new String(kinds), 1L, Long::sum);
                    assertThat((char) tuple).isEqualTo('N');
                    char body = kinds[3]; // id, revision, title, body
                    if (body == 'u') {
                        replicated.documentUpdatesWithoutBody++;
                    } else if (body == 't') {
                        replicated.documentUpdatesWithBody++;
                    }
                }
            }
        }
        return replicated;
    }

    private static char[] columnKinds(ByteBuffer message) {
        char[] kinds = new char[message.getShort()];
        for (int i = 0; i < kinds.length; i++) {
            kinds[i] = (char) message.get();
            if (kinds[i] == 't' || kinds[i] == 'b') {
                int length = message.getInt();
                message.position(message.position() + length);
            }
        }
        return kinds;
    }

    private static void skipTuple(ByteBuffer message) {
        columnKinds(message);
    }

    private static String cString(ByteBuffer message) {
        int start = message.position();
        while (message.get() != 0) {
            // up to the terminating zero
        }
        return new String(message.array(), start, message.position() - start - 1, StandardCharsets.UTF_8);
    }

    static String single(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    static void awaitUntil(Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition met within %s", timeout).isLessThan(deadline);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
    }

    static void sleep(Duration duration) throws InterruptedException {
        Thread.sleep(duration.toMillis());
    }
}
