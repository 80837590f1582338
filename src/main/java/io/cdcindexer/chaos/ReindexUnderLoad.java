package io.cdcindexer.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.stack.Http;
import java.net.URI;
import java.net.http.HttpRequest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

/**
 * The reindex fault: {@code chaos_documents.revision} is retyped from integer to bigint under load (its changes then go
 * to the dead-letter queue: the index maps the column as {@code integer}), and {@code ./cdc reindex chaos_documents}
 * runs while the load goes on. All along, a searcher asks the alias every 100 ms for a set of sentinel rows (their
 * keys outside the load's, half of them with a TOASTed body) that exist throughout: no search may fail, and none may
 * find fewer than all of them. Afterwards the run's verify must find the table in step.
 */
public final class ReindexUnderLoad {

    /** What runs {@code ./cdc reindex <table>}; returns its exit code. */
    public interface Command {
        int run(String table) throws Exception;
    }

    static final String TABLE = "chaos_documents";
    static final String ALIAS = "cdc.public.chaos_documents";
    static final long SENTINEL_BASE = 4_000_000_000L;
    static final int SENTINELS = 200;
    private static final long SEARCH_EVERY_MS = 100;

    private final Supplier<Connection> db;
    private final String elasticsearch;
    private final Command command;

    public ReindexUnderLoad(Supplier<Connection> db, String elasticsearch, Command command) {
        this.db = db;
        this.elasticsearch = elasticsearch;
        this.command = command;
    }

    /** Runs the fault; returns what went wrong, one line each (nothing when the reindex held). */
    public List<String> run(Consumer<String> say) throws Exception {
        List<String> problems = new ArrayList<>();
        try (Connection connection = db.get()) {
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO public." + TABLE
                    + " (id, revision, title, body) VALUES (?, 1, ?, ?) ON CONFLICT (id) DO NOTHING")) {
                for (int i = 1; i <= SENTINELS; i++) {
                    insert.setLong(1, SENTINEL_BASE + i);
                    insert.setString(2, "sentinel " + i);
                    // Half of them stored out of line (TOAST): incompressible text of 8 KB.
                    insert.setString(3, i % 2 == 0 ? ChaosPlanner.incompressibleText(new java.util.Random(i), 8 * 1024) : "short body " + i);
                    insert.addBatch();
                }
                insert.executeBatch();
            }
            long deadline = System.currentTimeMillis() + 120_000;
            while (sentinelsFound() < SENTINELS) {
                if (System.currentTimeMillis() > deadline) {
                    return List.of("reindex: the " + SENTINELS + " sentinel rows were not searchable within 120 s");
                }
                Thread.sleep(500);
            }
            say.accept(SENTINELS + " sentinel rows of " + TABLE + " are searchable; the index maps revision as "
                    + revisionType() + "; retyping it to bigint");
            try (Statement alter = connection.createStatement()) {
                alter.execute("ALTER TABLE public." + TABLE + " ALTER COLUMN revision TYPE bigint");
            }
        }
        Thread.sleep(3_000); // changes of the new type are refused (dead-lettered) meanwhile: the reindex writes them
        Searcher searcher = new Searcher();
        Thread thread = new Thread(searcher, "reindex-searcher");
        thread.setDaemon(true);
        thread.start();
        int exit;
        try {
            exit = command.run(TABLE);
        } finally {
            searcher.stop.set(true);
            thread.join();
        }
        say.accept(String.format(Locale.ROOT, "searches on %s during the reindex: %,d, failed %,d, with a sentinel "
                + "missing %,d", ALIAS, searcher.searches.get(), searcher.failed.get(), searcher.incomplete.get()));
        if (exit != 0) {
            problems.add("reindex: ./cdc reindex " + TABLE + " exited with " + exit);
        }
        if (searcher.failed.get() > 0) {
            problems.add("reindex: " + searcher.failed.get() + " searches on " + ALIAS + " failed; first: "
                    + searcher.firstFailure.get());
        }
        if (searcher.incomplete.get() > 0) {
            problems.add("reindex: " + searcher.incomplete.get() + " searches on " + ALIAS + " missed sentinel rows; "
                    + "first: " + searcher.firstIncomplete.get());
        }
        JsonNode alias = Http.get(elasticsearch + "/_alias/" + ALIAS).json();
        if (alias.has(ALIAS + "_v1") || alias.size() != 1) {
            problems.add("reindex: the alias did not move to a new index: " + alias);
        }
        String revision = revisionType();
        say.accept("revision is mapped as " + revision + " now (integer before)");
        if (!revision.equals("long")) {
            problems.add("reindex: the new index maps revision as " + revision + ", not long");
        }
        return problems;
    }

    /** A dead letter of a change of the retyped column, refused by the index until the reindex: expected. */
    static boolean refusedUntilReindexed(Poison.Letter letter) {
        return ("cdc.public." + TABLE).equals(letter.topic()) && letter.reason() != null
                && letter.reason().contains("./cdc reindex");
    }

    /** How the index behind the alias maps {@code revision}. */
    private String revisionType() throws Exception {
        JsonNode mappings = Http.get(elasticsearch + "/" + ALIAS + "/_mapping").json();
        return mappings.elements().next().path("mappings").path("properties").path("revision").path("type")
                .asText("(none)");
    }

    private long sentinelsFound() throws Exception {
        Http.Response response = search();
        return response.status() == 200 ? response.json().path("hits").path("total").path("value").asLong() : -1;
    }

    private Http.Response search() throws Exception {
        String ids = LongStream.rangeClosed(SENTINEL_BASE + 1, SENTINEL_BASE + SENTINELS).mapToObj(Long::toString)
                .collect(Collectors.joining("\",\""));
        return Http.send(HttpRequest.newBuilder(URI.create(elasticsearch + "/" + ALIAS + "/_search"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"size\":0,\"track_total_hits\":true,"
                        + "\"query\":{\"ids\":{\"values\":[\"" + ids + "\"]}}}"))
                .build());
    }

    /** Searches the alias until stopped, counting failures and answers that miss a sentinel. */
    private final class Searcher implements Runnable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong searches = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final AtomicLong incomplete = new AtomicLong();
        final AtomicReference<String> firstFailure = new AtomicReference<>();
        final AtomicReference<String> firstIncomplete = new AtomicReference<>();

        @Override
        public void run() {
            while (!stop.get()) {
                searches.incrementAndGet();
                try {
                    Http.Response response = search();
                    if (response.status() != 200) {
                        failed.incrementAndGet();
                        firstFailure.compareAndSet(null, response.status() + " " + response.body());
                    } else {
                        long found = response.json().path("hits").path("total").path("value").asLong();
                        if (found != SENTINELS) {
                            incomplete.incrementAndGet();
                            firstIncomplete.compareAndSet(null, found + " of " + SENTINELS + " found");
                        }
                    }
                    Thread.sleep(SEARCH_EVERY_MS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (Exception e) {
                    failed.incrementAndGet();
                    firstFailure.compareAndSet(null, e.toString());
                }
            }
        }
    }
}
