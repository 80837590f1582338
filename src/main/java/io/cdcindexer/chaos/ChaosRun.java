package io.cdcindexer.chaos;

import com.fasterxml.jackson.databind.JsonNode;

import io.cdcindexer.job.JobOptions;
import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.Stack;
import io.cdcindexer.stack.StackException;
import io.cdcindexer.stack.StackPorts;
import io.cdcindexer.stack.SupervisorState;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;

/**
 * A chaos run on a running local stack: a load of {@link ChaosLoad} changes and a {@link VisibilityProbe} run all along,
 * poison goes into the change topics, and the {@link Fault faults} come one after the other, each followed by recovery
 * and a quiet spell under load. At the end the load stops, the pipeline drains, and the run checks that every row is in
 * Elasticsearch as in PostgreSQL (the {@link Verification} the command line provides), that the dead-letter topic holds
 * exactly the poison, and that the job runs. {@link #run()} returns the {@link Report}.
 */
public final class ChaosRun {

    private static final String JOB_NAME = JobOptions.JOB_NAME.defaultValue();
    /** How long Flink's REST API may show a job metric from before (metrics.fetcher.update-interval, 10 s), and some. */
    private static final long METRICS_LAG_MS = 15_000;

    /** What to run. */
    public record Options(double rate, int workers, List<Fault> faults, Duration settle, Duration outage,
            Duration recoveryTimeout, Duration drainTimeout, long seed, boolean poison, int largeRowBytes) {}

    /** Compares PostgreSQL with Elasticsearch, waiting up to {@code wait} for them to agree. */
    @FunctionalInterface
    public interface Verification {
        VerifyResult verify(Duration wait) throws Exception;
    }

    /**
     * What verify found, over every table and every joined document ({@code rows} counts the rows of the tables,
     * {@code documents} the joined documents PostgreSQL makes); {@code wrong} holds the ids of some missing or stale
     * documents by table (bare table name; a joined document's id is its root row's), whose Kafka history a failed run
     * prints.
     */
    public record VerifyResult(long rows, long documents, long missing, long extra, long stale, String details,
            Map<String, Set<String>> wrong, String error) {
        public VerifyResult(long rows, long documents, long missing, long extra, long stale, String details,
                Map<String, Set<String>> wrong) {
            this(rows, documents, missing, extra, stale, details, wrong, null);
        }

        public VerifyResult(long rows, long missing, long extra, long stale, String details) {
            this(rows, 0, missing, extra, stale, details, Map.of(), null);
        }

        /** Verify itself failed (a table the documents name is missing, PostgreSQL out of reach): the run fails. */
        public static VerifyResult couldNotRun(String error) {
            return new VerifyResult(0, 0, 0, 0, 0, "", Map.of(), error);
        }

        public boolean inStep() {
            return error == null && missing == 0 && extra == 0 && stale == 0;
        }

        @Override
        public String toString() {
            if (error != null) {
                return "could not run: " + error;
            }
            return String.format(Locale.ROOT, "%d missing, %d extra, %d stale (%,d rows%s)", missing, extra, stale, rows,
                    documents == 0 ? "" : String.format(Locale.ROOT, ", %,d joined documents", documents));
        }
    }

    /** One fault's figures. */
    public record FaultResult(Fault fault, long startedAtMillis, long overAtMillis, long recoveredAtMillis,
            long changesDuring, long worstDelayMillis, long conflicts, long staleDropped, long jobRestarts,
            int serviceRestarts, int jobResumes) {
        public boolean recovered() {
            return recoveredAtMillis > 0;
        }

        public Duration recovery() {
            return Duration.ofMillis(recoveredAtMillis - startedAtMillis);
        }
    }

    /** The whole run's outcome. */
    public record Report(Instant started, long startMillis, long endMillis, List<FaultResult> faults,
            List<VisibilityProbe.Sample> probes, long loadMillis, long changes, long transactions, long failedTransactions,
            Map<ChangeKind, Long> changesByKind, VerifyResult verify, List<String> deadLetterProblems,
            int poisonInjected, String jobState, List<String> failures) {
        public boolean passed() {
            return failures.isEmpty();
        }
    }

    private final Path dataDir;
    private final StackPorts ports;
    private final Options options;
    private final Verification verification;
    private final Fault.Upgrade upgrade;
    private final ReindexUnderLoad.Command reindex;
    /** What faults found wrong themselves (the reindex fault's searches). */
    private final List<String> faultProblems = new ArrayList<>();
    private final PrintWriter out;
    private final long startMillis = System.currentTimeMillis();

