package io.cdcindexer.documents;

/**
 * The newest image of one row a stage keeps, or the memory of its delete: what orders its changes, since changes of one
 * row can come out of order (transactions are collapsed on different subtasks).
 */
public final class StoredRow {

    /** The row as JSON; null once deleted. */
    public byte[] image;
    /** The version (commit position) and own WAL position of the change that left it so. */
    public long version;
    public long lsn;
    public boolean deleted;
    /**
     * A delete is remembered until then (on the {@code RunningClock}: processing time less the time the job was down),
     * to drop older changes of the row that come after it.
     */
    public long forgetAt;
    /** LinkFunction: the parent row the holder row references (its id), as last sent; null for none. */
    public String parent;

    /**
     * Columns the change that left the row so did not carry (unchanged TOASTed values), taken from an earlier image, and
     * the version and position of the change each value came from ({@code Long.MIN_VALUE}: not known yet). Null when
     * there are none.
     */
    public String[] filled;
    public long[] filledVersion;
    public long[] filledLsn;

    /** For Flink's POJO serializer. */
    public StoredRow() {}

    /** Whether a change at {@code (version, lsn)} is newer than the one that left the row so. */
    boolean olderThan(long otherVersion, long otherLsn) {
        return otherVersion > version || (otherVersion == version && otherLsn > lsn);
    }

    /** Where the column is among {@link #filled}; -1 when it is not. */
    int filledIndex(String column) {
        if (filled != null) {
            for (int i = 0; i < filled.length; i++) {
                if (filled[i].equals(column)) {
                    return i;
                }
            }
        }
        return -1;
    }

    boolean live() {
        return !deleted;
    }
}
