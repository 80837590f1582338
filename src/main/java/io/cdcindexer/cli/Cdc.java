package io.cdcindexer.cli;

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
            SubmitCommand.class,
        })
public final class Cdc implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs one command line and returns its exit code (tests call this instead of main). */
    public static int run(String... args) {
        return new CommandLine(new Cdc()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
