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
    /** A delete is remembered until then (processing time), to drop older changes of the row that come after it. */
    public long forgetAt;
    /** LinkFunction: the parent row the holder row references (its id), as last sent; null for none. */
    public String parent;

    /** For Flink's POJO serializer. */
    public StoredRow() {}

    /** Whether a change at {@code (version, lsn)} is newer than the one that left the row so. */
    boolean olderThan(long otherVersion, long otherLsn) {
        return otherVersion > version || (otherVersion == version && otherLsn > lsn);
    }

    boolean live() {
        return !deleted;
    }
}
