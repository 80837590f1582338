package io.cdcindexer.cli;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Debezium's signal table (id, type, data), as the connector configuration names it ({@code signal.data.collection}):
 * where {@code ./cdc snapshot} and {@code ./cdc reindex} ask the running connector for a snapshot.
 */
final class SignalTable {

    /** Debezium's signal table layout, as its documentation defines it. */
    static final String COLUMNS = "(id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))";
    /** How long one try for the lock may keep the tables' writers queued behind it. */
    static final String LOCK_TIMEOUT = "500ms";

    private final String name;

    private SignalTable(String name) {
        this.name = name;
    }

    /** The signal table the configuration names, as schema.table. */
    static SignalTable of(KafkaConnectClient.ConnectorConfig connector, Path file) {
        String table = connector.config().path("signal.data.collection").asText("");
        if (!table.matches("[^.]+\\.[^.]+")) {
            throw new CliException(file + " names no signal table (\"signal.data.collection\": \"<schema>.<table>\"): "
                    + "Debezium then takes no signals");
        }
        return new SignalTable(table);
    }

    /** schema.table, as the configuration names it. */
    String name() {
        return name;
    }

    private String quoted() {
        int dot = name.indexOf('.');
        return CapturedTable.quote(name.substring(0, dot)) + "." + CapturedTable.quote(name.substring(dot + 1));
    }

    /** Creates the schema and the table if they are missing. */
    void create(Connection db) throws SQLException {
        try (Statement statement = db.createStatement()) {
            statement.execute("CREATE SCHEMA IF NOT EXISTS " + CapturedTable.quote(name.substring(0, name.indexOf('.'))));
            statement.execute("CREATE TABLE IF NOT EXISTS " + quoted() + " " + COLUMNS);
        }
    }

    /** Inserts a signal in a transaction of its own. */
    void insert(Connection db, String id, String type, String data) throws SQLException {
        try (PreparedStatement insert = db.prepareStatement(
                "INSERT INTO " + quoted() + " (id, type, data) VALUES (?, ?, ?)")) {
            insert.setString(1, id);
            insert.setString(2, type);
            insert.setString(3, data);
            insert.executeUpdate();
        }
    }

    /**
     * Inserts a signal in a transaction that first holds the tables in SHARE mode: the lock waits for every transaction
     * writing them and holds off new ones until the signal is committed. So no transaction writing them straddles the
     * signal: each change of them is committed before it (a blocking snapshot asked for by it reads the change) or lies
     * after it in the WAL (newer than the snapshot's rows, which carry the signal's position as their version), even a
     * change the job versions by its own position (a transaction flushed early or at its timeout).
     *
     * <p>Writers queue behind a try for the lock, so each try gives up after {@link #LOCK_TIMEOUT} and the next comes a
     * second later, saying every tenth time who holds the tables: a long transaction delays the signal, never the
     * tables' other writers by more than that.
     */
    void insertUnderLock(Connection db, List<CapturedTable> tables, String id, String type, String data, long deadline,
            Consumer<String> say) throws Exception {
        String locked = tables.stream().map(CapturedTable::quotedName).collect(Collectors.joining(", "));
        boolean autoCommit = db.getAutoCommit();
        int tries = 0;
        db.setAutoCommit(false);
        try {
            while (true) {
                try (Statement statement = db.createStatement()) {
                    statement.execute("SET LOCAL lock_timeout = '" + LOCK_TIMEOUT + "'");
                    statement.execute("LOCK TABLE " + locked + " IN SHARE MODE");
                    insert(db, id, type, data);
                    db.commit();
                    return;
                } catch (SQLException e) {
                    db.rollback();
                    if (!"55P03".equals(e.getSQLState()) || System.nanoTime() > deadline) { // 55P03: lock_not_available
                        throw e;
                    }
                    if (++tries % 10 == 1) {
                        say.accept("  waiting for transactions writing " + tables.stream()
                                .map(CapturedTable::displayName).collect(Collectors.joining(", ")) + " to end: "
                                + writers(db, tables));
                    }
                    TimeUnit.SECONDS.sleep(1);
                }
            }
        } finally {
            db.setAutoCommit(autoCommit);
        }
    }

    /** Who holds a write lock on the tables: backends by pid and since when, prepared transactions by gid. */
    private static String writers(Connection db, List<CapturedTable> tables) throws SQLException {
        List<String> writers = new ArrayList<>();
        for (CapturedTable table : tables) {
            try (PreparedStatement query = db.prepareStatement("SELECT l.pid, a.xact_start, p.gid FROM pg_locks l "
                    + "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                    + "LEFT JOIN pg_prepared_xacts p ON p.transaction::text = split_part(l.virtualtransaction, '/', 2) "
                    + "WHERE l.relation = ?::regclass AND l.granted AND l.mode <> 'AccessShareLock' "
                    + "AND l.mode <> 'RowShareLock' AND l.pid IS DISTINCT FROM pg_backend_pid()")) {
                query.setString(1, table.quotedName());
                try (ResultSet rs = query.executeQuery()) {
                    while (rs.next()) {
                        writers.add(rs.getObject(1) != null ? "pid " + rs.getInt(1) + " (since " + rs.getString(2) + ")"
                                : "a prepared transaction" + (rs.getString(3) == null ? "" : " '" + rs.getString(3) + "'"));
                    }
                }
            }
        }
        return writers.isEmpty() ? "none any more" : String.join(", ", writers);
    }
}
