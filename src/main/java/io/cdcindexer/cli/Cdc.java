package io.cdcindexer.cli;

import java.io.PrintWriter;
import java.util.List;
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
            ReindexCommand.class,
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
                .setParameterExceptionHandler(Cdc::reportBadUsage)
                .execute(args);
    }

    /**
     * Bad usage (an unknown option, a value of the wrong kind, a missing option) as one line: what was wrong, what is
     * expected, and where to read more; never the whole usage text, which buries the one line that matters.
     */
    private static int reportBadUsage(CommandLine.ParameterException e, String[] args) {
        CommandLine command = e.getCommandLine();
        PrintWriter err = command.getErr();
        err.println(usageProblem(e));
        if ("1".equals(System.getenv("CDC_DEBUG"))) {
            e.printStackTrace(err);
        }
        err.flush();
        return command.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** The one line {@link #reportBadUsage} prints. */
    static String usageProblem(CommandLine.ParameterException e) {
        CommandLine.Model.CommandSpec spec = e.getCommandLine().getCommandSpec();
        String command = spec.qualifiedName(" ");
        String help = "./" + command + " --help";
        String problem = e.getMessage().lines().findFirst().orElse("bad usage")
                .replace("is not a double", "is not a number")
                .replace("is not a float", "is not a number")
                .replace("is not an int", "is not a whole number")
                .replace("is not a long", "is not a whole number");
        StringBuilder line = new StringBuilder(command).append(": ");
        if (e instanceof CommandLine.UnmatchedArgumentException unmatched && !spec.subcommands().isEmpty()
                && !unmatched.getUnmatched().isEmpty() && !unmatched.getUnmatched().get(0).startsWith("-")) {
            line.append("unknown command '").append(unmatched.getUnmatched().get(0)).append("'");
            return appendSuggestions(line, unmatched).append(help).append(" lists the commands").toString();
        }
        line.append(problem.endsWith(".") ? problem.substring(0, problem.length() - 1) : problem);
        if (e instanceof CommandLine.UnmatchedArgumentException unmatched) {
            return appendSuggestions(line, unmatched).append(help).append(" lists the options").toString();
        }
        if (e.getArgSpec() instanceof CommandLine.Model.OptionSpec option) {
            line.append(". Expected ").append(option.longestName());
            if (option.arity().max() > 0) {
                line.append(' ').append(option.paramLabel());
            }
            String[] description = option.description();
            if (description.length > 0 && !description[0].isBlank()) {
                line.append(": ").append(spec.commandLine().getHelp().colorScheme().text(description[0]).plainString()
                        .replace("${DEFAULT-VALUE}", String.valueOf(option.defaultValue())));
            }
        }
        String text = line.toString();
        return text + (text.endsWith(".") ? " " : ". ") + help + " for more";
    }

    /** Appends picocli's guesses at what was meant, if any, and the separator before the next sentence. */
    private static StringBuilder appendSuggestions(StringBuilder line, CommandLine.UnmatchedArgumentException unmatched) {
        List<String> suggestions = unmatched.getSuggestions();
        if (suggestions.isEmpty()) {
            return line.append(". ");
        }
        return line.append("; did you mean ")
                .append(String.join(" or ", suggestions.subList(0, Math.min(3, suggestions.size())))).append("? ");
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
