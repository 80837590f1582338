package io.cdcindexer.debezium;

/** A Kafka record that is not a change event the job can index; its message is the dead-letter reason. */
public final class MalformedChangeException extends Exception {

    private static final long serialVersionUID = 1L;

    /** The reason's kind when none is given: the record is not a change event the job understands. */
    public static final String MALFORMED = "malformed";
    /** The reason's kind when decoding failed on a bug of ours rather than on the record. */
    public static final String DECODER_ERROR = "decoder_error";

    /** A record without key (a table without primary key). */
    public static final String NO_KEY = "no_key";
    /** An op other than c, r, u, d (a truncate). */
    public static final String UNSUPPORTED_OP = "unsupported_op";
    /** Every kind there is: the decoder's dead-letter counters are registered for each up front. */
    public static final String[] REASONS = {MALFORMED, NO_KEY, UNSUPPORTED_OP, DECODER_ERROR};

    private final String kind;
    private String transactionId;
    private String table;
    private long lsn;

    public MalformedChangeException(String reason) {
        this(MALFORMED, reason);
    }

    /**
     * @param kind the reason's kind, a short snake_case word (the {@code reason} label of the dead-letter metrics)
     */
    public MalformedChangeException(String kind, String reason) {
        super(reason, null, false, false);
        this.kind = kind;
    }

    /** The reason's kind: {@link #MALFORMED}, or a more specific one such as {@code no_key}. */
    public String kind() {
        return kind;
    }

    /**
     * Notes the transaction the record belonged to, when its envelope could be read that far: the record still counts
     * toward that transaction's END, so the transaction must not wait for it.
     */
    MalformedChangeException within(DebeziumEnvelope.Transaction transaction, DebeziumEnvelope.Source source) {
        if (transaction != null && source != null) {
            this.transactionId = transaction.transactionId();
            this.table = source.dataCollection();
            this.lsn = source.lsn() == null ? 0 : source.lsn();
        }
        return this;
    }

    /** The txId of the transaction the record belonged to, or null when unknown or none. */
    public String transactionId() {
        return transactionId;
    }

    /** The record's WAL position when {@link #transactionId()} is known and the source block had one; else 0. */
    public long lsn() {
        return lsn;
    }

    /** The record's table ({@code schema.table}) when {@link #transactionId()} is known. */
    public String table() {
        return table;
    }
}
