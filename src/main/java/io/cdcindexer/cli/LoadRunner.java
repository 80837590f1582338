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
import java.util.concurrent.CountDownLatch;
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

    /**
     * The outcome: totals, transactions per kind, the last failure (if any) for the report, and why the load stopped
     * before its end (null when it ran its course).
     */
    public record Result(Progress totals, Map<LoadPlanner.Kind, Long> transactionsByKind, String lastFailure,
            String stoppedEarly) {}

    /** How long the load waits for PostgreSQL to answer again before it stops. */
    static final Duration MAX_OUTAGE = Duration.ofSeconds(60);
    private static final Duration RECONNECT_INTERVAL = Duration.ofSeconds(1);

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
    private final AtomicReference<String> stoppedEarly = new AtomicReference<>();
    private volatile boolean over;
    /** Says when PostgreSQL stops answering and when it answers again; shared by the workers, under its own lock. */
    private final Outage outage;
    private final Map<LoadPlanner.Kind, AtomicLong> byKind = new EnumMap<>(LoadPlanner.Kind.class);

    /**
     * @param rate target changed rows per second
     * @param duration how long to run; the run also stops after rate × duration changes
     */
    public LoadRunner(Supplier<Connection> connections, int workers, double rate, Duration duration, long seed) {
        this(connections, workers, rate, duration, seed, new Outage(new java.io.PrintWriter(java.io.Writer.nullWriter()),
                "produce", "PostgreSQL"));
    }

    /**
     * @param outage what to say when PostgreSQL stops answering (the workers then connect again, every second, for
     *     up to a minute, and the load carries on) and when it answers again
     */
    public LoadRunner(Supplier<Connection> connections, int workers, double rate, Duration duration, long seed,
            Outage outage) {
        if (rate <= 0 || workers < 1 || duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("rate, connections and duration must be positive");
        }
        this.outage = outage;
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
        long loadEnd = System.nanoTime() + duration.toNanos();
        AtomicLong paceStart = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(workers, runnable -> {
            Thread thread = new Thread(runnable, "cdc-produce");
            thread.setDaemon(true);
            return thread;
        });
        try {
            List<Future<?>> running = new ArrayList<>();
            CountDownLatch loaded = new CountDownLatch(workers);
            for (int worker = 0; worker < workers; worker++) {
                int share = worker;
                running.add(pool.submit(() -> {
                    work(share, loadEnd, budget, loaded, paceStart);
                    return null;
                }));
            }
            for (Future<?> future : running) {
                while (true) {
                    try {
                        future.get(1, TimeUnit.SECONDS);
                        break;
                    } catch (java.util.concurrent.TimeoutException e) {
                        progress.accept(progress(paceStart));
                    } catch (java.util.concurrent.ExecutionException e) {
                        throw e.getCause() instanceof Exception cause ? cause : e;
                    }
                }
            }
        } finally {
            over = true; // a worker still running (another one failed) stops at its next step
            pool.shutdownNow();
        }
        Map<LoadPlanner.Kind, Long> kinds = new EnumMap<>(LoadPlanner.Kind.class);
        byKind.forEach((kind, count) -> kinds.put(kind, count.get()));
        return new Result(progress(paceStart), kinds, lastFailure.get(), stoppedEarly.get());
    }

    // Counted from when the load's pace started (every connection had loaded its share); zero until then.
    private Progress progress(AtomicLong paceStart) {
        long from = paceStart.get();
        return new Progress(changes.get(), transactions.get(), failed.get(),
                from == 0 ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - from));
    }

    /**
     * One connection's load. It first loads its share of the users (by id) and their orders, then waits until every
     * connection has: one that loaded later would also take as its own the users another had created meanwhile whose
     * ids fall in its share, and two planners owning one user close an account that the other goes on placing orders
     * for. {@code loaded} counts the connections that have loaded (or given up); loading must end by {@code loadEnd}.
     */
    private void work(int share, long loadEnd, long budget, CountDownLatch loaded, AtomicLong paceStart)
            throws SQLException {
        boolean counted = false;
        Connection db = null;
        try {
            db = connections.get();
            SequenceIds ids;
            LoadPlanner planner;
            while (true) {
                try {
                    db.setAutoCommit(false);
                    ids = new SequenceIds(db);
                    planner = new LoadPlanner(new Random(seed + share), ids);
                    loadShare(db, planner, share);
                    db.commit();
                    break;
                } catch (SQLException e) {
                    if (db.isValid(2)) {
                        throw e;
                    }
                    db = reconnect(db, e, loadEnd);
                    if (db == null) {
                        return;
                    }
                }
            }
            loaded.countDown();
            counted = true;
            if (!awaitEveryShare(loaded, loadEnd)) {
                return;
            }
            // The load's pace and time count from here: counted from the start, the time spent loading would be made
            // up in a burst at the rate's expense, and taken from the load's duration.
            paceStart.compareAndSet(0, System.nanoTime());
            long paced = paceStart.get();
            long end = paced + duration.toNanos();
            while (stoppedEarly.get() == null && !over) {
                LoadPlanner.Plan plan;
                try {
                    plan = planner.next();
                } catch (SequenceIds.Unavailable e) {
                    if (db.isValid(2)) {
                        throw new CliException(e.getMessage(), e.getCause()); // not the connection: the table, say
                    }
                    db = reconnect(db, e.getCause(), end);
                    if (db == null) {
                        return;
                    }
                    ids.use(db);
                    continue;
                }
                long before = reserved.getAndAdd(plan.changes());
                long due = paced + (long) (before / rate * 1e9);
                // Bounded in count and in time: a load that falls behind its rate still stops at the end.
                if (before >= budget || due >= end || System.nanoTime() >= end) {
                    rollbackQuietly(db); // the sequences may have handed out ids in a transaction of their own
                    return;
                }
                // The pace of the load: wait until this transaction's changes are due.
                for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                    LockSupport.parkNanos(wait);
                }
                try {
                    if (execute(db, plan)) {
                        plan.onCommit().run();
                        changes.addAndGet(plan.changes());
                        transactions.incrementAndGet();
                        byKind.get(plan.kind()).incrementAndGet();
                    }
                } catch (SQLException e) {
                    db = reconnect(db, e, end);
                    if (db == null) {
                        return;
                    }
                    ids.use(db);
                }
            }
        } finally {
            if (!counted) {
                loaded.countDown(); // gave up before loading: the others need not wait for it
            }
            if (db != null) {
                closeQuietly(db);
            }
        }
    }

    /** Waits until every connection has loaded its share; false when the load's time ran out or it was stopped. */
    private static boolean awaitEveryShare(CountDownLatch loaded, long end) {
        try {
            return loaded.await(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * The connection broke (PostgreSQL restarted, say): connects again every second until it answers, and returns the
     * new connection; or, once PostgreSQL has not answered for {@link #MAX_OUTAGE} or the load's time is up, records
     * why the load stopped early and returns null.
     */
    private Connection reconnect(Connection broken, Throwable cause, long end) {
        closeQuietly(broken);
        String problem = Outage.brief(cause);
        while (stoppedEarly.get() == null && !over) {
            try {
                Connection db = connections.get();
                db.setAutoCommit(false);
                synchronized (outage) {
                    if (outage.ongoing()) {
                        outage.answered();
                    } else {
                        outage.reconnected(problem);
                    }
                }
                return db;
            } catch (RuntimeException | SQLException e) {
                problem = Outage.brief(e);
                synchronized (outage) {
                    outage.failed(problem);
                    if (System.nanoTime() >= end || outage.seconds() >= MAX_OUTAGE.toSeconds()) {
                        stoppedEarly.compareAndSet(null, outage.stillAway());
                        return null;
                    }
                }
            }
            LockSupport.parkNanos(RECONNECT_INTERVAL.toNanos()); // between two attempts to connect
        }
        return null;
    }

    private static void rollbackQuietly(Connection db) {
        try {
            db.rollback();
        } catch (SQLException e) {
            // a broken connection has nothing to roll back
        }
    }

    private static void closeQuietly(Connection db) {
        try {
            db.close();
        } catch (SQLException e) {
            // closing a broken connection may fail; it is gone either way
        }
    }

    /**
     * Runs one planned transaction: true when committed, false when PostgreSQL refused it (a conflict, counted as
     * failed). Throws when the connection itself is broken.
     */
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
                    executeBatch(batch);
                }
            }
            db.commit();
            return true;
        } catch (SQLException e) {
            // Someone else changed the same rows (another produce, a user at psql): count it, keep going.
            failed.incrementAndGet();
            lastFailure.set(plan.kind() + ": " + e.getMessage());
            rollbackQuietly(db);
            if (db.isClosed() || !db.isValid(2)) {
                throw e;
            }
            return false;
        }
    }

    /**
     * Runs a batch. On a connection that broke midway, pgjdbc's batch asks the connection for its auto-commit mode,
     * which fails, and with assertions on (java -ea, as in the tests) reports that as an AssertionError instead of the
     * SQLException it reports otherwise: a broken connection either way.
     */
    private static void executeBatch(PreparedStatement batch) throws SQLException {
        try {
            batch.executeBatch();
        } catch (AssertionError e) {
            if (batch.getConnection().isValid(2)) {
                throw e;
            }
            throw new SQLException("the connection broke during a batch", "08006", e);
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
        /** The sequence did not answer: the connection broke. */
        static final class Unavailable extends RuntimeException {
            private static final long serialVersionUID = 1L;

            Unavailable(String table, SQLException cause) {
                super("Cannot draw ids from the sequence of public." + table + ": " + cause.getMessage(), cause);
            }
        }

        private Connection db;
        private final Deque<Long> userIds = new ArrayDeque<>();
        private final Deque<Long> orderIds = new ArrayDeque<>();

        SequenceIds(Connection db) {
            this.db = db;
        }

        /** Draws from now on over this connection (the last one broke). */
        void use(Connection connection) {
            db = connection;
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
                    throw new Unavailable(table, e);
                }
            }
            return block.removeFirst();
        }
    }
}
