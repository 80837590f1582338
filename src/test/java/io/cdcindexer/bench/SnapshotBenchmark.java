package io.cdcindexer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.cli.Cdc;
import io.cdcindexer.cli.ConnectionOptions;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.PostgresServer;
import io.cdcindexer.stack.StackPorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A user's first load, end to end: a users table of {@code --rows} rows (1,000,000 by default) in PostgreSQL before
 * the connector exists, then {@code ./cdc up --detach} on it, timed until every row is searchable ({@code _count}).
 * Not a test: nothing is asserted about time.
 *
 * <p>Prints, from the start of {@code up}: when it returned, when Elasticsearch indexed the first document of the table
 * ({@code index_total} above 0) and when all rows were searchable; the rate over the indexing window (first indexed →
 * all searchable), which compares with {@link IndexingBenchmark}'s {@code bulk} ceiling; the index's refreshes meanwhile
 * and its settings at the end; and the cores each process used over the window. {@code --runs N} runs on a fresh stack
 * each, {@code --keep true} keeps the data folders.
 *
 * <pre>
 * mvn -q package -DskipTests
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test.classpath -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat target/test.classpath) io.cdcindexer.bench.SnapshotBenchmark \
 *     --rows 1000000 --runs 3
 * </pre>
 */
public final class SnapshotBenchmark {

    private static final String INDEX = "cdc.public.users";
    /** The joined documents' index of the users rows, as ./cdc up ships them (configs/documents.json). */
    private static final String DOCUMENTS = "cdc.documents.users";

    private final int rows;
    private final int runs;
    private final boolean keep;

    private SnapshotBenchmark(Map<String, String> args) {
        this.rows = Integer.parseInt(args.getOrDefault("--rows", "1000000"));
        this.runs = Integer.parseInt(args.getOrDefault("--runs", "1"));
        this.keep = Boolean.parseBoolean(args.getOrDefault("--keep", "false"));
    }

    public static void main(String[] argv) throws Exception {
        new SnapshotBenchmark(Benchmarks.flags(argv, 0, List.of("--rows", "--runs", "--keep"))).runAll();
        System.exit(0);
    }

    /** One run's times, in seconds from the start of {@code up}. */
    private record Result(long rows, double upReturned, double firstIndexed, double allSearchable,
            double documentsSearchable, long refreshes, long documentRefreshes, String cores) {
        double rate() {
            return rows / (allSearchable - firstIndexed);
        }
    }

    private void runAll() throws Exception {
        List<Result> results = new ArrayList<>();
        for (int run = 1; run <= runs; run++) {
            System.out.printf("%n== run %d of %d ==%n", run, runs);
            results.add(run());
        }
        System.out.printf("%n%d runs, users table of %d rows (plus the sample rows)%n", runs, rows);
        System.out.println("| run | up returned | first indexed | all searchable | of which documents searchable"
                + " | rows/s (first indexed → all searchable) | refreshes (table / documents) | cores over the window |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (int i = 0; i < results.size(); i++) {
            Result r = results.get(i);
            System.out.printf("| %d | %.1f s | %.1f s | %.1f s | %s | %.0f | %d / %s | %s |%n", i + 1, r.upReturned(),
                    r.firstIndexed(), r.allSearchable(), r.documentsSearchable() < 0 ? "no documents"
                            : String.format("%.1f s", r.documentsSearchable()), r.rate(), r.refreshes(),
                    r.documentRefreshes() < 0 ? "-" : String.valueOf(r.documentRefreshes()), r.cores());
        }
    }

    private Result run() throws Exception {
        Path dir = Files.createTempDirectory("cdc-snapshot-bench");
        StackPorts ports = StackPorts.free();
        String elasticsearch = "http://localhost:" + ports.elasticsearch();
        long expected = fill(dir, ports);
        boolean done = false;
        Sampler sampler = new Sampler("http://localhost:" + ports.flink(), dir);
        try {
            long started = System.nanoTime();
            // up itself waits (90 s at most) until the snapshot is searchable: the watcher times it meanwhile.
            Watcher watcher = new Watcher(elasticsearch, started, expected, sampler);
            watcher.start();
            List<String> up = new ArrayList<>(List.of("up"));
            up.addAll(List.of(ConnectionOptions.flagsFor(ports)));
            up.addAll(List.of("--detach", "--data-dir", dir.toString()));
            if (Cdc.run(up.toArray(String[]::new)) != 0) {
                throw new IllegalStateException("./cdc up failed; logs in " + dir);
            }
            double upReturned = seconds(started);
            watcher.join(TimeUnit.MINUTES.toMillis(20));
            if (watcher.allSearchable < 0) {
                watcher.interrupt();
                throw new IllegalStateException("After 20 minutes: " + count(elasticsearch, INDEX) + " of " + expected
                        + " rows searchable");
            }
            Result result = new Result(expected, upReturned, watcher.firstIndexed, watcher.allSearchable,
                    watcher.documentsSearchable, refreshes(elasticsearch, INDEX), refreshes(elasticsearch, DOCUMENTS),
                    watcher.cores);
            System.out.printf("  up returned after %.1f s; first document indexed at %.1f s; all %d rows searchable at "
                    + "%.1f s (their documents at %.1f s): %.0f rows/s%n", upReturned, result.firstIndexed(), expected,
                    result.allSearchable(), result.documentsSearchable(), result.rate());
            System.out.printf("  %d refreshes; index settings at the end: %s%n", result.refreshes(),
                    Http.get(elasticsearch + "/" + INDEX + "/_settings?flat_settings=true").json().elements().next()
                            .path("settings"));
            System.out.printf("  cores over the window: %s%n", result.cores());
            done = true;
            return result;
        } finally {
            Benchmarks.down(dir, done, keep);
        }
    }

