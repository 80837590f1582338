package io.cdcindexer.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs {@link Cdc#run} in this JVM and captures what it prints, as a user would see it. */
record CliRun(int exitCode, String out, String err) {

    static CliRun of(String... args) {
        return of(new ByteArrayOutputStream(), new ByteArrayOutputStream(), args);
    }

    /**
     * Runs a command in the background; {@code out} can be read while it runs (ByteArrayOutputStream is synchronized),
     * e.g. to wait until a long-running command is ready.
     */
    static java.util.concurrent.CompletableFuture<CliRun> start(ByteArrayOutputStream out, String... args) {
        return start(out, new ByteArrayOutputStream(), args);
    }

    /** {@link #start(ByteArrayOutputStream, String...)}, with standard error readable while it runs too. */
    static java.util.concurrent.CompletableFuture<CliRun> start(ByteArrayOutputStream out, ByteArrayOutputStream err,
            String... args) {
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> of(out, err, args));
    }

    private static synchronized CliRun of(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        PrintStream originalOut = System.out;
        PrintStream originalErr = System.err;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exitCode = Cdc.run(args);
            return new CliRun(exitCode, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(originalOut);
            System.setErr(originalErr);
        }
    }

    /** Runs {@code command}, then the connection flags, then more arguments. */
    static CliRun with(String command, String[] flags, String... more) {
        String[] args = new String[1 + flags.length + more.length];
        args[0] = command;
        System.arraycopy(flags, 0, args, 1, flags.length);
        System.arraycopy(more, 0, args, 1 + flags.length, more.length);
        return of(args);
    }

    @Override
    public String toString() {
        return "exit " + exitCode + "\n--- out\n" + out + "--- err\n" + err;
    }
}
