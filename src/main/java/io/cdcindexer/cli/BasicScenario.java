package io.cdcindexer.cli;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The scenario that shows change data capture in three steps: insert a user, update its email, delete it. Each step
 * prints its SQL, then what to look for in Kafka ({@code ./cdc consume}) and in Elasticsearch ({@code ./cdc watch}).
 */
public final class BasicScenario {

    private final Connection db;
    private final ElasticsearchHttp es;
    private final PrintWriter out;
    private final Duration stepDelay;
    private String where = "before its first step";
    private String user;
    private long userId = -1;
    private boolean deleted;

    /**
     * @param stepDelay the pause between steps, so that a person can watch each change travel through the pipeline
     */
    public BasicScenario(Connection db, ElasticsearchHttp es, PrintWriter out, Duration stepDelay) {
        this.db = db;
        this.es = es;
        this.out = out;
        this.stepDelay = stepDelay;
    }

    /** Runs the three steps and returns the id of the user it created (and deleted). */
    public long run() throws SQLException, InterruptedException {
        String name = "demo_" + Integer.toString(ThreadLocalRandom.current().nextInt(1 << 20), 36);
        String email = name + "@example.com";
        String newEmail = name + "@example.org";
        String document = es.documentUrl("cdc.public.users", "ID");

        step(1, "insert a user", "INSERT INTO users (username, email) VALUES ('" + name + "', '" + email + "') RETURNING id");
        user = name;
        long id;
        try (PreparedStatement insert = db.prepareStatement(
                "INSERT INTO public.users (username, email) VALUES (?, ?) RETURNING id")) {
            insert.setString(1, name);
            insert.setString(2, email);
            try (ResultSet rs = insert.executeQuery()) {
                rs.next();
                id = rs.getLong(1);
            }
        }
        userId = id;
        String url = document.replace("ID", Long.toString(id));
        out.println("  → new row users id=" + id);
        lookFor("op=c on cdc.public.users, key id=" + id + ": 'after' holds the new row",
                "the document appears: GET " + url);
        pause();

        step(2, "update its email", "UPDATE users SET email = '" + newEmail + "' WHERE id = " + id);
        execute("UPDATE public.users SET email = ? WHERE id = ?", newEmail, id);
        lookFor("op=u on cdc.public.users, key id=" + id + ": email: \"" + email + "\" → \"" + newEmail + "\"",
                "GET " + url + " shows the new email and a higher _version");
        pause();

        step(3, "delete it", "DELETE FROM users WHERE id = " + id);
        execute("DELETE FROM public.users WHERE id = ?", id);
        deleted = true;
        lookFor("op=d on cdc.public.users, key id=" + id + ": 'before' holds the old row; then a tombstone (same key, "
                + "null value)", "GET " + url + " answers 404, \"found\": false");
        out.println();
        out.println("produce: done. ./cdc verify checks that every table and its index agree.");
        out.flush();
        return id;
    }

    /** Where the scenario is, for a message should PostgreSQL fail: {@code at step 2/3 (update its email)}. */
    public String where() {
        return where;
    }

    /** What a scenario that stopped midway leaves in the table, as the end of a sentence; empty if nothing. */
    public String leftBehind() {
        return userId < 0 || deleted ? "" : "; user " + user + " (id " + userId + ") stays in public.users";
    }

    private void step(int number, String title, String sql) {
        where = "at step " + number + "/3 (" + title + ")";
        out.println();
        out.println("Step " + number + "/3: " + title);
        out.println("  SQL> " + sql + ";");
    }

    private void lookFor(String kafka, String elasticsearch) {
        out.println("  Kafka:         look for " + kafka + "   (./cdc consume)");
        out.println("  Elasticsearch: " + elasticsearch + "   (./cdc watch)");
        out.flush();
    }

    private void execute(String sql, Object... parameters) throws SQLException {
        try (PreparedStatement statement = db.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                statement.setObject(i + 1, parameters[i]);
            }
            statement.executeUpdate();
        }
    }

    private void pause() throws InterruptedException {
        if (!stepDelay.isZero()) {
            out.println("  (next step in " + stepDelay.toMillis() / 1000.0 + " s)");
            out.flush();
            Thread.sleep(stepDelay.toMillis()); // the user-facing pace of the demo, set by --step-delay
        }
    }
}
