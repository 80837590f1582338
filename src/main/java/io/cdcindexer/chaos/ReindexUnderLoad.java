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
 * find fewer than all of them. Then the same for the users' joined documents ({@code ./cdc reindex
 * cdc.documents.users}, sentinel users with an order each, found by a nested query). Afterwards the run's verify must
 * find the tables and the documents in step.
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
    /** The joined documents reindexed next, and their sentinel users (ids fit users.id, an integer). */
    static final String DOCUMENTS = "cdc.documents.users";
    static final long SENTINEL_USER_BASE = 2_000_000_000L;
    static final int SENTINEL_USERS = 100;
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
            if (!searchable(ALIAS, idsQuery(SENTINEL_BASE, SENTINELS), SENTINELS)) {
                return List.of("reindex: the " + SENTINELS + " sentinel rows were not searchable within 120 s");
            }
            say.accept(SENTINELS + " sentinel rows of " + TABLE + " are searchable; the index maps revision as "
                    + revisionType() + "; retyping it to bigint");
            try (Statement alter = connection.createStatement()) {
                alter.execute("ALTER TABLE public." + TABLE + " ALTER COLUMN revision TYPE bigint");
            }
        }
        Thread.sleep(3_000); // changes of the new type are refused (dead-lettered) meanwhile: the reindex writes them
        new Searcher(ALIAS, idsQuery(SENTINEL_BASE, SENTINELS), SENTINELS).during(command, TABLE, problems, say);
        String revision = revisionType();
        say.accept("revision is mapped as " + revision + " now (integer before)");
        if (!revision.equals("long")) {
            problems.add("reindex: the new index maps revision as " + revision + ", not long");
        }
        reindexDocuments(problems, say);
        return problems;
    }

    /**
     * Then the joined documents of users (configs/documents.json): {@code ./cdc reindex cdc.documents.users} while the
     * load moves orders between users and deletes users with their orders, searched all along for sentinel users
     * (keys outside the load's) that each carry an order. The run's final verify compares every document with the
     * SQL join.
     */
    private void reindexDocuments(List<String> problems, Consumer<String> say) throws Exception {
        try (Connection connection = db.get();
                PreparedStatement user = connection.prepareStatement("INSERT INTO public.users (id, username, email) "
                        + "VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING");
                PreparedStatement order = connection.prepareStatement("INSERT INTO public.orders (id, user_id, amount) "
                        + "VALUES (?, ?, 1.50) ON CONFLICT (id) DO NOTHING")) {
            for (int i = 1; i <= SENTINEL_USERS; i++) {
                user.setLong(1, SENTINEL_USER_BASE + i);
                user.setString(2, "sentinel " + i);
                user.setString(3, "sentinel" + i + "@example.com");
                user.addBatch();
                order.setLong(1, SENTINEL_USER_BASE + i);
                order.setLong(2, SENTINEL_USER_BASE + i);
                order.addBatch();
            }
            user.executeBatch();
            order.executeBatch();
        }
        String query = sentinelUsersWithAnOrder();
        if (!searchable(DOCUMENTS, query, SENTINEL_USERS)) {
            problems.add("reindex: the " + SENTINEL_USERS + " sentinel users with their orders were not "
                    + "searchable in " + DOCUMENTS + " within 120 s");
            return;
        }
        say.accept(SENTINEL_USERS + " sentinel users with an order each are searchable in " + DOCUMENTS
                + "; reindexing it");
        new Searcher(DOCUMENTS, query, SENTINEL_USERS).during(command, DOCUMENTS, problems, say);
    }

    // The sentinel users whose document carries their order: an ids query and a nested one.
    private static String sentinelUsersWithAnOrder() {
        return "{\"bool\":{\"filter\":[" + idsQuery(SENTINEL_USER_BASE, SENTINEL_USERS) + ",{\"nested\":{\"path\":"
                + "\"orders\",\"query\":{\"exists\":{\"field\":\"orders.id\"}}}}]}}";
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

    // Whether the query finds the expected sentinels in the alias within 120 s.
    private boolean searchable(String alias, String query, long expected) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (found(alias, query) < expected) {
            if (System.currentTimeMillis() > deadline) {
                return false;
            }
            Thread.sleep(500);
        }
        return true;
    }

    private static String idsQuery(long base, int count) {
        String ids = LongStream.rangeClosed(base + 1, base + count).mapToObj(Long::toString)
                .collect(Collectors.joining("\",\""));
        return "{\"ids\":{\"values\":[\"" + ids + "\"]}}";
    }

    // How many documents the query finds in the alias; -1 when the search fails.
    private long found(String alias, String query) throws Exception {
        Http.Response response = search(alias, query);
        return response.status() == 200 ? response.json().path("hits").path("total").path("value").asLong() : -1;
    }

    private Http.Response search(String alias, String query) throws Exception {
        return Http.send(HttpRequest.newBuilder(URI.create(elasticsearch + "/" + alias + "/_search"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"size\":0,\"track_total_hits\":true,\"query\":" + query
                        + "}"))
                .build());
    }

    /** Searches an alias until stopped, counting failures and answers that miss a sentinel. */
    private final class Searcher implements Runnable {
        final String alias;
        final String query;
        final long expected;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong searches = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final AtomicLong incomplete = new AtomicLong();
        final AtomicReference<String> firstFailure = new AtomicReference<>();
        final AtomicReference<String> firstIncomplete = new AtomicReference<>();

        /** @param query a query that finds the {@code expected} sentinels */
        Searcher(String alias, String query, long expected) {
            this.alias = alias;
            this.query = query;
            this.expected = expected;
        }

        @Override
        public void run() {
            while (!stop.get()) {
                searches.incrementAndGet();
                try {
                    Http.Response response = search(alias, query);
                    if (response.status() != 200) {
                        failed.incrementAndGet();
                        firstFailure.compareAndSet(null, response.status() + " " + response.body());
                    } else {
                        long found = response.json().path("hits").path("total").path("value").asLong();
                        if (found != expected) {
                            incomplete.incrementAndGet();
                            firstIncomplete.compareAndSet(null, found + " of " + expected + " found");
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

        /** Runs the command while searching; its exit code and what the searches found wrong go to problems. */
        void during(Command command, String what, List<String> problems, Consumer<String> say) throws Exception {
            Thread thread = new Thread(this, "reindex-searcher");
            thread.setDaemon(true);
            thread.start();
            int exit;
            try {
                exit = command.run(what);
            } finally {
                stop.set(true);
                thread.join();
            }
            say.accept(String.format(Locale.ROOT, "searches on %s during the reindex: %,d, failed %,d, with a sentinel "
                    + "missing %,d", alias, searches.get(), failed.get(), incomplete.get()));
            if (exit != 0) {
                problems.add("reindex: ./cdc reindex " + what + " exited with " + exit);
            }
            if (failed.get() > 0) {
                problems.add("reindex: " + failed.get() + " searches on " + alias + " failed; first: "
                        + firstFailure.get());
            }
            if (incomplete.get() > 0) {
                problems.add("reindex: " + incomplete.get() + " searches on " + alias + " missed sentinels; first: "
                        + firstIncomplete.get());
            }
            JsonNode behind = Http.get(elasticsearch + "/_alias/" + alias).json();
            if (behind.has(alias + "_v1") || behind.size() != 1) {
                problems.add("reindex: the alias " + alias + " did not move to a new index: " + behind);
            }
        }
    }
}
