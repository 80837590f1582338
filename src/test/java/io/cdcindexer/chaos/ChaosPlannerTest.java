package io.cdcindexer.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.chaos.ChaosPlanner.Table;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;

/**
 * The planner's transactions applied to a plain in-memory table model, the way PostgreSQL's constraints would judge
 * them: every insert hits a free key, every update and delete an existing row, and no order outlives its user.
 */
class ChaosPlannerTest {

    @Test
    void everySlotMapsToAKeyOfItsOwnWorkerAndBack() {
        int[] slots = {0, 1, 7, 8, 999, 1000, 123_456, ChaosPlanner.KEYS_PER_WORKER - 1};
        int[] workers = {0, 1, 7, ChaosPlanner.MAX_WORKERS - 1};
        for (Table table : Table.values()) {
            Map<List<Object>, String> owners = new HashMap<>();
            for (int worker : workers) {
                for (int slot : slots) {
                    Object[] key = table.keyOf(worker, slot);
                    Object second = key.length > 1 ? key[1] : null;
                    assertThat(table.slotOf(worker, key[0], second)).as("%s worker %d slot %d", table, worker, slot)
                            .isEqualTo(slot);
                    String owner = owners.put(Arrays.asList(key), worker + "/" + slot);
                    assertThat(owner).as("%s key %s of worker %d slot %d", table, Arrays.toString(key), worker, slot)
                            .isNull();
                    long[] bounds = table.bounds(worker);
                    long filtered = ((Number) (table == Table.DAILY ? key[1] : key[0])).longValue();
                    assertThat(filtered).as("%s worker %d slot %d within its bounds", table, worker, slot)
                            .isBetween(bounds[0], bounds[1] - 1);
                    for (int other : workers) {
                        if (other != worker) {
                            assertThat(table.slotOf(other, key[0], second)).as("%s key %s seen by worker %d", table,
                                    Arrays.toString(key), other).isEqualTo(-1);
                        }
                    }
                }
            }
        }
        assertThat(Table.USERS.keyOf(ChaosPlanner.MAX_WORKERS - 1, ChaosPlanner.KEYS_PER_WORKER - 1)[0])
                .as("users.id is an integer").isInstanceOf(Integer.class);
        assertThat(ChaosPlanner.KEY_BASE + (long) ChaosPlanner.MAX_WORKERS * ChaosPlanner.KEYS_PER_WORKER)
                .isLessThan(Integer.MAX_VALUE).isLessThan(ChaosLoad.LARGE_ROW_BASE);
    }

    @Test
    void plansKeepTheConstraintsAndMixEveryKindOfChange() {
        ChaosPlanner planner = new ChaosPlanner(3, new SplittableRandom(11));
        Database db = new Database();
        Map<ChangeKind, Integer> kinds = new EnumMap<>(ChangeKind.class);
        Set<Integer> sizes = new HashSet<>();
        Set<Integer> tablesPerPlan = new HashSet<>();
        for (int i = 0; i < 3000; i++) {
            ChaosPlanner.Plan plan = planner.next();
            assertThat(plan.changes()).isBetween(1, ChaosPlanner.MAX_ROWS)
                    .isEqualTo(plan.steps().stream().mapToInt(s -> s.rows().size()).sum())
                    .isEqualTo(plan.kinds().values().stream().mapToInt(Integer::intValue).sum());
            db.apply(plan);
            planner.committed(plan);
            plan.kinds().forEach((kind, count) -> kinds.merge(kind, count, Integer::sum));
            sizes.add(plan.changes());
            tablesPerPlan.add((int) plan.steps().stream().map(s -> Database.tableOf(s.sql())).distinct().count());
        }
        assertThat(kinds.keySet()).containsExactlyInAnyOrder(ChangeKind.INSERT, ChangeKind.REINSERT, ChangeKind.UPDATE,
                ChangeKind.MOVE, ChangeKind.TOAST_CHANGED, ChangeKind.TOAST_UNCHANGED, ChangeKind.DELETE);
        assertThat(db.moves).as("orders the database saw move to another user").isEqualTo(kinds.get(ChangeKind.MOVE));
        assertThat(db.cascaded).as("orders deleted with their user by the cascade").isPositive();
        assertThat(db.reinserts).as("re-inserts the database saw").isEqualTo(kinds.get(ChangeKind.REINSERT));
        assertThat(sizes).contains(1, 50);
        assertThat(tablesPerPlan).as("tables per transaction").contains(1, 5);
        for (Table table : Table.values()) {
            // Balanced: neither empty nor growing without bound (orders also go with their users).
            assertThat(db.rows(table)).as("rows of %s", table)
                    .isBetween(ChaosPlanner.TARGET_ROWS / 4, ChaosPlanner.TARGET_ROWS * 2);
            assertThat(planner.rows(table)).isEqualTo(db.rows(table));
        }
    }