    /** The sample schema and {@code --rows} more users, before the connector exists; returns the users rows. */
    private long fill(Path dir, StackPorts ports) throws Exception {
        long started = System.nanoTime();
        try (PostgresServer postgres = PostgresServer.start(dir.resolve("postgres"), ports.postgres())) {
            List<String> setup = new ArrayList<>(List.of("setup-db"));
            setup.addAll(List.of(ConnectionOptions.flagsFor(ports)));
            if (Cdc.run(setup.toArray(String[]::new)) != 0) {
                throw new IllegalStateException("./cdc setup-db failed");
            }
            try (Connection connection = DriverManager.getConnection(postgres.jdbcUrl(), PostgresServer.USER,
                    PostgresServer.PASSWORD); Statement statement = connection.createStatement()) {
                statement.execute("INSERT INTO users(username, email) SELECT 'user' || g, 'user' || g || '@example.com'"
                        + " FROM generate_series(1, " + rows + ") g");
                statement.execute("VACUUM ANALYZE users");
                try (ResultSet count = statement.executeQuery("SELECT count(*) FROM users")) {
                    count.next();
                    System.out.printf("  filled PostgreSQL: %d users rows in %.1f s%n", count.getLong(1),
                            seconds(started));
                    return count.getLong(1);
                }
            }
        }
    }

    /** The index's refreshes so far; -1 when there is no such index. */
    private static long refreshes(String elasticsearch, String index) throws Exception {
        Http.Response stats = Http.get(elasticsearch + "/" + index + "/_stats/refresh");
        return stats.ok() ? stats.json().at("/_all/primaries/refresh/total").asLong() : -1;
    }

    /**
     * Notes when Elasticsearch first indexed a document of the table (its indexing stats), and when all rows are
     * searchable ({@code _count}) in the table's index and, when there is one, in the joined documents' index, with the
     * cores each process used in between.
     */
    private static final class Watcher extends Thread {
        private final String elasticsearch;
        private final long started;
        private final long expected;
        private final Sampler sampler;
        volatile double firstIndexed = -1;
        volatile double allSearchable = -1;
        volatile double documentsSearchable = -1;
        private double rowsSearchable = -1;
        volatile String cores = "";

        Watcher(String elasticsearch, long started, long expected, Sampler sampler) {
            super("snapshot-watcher");
            setDaemon(true);
            this.elasticsearch = elasticsearch;
            this.started = started;
            this.expected = expected;
            this.sampler = sampler;
        }

        @Override
        public void run() {
            while (!isInterrupted()) {
                try {
                    if (firstIndexed < 0) {
                        Http.Response stats = Http.get(elasticsearch + "/" + INDEX + "/_stats/indexing");
                        if (stats.ok() && stats.json().at("/_all/primaries/indexing/index_total").asLong() > 0) {
                            firstIndexed = seconds(started);
                            sampler.markCpu();
                        }
                    } else {
                        if (rowsSearchable < 0 && count(elasticsearch, INDEX) >= expected) {
                            rowsSearchable = seconds(started);
                        }
                        boolean documents = documentsSearchable >= 0;
                        if (!documents) {
                            Http.Response counted = Http.get(elasticsearch + "/" + DOCUMENTS + "/_count");
                            documents = counted.status() != 404; // no joined documents: only the table's index
                            if (counted.ok() && counted.json().path("count").asLong() >= expected) {
                                documentsSearchable = seconds(started);
                            }
                        }
                        if (rowsSearchable >= 0 && (documentsSearchable >= 0 || !documents)) {
                            allSearchable = Math.max(rowsSearchable, documentsSearchable);
                            cores = sampler.coresSinceStart(allSearchable - firstIndexed);
                            return;
                        }
                    }
                } catch (InterruptedException e) {
                    return;
                } catch (Exception notYet) {
                    // Elasticsearch not started yet, or the index not made yet.
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private static long count(String elasticsearch, String index) throws Exception {
        Http.Response response = Http.get(elasticsearch + "/" + index + "/_count");
        JsonNode json = response.ok() ? response.json() : null;
        return json == null ? 0 : json.path("count").asLong();
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
