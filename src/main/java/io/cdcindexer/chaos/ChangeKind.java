package io.cdcindexer.chaos;

/** The kinds of row change {@link ChaosLoad} makes, counted per committed row. */
public enum ChangeKind {
    /** An insert of a key the load has never seen. */
    INSERT,
    /** An insert of a key that existed before and was deleted since: the same primary key value again. */
    REINSERT,
    /** An update of users, orders, chaos_order_lines or chaos_daily_totals. */
    UPDATE,
    /** An update of orders that moves the order to another user: its foreign key changes, and two users' documents. */
    MOVE,
    /** An update of chaos_documents that writes a new body: the TOASTed value changes. */
    TOAST_CHANGED,
    /** An update of chaos_documents that leaves the body alone: Debezium sends its placeholder for it. */
    TOAST_UNCHANGED,
    /** A delete, of any table. */
    DELETE,
    /** A row of {@link ChaosLoad#commitLargeRow}. */
    LARGE_ROW
}
