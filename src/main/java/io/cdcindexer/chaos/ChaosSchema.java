package io.cdcindexer.chaos;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The tables of the chaos load, next to the sample tables {@code users} and {@code orders} in schema {@code public}
 * (the connector captures all of it):
 *
 * <ul>
 *   <li>{@code chaos_order_lines}: a composite key {@code (order_id integer, line_no integer)}; REPLICA IDENTITY FULL.
 *   <li>{@code chaos_daily_totals}: a key of a date and an integer {@code (day date, shard integer)}; the default replica
 *       identity, so a delete's {@code before} holds only the key.
 *   <li>{@code chaos_documents}: a {@code bigint} key and a {@code body text} of several KB of incompressible text, so
 *       PostgreSQL stores it out of line (TOAST). Kept at REPLICA IDENTITY DEFAULT on purpose: an update that leaves the
 *       body alone then reaches Debezium without it, which sends {@code __debezium_unavailable_value}, and the job has
 *       to fill it in from the document it indexed before.
 * </ul>
 *
 * Plus {@code chaos_ledger}: one row per committed transaction, insert-only (see {@link #LEDGER_DDL}).
 *
 * <p>No foreign keys: the load keeps them consistent with nothing but {@code orders.user_id → users.id}.
 */
public final class ChaosSchema {

    public static final String ORDER_LINES_DDL = """
            CREATE TABLE IF NOT EXISTS public.chaos_order_lines (
                order_id integer       NOT NULL,
                line_no  integer       NOT NULL,
                sku      text          NOT NULL,
                quantity integer       NOT NULL,
                price    numeric(10,2) NOT NULL,
                PRIMARY KEY (order_id, line_no)
            )""";

    public static final String DAILY_TOTALS_DDL = """
            CREATE TABLE IF NOT EXISTS public.chaos_daily_totals (
                day   date    NOT NULL,
                shard integer NOT NULL,
                hits  bigint  NOT NULL,
                note  text,
                PRIMARY KEY (day, shard)
            )""";

    public static final String DOCUMENTS_DDL = """
            CREATE TABLE IF NOT EXISTS public.chaos_documents (
                id       bigint  PRIMARY KEY,
                revision integer NOT NULL,
                title    text    NOT NULL,
                body     text    NOT NULL
            )""";

    /**
     * One row per committed load transaction, insert-only: a later update can hide a lost update of another table, but
     * nothing ever hides a lost ledger row, and each is written in the transaction it records.
     */
    public static final String LEDGER_DDL = """
            CREATE TABLE IF NOT EXISTS public.chaos_ledger (
                id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                worker       integer     NOT NULL,
                changes      integer     NOT NULL,
                committed_at timestamptz NOT NULL DEFAULT now()
            )""";

    /** Any fixed number: two creates at once wait for each other instead of racing on the catalog. */
    private static final long ADVISORY_LOCK = 0x0c4a_05cdL;

    private ChaosSchema() {}

    /**
     * Idempotent DDL: creates the chaos tables in schema public (the connector captures all of public). Assumes the
     * sample schema (public.users, public.orders; see cli/SampleSchema) exists already.
     */
    public static void create(Connection connection) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try (Statement statement = connection.createStatement()) {
            statement.execute("SELECT pg_advisory_xact_lock(" + ADVISORY_LOCK + ")");
            statement.execute(ORDER_LINES_DDL);
            statement.execute(DAILY_TOTALS_DDL);
            statement.execute(DOCUMENTS_DDL);
            statement.execute(LEDGER_DDL);
            // Only when needed: ALTER TABLE takes a lock that would wait for a running load.
            replicaIdentity(connection, "chaos_order_lines", 'f', "FULL");
            replicaIdentity(connection, "chaos_daily_totals", 'd', "DEFAULT");
            replicaIdentity(connection, "chaos_documents", 'd', "DEFAULT");
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    /** The tables the chaos load writes, as {@code public.<name>}, users and orders included, for verify. */
    public static List<String> tables() {
        return List.of("public.users", "public.orders", "public.chaos_order_lines", "public.chaos_daily_totals",
                "public.chaos_documents", "public.chaos_ledger");
    }

    private static void replicaIdentity(Connection connection, String table, char code, String identity)
            throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT relreplident FROM pg_class WHERE oid = to_regclass(?)")) {
            query.setString(1, "public." + table);
            try (ResultSet rs = query.executeQuery()) {
                if (rs.next() && rs.getString(1).charAt(0) == code) {
                    return;
                }
            }
        }
        try (Statement statement = connection.createStatement()) {
            statement.execute("ALTER TABLE public." + table + " REPLICA IDENTITY " + identity);
        }
    }
}
