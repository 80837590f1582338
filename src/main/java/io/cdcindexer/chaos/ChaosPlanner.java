package io.cdcindexer.chaos;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.random.RandomGenerator;

/**
 * Plans the transactions of one {@link ChaosLoad} worker: 1 to 50 row changes each (plus the orders a user's delete
 * cascades to), spread over users, orders and the chaos tables, mixing inserts, updates, deletes and re-inserts of
 * deleted keys. Plans are plain data (SQL and parameter rows); ChaosLoad executes them.
 *
 * <p>Each worker owns its own keys, so workers never wait on each other's rows: in every table a worker has slots
 * 0, 1, 2 ... that map to keys no other worker's slots map to ({@link Table#keyOf}). The planner keeps which of its
 * slots hold a row, and updates that model as it plans, as if the plan commits; when one does not, ChaosLoad reads the
 * worker's rows back ({@link #resync}). Inserts and deletes balance at about {@link #TARGET_ROWS} rows per table.
 */
final class ChaosPlanner {

    /** Users, orders and documents of worker w have ids from KEY_BASE + w * KEYS_PER_WORKER: far above the sequences. */
    static final int KEY_BASE = 1_000_000_000;
    static final int KEYS_PER_WORKER = 1_000_000;
    /** users.id is an integer: KEY_BASE + MAX_WORKERS * KEYS_PER_WORKER must stay below 2^31. */
    static final int MAX_WORKERS = 1_000;
    static final int LINES_PER_ORDER = 8;
    static final int SHARDS_PER_WORKER = 1_000;
    static final LocalDate FIRST_DAY = LocalDate.of(2024, 1, 1);
    static final int MAX_ROWS = 50;
    /** Rows per table and worker at which inserts and deletes balance. */
    static final int TARGET_ROWS = 200;
    /** The length of a document body: out of line (TOAST) from about 2 KB on. */
    static final int MIN_BODY = 4096;
    static final int MAX_BODY = 8192;

    static final String INSERT_USER = "INSERT INTO public.users (id, username, email) VALUES (?, ?, ?)";
    static final String UPDATE_USER = "UPDATE public.users SET email = ? WHERE id = ?";
    static final String DELETE_USER = "DELETE FROM public.users WHERE id = ?";
    static final String INSERT_ORDER = "INSERT INTO public.orders (id, user_id, amount, status) VALUES (?, ?, ?, ?)";
    static final String UPDATE_ORDER = "UPDATE public.orders SET status = ?, amount = ? WHERE id = ?";
    static final String MOVE_ORDER = "UPDATE public.orders SET user_id = ?, status = ? WHERE id = ?";
    static final String DELETE_ORDER = "DELETE FROM public.orders WHERE id = ?";
    static final String INSERT_LINE =
            "INSERT INTO public.chaos_order_lines (order_id, line_no, sku, quantity, price) VALUES (?, ?, ?, ?, ?)";
    static final String UPDATE_LINE =
            "UPDATE public.chaos_order_lines SET quantity = ?, price = ? WHERE order_id = ? AND line_no = ?";
    static final String DELETE_LINE = "DELETE FROM public.chaos_order_lines WHERE order_id = ? AND line_no = ?";
    static final String INSERT_DAILY = "INSERT INTO public.chaos_daily_totals (day, shard, hits, note) VALUES (?, ?, ?, ?)";
    static final String UPDATE_DAILY =
            "UPDATE public.chaos_daily_totals SET hits = hits + ?, note = ? WHERE day = ? AND shard = ?";
    static final String DELETE_DAILY = "DELETE FROM public.chaos_daily_totals WHERE day = ? AND shard = ?";
    static final String INSERT_DOCUMENT =
            "INSERT INTO public.chaos_documents (id, revision, title, body) VALUES (?, 1, ?, ?)";
    static final String UPDATE_DOCUMENT_BODY =
            "UPDATE public.chaos_documents SET revision = revision + 1, title = ?, body = ? WHERE id = ?";
    static final String UPDATE_DOCUMENT_TITLE =
            "UPDATE public.chaos_documents SET revision = revision + 1, title = ? WHERE id = ?";
    static final String DELETE_DOCUMENT = "DELETE FROM public.chaos_documents WHERE id = ?";

    private static final List<String> STATUSES = List.of("pending", "paid", "shipped", "delivered", "cancelled");
    private static final char[] ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .".toCharArray();