    @Test
    void aResyncAfterLostPlansCarriesOnFromTheDatabase() {
        ChaosPlanner planner = new ChaosPlanner(0, new SplittableRandom(5));
        Database db = new Database();
        for (int i = 0; i < 2000; i++) {
            ChaosPlanner.Plan plan = planner.next();
            if (i % 7 == 3) {
                planner.resync(db.keysQueryResults(0)); // rolled back: the model is read back
                continue;
            }
            db.apply(plan);
            planner.committed(plan);
        }
        for (Table table : Table.values()) {
            assertThat(planner.rows(table)).isEqualTo(db.rows(table));
        }
    }

    @Test
    void aResyncIgnoresRowsOfOtherWorkersAndOtherWriters() {
        ChaosPlanner planner = new ChaosPlanner(2, new SplittableRandom(1));
        Map<Table, List<Object[]>> rows = new EnumMap<>(Table.class);
        rows.put(Table.LINES, List.of(new Object[] {Table.LINES.keyOf(2, 17)[0], 9}, // line 9: nobody's slot
                new Object[] {Table.LINES.keyOf(2, 17)[0], 2}));
        rows.put(Table.ORDERS, List.<Object[]>of(new Object[] {((Integer) Table.ORDERS.keyOf(2, 4)[0]).longValue(), 42}));
        planner.resync(rows);

        assertThat(planner.rows(Table.LINES)).isEqualTo(1);
        assertThat(planner.exists(Table.LINES, 17)).as("order 2, line 2").isTrue();
        assertThat(planner.exists(Table.ORDERS, 4)).as("an order of a user that is not the worker's").isTrue();
    }

