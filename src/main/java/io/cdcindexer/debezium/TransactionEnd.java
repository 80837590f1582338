package io.cdcindexer.debezium;

import java.util.Arrays;

/**
 * Debezium's END event of a transaction: how many change events each table received. Only tables the job reads are
 * listed, so that a transaction touching other tables still completes.
 */
public final class TransactionEnd {

    /** The txId part of the END event's id (its LSN part differs from BEGIN's and the data events'). */
    public String transactionId;
    /**
     * The transaction's commit position: the LSN part of the END event's id, 0 when it has none. It orders the
     * transactions that change a row the way PostgreSQL committed them.
     */
    public long commitLsn;
    /** Tables ({@code schema.table}) and, at the same index, their event counts. */
    public String[] tables;
    public long[] eventCounts;

    /** For Flink's POJO serializer. */
    public TransactionEnd() {}

    public TransactionEnd(String transactionId, long commitLsn, String[] tables, long[] eventCounts) {
        this.transactionId = transactionId;
        this.commitLsn = commitLsn;
        this.tables = tables;
        this.eventCounts = eventCounts;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("END ").append(transactionId);
        if (commitLsn > 0) {
            s.append(" @").append(commitLsn);
        }
        for (int i = 0; i < tables.length; i++) {
            s.append(' ').append(tables[i]).append('=').append(eventCounts[i]);
        }
        return s.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TransactionEnd e && transactionId.equals(e.transactionId) && commitLsn == e.commitLsn
                && Arrays.equals(tables, e.tables)
                && Arrays.equals(eventCounts, e.eventCounts);
    }

    @Override
    public int hashCode() {
        return transactionId.hashCode();
    }
}