    /** The tables the load writes, with how a worker's slot maps to a key and back. */
    enum Table {
        USERS("SELECT id, NULL FROM public.users WHERE id >= ? AND id < ?"),
        ORDERS("SELECT id, user_id FROM public.orders WHERE id >= ? AND id < ?"),
        LINES("SELECT order_id, line_no FROM public.chaos_order_lines WHERE order_id >= ? AND order_id < ?"),
        DAILY("SELECT day, shard FROM public.chaos_daily_totals WHERE shard >= ? AND shard < ?"),
        DOCUMENTS("SELECT id, NULL FROM public.chaos_documents WHERE id >= ? AND id < ?");

        /** The worker's rows: two columns (for orders the second is user_id), bounded by {@link #bounds}. */
        final String keysQuery;

        Table(String keysQuery) {
            this.keysQuery = keysQuery;
        }

        /** The half-open range of the column {@link #keysQuery} filters on that holds every key of the worker. */
        long[] bounds(int worker) {
            return this == DAILY
                    ? new long[] {(long) worker * SHARDS_PER_WORKER, (long) (worker + 1) * SHARDS_PER_WORKER}
                    : new long[] {id(worker, 0), id(worker, KEYS_PER_WORKER)};
        }

        /** The key columns of a slot, in key order, typed as their columns. */
        Object[] keyOf(int worker, int slot) {
            return switch (this) {
                case USERS, ORDERS -> new Object[] {(int) id(worker, slot)};
                case LINES -> new Object[] {(int) id(worker, slot / LINES_PER_ORDER), slot % LINES_PER_ORDER + 1};
                case DAILY -> new Object[] {FIRST_DAY.plusDays(slot / SHARDS_PER_WORKER),
                        worker * SHARDS_PER_WORKER + slot % SHARDS_PER_WORKER};
                case DOCUMENTS -> new Object[] {id(worker, slot)};
            };
        }

        /** The slot of a key as {@link #keysQuery} returns it (numbers, a LocalDate), or -1 when it is none of the worker's. */
        int slotOf(int worker, Object first, Object second) {
            long slot = switch (this) {
                case USERS, ORDERS, DOCUMENTS -> ((Number) first).longValue() - id(worker, 0);
                case LINES -> {
                    long order = ((Number) first).longValue() - id(worker, 0);
                    int line = ((Number) second).intValue();
                    yield line < 1 || line > LINES_PER_ORDER ? -1 : order * LINES_PER_ORDER + line - 1;
                }
                case DAILY -> {
                    long day = ChronoUnit.DAYS.between(FIRST_DAY, (LocalDate) first);
                    long shard = ((Number) second).longValue() - (long) worker * SHARDS_PER_WORKER;
                    yield day < 0 || shard < 0 || shard >= SHARDS_PER_WORKER ? -1 : day * SHARDS_PER_WORKER + shard;
                }
            };
            return slot < 0 || slot >= KEYS_PER_WORKER ? -1 : (int) slot;
        }

        private static long id(int worker, int slot) {
            return KEY_BASE + (long) worker * KEYS_PER_WORKER + slot;
        }
    }

    /** One SQL statement and its parameter rows, executed as one JDBC batch; every row must change exactly one row. */
    record Step(String sql, List<Object[]> rows) {}

    /**
     * One transaction: its statements in order, the rows they change, and how many of each kind; plus the orders
     * PostgreSQL deletes by the cascade of their user's delete, which no statement names and the pace does not count.
     */
    record Plan(List<Step> steps, int changes, Map<ChangeKind, Integer> kinds, List<long[]> inserted, int cascaded) {}

    private final int worker;
    private final RandomGenerator random;
    private final Map<Table, Keys> keys = new EnumMap<>(Table.class);
    /** Order slot → user slot (-1: a user that is not the worker's). */
    private final Map<Integer, Integer> userOfOrder = new HashMap<>();
    private final Map<Integer, Set<Integer>> ordersOfUser = new HashMap<>();

    ChaosPlanner(int worker, RandomGenerator random) {
        if (worker < 0 || worker >= MAX_WORKERS) {
            throw new IllegalArgumentException("worker must be between 0 and " + (MAX_WORKERS - 1));
        }
        this.worker = worker;
        this.random = random;
        for (Table table : Table.values()) {
            keys.put(table, new Keys());
        }
    }

    /** How many rows of the table the model holds. */
    int rows(Table table) {
        return keys.get(table).live.size();
    }

    /** Whether the model holds a row at the slot. */
    boolean exists(Table table, int slot) {
        return keys.get(table).live.contains(slot);
    }

