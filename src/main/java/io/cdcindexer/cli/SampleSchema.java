package io.cdcindexer.cli;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The sample tables {@code users} and {@code orders} and their first rows. Applying it twice changes nothing: tables
 * are created only if missing and rows are inserted only into empty tables.
 */
public final class SampleSchema {

    /** One sample user. */
    public record SampleUser(String username, String email) {}

    /** One sample order; {@code user} is the index of its user in {@link #USERS}. */
    public record SampleOrder(int user, BigDecimal amount, String status) {}

    public static final String USERS_DDL = """
            CREATE TABLE IF NOT EXISTS public.users (
                id         serial PRIMARY KEY,
                username   text,
                email      text,
                created_at timestamptz NOT NULL DEFAULT now()
            )""";

    /** A user's orders go with the user (ON DELETE CASCADE): what a users document carrying its orders meets. */
    public static final String ORDERS_DDL = """
            CREATE TABLE IF NOT EXISTS public.orders (
                id         serial PRIMARY KEY,
                user_id    integer NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
                amount     NUMERIC(10,2) NOT NULL,
                status     text NOT NULL DEFAULT 'pending',
                created_at timestamptz NOT NULL DEFAULT now()
            )""";

    /** Deleting a user checks orders.user_id; without this index that check scans the whole table. */
    public static final String ORDERS_USER_INDEX_DDL =
            "CREATE INDEX IF NOT EXISTS orders_user_id_idx ON public.orders (user_id)";

    public static final String INSERT_USER = "INSERT INTO public.users (username, email) VALUES (?, ?) RETURNING id";
    public static final String INSERT_ORDER = "INSERT INTO public.orders (user_id, amount, status) VALUES (?, ?, ?)";

    /** Any fixed number: setup-db runs hold this advisory lock so that two at once cannot both insert the rows. */
    private static final long ADVISORY_LOCK = 0x5eed_cdc1L;

    public static final List<SampleUser> USERS = List.of(
            new SampleUser("alice", "alice@example.com"),
            new SampleUser("bob", "bob@example.com"),
            new SampleUser("carol", "carol@example.com"),
            new SampleUser("dave", "dave@example.com"),
            new SampleUser("erin", "erin@example.com"));

    public static final List<SampleOrder> ORDERS = List.of(
            new SampleOrder(0, new BigDecimal("19.99"), "delivered"),
            new SampleOrder(0, new BigDecimal("5.50"), "shipped"),
            new SampleOrder(1, new BigDecimal("120.00"), "paid"),
            new SampleOrder(2, new BigDecimal("42.42"), "pending"),
            new SampleOrder(2, new BigDecimal("7.25"), "cancelled"),
            new SampleOrder(3, new BigDecimal("249.90"), "delivered"),
            new SampleOrder(4, new BigDecimal("13.37"), "paid"),
            new SampleOrder(4, new BigDecimal("88.00"), "pending"));

    /** What one run did, in the words setup-db prints. */
    public record Result(List<String> actions, List<String> unchanged) {
        public boolean changedNothing() {
            return actions.isEmpty();
        }
    }

    private SampleSchema() {}

    /** The DDL statements, in the order they run. */
    public static List<String> ddl() {
        return List.of(USERS_DDL, ORDERS_DDL, ORDERS_USER_INDEX_DDL);
    }

    /**
     * The statements that give a table REPLICA IDENTITY FULL: Postgres then logs the whole old row, so Debezium's update
     * and delete events carry a complete {@code before} and a change can be shown column by column.
     */
    public static String replicaIdentityFull(String table) {
        return "ALTER TABLE public." + table + " REPLICA IDENTITY FULL";
    }

    /** Creates what is missing, in one transaction, and reports what it did. */
    public static Result apply(Connection connection) throws SQLException {
        List<String> actions = new ArrayList<>();
        List<String> unchanged = new ArrayList<>();
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try (Statement statement = connection.createStatement()) {
            statement.execute("SELECT pg_advisory_xact_lock(" + ADVISORY_LOCK + ")");
            for (String table : List.of("users", "orders")) {
                boolean existed = exists(connection, table);
                statement.execute(table.equals("users") ? USERS_DDL : ORDERS_DDL);
                if (existed) {
                    unchanged.add("table public." + table + " already exists ("
                            + Plural.of(count(connection, table), "row") + ")");
                } else {
                    actions.add("created table public." + table);
                }
            }
            statement.execute(ORDERS_USER_INDEX_DDL);
            for (String table : List.of("users", "orders")) {
                if (!hasFullReplicaIdentity(connection, table)) {
                    statement.execute(replicaIdentityFull(table));
                    actions.add("set REPLICA IDENTITY FULL on public." + table
                            + " (update and delete events carry the whole old row)");
                }
            }
            if (count(connection, "users") == 0 && count(connection, "orders") == 0) {
                insertSampleRows(connection);
                actions.add("inserted " + Plural.of(USERS.size(), "user") + " and " + Plural.of(ORDERS.size(), "order"));
            } else {
                unchanged.add("tables already hold rows: no sample rows inserted");
            }
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
        return new Result(actions, unchanged);
    }

    private static void insertSampleRows(Connection connection) throws SQLException {
        List<Integer> userIds = new ArrayList<>();
        try (PreparedStatement insert = connection.prepareStatement(INSERT_USER)) {
            for (SampleUser user : USERS) {
                insert.setString(1, user.username());
                insert.setString(2, user.email());
                try (ResultSet rs = insert.executeQuery()) {
                    rs.next();
                    userIds.add(rs.getInt(1));
                }
            }
        }
        try (PreparedStatement insert = connection.prepareStatement(INSERT_ORDER)) {
            for (SampleOrder order : ORDERS) {
                insert.setInt(1, userIds.get(order.user()));
                insert.setBigDecimal(2, order.amount());
                insert.setString(3, order.status());
                insert.addBatch();
            }
            insert.executeBatch();
        }
    }

    private static boolean exists(Connection connection, String table) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            query.setString(1, "public." + table);
            try (ResultSet rs = query.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    private static boolean hasFullReplicaIdentity(Connection connection, String table) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT relreplident = 'f' FROM pg_class WHERE oid = to_regclass(?)")) {
            query.setString(1, "public." + table);
            try (ResultSet rs = query.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private static long count(Connection connection, String table) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet rs = statement.executeQuery("SELECT count(*) FROM public." + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
