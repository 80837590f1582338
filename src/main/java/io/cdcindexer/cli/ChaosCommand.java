package io.cdcindexer.cli;

import io.cdcindexer.chaos.ChaosReport;
import io.cdcindexer.chaos.ChaosRun;
import io.cdcindexer.chaos.ReindexUnderLoad;
import io.cdcindexer.chaos.Fault;
import io.cdcindexer.documents.JoinNode;
import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.stack.ProjectHome;
import io.cdcindexer.stack.Stack;
import io.cdcindexer.stack.StackPorts;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc chaos}: kills every part of a local stack under load, then checks that nothing was lost. */
@Command(
        name = "chaos",
        mixinStandardHelpOptions = true,
        description = {
            "Starts a local stack of its own (./cdc up --detach on free ports, in --data-dir), runs a load of inserts, "
                    + "updates, deletes and re-inserts in transactions of 1-50 rows over users, orders (moved between "
                    + "users, and deleted with them) and tables with a "
                    + "composite key, a date+int key and a TOAST-sized text column, injects poison into the change "
                    + "topics, then injects the faults one after the other, each followed by recovery.",
            "At the end the load stops, the pipeline drains, and the run checks: every row in Elasticsearch as in "
                    + "PostgreSQL (0 missing, 0 extra, 0 stale), every joined document of configs/documents.json as "
                    + "the same SQL joins build it, cdc.dlq holding exactly the poison, the job RUNNING.",
            "Prints per fault the changes committed meanwhile, the time to recover (from the fault to the first change "
                    + "committed after it being visible), the worst commit -> visible delay, the 409s absorbed and the "
                    + "restarts; writes the same as Markdown (--report) and a picture of the delay over the run (--chart).",
            "Exit code: 0 passed, 1 a loss or another failed check, 2 could not run.",
        })
public final class ChaosCommand implements Callable<Integer> {

    /** The report's and the picture's names in the data folder, unless --report and --chart say otherwise. */
    static final String DEFAULT_REPORT = "report.md";
    static final String DEFAULT_CHART = "delay.svg";

    @Option(names = "--rate", paramLabel = "CHANGES_PER_S", defaultValue = "500",
            description = "Changed rows per second the load commits (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--workers", defaultValue = "4", description = "Connections the load uses (default ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--faults", paramLabel = "LIST",
            defaultValue = "taskmanager,jobmanager,elasticsearch,kafka,connect,postgres,upgrade,reindex",
            description = "Faults to inject, in order (default: all, ${DEFAULT-VALUE}).")
    String faults;

    @Option(names = "--settle", defaultValue = "30s", converter = DurationConverter.class,
            description = "Time under load before the first fault and after each recovery (default ${DEFAULT-VALUE}).")
    Duration settle;

    @Option(names = "--outage", defaultValue = "90s", converter = DurationConverter.class,
            description = "How long Elasticsearch stays stopped (default ${DEFAULT-VALUE}: longer than the job's "
                    + "transaction timeout).")
    Duration outage;

    @Option(names = "--recovery-timeout", defaultValue = "5m", converter = DurationConverter.class,
            description = "A fault after which no new change is visible within this time fails the run (default ${DEFAULT-VALUE}).")
    Duration recoveryTimeout;

    @Option(names = "--drain-timeout", defaultValue = "5m", converter = DurationConverter.class,
            description = "How long the pipeline may take to bring Elasticsearch in step after the load stops "
                    + "(default ${DEFAULT-VALUE}).")
    Duration drainTimeout;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the load (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--poison", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Inject poison into the change topics (default: yes; --no-poison leaves it out).")
    boolean poison;

    @Option(names = "--large-row-mb", defaultValue = "5",
            description = "Size of one large row committed during the run, in MB; 0 for none (default ${DEFAULT-VALUE}).")
    int largeRowMegabytes;