    /** The next transaction; the model already counts it as committed. */
    Plan next() {
        Builder plan = new Builder();
        int size = size();
        for (int attempt = 0; plan.changes < size && attempt < 1000; attempt++) {
            int room = size - plan.changes;
            Table table = Table.values()[random.nextInt(Table.values().length)];
            int count = 1 + random.nextInt(Math.min(room, 6));
            Keys tableKeys = keys.get(table);
            int live = tableKeys.live.size();
            double insert = 1;
            double update = live == 0 ? 0 : 2;
            double delete = (double) live / TARGET_ROWS;
            double ticket = random.nextDouble() * (insert + update + delete);
            if (ticket < insert) {
                for (int i = 0; i < count && plan.changes < size; i++) {
                    insert(table, plan, size - plan.changes);
                }
            } else if (ticket < insert + update) {
                update(table, count, plan);
            } else {
                for (int i = 0; i < count && plan.changes < size; i++) {
                    delete(table, plan, size - plan.changes);
                }
            }
        }
        return plan.build();
    }

    /** Marks the keys a committed plan inserted as known, so that inserting them again later counts as a re-insert. */
    void committed(Plan plan) {
        for (long[] inserted : plan.inserted()) {
            keys.get(Table.values()[(int) inserted[0]]).known.set((int) inserted[1]);
        }
    }

    /**
     * Replaces the model by the worker's rows as the database holds them: for each table, the two columns its
     * {@link Table#keysQuery} returns, row by row.
     */
    void resync(Map<Table, List<Object[]>> rows) {
        userOfOrder.clear();
        ordersOfUser.clear();
        for (Table table : Table.values()) {
            Keys tableKeys = keys.get(table);
            tableKeys.live.clear();
            for (Object[] row : rows.getOrDefault(table, List.of())) {
                int slot = table.slotOf(worker, row[0], row[1]);
                if (slot < 0) {
                    continue; // not a key this worker writes
                }
                tableKeys.live.add(slot);
                tableKeys.known.set(slot);
                tableKeys.high = Math.max(tableKeys.high, slot + 1);
                if (table == Table.ORDERS) {
                    int user = Table.USERS.slotOf(worker, row[1], null);
                    userOfOrder.put(slot, user);
                    if (user >= 0) {
                        ordersOfUser.computeIfAbsent(user, u -> new LinkedHashSet<>()).add(slot);
                    }
                }
            }
        }
    }

    // 40% small (1-5 rows), 40% medium (6-20), 20% large (21-50).
    private int size() {
        int ticket = random.nextInt(10);
        if (ticket < 4) {
            return 1 + random.nextInt(5);
        }
        if (ticket < 8) {
            return 6 + random.nextInt(15);
        }
        return 21 + random.nextInt(MAX_ROWS - 20);
    }

    private void insert(Table table, Builder plan, int room) {
        if (table == Table.ORDERS && keys.get(Table.USERS).live.size() == 0) {
            insert(Table.USERS, plan, room); // an order needs a user; the order follows in a later round
            return;
        }
        Keys tableKeys = keys.get(table);
        int slot = tableKeys.slotToInsert(random);
        if (slot < 0) {
            return;
        }
        Object[] key = table.keyOf(worker, slot);
        // A key deleted earlier in this very transaction counts too: the job collapses insert, delete, insert.
        ChangeKind kind = tableKeys.known.get(slot) || plan.inserted(table, slot) ? ChangeKind.REINSERT : ChangeKind.INSERT;
        switch (table) {
            case USERS -> plan.add(INSERT_USER, kind, key[0], "chaos-w" + worker + "-" + slot, email(slot));
            case ORDERS -> {
                int user = keys.get(Table.USERS).live.pick(random);
                plan.add(INSERT_ORDER, kind, key[0], Table.USERS.keyOf(worker, user)[0], amount(), status());
                userOfOrder.put(slot, user);
                ordersOfUser.computeIfAbsent(user, u -> new LinkedHashSet<>()).add(slot);
            }
            case LINES -> plan.add(INSERT_LINE, kind, key[0], key[1], "SKU-" + (10_000 + random.nextInt(90_000)),
                    1 + random.nextInt(20), amount());
            case DAILY -> plan.add(INSERT_DAILY, kind, key[0], key[1], (long) random.nextInt(1000), note());
            case DOCUMENTS -> plan.add(INSERT_DOCUMENT, kind, key[0], title(), body());
        }
        tableKeys.live.add(slot);
        plan.inserted.add(new long[] {table.ordinal(), slot});
        plan.insertedKeys.add(((long) table.ordinal() << 32) | slot);
    }

