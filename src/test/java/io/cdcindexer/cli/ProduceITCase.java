package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.PostgresServer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs produce against a real PostgreSQL and counts what its logical replication stream (pgoutput, as Debezium reads
 * it) carries: the changes produce reports are the changes Debezium will see.
 */
@ExtendWith(SharedServices.class)
class ProduceITCase {

    static final String SLOT = "it_produce";

    static PostgresServer postgres;
    static String database;
    static String[] flags;

    @BeforeAll
    static void setUp(PostgresServer server) throws SQLException {
        postgres = server;
        database = SharedServices.createDatabase(server, "cli_produce");
        flags = SharedServices.postgresFlags(server, database);
        assertThat(CliRun.with("setup-db", flags).exitCode()).isZero();
        try (Connection db = SharedServices.connect(server, database); Statement statement = db.createStatement()) {
            statement.execute("CREATE PUBLICATION it_publication FOR ALL TABLES");
            statement.execute("SELECT pg_create_logical_replication_slot('" + SLOT + "', 'pgoutput')");
        }
    }

    @AfterAll
    static void dropSlot() throws SQLException {
        if (database != null) {
            try (Connection db = SharedServices.connect(postgres, database); Statement statement = db.createStatement()) {
                statement.execute("SELECT pg_drop_replication_slot('" + SLOT + "')");
            }
        }
    }

    @BeforeEach
    void forgetEarlierChanges() throws SQLException {
        replicatedMessages();
    }

