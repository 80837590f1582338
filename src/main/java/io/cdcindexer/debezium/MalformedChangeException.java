package io.cdcindexer.debezium;

/** A Kafka record that is not a change event the job can index; its message is the dead-letter reason. */
public final class MalformedChangeException extends Exception {

    private static final long serialVersionUID = 1L;

    public MalformedChangeException(String reason) {
        super(reason, null, false, false);
    }
}
