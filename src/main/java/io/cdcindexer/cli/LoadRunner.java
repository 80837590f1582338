package io.cdcindexer.cli;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Runs {@link LoadPlanner}'s transactions against PostgreSQL at a target rate of changed rows per second, for a bounded
 * time, on a few connections. Each connection owns the users whose id falls in its share (id modulo the number of
 * connections) and their orders, so connections never wait on each other's row locks. Statements go as JDBC batches.
 */
public final class LoadRunner {

    /** How far the run got. */
    public record Progress(long changes, long transactions, long failed, Duration elapsed) {
        /** Changes per second reached so far. */
        public double rate() {
            double seconds = elapsed.toNanos() / 1e9;
            return seconds == 0 ? 0 : changes / seconds;
        }
    }

    /** The outcome: totals, transactions per kind, and the last failure (if any) for the report. */
    public record Result(Progress totals, Map<LoadPlanner.Kind, Long> transactionsByKind, String lastFailure) {}

    private static final int ID_BLOCK = 100;
    private static final int EXISTING_USERS_PER_CONNECTION = 10_000;

    private final Supplier<Connection> connections;
    private final int workers;
    private final double rate;
    private final Duration duration;
    private final long seed;

    private final AtomicLong reserved = new AtomicLong();
    private final AtomicLong changes = new AtomicLong();
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicReference<String> lastFailure = new AtomicReference<>();
    private final Map<LoadPlanner.Kind, AtomicLong> byKind = new EnumMap<>(LoadPlanner.Kind.class);

    /**
     * @param rate target changed rows per second
     * @param duration how long to run; the run also stops after rate × duration changes
     */
    public LoadRunner(Supplier<Connection> connections, int workers, double rate, Duration duration, long seed) {
        if (rate <= 0 || workers < 1 || duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("rate, connections and duration must be positive");
        }
        this.connections = connections;
        this.workers = workers;
        this.rate = rate;
        this.duration = duration;
        this.seed = seed;
        for (LoadPlanner.Kind kind : LoadPlanner.Kind.values()) {
            byKind.put(kind, new AtomicLong());
        }
    }