    private void update(Table table, int count, Builder plan) {
        Keys tableKeys = keys.get(table);
        boolean newBody = random.nextBoolean();
        for (int i = 0; i < count; i++) {
            // The same row may come twice: the job collapses several changes of a row in one transaction.
            int slot = tableKeys.live.pick(random);
            Object[] key = table.keyOf(worker, slot);
            switch (table) {
                case USERS -> plan.add(UPDATE_USER, ChangeKind.UPDATE, email(random.nextInt(KEYS_PER_WORKER)), key[0]);
                case ORDERS -> {
                    SlotPool users = keys.get(Table.USERS).live;
                    int user = users.size() == 0 ? -1 : users.pick(random);
                    Integer from = userOfOrder.get(slot);
                    // Not an order inserted in this transaction: the job would see an insert, not a move.
                    if (random.nextInt(3) == 0 && user >= 0 && from != null && from != user
                            && !plan.inserted(Table.ORDERS, slot)) {
                        // A foreign-key move: both users' joined documents change (docs/documents.md).
                        plan.add(MOVE_ORDER, ChangeKind.MOVE, Table.USERS.keyOf(worker, user)[0], status(), key[0]);
                        userOfOrder.put(slot, user);
                        if (ordersOfUser.containsKey(from)) {
                            ordersOfUser.get(from).remove(slot);
                        }
                        ordersOfUser.computeIfAbsent(user, u -> new LinkedHashSet<>()).add(slot);
                    } else {
                        plan.add(UPDATE_ORDER, ChangeKind.UPDATE, status(), amount(), key[0]);
                    }
                }
                case LINES -> plan.add(UPDATE_LINE, ChangeKind.UPDATE, 1 + random.nextInt(20), amount(), key[0], key[1]);
                case DAILY -> plan.add(UPDATE_DAILY, ChangeKind.UPDATE, (long) 1 + random.nextInt(100), note(), key[0],
                        key[1]);
                case DOCUMENTS -> {
                    if (newBody) {
                        plan.add(UPDATE_DOCUMENT_BODY, ChangeKind.TOAST_CHANGED, title(), body(), key[0]);
                    } else {
                        plan.add(UPDATE_DOCUMENT_TITLE, ChangeKind.TOAST_UNCHANGED, title(), key[0]);
                    }
                }
            }
        }
    }

    private void delete(Table table, Builder plan, int room) {
        Keys tableKeys = keys.get(table);
        if (tableKeys.live.size() == 0) {
            return;
        }
        int slot = tableKeys.live.pick(random);
        Object[] key = table.keyOf(worker, slot);
        switch (table) {
            case USERS -> {
                // The foreign key orders.user_id → users.id cascades: half the time the user's orders are deleted
                // first, in the same transaction, else PostgreSQL deletes them with the user.
                Set<Integer> orders = ordersOfUser.getOrDefault(slot, Set.of());
                boolean cascade = random.nextBoolean();
                if (!cascade && orders.size() + 1 > room) {
                    return;
                }
                for (int order : List.copyOf(orders)) {
                    if (cascade) {
                        forgetOrder(order);
                        plan.cascaded++;
                    } else {
                        deleteOrder(order, plan);
                    }
                }
                plan.add(DELETE_USER, ChangeKind.DELETE, key[0]);
                ordersOfUser.remove(slot);
            }
            case ORDERS -> {
                deleteOrder(slot, plan);
                return;
            }
            case LINES -> plan.add(DELETE_LINE, ChangeKind.DELETE, key[0], key[1]);
            case DAILY -> plan.add(DELETE_DAILY, ChangeKind.DELETE, key[0], key[1]);
            case DOCUMENTS -> plan.add(DELETE_DOCUMENT, ChangeKind.DELETE, key[0]);
        }
        tableKeys.live.remove(slot);
    }

    private void deleteOrder(int slot, Builder plan) {
        plan.add(DELETE_ORDER, ChangeKind.DELETE, Table.ORDERS.keyOf(worker, slot)[0]);
        forgetOrder(slot);
    }

    /** The order is gone: deleted by a statement, or by the cascade of its user's delete. */
    private void forgetOrder(int slot) {
        keys.get(Table.ORDERS).live.remove(slot);
        Integer user = userOfOrder.remove(slot);
        if (user != null && ordersOfUser.containsKey(user)) {
            ordersOfUser.get(user).remove(slot);
        }
    }

