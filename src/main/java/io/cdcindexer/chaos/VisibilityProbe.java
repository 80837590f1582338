package io.cdcindexer.chaos;

import com.fasterxml.jackson.databind.JsonNode;

import io.cdcindexer.stack.Http;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Measures commit → visible through the whole pipeline while faults come and go: every {@code interval} it commits one
 * new row to {@code public.chaos_probe} (its own connection, reconnecting while PostgreSQL is away) and notes when the
 * commit returned; a poller asks Elasticsearch for the outstanding rows with {@code _mget} (real-time: it does not wait
 * for a refresh, as LatencyBenchmark does) and notes when each appears. A probe whose commit failed is not counted.
 */
public final class VisibilityProbe implements AutoCloseable {

    /** The probe table; it is captured and indexed like any other and checked by verify. */
    public static final String TABLE = "chaos_probe";

    /** One probe row: when its commit returned and when it was first seen in Elasticsearch (0 = not yet). */
    public record Sample(long id, long committedAt, long visibleAt) {
        public boolean visible() {
            return visibleAt > 0;
        }

        public long delayMillis() {
            return visibleAt - committedAt;
        }
    }

    private final Supplier<Connection> connections;
    private final String mgetUrl;
    private final long intervalMillis;
    private final ConcurrentSkipListMap<Long, Sample> samples = new ConcurrentSkipListMap<>();
    private volatile boolean stopped;
    private volatile boolean committing = true;
    private volatile String lastError;
    private Thread committer;
    private Thread poller;

    public VisibilityProbe(Supplier<Connection> connections, String elasticsearchUrl, String topicPrefix,
            long intervalMillis) {
        this.connections = connections;
        this.mgetUrl = elasticsearchUrl + "/" + topicPrefix + ".public." + TABLE + "/_mget?_source=false";
        this.intervalMillis = intervalMillis;
    }

    /** Creates the probe table (idempotent). */
    public static void create(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE IF NOT EXISTS public." + TABLE
                    + " (id bigint PRIMARY KEY, committed_at timestamptz NOT NULL DEFAULT now())");
        }
    }

    public void start() {
        committer = new Thread(this::commitLoop, "chaos-probe-commit");
        poller = new Thread(this::pollLoop, "chaos-probe-poll");
        committer.setDaemon(true);
        poller.setDaemon(true);
        committer.start();
        poller.start();
    }

    private void commitLoop() {
        long next = nextId();
        Connection connection = null;
        while (!stopped && committing) {
            long started = System.currentTimeMillis();
            try {
                if (connection == null) {
                    connection = connections.get();
                    connection.setAutoCommit(true);
                }
                try (PreparedStatement insert = connection.prepareStatement(
                        "INSERT INTO public." + TABLE + " (id) VALUES (?) ON CONFLICT (id) DO NOTHING")) {
                    insert.setLong(1, next);
                    insert.executeUpdate();
                }
                samples.put(next, new Sample(next, System.currentTimeMillis(), 0));
                next++;
            } catch (RuntimeException | SQLException e) {
                // PostgreSQL is away (restart): the commit may or may not have happened; this id is skipped either way.
                next++;
                close(connection);
                connection = null;
            }
            sleep(Math.max(0, intervalMillis - (System.currentTimeMillis() - started)));
        }
        close(connection);
    }

    /** Ids continue after those of an earlier run in the same database. */
    private long nextId() {
        while (!stopped) {
            try (Connection connection = connections.get(); Statement statement = connection.createStatement();
                    var result = statement.executeQuery("SELECT coalesce(max(id), 0) + 1 FROM public." + TABLE)) {
                result.next();
                return result.getLong(1);
            } catch (RuntimeException | SQLException e) {
                sleep(500);
            }
        }
        return 1;
    }

    private void pollLoop() {
        while (!stopped) {
            List<Long> outstanding = samples.values().stream().filter(sample -> !sample.visible()).map(Sample::id)
                    .limit(1000).toList();
            if (!outstanding.isEmpty()) {
                try {
                    String ids = outstanding.stream().map(id -> "\"" + id + "\"").collect(Collectors.joining(","));
                    Http.Response response = Http.post(mgetUrl, "{\"ids\":[" + ids + "]}");
                    if (!response.ok() && response.status() != 404) { // 404: the index does not exist yet
                        lastError = "Elasticsearch answered " + response.status() + " to _mget: " + response.body();
                    }
                    if (response.ok()) {
                        long now = System.currentTimeMillis();
                        for (JsonNode doc : response.json().path("docs")) {
                            if (doc.path("found").asBoolean()) {
                                long id = Long.parseLong(doc.path("_id").asText());
                                samples.computeIfPresent(id, (key, sample) -> sample.visible() ? sample
                                        : new Sample(id, sample.committedAt(), now));
                            }
                        }
                    }
                } catch (Exception e) {
                    // Elasticsearch is away (outage) or the index does not exist yet: the probes stay outstanding.
                }
            }
            sleep(100);
        }
    }

    /** The last unexpected answer of Elasticsearch to the poller (null if none): a wrong request never goes unnoticed. */
    public String lastError() {
        return lastError;
    }

    /** Every probe so far, by id. */
    public List<Sample> samples() {
        return new ArrayList<>(samples.values());
    }

    /** The first probe committed at or after {@code millis} that is visible, with when it became visible. */
    public OptionalLong visibleAtOfFirstCommittedAfter(long millis) {
        for (Map.Entry<Long, Sample> entry : samples.entrySet()) {
            Sample sample = entry.getValue();
            if (sample.committedAt() >= millis) {
                return sample.visible() ? OptionalLong.of(sample.visibleAt()) : OptionalLong.empty();
            }
        }
        return OptionalLong.empty();
    }

    /** The worst commit → visible delay among the probes committed in [from, to); unseen ones count until now. */
    public long worstDelayMillis(long from, long to) {
        long now = System.currentTimeMillis();
        return samples.values().stream()
                .filter(sample -> sample.committedAt() >= from && sample.committedAt() < to)
                .mapToLong(sample -> (sample.visible() ? sample.visibleAt() : now) - sample.committedAt())
                .max().orElse(0);
    }

    /** Whether every probe committed so far is visible. */
    public boolean allVisible() {
        return samples.values().stream().allMatch(Sample::visible);
    }

    /** Commits no more probes (the poller goes on until {@link #close()}); returns once the last commit is done. */
    public void stopCommitting() {
        committing = false;
        if (committer != null) {
            try {
                committer.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        stopped = true;
        for (Thread thread : new Thread[] {committer, poller}) {
            if (thread != null) {
                try {
                    thread.join(5_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static void close(Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // already broken
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
