package io.cdcindexer.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ./cdc} command line: one subcommand per task, each with {@code --help}. */
@Command(
        name = "cdc",
        mixinStandardHelpOptions = true,
        version = "cdc-indexer 0.1.0",
        description = "Run and watch the PostgreSQL → Debezium → Kafka → Flink → Elasticsearch pipeline.",
        subcommands = {
            CommandLine.HelpCommand.class,
            UpCommand.class,
            DownCommand.class,
            StatusCommand.class,
            SetupDbCommand.class,
            SetupConnectorsCommand.class,
            ProduceCommand.class,
            ConsumeCommand.class,
            WatchCommand.class,
            VerifyCommand.class,
            SnapshotCommand.class,
            SubmitCommand.class,
            ChaosCommand.class,
            SuperviseCommand.class,
        })
public final class Cdc implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs one command line and returns its exit code (tests call this instead of main). */
    public static int run(String... args) {
        return new CommandLine(new Cdc())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(Cdc::reportFailure)
                .execute(args);
    }

    /**
     * Prints a failure as one clear line (the stack trace only with CDC_DEBUG=1) and exits with 2, the code picocli
     * also uses for bad usage: 1 stays free for "ran fine and found a problem" (e.g. verify's differences).
     */
    private static int reportFailure(Exception e, CommandLine command, CommandLine.ParseResult parseResult) {
        PrintWriter err = command.getErr();
        StringBuilder message = new StringBuilder(describe(e));
        if (!(e instanceof CliException)) {
            for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
                message.append(": ").append(describe(cause));
            }
        }
        err.println("cdc " + command.getCommandName() + ": " + message);
        if ("1".equals(System.getenv("CDC_DEBUG"))) {
            e.printStackTrace(err);
        }
        err.flush();
        return 2;
    }

    private static String describe(Throwable e) {
        String text = e.getMessage();
        return e instanceof CliException ? text
                : e.getClass().getSimpleName() + (text == null || text.isBlank() ? "" : " " + text);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