    @Test
    void theBasicScenarioInsertsUpdatesAndDeletesOneUser() throws SQLException {
        CliRun run = CliRun.with("produce", flags, "--step-delay", "0");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out())
                .contains("Step 1/3: insert a user", "Step 2/3: update its email", "Step 3/3: delete it")
                .contains("SQL> INSERT INTO users (username, email) VALUES ('demo_")
                .contains("look for op=c on cdc.public.users", "look for op=u", "look for op=d")
                .containsPattern("GET http://localhost:9200/cdc.public.users/_doc/\\d+ answers 404");
        Map<Character, Integer> messages = replicatedMessages();
        assertThat(messages).containsEntry('I', 1).containsEntry('U', 1).containsEntry('D', 1).containsEntry('C', 3);
    }

    @Test
    void theLoadReachesItsRateAndReportsExactlyTheChangesItMade() throws SQLException {
        CliRun run = CliRun.with("produce", flags, "--rate", "300", "--duration", "3s", "--seed", "7");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        Matcher summary = Pattern.compile("produce: (\\d+) changes in (\\d+) transactions \\((\\d+) failed\\) in "
                + "[\\d.]+ s: (\\d+) changes/s reached, 300 asked").matcher(run.out());
        assertThat(summary.find()).as(run.out()).isTrue();
        int changes = Integer.parseInt(summary.group(1));
        int transactions = Integer.parseInt(summary.group(2));
        assertThat(summary.group(3)).as("failed transactions; the output names the last failure:%n%s", run.out())
                .isEqualTo("0");
        // Bounded: rate × duration, overshot by at most the last transaction (no timing is asserted).
        assertThat(changes).isPositive().isLessThanOrEqualTo(900 + 50);
        assertThat(run.out()).contains("new customer", "order progress", "place order");

        Map<Character, Integer> messages = replicatedMessages();
        int rowChanges = messages.getOrDefault('I', 0) + messages.getOrDefault('U', 0) + messages.getOrDefault('D', 0);
        assertThat(rowChanges).isEqualTo(changes);
        assertThat(messages.get('C')).isEqualTo(transactions);
        assertThat(messages.get('D')).as("deletes").isPositive();
        assertThat(messages.get('U')).as("updates").isPositive();
    }

    /** Connections to the test's database, the second of which comes 1.5 s late. */
    private Supplier<Connection> secondConnectionLate() {
        AtomicInteger opened = new AtomicInteger();
        return () -> {
            if (opened.getAndIncrement() == 1) {
                LockSupport.parkNanos(Duration.ofMillis(1_500).toNanos());
            }
            try {
                return SharedServices.connect(postgres, database);
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        };
    }

    /**
     * Each connection owns a share of the users (by id) and the users it creates. A connection that loaded its share
     * only after another had been creating users for a while also took those of them whose ids fell in its share: two
     * planners then owned one user, and one closed the account the other went on placing orders for (a foreign key
     * violation: CI saw 2 and 3 failed transactions). Every connection loads its share before any starts.
     */
    @Test
    void aConnectionThatStartsLateTakesNoUserAnotherOneCreated() throws Exception {
        Supplier<Connection> connections = secondConnectionLate();

        LoadRunner.Result result = new LoadRunner(connections, 2, 400, Duration.ofSeconds(5), 11).run(progress -> { });

        assertThat(result.totals().failed()).as("failed transactions; the last: %s", result.lastFailure()).isZero();
        assertThat(result.transactionsByKind().get(LoadPlanner.Kind.CLOSE_ACCOUNT)).as("accounts closed").isPositive();
    }

    @Test
    void theRateCountsFromWhenEveryConnectionHasLoadedItsShare() throws Exception {
        Supplier<Connection> connections = secondConnectionLate();

        long started = System.nanoTime();
        LoadRunner.Result result = new LoadRunner(connections, 2, 200, Duration.ofSeconds(3), 12).run(progress -> { });
        Duration ran = Duration.ofNanos(System.nanoTime() - started);

        // Counted from the start, the 1.5 s spent waiting for the late connection would be made up in a burst, and the
        // load would end 3 s after the start with half its time gone; counted from the barrier, it runs 3 s after it.
        assertThat(ran).as("how long the load ran").isGreaterThanOrEqualTo(Duration.ofMillis(4_400));
        assertThat(result.totals().elapsed()).as("the load's own time, from the barrier")
                .isBetween(Duration.ofMillis(2_900), ran.minusMillis(1_400));
        assertThat(result.totals().changes()).as("changes").isGreaterThan(400);
        assertThat(result.totals().failed()).as("failed transactions; the last: %s", result.lastFailure()).isZero();
    }

    @Test
    void aLoadSaysWhenPostgresStopsAnsweringAndCarriesOnOnceItIsBack() throws Exception {
        try (CuttableProxy proxy = new CuttableProxy(postgres.port())) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            CompletableFuture<CliRun> produce = CliRun.start(out, err, viaProxy(proxy, "--rate", "100", "--duration", "12s"));
            awaitOutput(out, "produce: 100 changes/s for 12 s");
            Thread.sleep(2_000); // under way
            proxy.cut();
            awaitOutput(out, "does not answer (", err);
            Thread.sleep(2_000); // a restart's worth of refused connections
            proxy.mend();

            CliRun run = produce.get(60, TimeUnit.SECONDS);
            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(run.out())
                    .contains("produce: PostgreSQL at postgres@localhost:" + proxy.port() + "/" + database
                            + " does not answer (")
                    .contains("; waiting for it to come back (Ctrl-C stops)")
                    .containsPattern("produce: PostgreSQL at \\S+ answers again after \\d+ s; carrying on")
                    .containsPattern("produce: \\d+ changes in \\d+ transactions \\(\\d+ failed\\) in");
        }
    }

    @Test
    void aLoadStopsClearlyWhenPostgresDoesNotComeBack() throws Exception {
        try (CuttableProxy proxy = new CuttableProxy(postgres.port())) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            CompletableFuture<CliRun> produce = CliRun.start(out, viaProxy(proxy, "--rate", "100", "--duration", "5s"));
            awaitOutput(out, "produce: 100 changes/s for 5 s");
            Thread.sleep(2_000); // under way
            proxy.cut();

            CliRun run = produce.get(60, TimeUnit.SECONDS);
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.out()).as(run.toString()).containsPattern("produce: \\d+ changes in \\d+ transactions");
            assertThat(run.err()).containsPattern("cdc produce: PostgreSQL at \\S+ has not answered for the last \\d+ "
                    + "s, so the load stopped before its end; the counts above are what it did");
        }
    }

    @Test
    void theScenarioStopsClearlyWhenPostgresGoesAway() throws Exception {
        try (CuttableProxy proxy = new CuttableProxy(postgres.port())) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            CompletableFuture<CliRun> produce = CliRun.start(out, viaProxy(proxy, "--step-delay", "2s"));
            awaitOutput(out, "(next step in 2.0 s)");
            proxy.cut();

            CliRun run = produce.get(60, TimeUnit.SECONDS);
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.err()).contains("cdc produce: PostgreSQL at postgres@localhost:" + proxy.port() + "/"
                    + database + " failed at step 2/3 (update its email) (", "), so the scenario stopped there; user demo_")
                    .containsPattern("\\(id \\d+\\) stays in public.users. ./cdc produce starts it again once PostgreSQL "
                            + "answers");
        }
    }

    @Test
    void refusesAnUnboundedLoad() {
        CliRun run = CliRun.with("produce", flags, "--rate", "1000000");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("--rate must be between 0 and 100000");
    }

    /** produce against the database through a proxy, with these options. */
    private static String[] viaProxy(CuttableProxy proxy, String... options) {
        List<String> args = new ArrayList<>(List.of("produce"));
        args.addAll(List.of(SharedServices.postgresFlags(postgres, database)));
        args.set(args.indexOf("--pg-port") + 1, Integer.toString(proxy.port()));
        args.addAll(List.of(options));
        return args.toArray(String[]::new);
    }

    private static void awaitOutput(ByteArrayOutputStream out, String text) {
        awaitOutput(out, text, new ByteArrayOutputStream());
    }

    private static void awaitOutput(ByteArrayOutputStream out, String text, ByteArrayOutputStream err) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!out.toString(StandardCharsets.UTF_8).contains(text)) {
            assertThat(System.nanoTime()).as("waiting for '" + text + "' in:\n" + out.toString(StandardCharsets.UTF_8)
                    + "--- err\n" + err.toString(StandardCharsets.UTF_8)).isLessThan(deadline);
            LockSupport.parkNanos(50_000_000); // poll interval
        }
    }

    /**
     * Consumes the slot: pgoutput messages since the last call, counted by type (I, U, D, B, C, R, ...). The SQL
     * interface decodes only flushed WAL, and commits may be asynchronous, so it first waits for the flush to catch up.
     */
    private static Map<Character, Integer> replicatedMessages() throws SQLException {
        Map<Character, Integer> counts = new HashMap<>();
        try (Connection db = SharedServices.connect(postgres, database); Statement statement = db.createStatement()) {
            String written = single(statement, "SELECT pg_current_wal_insert_lsn()");
            long deadline = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
            while (!single(statement, "SELECT pg_current_wal_flush_lsn() >= '" + written + "'::pg_lsn").equals("t")) {
                assertThat(System.nanoTime()).as("WAL flushed in time").isLessThan(deadline);
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000); // poll interval
            }
            try (ResultSet rs = statement.executeQuery("SELECT get_byte(data, 0) FROM pg_logical_slot_get_binary_changes('"
                    + SLOT + "', NULL, NULL, 'proto_version', '1', 'publication_names', 'it_publication')")) {
                while (rs.next()) {
                    counts.merge((char) rs.getInt(1), 1, Integer::sum);
                }
            }
        }
        return counts;
    }

    private static String single(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