    public ChaosRun(Path dataDir, StackPorts ports, Options options, Verification verification, Fault.Upgrade upgrade,
            ReindexUnderLoad.Command reindex, PrintWriter out) {
        this.reindex = reindex;
        this.dataDir = dataDir;
        this.ports = ports;
        this.options = options;
        this.verification = verification;
        this.upgrade = upgrade;
        this.out = out;
    }

    public Report run() throws Exception {
        Instant started = Instant.now();
        List<String> failures = new ArrayList<>();
        try (Connection connection = connect()) {
            ChaosSchema.create(connection);
            VisibilityProbe.create(connection);
        }
        String kafka = "localhost:" + ports.kafka();
        List<FaultResult> results = new ArrayList<>();
        List<Poison.Injected> poison = new ArrayList<>();
        ChaosLoad load = new ChaosLoad(this::connectUnchecked, options.workers(), options.rate(), options.seed());
        VisibilityProbe probe = new VisibilityProbe(this::connectUnchecked, "http://localhost:" + ports.elasticsearch(),
                "cdc", 100);
        JobWatch job = new JobWatch("http://localhost:" + ports.flink(), JOB_NAME);
        try {
            job.start();
            probe.start();
            load.start();
            say(String.format(Locale.ROOT, "load: %.0f changes/s on %d connections; warming up for %d s",
                    options.rate(), options.workers(), options.settle().toSeconds()));
            Thread.sleep(options.settle().toMillis());
            if (options.poison()) {
                poison.addAll(Poison.inject(kafka, "cdc"));
                say("poison: injected " + poison.size() + " records: "
                        + poison.stream().map(Poison.Injected::what).toList());
            }
            if (options.largeRowBytes() > 0) {
                say("large row: committed " + load.commitLargeRow(options.largeRowBytes()) + " ("
                        + options.largeRowBytes() / (1024 * 1024) + " MB)");
            }
            Fault.Context context = context();
            for (Fault fault : options.faults()) {
                FaultResult result = inject(fault, context, load, probe, job);
                results.add(result);
                if (!result.recovered()) {
                    failures.add(fault.cliName() + ": no change committed after the fault became visible within "
                            + options.recoveryTimeout().toSeconds() + " s"
                            + (probe.lastError() == null ? "" : " (probe: " + probe.lastError() + ")"));
                    break;
                }
                Thread.sleep(options.settle().toMillis());
            }
        } finally {
            load.close();
            probe.stopCommitting();
        }
        failures.addAll(faultProblems);
        long loadMillis = System.currentTimeMillis() - startMillis;
        say(String.format(Locale.ROOT, "load stopped: %,d changes in %,d transactions (%,d failed and retried)",
                load.committedChanges(), load.committedTransactions(), load.failedTransactions()));
        if (load.modelErrors() > 0) {
            failures.add("the load's model of its rows was wrong in " + load.modelErrors() + " transactions (last: "
                    + load.lastModelError() + ")");
        }

        say("draining: waiting until every row is in Elasticsearch as in PostgreSQL (up to "
                + options.drainTimeout().toSeconds() + " s)");
        VerifyResult verify;
        try {
            verify = verification.verify(options.drainTimeout());
        } catch (Exception e) {
            verify = VerifyResult.couldNotRun(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        probe.close();
        say("verify: " + verify);
        if (!verify.inStep()) {
            failures.add("verify: " + verify + "\n" + verify.details());
            if (!verify.wrong().isEmpty()) {
                say("what Kafka holds for the rows found wrong:\n" + KeyHistory.of(kafka, "cdc", verify.wrong()));
            }
        }
        List<String> deadLetterProblems = options.poison()
                ? Poison.checkDeadLetters(kafka, "cdc.dlq", poison, Duration.ofSeconds(30),
                        options.faults().contains(Fault.REINDEX) ? ReindexUnderLoad::refusedUntilReindexed : letter -> false)
                : List.of();
        failures.addAll(deadLetterProblems.stream().map(problem -> "dead letters: " + problem).toList());
        job.sampleOnce();
        job.close();
        if (!job.state().equals("RUNNING")) {
            failures.add("the job is " + job.state() + ", not RUNNING");
        }
        return new Report(started, startMillis, System.currentTimeMillis(), results, probe.samples(), loadMillis,
                load.committedChanges(), load.committedTransactions(), load.failedTransactions(), load.committedByKind(),
                verify, deadLetterProblems, poison.size(), job.state(), failures);
    }

    /** Injects one fault and waits until a change committed after it is visible; returns its figures. */
    private FaultResult inject(Fault fault, Fault.Context context, ChaosLoad load, VisibilityProbe probe, JobWatch job)
            throws Exception {
        SupervisorState before = SupervisorState.read(dataDir).orElse(null);
        long changesBefore = load.committedChanges();
        long conflictsBefore = job.total("staleWritesSkipped");
        long staleBefore = job.total("staleChangesDropped");
        long restartsBefore = job.total("numRestarts");
        fault.prepare(context);
        say("fault: " + fault.description());
        long started = System.currentTimeMillis();
        long deadline;
        try {
            fault.inject(context);
            deadline = System.currentTimeMillis() + options.recoveryTimeout().toMillis();
        } catch (Exception e) {
            // The stack did not heal (a part not started again, a failed resubmit): a failed fault, still reported.
            say("  " + fault.cliName() + ": " + (e.getMessage() != null ? e.getMessage() : e));
            deadline = System.currentTimeMillis();
        }
        long over = System.currentTimeMillis();
        if (fault == Fault.TASKMANAGER) {
            // Its tasks may still show as running for the seconds the JobManager takes to find the TaskManager gone.
            awaitFailoverSince(started, deadline);
        }
        // Recovered once the job runs whole again (after a JobManager loss: the resumed job, not the old tasks that
        // run on until their TaskManager notices) and a change committed after that is visible.
        long whole = awaitJobWhole(fault == Fault.JOBMANAGER ? jobResumes(before) + 1 : 0, deadline);
        OptionalLong recovered = OptionalLong.empty();
        while (whole > 0 && recovered.isEmpty() && System.currentTimeMillis() < deadline) {
            recovered = probe.visibleAtOfFirstCommittedAfter(whole);
            Thread.sleep(200);
        }
        long recoveredAt = recovered.orElse(0);
        long until = recoveredAt > 0 ? recoveredAt : System.currentTimeMillis();
        long changesDuring = load.committedChanges() - changesBefore;
        job.sampleOnce();
        // The REST API's metrics can be 10 s old: a restart just made may not be counted yet.
        for (long countedBy = System.currentTimeMillis() + METRICS_LAG_MS; fault == Fault.TASKMANAGER
                && job.total("numRestarts") == restartsBefore && System.currentTimeMillis() < countedBy; ) {
            Thread.sleep(1000);
            job.sampleOnce();
        }
        SupervisorState after = SupervisorState.read(dataDir).orElse(null);
        FaultResult result = new FaultResult(fault, started, over, recoveredAt, changesDuring,
                probe.worstDelayMillis(started, until), job.total("staleWritesSkipped") - conflictsBefore,
                job.total("staleChangesDropped") - staleBefore, job.total("numRestarts") - restartsBefore,
                serviceRestarts(after) - serviceRestarts(before), jobResumes(after) - jobResumes(before));
        say(String.format(Locale.ROOT, "  %s: %s; %,d changes committed meanwhile; worst commit → visible %.1f s",
                fault.cliName(), recoveredAt > 0 ? String.format(Locale.ROOT, "recovered in %.1f s",
                        (recoveredAt - started) / 1000.0) : "NOT RECOVERED",
                changesDuring, result.worstDelayMillis() / 1000.0));
        return result;
    }

    /**
     * Waits until a job of the name is RUNNING with every task running (and, if {@code resumes} > 0, the supervisor has
     * resumed the job that often); returns when, or 0 at the deadline.
     */
    private long awaitJobWhole(int resumes, long deadline) throws InterruptedException {
        while (System.currentTimeMillis() < deadline) {
            if ((resumes == 0 || jobResumes(SupervisorState.read(dataDir).orElse(null)) >= resumes)
                    && wholeJobId() != null) {
                return System.currentTimeMillis();
            }
            Thread.sleep(500);
        }
        return 0;
    }

    /** The id of the job of the name that is RUNNING with every task running; null for none (or no JobManager). */
    private String wholeJobId() {
        try {
            for (JsonNode job : jobsOfTheName()) {
                if (isWhole(job)) {
                    return job.path("jid").asText();
                }
            }
        } catch (Exception e) {
            // the JobManager is not back yet
        }
        return null;
    }

    /** The jobs of the name the JobManager lists (its {@code /jobs/overview} entries). */
    private List<JsonNode> jobsOfTheName() throws IOException, InterruptedException {
        List<JsonNode> named = new ArrayList<>();
        for (JsonNode job : Http.get("http://localhost:" + ports.flink() + "/jobs/overview").json().path("jobs")) {
            if (job.path("name").asText().equals(JOB_NAME)) {
                named.add(job);
            }
        }
        return named;
    }

    private static boolean isWhole(JsonNode job) {
        JsonNode tasks = job.path("tasks");
        return job.path("state").asText().equals("RUNNING")
                && tasks.path("running").asInt() == tasks.path("total").asInt();
    }

    /**
     * Waits until the job fails over: it no longer runs whole, or its failure history (which Flink records as it fails
     * over, unlike its metrics, but serves from a cache up to 3 s old) has an entry from {@code since} on; or the
     * deadline.
     */
    private void awaitFailoverSince(long since, long deadline) throws InterruptedException {
        while (System.currentTimeMillis() < deadline) {
            List<JsonNode> jobs;
            try {
                jobs = jobsOfTheName(); // one read for both signs
            } catch (Exception e) {
                return; // not whole: the JobManager does not answer
            }
            if (jobs.stream().noneMatch(ChaosRun::isWhole)) {
                return;
            }
            try {
                for (JsonNode job : jobs) {
                    for (JsonNode entry : Http.get("http://localhost:" + ports.flink() + "/jobs/"
                            + job.path("jid").asText() + "/exceptions").json().path("exceptionHistory").path("entries")) {
                        if (entry.path("timestamp").asLong() >= since) {
                            return;
                        }
                    }
                }
            } catch (Exception e) {
                // the JobManager does not answer for a moment
            }
            Thread.sleep(200);
        }
    }

    private static int serviceRestarts(SupervisorState state) {
        return state == null ? 0 : state.services().values().stream().mapToInt(SupervisorState.Service::restarts).sum();
    }

    private static int jobResumes(SupervisorState state) {
        return state == null ? 0 : state.jobResumes();
    }

    private Fault.Context context() {
        return new Fault.Context() {
            @Override
            public Path dataDir() {
                return dataDir;
            }

            @Override
            public Duration outage() {
                return options.outage();
            }

            @Override
            public Fault.Upgrade upgrade() {
                return upgrade;
            }

            @Override
            public void say(String message) {
                ChaosRun.this.say("  " + message);
            }

            @Override
            public ReindexUnderLoad reindexUnderLoad() {
                return new ReindexUnderLoad(ChaosRun.this::connectUnchecked,
                        "http://localhost:" + ports.elasticsearch(), reindex);
            }

            @Override
            public String taskManagerRunningTheJob() throws Exception {
                // Each TaskManager's Prometheus endpoint labels the metrics of its tasks with their job's id; a spare
                // one has none. After a failover the old tasks may linger on one for a moment: exactly one must have
                // the running job's. The ports are the stack's own record, whatever the command line was given.
                List<Integer> metricsPorts = Stack.readPorts(dataDir).orElse(ports).flinkMetrics();
                long deadline = System.currentTimeMillis() + 60_000;
                long several = System.currentTimeMillis() + 10_000;
                while (System.currentTimeMillis() < deadline) {
                    String job = wholeJobId();
                    List<String> found = new ArrayList<>();
                    for (int index = 1; job != null && index <= FlinkCluster.TASK_MANAGERS; index++) {
                        String url = "http://localhost:" + metricsPorts.get(index) + "/metrics";
                        try {
                            Http.Response metrics = Http.get(url);
                            if (metrics.ok() && metrics.body().contains("job_id=\"" + job + "\"")) {
                                found.add(FlinkCluster.taskManagerName(index));
                            }
                        } catch (IOException e) {
                            // not started yet, or being restarted: it runs nothing
                        }
                    }
                    // Several for longer than old tasks linger: the job runs on several (a parallelism above 1).
                    if (found.size() == 1 || (found.size() > 1 && System.currentTimeMillis() > several)) {
                        return found.get(0);
                    }
                    Thread.sleep(500);
                }
                throw new StackException("No TaskManager found running the job " + JOB_NAME + " within 60 s");
            }

            @Override
            public void fail(String problem) {
                ChaosRun.this.say("  FAILED: " + problem);
                faultProblems.add(problem);
            }
        };
    }

    private Connection connect() throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", "postgres");
        properties.setProperty("password", "postgres");
        properties.setProperty("connectTimeout", "5");
        properties.setProperty("socketTimeout", "60");
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + ports.postgres() + "/testdb", properties);
    }

    private Connection connectUnchecked() {
        try {
            return connect();
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL: " + e.getMessage(), e);
        }
    }

    private void say(String message) {
        out.printf("chaos %5.0fs  %s%n", (System.currentTimeMillis() - startMillis) / 1000.0, message);
        out.flush();
    }
}
