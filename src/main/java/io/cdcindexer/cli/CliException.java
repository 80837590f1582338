package io.cdcindexer.cli;

/** A failure the user can act on: {@link Cdc} prints its message, without a stack trace, and exits with code 2. */
public class CliException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public CliException(String message) {
        super(message);
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
