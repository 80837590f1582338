package io.cdcindexer.cli;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc produce}: changes rows in PostgreSQL, step by step or as a load, for the pipeline to carry. */
@Command(
        name = "produce",
        mixinStandardHelpOptions = true,
        description = {
            "Changes rows in PostgreSQL so that you can watch the changes travel through the pipeline.",
            "Without options: the basic scenario, step by step. It inserts a user, updates its email and deletes it, "
                    + "and after each step prints what to look for in Kafka (./cdc consume) and in Elasticsearch "
                    + "(./cdc watch).",
            "With --rate N (and optionally --duration D, --connections, --seed): a load of realistic transactions at about N changed rows per second for D: "
                    + "new customers with their orders, orders paid and shipped (several updates of one row in one "
                    + "transaction), email changes, removed orders, closed accounts and bulk imports. A closing line "
                    + "reports the rate actually reached. Should PostgreSQL stop answering (a restart), the load says so, "
                    + "connects again every second and carries on; after a minute without it, it stops (exit code 2).",
            "Run ./cdc setup-db first.",
        })
public final class ProduceCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--step-delay", paramLabel = "DURATION", defaultValue = "3s", converter = DurationConverter.class,
            description = "Pause between the scenario's steps (default ${DEFAULT-VALUE}).")
    Duration stepDelay;

    @Option(names = "--rate", paramLabel = "N",
            description = "Run a load at about N changed rows per second instead of the scenario (at most 100000).")
    Double rate;

    @Option(names = "--duration", paramLabel = "DURATION", defaultValue = "10s", converter = DurationConverter.class,
            description = "How long the load runs (default ${DEFAULT-VALUE}, at most 1h), counted once every connection "
                    + "has read the users it will change.")
    Duration duration;

    @Option(names = "--connections", paramLabel = "N", defaultValue = "2",
            description = "Connections the load uses at once (default ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the load's random choices, to repeat a run.")
    Long seed;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        checkOptionsFitTheMode();
        if (rate == null) {
            out.println("produce: the basic scenario on " + Postgres.describe(connection)
                    + ": insert a user, update its email, delete it.");
            out.println("Follow along in two other terminals: ./cdc consume   and   ./cdc watch");
            try (Connection db = Postgres.connect(connection)) {
                BasicScenario scenario = new BasicScenario(db, connection.elasticsearchClient(), out,
                        stepDelay);
                try {
                    scenario.run();
                } catch (SQLException e) {
                    throw new CliException("PostgreSQL at " + Postgres.describe(connection) + " failed "
                            + scenario.where() + " (" + Outage.brief(e) + "), so the scenario stopped there"
                            + scenario.leftBehind() + ". ./cdc produce starts it again once PostgreSQL answers "
                            + "(./cdc status)", e);
                }
            }
            return 0;
        }
        return load(out);
    }

    /**
     * The load's options mean nothing to the scenario and the other way round: silently ignoring one (produce
     * --duration 20 running the three-step scenario) would leave the user wondering where the load went.
     */
    private void checkOptionsFitTheMode() {
        CommandLine.ParseResult given = spec.commandLine().getParseResult();
        if (rate == null) {
            List<String> loadOptions = Stream.of("--duration", "--connections", "--seed")
                    .filter(given::hasMatchedOption).toList();
            if (!loadOptions.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), String.join(" and ", loadOptions)
                        + (loadOptions.size() == 1 ? " shapes" : " shape") + " a load, which needs --rate N (changed "
                        + "rows per second), e.g. ./cdc produce --rate 100 --duration 20s; without --rate, produce "
                        + "runs the three-step basic scenario");
            }
        } else if (given.hasMatchedOption("--step-delay")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--step-delay paces the three-step basic "
                    + "scenario, not a load (--rate), which is paced by its rate");
        }
    }

    private int load(PrintWriter out) throws Exception {
        if (rate <= 0 || rate > 100_000) {
            throw new CliException("--rate must be between 0 and 100000 changes per second, not " + rate);
        }
        if (duration.isZero() || duration.compareTo(Duration.ofHours(1)) > 0) {
            throw new CliException("--duration must be more than 0 and at most 1h, not " + duration);
        }
        if (connections < 1 || connections > 16) {
            throw new CliException("--connections must be between 1 and 16, not " + connections);
        }
        Postgres.connect(connection).close(); // fails early, with a clear message, if the database is not there
        out.printf("produce: %.0f changes/s for %d s on %s, %s%n", rate, duration.toSeconds(),
                Postgres.describe(connection), Plural.of(connections, "connection"));
        out.flush();
        boolean tty = System.console() != null;
        long[] lastLine = {System.nanoTime()};
        Outage outage = new Outage(out, "produce", "PostgreSQL at " + Postgres.describe(connection));
        LoadRunner runner = new LoadRunner(() -> Postgres.connect(connection), connections, rate, duration,
                seed == null ? System.nanoTime() : seed, tty ? outage.afterProgressLines() : outage);
        LoadRunner.Result result = runner.run(progress -> {
            String line = String.format("produce: %s in %s, %.0f changes/s, %d s of %d",
                    Plural.of(progress.changes(), "change"), Plural.of(progress.transactions(), "transaction"),
                    progress.rate(), progress.elapsed().toSeconds(), duration.toSeconds());
            if (tty) {
                out.print("\r" + line + "   ");
                out.flush();
            } else if (System.nanoTime() - lastLine[0] >= Duration.ofSeconds(5).toNanos()) {
                out.println(line); // a log, not a terminal: one line every few seconds
                out.flush();
                lastLine[0] = System.nanoTime();
            }
        });
        if (tty) {
            out.println();
        }
        LoadRunner.Progress totals = result.totals();
        out.printf("produce: %s in %s (%d failed) in %.1f s: %.0f changes/s reached, %.0f asked%n",
                Plural.of(totals.changes(), "change"), Plural.of(totals.transactions(), "transaction"), totals.failed(),
                totals.elapsed().toMillis() / 1000.0, totals.rate(), rate);
        out.println("  transactions: " + result.transactionsByKind().entrySet().stream()
                .filter(e -> e.getValue() > 0)
                .map(e -> e.getKey().name().toLowerCase().replace('_', ' ') + " " + e.getValue())
                .collect(Collectors.joining(", ")));
        if (result.lastFailure() != null) {
            out.println("  last failure: " + result.lastFailure());
        }
        out.flush();
        if (result.stoppedEarly() != null) {
            throw new CliException(result.stoppedEarly() + ", so the load stopped before its end; the counts above "
                    + "are what it did");
        }
        return 0;
    }
}