    @Test
    void documentBodiesDoNotCompress() {
        String body = ChaosPlanner.incompressibleText(new SplittableRandom(3), 8192);
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION);
        deflater.setInput(bytes);
        deflater.finish();
        ByteArrayOutputStream compressed = new ByteArrayOutputStream();
        byte[] buffer = new byte[4096];
        while (!deflater.finished()) {
            compressed.write(buffer, 0, deflater.deflate(buffer));
        }
        // Even Huffman coding saves only the 2 bits a character of a 64-letter alphabet leaves; LZ alone saves nothing.
        assertThat(compressed.size()).isGreaterThan(bytes.length * 7 / 10);
        assertThat(bytes).hasSize(8192);
    }

    @Test
    void thePaceIsOneOfCommittedChangesAndCatchesUpAtMostASecond() {
        long second = TimeUnit.SECONDS.toNanos(1);
        ChaosLoad.Pace pace = new ChaosLoad.Pace(100, 0);
        assertThat(pace.reserve(50, 0)).isEqualTo(0);
        assertThat(pace.reserve(10, 0)).isEqualTo(second / 2);
        pace.refund(10); // those 10 did not commit: the next changes take their place
        assertThat(pace.reserve(20, 0)).isEqualTo(second / 2);
        // Ten seconds later (PostgreSQL was down): due at once, but only a second's worth of changes.
        assertThat(pace.reserve(100, 10 * second)).isEqualTo(9 * second);
        assertThat(pace.reserve(1, 10 * second)).isEqualTo(10 * second);
    }

    /** The tables as sets of keys, with the constraints PostgreSQL enforces on them. */
    private static final class Database {
        final Map<Table, Set<List<Object>>> rows = new EnumMap<>(Table.class);
        final Map<Table, Set<List<Object>>> everInserted = new EnumMap<>(Table.class);
        final Map<Object, Object> userOfOrder = new HashMap<>();
        int reinserts;
        int moves;
        int cascaded;

        Database() {
            for (Table table : Table.values()) {
                rows.put(table, new HashSet<>());
                everInserted.put(table, new HashSet<>());
            }
        }

        int rows(Table table) {
            return rows.get(table).size();
        }

        void apply(ChaosPlanner.Plan plan) {
            for (ChaosPlanner.Step step : plan.steps()) {
                for (Object[] row : step.rows()) {
                    apply(step.sql(), row);
                }
            }
        }

        private void apply(String sql, Object[] row) {
            Table table = tableOf(sql);
            Set<List<Object>> keys = rows.get(table);
            List<Object> key = keyOf(sql, table, row);
            if (sql.startsWith("INSERT")) {
                check(keys.add(key), "duplicate key", sql, row);
                if (!everInserted.get(table).add(key)) {
                    reinserts++;
                }
                if (table == Table.ORDERS) {
                    check(rows.get(Table.USERS).contains(List.of(row[1])), "foreign key", sql, row);
                    userOfOrder.put(row[0], row[1]);
                }
            } else if (sql.startsWith("UPDATE")) {
                check(keys.contains(key), "no row to update", sql, row);
                if (sql.contains("user_id")) {
                    check(rows.get(Table.USERS).contains(List.of(row[0])), "foreign key", sql, row);
                    if (!row[0].equals(userOfOrder.put(row[row.length - 1], row[0]))) {
                        moves++;
                    }
                }
            } else {
                check(keys.remove(key), "no row to delete", sql, row);
                if (table == Table.USERS && userOfOrder.containsValue(row[0])) { // ON DELETE CASCADE
                    userOfOrder.entrySet().removeIf(order -> {
                        boolean ofUser = order.getValue().equals(row[0]);
                        if (ofUser) {
                            rows.get(Table.ORDERS).remove(List.of(order.getKey()));
                            cascaded++;
                        }
                        return ofUser;
                    });
                }
                if (table == Table.ORDERS) {
                    userOfOrder.remove(row[0]);
                }
            }
        }

        private static void check(boolean holds, String violation, String sql, Object[] row) {
            if (!holds) {
                throw new AssertionError(violation + ": " + sql + " " + Arrays.toString(row));
            }
        }

        /** What each table's keysQuery would return for the worker. */
        Map<Table, List<Object[]>> keysQueryResults(int worker) {
            Map<Table, List<Object[]>> results = new EnumMap<>(Table.class);
            for (Table table : Table.values()) {
                List<Object[]> found = new ArrayList<>();
                for (List<Object> key : rows.get(table)) {
                    Object first = key.get(0) instanceof Integer id ? (Object) id.longValue() : key.get(0);
                    Object second = table == Table.ORDERS ? userOfOrder.get(key.get(0)) : key.size() > 1 ? key.get(1) : null;
                    found.add(new Object[] {first, second});
                }
                results.put(table, found);
            }
            return results;
        }

        private static Table tableOf(String sql) {
            String name = sql.replaceFirst("^(INSERT INTO|UPDATE|DELETE FROM) public\\.(\\w+).*$", "$2");
            return switch (name) {
                case "users" -> Table.USERS;
                case "orders" -> Table.ORDERS;
                case "chaos_order_lines" -> Table.LINES;
                case "chaos_daily_totals" -> Table.DAILY;
                case "chaos_documents" -> Table.DOCUMENTS;
                default -> throw new AssertionError("unknown table in " + sql);
            };
        }

        // The key is the first values of an INSERT or DELETE, and the last ones of an UPDATE (its WHERE clause).
        private static List<Object> keyOf(String sql, Table table, Object[] row) {
            int size = table == Table.LINES || table == Table.DAILY ? 2 : 1;
            return sql.startsWith("UPDATE") ? List.of(Arrays.copyOfRange(row, row.length - size, row.length))
                    : List.of(Arrays.copyOf(row, size));
        }
    }
}
