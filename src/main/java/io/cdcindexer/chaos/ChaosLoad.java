package io.cdcindexer.chaos;

import io.cdcindexer.chaos.ChaosPlanner.Table;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * The load of a chaos run: transactions of 1 to 50 rows (plus the orders a user's delete cascades to) over
 * {@code users}, {@code orders} and the tables of {@link ChaosSchema}, at a steady rate of committed row changes per
 * second, that survive anything the run does to PostgreSQL.
 *
 * <p>Each worker has a connection of its own and owns its own keys ({@link ChaosPlanner}): workers never wait on each
 * other's rows. On any error (PostgreSQL restarted, a connection lost, a row not as the worker believed) the worker
 * rolls back, drops the connection, backs off (200 ms doubling to 2 s), connects again and reads its rows back, since
 * a commit whose answer was lost may or may not have happened; then it goes on with fresh work. Only changes of
 * transactions whose commit PostgreSQL confirmed are counted, and each row change is checked to have changed exactly
 * one row. Keys: users, orders and chaos_documents ids from 1,000,000,000 + worker × 1,000,000;
 * chaos_order_lines order ids likewise, line_no 1 to 8; chaos_daily_totals shards from worker × 1000, days from
 * 2024-01-01; {@link #commitLargeRow} rows from 3,000,000,001. Nothing else may write those keys.
 */
public final class ChaosLoad implements AutoCloseable {

    static final long BACKOFF_MIN_MS = 200;
    static final long BACKOFF_MAX_MS = 2_000;
    /** A worker never waits longer for PostgreSQL's answer (a paused server must not hang the load). */
    static final int NETWORK_TIMEOUT_MS = 30_000;
    /** A worker that fell behind (PostgreSQL was down) catches up at most this much, not the whole outage. */
    static final long MAX_CATCH_UP_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long LARGE_ROW_BASE = 3_000_000_000L;

    private final Supplier<Connection> connections;

    private final int workers;
    private final double changesPerSecond;
    private final long seed;

    private final AtomicLong changes = new AtomicLong();
    private final AtomicLong cascaded = new AtomicLong();
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong connectFailures = new AtomicLong();
    /** Transactions PostgreSQL refused for a broken constraint, or that changed other rows than planned. */
    private final AtomicLong modelErrors = new AtomicLong();
    private final AtomicReference<String> lastModelError = new AtomicReference<>();
    private final AtomicLongArray byKind = new AtomicLongArray(ChangeKind.values().length);
    private final AtomicReference<String> lastFailure = new AtomicReference<>();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean running;
    private Pace pace;

    /**
     * @param connections a NEW connection per call; may throw while PostgreSQL is down
     * @param changesPerSecond the rate of committed row changes the workers keep together
     * @param seed makes the choice of changes repeatable (not their timing)
     */
    public ChaosLoad(Supplier<Connection> connections, int workers, double changesPerSecond, long seed) {
        if (workers < 1 || workers > ChaosPlanner.MAX_WORKERS) {
            throw new IllegalArgumentException("workers must be between 1 and " + ChaosPlanner.MAX_WORKERS);
        }
        if (!(changesPerSecond > 0)) {
            throw new IllegalArgumentException("changesPerSecond must be positive");
        }
        this.connections = connections;
        this.workers = workers;
        this.changesPerSecond = changesPerSecond;
        this.seed = seed;
    }

    /** Starts the workers; returns at once. */
    public synchronized void start() {
        if (pace != null) {
            throw new IllegalStateException("already started");
        }
        running = true;
        pace = new Pace(changesPerSecond, System.nanoTime());
        for (int worker = 0; worker < workers; worker++) {
            int id = worker;
            Thread thread = new Thread(() -> work(id), "chaos-load-" + worker);
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
    }

    /** Stops the workers and waits for them; afterwards every counted change is committed. */
    @Override
    public synchronized void close() {
        running = false;
        for (Thread thread : threads) {
            LockSupport.unpark(thread);
        }
        boolean interrupted = false;
        for (Thread thread : threads) {
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        threads.clear();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Rows changed by committed transactions. */
    public long committedChanges() {
        return changes.get();
    }

    public long committedTransactions() {
        return transactions.get();
    }

    /** Transactions rolled back or cut off with their connection; each is followed by fresh work, never repeated. */
    public long failedTransactions() {
        return failed.get();
    }

    /** Attempts to connect (and read the worker's rows back) that failed: PostgreSQL was down. */
    public long failedConnects() {
        return connectFailures.get();
    }

    /** Orders PostgreSQL deleted by the cascade of a committed user delete: changes no statement made. */
    public long committedCascades() {
        return cascaded.get();
    }

    /** Committed row changes by kind. */
    public Map<ChangeKind, Long> committedByKind() {
        Map<ChangeKind, Long> kinds = new EnumMap<>(ChangeKind.class);
        for (ChangeKind kind : ChangeKind.values()) {
            kinds.put(kind, byKind.get(kind.ordinal()));
        }
        return kinds;
    }

    /**
     * Transactions that failed because the worker's model of its rows was wrong: a constraint PostgreSQL enforces (a
     * foreign key, a duplicate key) or a statement that changed other than one row. No fault causes these (a worker
     * reads its rows back after any failure), so any is a bug of the load, which would make it write less than planned.
     */
    public long modelErrors() {
        return modelErrors.get();
    }

    /** The last of {@link #modelErrors()}, with the worker's number; null if none. */
    public String lastModelError() {
        return lastModelError.get();
    }

    /** The last error a worker met, with the worker's number; null if none. */
    public String lastFailure() {
        return lastFailure.get();
    }

    /**
     * Commits one row whose TOAST text column holds {@code bytes} bytes of incompressible text (e.g. 5 MB) and returns a
     * description of its key: a row of chaos_documents with an id from 3,000,000,001 on, on a connection of its own.
     */
    public String commitLargeRow(int bytes) throws SQLException {
        String body = ChaosPlanner.incompressibleText(new SplittableRandom(seed ^ bytes), bytes);
        try (Connection db = connections.get()) {
            db.setAutoCommit(false);
            try (Statement statement = db.createStatement();
                    PreparedStatement insert = db.prepareStatement(ChaosPlanner.INSERT_DOCUMENT)) {
                statement.execute("SELECT pg_advisory_xact_lock(" + LARGE_ROW_BASE + ")");
                long id;
                try (ResultSet rs = statement.executeQuery("SELECT coalesce(max(id), " + LARGE_ROW_BASE
                        + ") + 1 FROM public.chaos_documents WHERE id > " + LARGE_ROW_BASE)) {
                    rs.next();
                    id = rs.getLong(1);
                }
                insert.setLong(1, id);
                insert.setString(2, "large row of " + bytes + " bytes");
                insert.setString(3, body);
                insert.executeUpdate();
                db.commit();
                changes.incrementAndGet();
                transactions.incrementAndGet();
                byKind.incrementAndGet(ChangeKind.LARGE_ROW.ordinal());
                return "public.chaos_documents id=" + id + " (body of " + bytes + " bytes)";
            } catch (SQLException | RuntimeException e) {
                db.rollback();
                throw e;
            }
        }
    }

    private void work(int worker) {
        ChaosPlanner planner = new ChaosPlanner(worker, new SplittableRandom(seed * 1_000_003L + worker));
        Connection db = null;
        long backoff = BACKOFF_MIN_MS;
        while (running) {
            ChaosPlanner.Plan plan = null;
            try {
                if (db == null) {
                    db = connect();
                    planner.resync(readRows(db, worker));
                    db.commit();
                }
                plan = planner.next();
                if (!awaitTurn(plan.changes())) {
                    break;
                }
                execute(db, plan);
                ledger(db, worker, plan.changes());
                db.commit();
                planner.committed(plan);
                changes.addAndGet(plan.changes());
                cascaded.addAndGet(plan.cascaded());
                transactions.incrementAndGet();
                plan.kinds().forEach((kind, count) -> byKind.addAndGet(kind.ordinal(), count));
                backoff = BACKOFF_MIN_MS;
            } catch (Exception | AssertionError e) {
                // AssertionError too: the driver's own assertions (on in tests) fire when the server goes away mid-batch.
                if (plan != null) {
                    pace.refund(plan.changes());
                    failed.incrementAndGet();
                } else {
                    connectFailures.incrementAndGet();
                }
                lastFailure.set("worker " + worker + (plan == null ? " connecting: " : ": ") + describe(e));
                if (plan != null && isModelError(e)) {
                    modelErrors.incrementAndGet();
                    lastModelError.set("worker " + worker + ": " + describe(e));
                }
                close(db);
                db = null;
                sleep(backoff);
                backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
            }
        }
        close(db);
    }

    private Connection connect() throws SQLException {
        Connection db = connections.get();
        try {
            db.setAutoCommit(false);
            db.setNetworkTimeout(Runnable::run, NETWORK_TIMEOUT_MS);
            return db;
        } catch (SQLException | RuntimeException e) {
            close(db);
            throw e;
        }
    }

    /** The worker's rows of every table, two key columns each, as {@link ChaosPlanner#resync} takes them. */
    private static Map<Table, List<Object[]>> readRows(Connection db, int worker) throws SQLException {
        Map<Table, List<Object[]>> rows = new EnumMap<>(Table.class);
        for (Table table : Table.values()) {
            List<Object[]> found = new ArrayList<>();
            try (PreparedStatement query = db.prepareStatement(table.keysQuery)) {
                long[] bounds = table.bounds(worker);
                query.setLong(1, bounds[0]);
                query.setLong(2, bounds[1]);
                try (ResultSet rs = query.executeQuery()) {
                    while (rs.next()) {
                        Object first = table == Table.DAILY ? rs.getObject(1, LocalDate.class) : rs.getLong(1);
                        found.add(new Object[] {first, rs.getObject(2)});
                    }
                }
            }
            rows.put(table, found);
        }
        return rows;
    }

    /** The transaction's row in {@code chaos_ledger}, committed with it. */
    private static void ledger(Connection db, int worker, int changes) throws SQLException {
        try (PreparedStatement insert = db.prepareStatement(
                "INSERT INTO public.chaos_ledger (worker, changes) VALUES (?, ?)")) {
            insert.setInt(1, worker);
            insert.setInt(2, changes);
            insert.executeUpdate();
        }
    }

    private static void execute(Connection db, ChaosPlanner.Plan plan) throws SQLException {
        for (ChaosPlanner.Step step : plan.steps()) {
            try (PreparedStatement batch = db.prepareStatement(step.sql())) {
                for (Object[] row : step.rows()) {
                    for (int i = 0; i < row.length; i++) {
                        batch.setObject(i + 1, row[i]);
                    }
                    batch.addBatch();
                }
                int[] counts = batch.executeBatch();
                for (int i = 0; i < counts.length; i++) {
                    if (counts[i] != 1 && counts[i] != Statement.SUCCESS_NO_INFO) {
                        throw new ModelOutOfStep("the model of the worker's rows is out of step: " + step.sql() + " with "
                                + java.util.Arrays.toString(step.rows().get(i)) + " changed " + counts[i] + " rows");
                    }
                }
            }
        }
    }

    /** Waits until the plan's changes are due; false when the load stopped meanwhile (the plan is dropped). */
    private boolean awaitTurn(int planned) {
        long due = pace.reserve(planned);
        for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
            if (!running) {
                pace.refund(planned);
                return false;
            }
            LockSupport.parkNanos(Math.min(wait, TimeUnit.MILLISECONDS.toNanos(50)));
        }
        if (!running) {
            pace.refund(planned);
            return false;
        }
        return true;
    }

    private void sleep(long millis) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (long wait = end - System.nanoTime(); wait > 0 && running; wait = end - System.nanoTime()) {
            LockSupport.parkNanos(wait);
        }
    }

    private static void close(Connection db) {
        if (db == null) {
            return;
        }
        try {
            if (!db.isClosed()) {
                db.rollback();
            }
        } catch (SQLException | RuntimeException e) {
            // the connection is gone already
        }
        try {
            db.close();
        } catch (SQLException | RuntimeException e) {
            // nothing left to release
        }
    }

    /** An integrity constraint violation (SQLSTATE class 23), or a statement that changed other rows than planned. */
    static boolean isModelError(Throwable e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof ModelOutOfStep) {
                return true;
            }
            for (SQLException sql = cause instanceof SQLException first ? first : null; sql != null;
                    sql = sql.getNextException()) {
                if (sql.getSQLState() != null && sql.getSQLState().startsWith("23")) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A statement of a plan changed other than exactly one row. */
    static final class ModelOutOfStep extends SQLException {
        ModelOutOfStep(String message) {
            super(message);
        }
    }

    private static String describe(Throwable e) {
        Throwable cause = e instanceof RuntimeException && e.getCause() != null ? e.getCause() : e;
        String state = cause instanceof SQLException sql && sql.getSQLState() != null ? " [" + sql.getSQLState() + "]" : "";
        return cause.getClass().getSimpleName() + state + ": " + cause.getMessage();
    }

    /**
     * The schedule the workers share: change number n is due at start + n / rate. A failed transaction gives its
     * changes back, so the rate is one of committed changes; after an outage the schedule resumes at most
     * {@link #MAX_CATCH_UP_NANOS} behind, rather than bursting to make up for all of it.
     */
    static final class Pace {
        private final double nanosPerChange;
        private double next;

        Pace(double changesPerSecond, long start) {
            this.nanosPerChange = 1e9 / changesPerSecond;
            this.next = start;
        }

        /** Books the changes; returns when (System.nanoTime()) they are due. */
        synchronized long reserve(int changes) {
            return reserve(changes, System.nanoTime());
        }

        synchronized long reserve(int changes, long now) {
            next = Math.max(next, now - MAX_CATCH_UP_NANOS);
            long due = (long) next;
            next += changes * nanosPerChange;
            return due;
        }

        /** Gives booked changes back: they did not commit. */
        synchronized void refund(int changes) {
            next -= changes * nanosPerChange;
        }
    }
}