    @Option(names = "--rebuild-jar", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "The upgrade fault rebuilds the job jar with Maven before resubmitting it (default: yes).")
    boolean rebuildJar;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "The chaos stack's folder, emptied first (default target/chaos in the repository).")
    Path dataDir;

    @Option(names = "--report", paramLabel = "FILE",
            description = "Where to write the figures as Markdown (default <data-dir>/report.md).")
    Path report;

    @Option(names = "--chart", paramLabel = "FILE",
            description = "Where to write the delay picture, SVG (default <data-dir>/delay.svg).")
    Path chart;

    @Option(names = "--keep", description = "Leave the stack running at the end (./cdc down --data-dir DIR stops it).")
    boolean keep;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<Fault> faultList;
        try {
            faultList = Fault.parse(faults);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--faults: " + e.getMessage());
        }
        Path dir = (dataDir != null ? dataDir : ProjectHome.dir().resolve("target/chaos")).toAbsolutePath().normalize();
        Path reportFile = report != null ? report : dir.resolve(DEFAULT_REPORT);
        Path chartFile = chart != null ? chart : dir.resolve(DEFAULT_CHART);
        StackPorts ports = StackPorts.free();
        String[] flags = ConnectionOptions.flagsFor(ports);
        // Read once, before up submits the job with the same file: an edit during the run cannot make them differ.
        JoinedDocuments joined = joinedDocuments();
        emptyStackFolder(dir, out);

        List<String> upArgs = new ArrayList<>(List.of(flags));
        upArgs.addAll(List.of("--detach", "--data-dir", dir.toString()));
        if (subcommand("up").execute(upArgs.toArray(String[]::new)) != 0) {
            throw new CliException("./cdc up failed; see the lines above and " + dir);
        }
        ChaosRun.Report result;
        try {
            ChaosRun.Options options = new ChaosRun.Options(rate, workers, faultList, settle, outage, recoveryTimeout,
                    drainTimeout, seed, poison, largeRowMegabytes * 1024 * 1024);
            Fault.Upgrade upgrade = new Fault.Upgrade() {
                @Override
                public void build() throws Exception {
                    rebuild(out);
                }

                @Override
                public void submit() {
                    if (subcommand("submit").execute(flags) != 0) {
                        throw new CliException("./cdc submit failed; see the lines above");
                    }
                }
            };
            ReindexUnderLoad.Command reindex = table -> {
                List<String> args = new ArrayList<>(List.of(flags));
                args.add(table);
                return subcommand("reindex").execute(args.toArray(String[]::new));
            };
            ChaosRun run = new ChaosRun(dir, ports, options, wait -> verify(flags, joined, wait), upgrade, reindex,
                    out);
            result = run.run();
        } finally {
            if (!keep) {
                subcommand("down").execute("--data-dir", dir.toString());
            }
        }
        String markdown = ChaosReport.markdown(result);
        Files.createDirectories(reportFile.toAbsolutePath().getParent());
        Files.writeString(reportFile, markdown);
        Files.createDirectories(chartFile.toAbsolutePath().getParent());
        Files.writeString(chartFile, ChaosReport.svg(result));
        out.println();
        out.print(markdown);
        out.println();
        out.println("chaos: figures in " + reportFile + ", picture in " + chartFile);
        out.println(result.passed() ? "chaos: PASSED" : "chaos: FAILED");
        out.flush();
        return result.passed() ? 0 : 1;
    }

    private CommandLine subcommand(String name) {
        return spec.root().commandLine().getSubcommands().get(name);
    }

    /**
     * Every table with a primary key against its index, and every joined document the job builds (the project's
     * {@link SubmitCommand#DOCUMENTS}, as {@code up} submits it) against the same document built by SQL joins; again
     * each second until in step or {@code wait} is up.
     */
    private ChaosRun.VerifyResult verify(String[] flags, JoinedDocuments joined, Duration wait) throws Exception {
        ConnectionOptions connection = ConnectionOptions.parse(flags);
        ElasticsearchHttp es = connection.elasticsearchClient();
        long deadline = System.nanoTime() + wait.toNanos();
        try (Connection db = Postgres.connect(connection)) {
            List<CapturedTable> tables = CapturedTable.withPrimaryKey(db, "public");
            TableVerifier verifier = new TableVerifier(db, es, 5, Set.of());
            DocumentVerifier documentVerifier = new DocumentVerifier(db, es, 5);
            while (true) {
                List<TableVerifier.Report> reports = new ArrayList<>();
                // The root table of each report, for the ids found wrong (a document's id is its root row's).
                List<String> rootTables = new ArrayList<>();
                for (CapturedTable table : tables) {
                    TableVerifier.Report report = verifier.verify(table);
                    reports.add(report);
                    rootTables.add(report.table());
                }
                for (JoinNode root : joined.roots()) {
                    try {
                        reports.add(documentVerifier.verify(joined, root));
                    } catch (DocumentVerifier.MissingTable e) { // the job builds it, so the run must check it
                        throw new CliException("the joined document " + root.index + " cannot be verified: "
                                + e.getMessage(), e);
                    }
                    rootTables.add(root.table);
                }
                boolean inStep = reports.stream().allMatch(TableVerifier.Report::inStep);
                if (inStep || System.nanoTime() >= deadline) {
                    StringBuilder details = new StringBuilder();
                    Map<String, Set<String>> wrong = new TreeMap<>();
                    for (int i = 0; i < reports.size(); i++) {
                        TableVerifier.Report report = reports.get(i);
                        String table = rootTables.get(i);
                        report.examples().stream().filter(d -> d.kind() != TableVerifier.Kind.EXTRA)
                                .forEach(d -> wrong.computeIfAbsent(table.substring(table.lastIndexOf('.') + 1),
                                        t -> new TreeSet<>()).add(d.id()));
                        details.append(report.summary()).append('\n');
                        report.examples().forEach(difference -> details.append("  ")
                                .append(difference.kind().name().toLowerCase()).append(' ').append(report.table())
                                .append('/').append(difference.id()).append(": ").append(difference.detail()).append('\n'));
                    }
                    long documents = 0;
                    for (int i = tables.size(); i < reports.size(); i++) {
                        documents += reports.get(i).rows();
                    }
                    return new ChaosRun.VerifyResult(
                            reports.stream().mapToLong(TableVerifier.Report::rows).sum() - documents, documents,
                            reports.stream().mapToLong(TableVerifier.Report::missing).sum(),
                            reports.stream().mapToLong(TableVerifier.Report::extra).sum(),
                            reports.stream().mapToLong(TableVerifier.Report::stale).sum(), details.toString(), wrong);
                }
                Thread.sleep(2_000);
            }
        }
    }

    /** The joined documents the job builds: the project's {@link SubmitCommand#DOCUMENTS}, which up submits. */
    private static JoinedDocuments joinedDocuments() {
        Path file = ProjectHome.dir().resolve(SubmitCommand.DOCUMENTS);
        return Files.isRegularFile(file) ? VerifyCommand.declaration(file) : JoinedDocuments.NONE;
    }

    /** Before the upgrade fault: rebuilds the job jar (Maven), unless --no-rebuild-jar. */
    private void rebuild(PrintWriter out) throws Exception {
        if (!rebuildJar) {
            return;
        }
        out.println("chaos: rebuilding the job jar (mvn package, tests skipped) ...");
        out.flush();
        Process build = new ProcessBuilder("mvn", "-q", "-B", "-Dstyle.color=never", "-DskipTests", "-f",
                ProjectHome.dir().resolve("pom.xml").toString(), "package")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (build.waitFor() != 0) {
            throw new CliException("the rebuild of the job jar failed (mvn -DskipTests package)");
        }
    }

    /**
     * Starts from an empty folder; refuses one that a running stack uses or that holds more than a stack and the
     * reports of an earlier run (a mistyped --data-dir must not empty someone's folder).
     */
    private static void emptyStackFolder(Path dir, PrintWriter out) throws IOException {
        if (!Stack.running(dir).isEmpty() || Stack.supervised(dir)) {
            throw new CliException("a stack is running in " + dir + "; stop it first: ./cdc down --data-dir " + dir);
        }
        if (!Files.isDirectory(dir)) {
            return;
        }
        DownCommand.checkIsStackFolder(dir, "emptying", Set.of(DEFAULT_REPORT, DEFAULT_CHART));
        out.println("chaos: emptying " + dir);
        DownCommand.deleteRecursively(dir);
    }
}
