package io.cdcindexer.debezium;

import java.nio.charset.StandardCharsets;

/** Builds {@link ChangeEvent}s for tests, the way {@link DecodeFunction} would. */
public final class ChangeEvents {

    private ChangeEvents() {}

    /** An upsert of {@code public.<table>} row {@code id} at WAL position {@code version}, with the document JSON. */
    public static ChangeEvent upsert(String table, String id, long version, String document, String transactionId) {
        ChangeEvent change = base(table, id, version, transactionId);
        change.action = ChangeEvent.Action.UPSERT;
        change.op = "u";
        change.document = document.getBytes(StandardCharsets.UTF_8);
        return change;
    }

    public static ChangeEvent delete(String table, String id, long version, String transactionId) {
        ChangeEvent change = base(table, id, version, transactionId);
        change.action = ChangeEvent.Action.DELETE;
        change.op = "d";
        return change;
    }

    private static ChangeEvent base(String table, String id, long version, String transactionId) {
        ChangeEvent change = new ChangeEvent();
        change.topic = "cdc.public." + table;
        change.table = "public." + table;
        change.documentId = id;
        change.version = version;
        change.lsn = version;
        change.offset = version;
        change.transactionId = transactionId;
        change.key = ("{\"id\":" + id + "}").getBytes(StandardCharsets.UTF_8);
        return change;
    }

    /** An END event without commit position: the changes keep their own LSNs as versions. */
    public static TransactionEnd end(String transactionId, Object... tablesAndCounts) {
        return endAt(transactionId, 0, tablesAndCounts);
    }

    /** An END event whose id carries the transaction's commit position. */
    public static TransactionEnd endAt(String transactionId, long commitLsn, Object... tablesAndCounts) {
        String[] tables = new String[tablesAndCounts.length / 2];
        long[] counts = new long[tables.length];
        for (int i = 0; i < tables.length; i++) {
            tables[i] = "public." + tablesAndCounts[2 * i];
            counts[i] = ((Number) tablesAndCounts[2 * i + 1]).longValue();
        }
        return new TransactionEnd(transactionId, commitLsn, tables, counts);
    }
}