    private String email(int salt) {
        return "w" + worker + "." + Integer.toHexString(salt) + "." + Integer.toHexString(random.nextInt(1 << 20))
                + "@example.org";
    }

    private BigDecimal amount() {
        return BigDecimal.valueOf(100 + random.nextInt(50_000), 2); // 1.00 to 500.99
    }

    private String status() {
        return STATUSES.get(random.nextInt(STATUSES.size()));
    }

    // Never anything Elasticsearch's date detection would take for a date: the field's mapping must stay text.
    private String note() {
        return "note " + Integer.toHexString(random.nextInt());
    }

    private String title() {
        return "title " + Integer.toHexString(random.nextInt());
    }

    private String body() {
        return incompressibleText(random, MIN_BODY + random.nextInt(MAX_BODY - MIN_BODY));
    }

    /**
     * Random letters, digits, spaces and dots: 6 bits of entropy per character, so neither PostgreSQL's pglz nor LZ4
     * finds anything to compress, and a value over 2 KB is stored out of line.
     */
    static String incompressibleText(RandomGenerator random, int length) {
        char[] text = new char[length];
        long bits = 0;
        int left = 0;
        for (int i = 0; i < length; i++) {
            if (left == 0) {
                bits = random.nextLong();
                left = 10; // 10 × 6 of the 64 bits
            }
            text[i] = ALPHABET[(int) (bits & 63)];
            bits >>>= 6;
            left--;
        }
        return new String(text);
    }

    /** The model of one table: which slots hold a row, which ever did, and the first slot never used. */
    private static final class Keys {
        final SlotPool live = new SlotPool();
        /** Slots known to have held a row (a commit or the database said so): inserting one again is a re-insert. */
        final BitSet known = new BitSet();
        int high;

        /** A free slot: half the time one used before (mostly a deleted key), else a new one; -1 if none is free. */
        int slotToInsert(RandomGenerator random) {
            boolean reuse = high >= KEYS_PER_WORKER || (random.nextBoolean() && high > live.size());
            if (reuse) {
                for (int attempt = 0; attempt < 16; attempt++) {
                    int slot = random.nextInt(high);
                    if (!live.contains(slot)) {
                        return slot;
                    }
                }
            }
            return high < KEYS_PER_WORKER ? high++ : -1;
        }
    }

    /** A set of slots with O(1) add, remove, contains and uniform random pick. */
    static final class SlotPool {
        private int[] slots = new int[64];
        private int size;
        private final Map<Integer, Integer> positions = new HashMap<>();

        void add(int slot) {
            if (positions.putIfAbsent(slot, size) == null) {
                if (size == slots.length) {
                    slots = java.util.Arrays.copyOf(slots, size * 2);
                }
                slots[size++] = slot;
            }
        }

        void remove(int slot) {
            Integer position = positions.remove(slot);
            if (position == null) {
                return;
            }
            int last = slots[--size];
            if (position < size) {
                slots[position] = last;
                positions.put(last, position);
            }
        }

        boolean contains(int slot) {
            return positions.containsKey(slot);
        }

        int pick(RandomGenerator random) {
            return slots[random.nextInt(size)];
        }

        int size() {
            return size;
        }

        void clear() {
            size = 0;
            positions.clear();
        }
    }

    /** Collects a plan's rows; consecutive rows of the same SQL share a step (one JDBC batch). */
    private static final class Builder {
        final List<Step> steps = new ArrayList<>();
        final Map<ChangeKind, Integer> kinds = new EnumMap<>(ChangeKind.class);
        final List<long[]> inserted = new ArrayList<>();
        final Set<Long> insertedKeys = new java.util.HashSet<>();
        int changes;
        int cascaded;

        boolean inserted(Table table, int slot) {
            return insertedKeys.contains(((long) table.ordinal() << 32) | slot);
        }

        void add(String sql, ChangeKind kind, Object... row) {
            Step last = steps.isEmpty() ? null : steps.get(steps.size() - 1);
            if (last == null || !last.sql().equals(sql)) {
                last = new Step(sql, new ArrayList<>());
                steps.add(last);
            }
            last.rows().add(row);
            kinds.merge(kind, 1, Integer::sum);
            changes++;
        }

        Plan build() {
            return new Plan(List.copyOf(steps), changes, Map.copyOf(kinds), List.copyOf(inserted), cascaded);
        }
    }
}
