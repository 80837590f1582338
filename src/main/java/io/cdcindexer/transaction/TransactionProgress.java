package io.cdcindexer.transaction;

import io.cdcindexer.debezium.TransactionEnd;
import java.util.Arrays;

/**
 * How far one transaction has arrived: change events received per table and, once the END event is in, how many each
 * table should get. Kept in keyed state by {@link TransactionCollapseFunction}.
 */
public final class TransactionProgress {

    public String[] tables = new String[0];
    public long[] received = new long[0];
    /** -1 until the END event names the table. */
    public long[] expected = new long[0];
    public boolean ended;
    /**
     * Its held changes were flushed at the timeout; what is known of it stays for its late changes, which then leave at
     * once with the same version as the flushed part.
     */
    public boolean flushed;
    /** When it was flushed, on the {@link RunningClock} (processing time less the time the job was down). */
    public long flushedAt;
    /** Rows held (changes of distinct rows), counted towards an early flush. */
    public long held;
    /** The commit position from the END event; 0 until it arrives (or when it has none). */
    public long commitLsn;
    /** Processing time at which the transaction is flushed even if incomplete. */
    public long timeoutAt;
    /** The latest Kafka timestamp among its events: when Connect wrote its most recent part. */
    public long eventTime = Long.MIN_VALUE;
    /**
     * The event-time timer that flushes it, incomplete, once the watermark is past {@link #eventTime} plus the timeout;
     * 0 when none is set (complete, flushed, no Kafka time), as a transaction restored from before it had one reads.
     */
    public long flushAtWatermark;
    /** The watermark (how far every partition has been read) when it started, then at each deferred timeout. */
    public long watermark = Long.MIN_VALUE;

    /** For Flink's POJO serializer. */
    public TransactionProgress() {}

    TransactionProgress(long timeoutAt, long watermark) {
        this.timeoutAt = timeoutAt;
        this.watermark = watermark;
    }

    void seenAt(long timestamp) {
        eventTime = Math.max(eventTime, timestamp);
    }

    void received(String table) {
        int i = indexOf(table); // may grow the arrays: look up before indexing
        received[i]++;
    }

    void end(TransactionEnd end) {
        ended = true;
        commitLsn = end.commitLsn;
        for (int i = 0; i < end.tables.length; i++) {
            int table = indexOf(end.tables[i]);
            expected[table] = end.eventCounts[i];
        }
    }

    /** Complete when the END event has arrived and every table it names has received its events. */
    boolean isComplete() {
        if (!ended) {
            return false;
        }
        for (int i = 0; i < tables.length; i++) {
            if (expected[i] >= 0 && received[i] < expected[i]) {
                return false;
            }
        }
        return true;
    }

    long receivedTotal() {
        return Arrays.stream(received).sum();
    }

    private int indexOf(String table) {
        for (int i = 0; i < tables.length; i++) {
            if (tables[i].equals(table)) {
                return i;
            }
        }
        int n = tables.length;
        tables = Arrays.copyOf(tables, n + 1);
        received = Arrays.copyOf(received, n + 1);
        expected = Arrays.copyOf(expected, n + 1);
        tables[n] = table;
        expected[n] = -1;
        return n;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(ended ? "ended" : "open");
        if (flushed) {
            s.append(" flushed");
        }
        for (int i = 0; i < tables.length; i++) {
            s.append(' ').append(tables[i]).append(' ').append(received[i]).append('/')
                    .append(expected[i] < 0 ? "?" : Long.toString(expected[i]));
        }
        return s.toString();
    }
}