    /** Runs the load, calling {@code progress} about once a second from the calling thread; returns when done. */
    public Result run(Consumer<Progress> progress) throws Exception {
        long budget = (long) Math.ceil(rate * duration.toNanos() / 1e9);
        long start = System.nanoTime();
        long end = start + duration.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(workers, runnable -> {
            Thread thread = new Thread(runnable, "cdc-produce");
            thread.setDaemon(true);
            return thread;
        });
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int worker = 0; worker < workers; worker++) {
                int share = worker;
                running.add(pool.submit(() -> {
                    work(share, start, end, budget);
                    return null;
                }));
            }
            for (Future<?> future : running) {
                while (true) {
                    try {
                        future.get(1, TimeUnit.SECONDS);
                        break;
                    } catch (java.util.concurrent.TimeoutException e) {
                        progress.accept(progress(start));
                    } catch (java.util.concurrent.ExecutionException e) {
                        throw e.getCause() instanceof Exception cause ? cause : e;
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
        Map<LoadPlanner.Kind, Long> kinds = new EnumMap<>(LoadPlanner.Kind.class);
        byKind.forEach((kind, count) -> kinds.put(kind, count.get()));
        return new Result(progress(start), kinds, lastFailure.get());
    }

    private Progress progress(long start) {
        return new Progress(changes.get(), transactions.get(), failed.get(), Duration.ofNanos(System.nanoTime() - start));
    }

    private void work(int share, long start, long end, long budget) throws SQLException {
        try (Connection db = connections.get()) {
            db.setAutoCommit(false);
            LoadPlanner planner = new LoadPlanner(new Random(seed + share), new SequenceIds(db));
            loadShare(db, planner, share);
            db.commit();
            while (true) {
                LoadPlanner.Plan plan = planner.next();
                long before = reserved.getAndAdd(plan.changes());
                long due = start + (long) (before / rate * 1e9);
                // Bounded in count and in time: a load that falls behind its rate still stops at the end.
                if (before >= budget || due >= end || System.nanoTime() >= end) {
                    db.rollback(); // the sequences may have handed out ids in a transaction of their own
                    return;
                }
                // The pace of the load: wait until this transaction's changes are due.
                for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                    LockSupport.parkNanos(wait);
                }
                if (execute(db, plan)) {
                    plan.onCommit().run();
                    changes.addAndGet(plan.changes());
                    transactions.incrementAndGet();
                    byKind.get(plan.kind()).incrementAndGet();
                }
            }
        }
    }

    private boolean execute(Connection db, LoadPlanner.Plan plan) throws SQLException {
        try {
            for (LoadPlanner.Statement statement : plan.statements()) {
                try (PreparedStatement batch = db.prepareStatement(statement.sql())) {
                    for (Object[] row : statement.rows()) {
                        for (int i = 0; i < row.length; i++) {
                            batch.setObject(i + 1, row[i]);
                        }
                        batch.addBatch();
                    }
                    batch.executeBatch();
                }
            }
            db.commit();
            return true;
        } catch (SQLException e) {
            // Someone else changed the same rows (another produce, a user at psql): count it, keep going.
            db.rollback();
            failed.incrementAndGet();
            lastFailure.set(plan.kind() + ": " + e.getMessage());
            if (db.isClosed() || !db.isValid(2)) {
                throw e;
            }
            return false;
        }
    }

    /** Hands this connection's share of the existing users and their orders to the planner. */
    private void loadShare(Connection db, LoadPlanner planner, int share) throws SQLException {
        List<Long> users = new ArrayList<>();
        try (PreparedStatement query = db.prepareStatement(
                "SELECT id FROM public.users WHERE id % ? = ? ORDER BY id DESC LIMIT " + EXISTING_USERS_PER_CONNECTION)) {
            query.setInt(1, workers);
            query.setInt(2, share);
            try (ResultSet rs = query.executeQuery()) {
                while (rs.next()) {
                    users.add(rs.getLong(1));
                }
            }
        }
        users.forEach(planner::addUser);
        try (PreparedStatement query = db.prepareStatement(
                "SELECT id, user_id, status FROM public.orders WHERE user_id = ANY (?)")) {
            Array ids = db.createArrayOf("bigint", users.toArray());
            query.setArray(1, ids);
            try (ResultSet rs = query.executeQuery()) {
                while (rs.next()) {
                    planner.addOrder(rs.getLong(1), rs.getLong(2), rs.getString(3));
                }
            }
        }
    }

    /**
     * New ids from the tables' own sequences, fetched a block at a time, so that rows inserted by the load and by anyone
     * else never collide. Rows a connection creates are known to its planner only, so they stay its own.
     */
    private static final class SequenceIds implements LoadPlanner.Ids {
        private final Connection db;
        private final Deque<Long> userIds = new ArrayDeque<>();
        private final Deque<Long> orderIds = new ArrayDeque<>();

        SequenceIds(Connection db) {
            this.db = db;
        }

        @Override
        public long nextUserId() {
            return next(userIds, "users");
        }

        @Override
        public long nextOrderId() {
            return next(orderIds, "orders");
        }

        private long next(Deque<Long> block, String table) {
            if (block.isEmpty()) {
                try (PreparedStatement query = db.prepareStatement("SELECT nextval(pg_get_serial_sequence(?, 'id')) "
                        + "FROM generate_series(1, " + ID_BLOCK + ")")) {
                    query.setString(1, "public." + table);
                    try (ResultSet rs = query.executeQuery()) {
                        while (rs.next()) {
                            block.add(rs.getLong(1));
                        }
                    }
                } catch (SQLException e) {
                    throw new CliException("Cannot draw ids from the sequence of public." + table + ": " + e.getMessage(), e);
                }
            }
            return block.removeFirst();
        }
    }
}
