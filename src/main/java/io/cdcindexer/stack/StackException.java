package io.cdcindexer.stack;

/** A service of the local stack failed to start or stop; the message names the service and its log file. */
public class StackException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public StackException(String message) {
        super(message);
    }

    public StackException(String message, Throwable cause) {
        super(message, cause);
    }
}
