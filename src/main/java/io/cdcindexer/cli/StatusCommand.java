package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;

import io.cdcindexer.elasticsearch.IndexMappingFunction;
import io.cdcindexer.elasticsearch.InitialLoad;
import io.cdcindexer.job.JobOptions;
import io.cdcindexer.metrics.Histograms;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.ProjectHome;
import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.Stack;
import io.cdcindexer.stack.StackPorts;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.TopicDescription;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code ./cdc status}: one screen of health for every part of the pipeline; exit code 0 only when all is healthy. */
@Command(
        name = "status",
        mixinStandardHelpOptions = true,
        description = {
            "Shows, on one screen: the local stack's supervisor and what it restarted, each service (reachable? its PID "
                    + "when ./cdc up started it), the replication slot and how far behind it is, the connector and its "
                    + "tasks, the change topics, the job's consumer lag, the Flink job (restarts, last checkpoint, last "
                    + "exception), whether Elasticsearch refuses or pushes back on its writes, the p99 delay from a "
                    + "change's commit to Elasticsearch's acknowledgement, and each index with its document count. "
                    + "Takes about 2 s: the lags are sampled twice.",
            "Works against the local stack and the Docker stack alike. Exit code 0 when all is healthy, 1 otherwise.",
        })
public final class StatusCommand implements Callable<Integer> {

    private static final int TIMEOUT_SECONDS = 3;
    /** Between the two samples of what is judged by how it changes (the slot's lag, the consumer group's lag). */
    private static final long SAMPLE_GAP_MS = 2_000;
    private static final String UNREACHABLE = "not reachable: ";

    @Mixin
    ConnectionOptions connection;

    @Mixin
    DataDirOption dataDir;

    @Spec
    CommandSpec spec;

    /** One line of the report: what was checked, where, whether it is healthy and what was seen. */
    record Check(String name, String target, boolean healthy, String detail) {}

    /** The names the connector configuration gives the connector, its slot and its topics. */
    record ConnectorNames(String connector, String slot, String topicPrefix) {

        static ConnectorNames fromConfig() {
            try {
                KafkaConnectClient.ConnectorConfig connector = KafkaConnectClient.ConnectorConfig.read(
                        ProjectHome.dir().resolve("configs/debezium-postgres-connector.json"));
                return new ConnectorNames(connector.name(), connector.config().path("slot.name").asText("cdc_indexer"),
                        connector.config().path("topic.prefix").asText("cdc"));
            } catch (CliException e) {
                return new ConnectorNames("cdc-postgres", "cdc_indexer", "cdc"); // the contract's names
            }
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        try (Admin admin = admin()) {
            return report(admin);
        }
    }

    private int report(Admin admin) throws InterruptedException {
        ConnectorNames names = ConnectorNames.fromConfig();
        Clock clock = Clock.systemDefaultZone();
        Path data = dataDir.resolve();
        Map<String, ProcessHandle> recorded = Stack.running(data);
        SupervisorReport supervisor = SupervisorReport.read(data, clock, SupervisorReport::alive);
        Check postgres = supervisor.annotate(
                check("PostgreSQL", connection.jdbcUrl(), pids(recorded, "postgres/"), this::postgres), "postgres");
        Check kafka = supervisor.annotate(
                check("Kafka", connection.kafka, pids(recorded, "kafka/"), () -> kafka(admin)), "kafka");
        Check connect = supervisor.annotate(
                check("Kafka Connect", connection.connect, pids(recorded, "connect/"), this::connect), "connect");
        Check flink = supervisor.annotate(withPrometheusEndpoints(
                check("Flink", connection.flink, pids(recorded, "flink/"), this::flink), data), "flink");
        Check elasticsearch = supervisor.annotate(check("Elasticsearch", connection.elasticsearch,
                pids(recorded, "elasticsearch/"), this::elasticsearch), "elasticsearch");
        String jobName = JobOptions.JOB_NAME.defaultValue();
        String groupId = JobOptions.KAFKA_GROUP_ID.defaultValue();

        // The slot's lag and the consumer group's lag are judged by how they change: a first sample now, the second
        // SAMPLE_GAP later, with the other checks in between.
        long sampledAt = System.nanoTime();
        First<Optional<SlotLag.Sample>> slot1 = reachable(postgres) ? first(() -> slotSample(names.slot())) : null;
        First<ConsumerLag.Sample> lag1 = reachable(kafka)
                ? first(() -> ConsumerLag.sample(admin, groupId, TIMEOUT_SECONDS)) : null;

        Check tables = after(postgres, "captured tables", "public.*", this::tables);
        Check connector = after(connect, "connector", names.connector(), () -> connector(names.connector()));
        Check topics = after(kafka, "topics", names.topicPrefix() + ".*", () -> topics(admin, names.topicPrefix()));
        JobReport job = reachable(flink)
                ? job(new FlinkRest(connection.flink), jobName, connection.elasticsearch, supervisor.jobResumes(), clock)
                : JobReport.unknown(jobName, connection.elasticsearch, flink);
        Check indices = after(elasticsearch, "indices", "", this::indices);
        Check delay = reachable(flink) ? delay(new FlinkRest(connection.flink), jobName)
                : new Check(DELAY, DELAY_TARGET, false, "unknown: " + flink.name() + " not reachable");

        if (slot1 != null || lag1 != null) {
            long waitMs = SAMPLE_GAP_MS - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sampledAt);
            if (waitMs > 0) {
                Thread.sleep(waitMs);
            }
        }
        Check slot = after(postgres, "replication slot", names.slot(), () -> {
            Optional<SlotLag.Sample> first = slot1.get();
            Optional<SlotLag.Sample> second = slotSample(names.slot());
            return first.isEmpty() || second.isEmpty()
                    ? new Seen(false, "missing (the connector creates it: ./cdc setup-connectors)")
                    : SlotLag.judge(first.get(), second.get());
        });
        Check lag = after(kafka, "consumer lag", groupId, () -> ConsumerLag.judge(lag1.get(),
                ConsumerLag.sample(admin, groupId, TIMEOUT_SECONDS), job.checkpointIntervalMs()));

        List<Check> checks = new ArrayList<>();
        supervisor.supervisorCheck(Set.of("postgres", "kafka", "connect", "flink", "elasticsearch"))
                .ifPresent(checks::add);
        checks.addAll(List.of(postgres, kafka, connect, flink, elasticsearch, slot, tables, connector, topics, lag,
                job.job(), job.writes(), delay, indices));

        PrintWriter out = spec.commandLine().getOut();
        out.print(render(checks));
        out.flush();
        return checks.stream().allMatch(Check::healthy) ? 0 : 1;
    }

    /** A first sample, or why it could not be taken (then the check says so). */
    private record First<T>(T value, Exception error) {

        T get() throws Exception {
            if (error != null) {
                throw error;
            }
            return value;
        }
    }

    private static <T> First<T> first(Sampler<T> sampler) {
        try {
            return new First<>(sampler.sample(), null);
        } catch (Exception e) {
            return new First<>(null, e);
        }
    }

    @FunctionalInterface
    private interface Sampler<T> {
        T sample() throws Exception;
    }

    private static boolean reachable(Check service) {
        return !service.detail().startsWith(UNREACHABLE);
    }

    /** The report: one aligned line per check (details over several lines stay aligned), then a verdict. */
    static String render(List<Check> checks) {
        int nameWidth = checks.stream().mapToInt(check -> check.name().length()).max().orElse(0);
        int targetWidth = checks.stream().mapToInt(check -> check.target().length()).max().orElse(0);
        String indent = " ".repeat(2 + 4 + 2 + nameWidth + 2 + targetWidth + 2);
        StringBuilder out = new StringBuilder();
        for (Check check : checks) {
            String detail = check.detail().strip().replace("\n", "\n" + indent);
            out.append(String.format("  %-4s  %-" + nameWidth + "s  %-" + targetWidth + "s  %s", check.healthy() ? "ok" : "FAIL",
                    check.name(), check.target(), detail).stripTrailing()).append('\n');
        }
        List<String> failed = checks.stream().filter(check -> !check.healthy()).map(Check::name).toList();
        out.append(failed.isEmpty() ? "All healthy.\n"
                : failed.size() + " not healthy: " + String.join(", ", failed) + ".\n");
        return out.toString();
    }

    /** A probe's answer: healthy or not, and what it saw. */
    record Seen(boolean healthy, String detail) {}

    @FunctionalInterface
    private interface Probe {
        Seen probe() throws Exception;
    }

    private static Check check(String name, String target, String pids, Probe probe) {
        Seen seen;
        try {
            seen = probe.probe();
        } catch (ElasticsearchHttp.ErrorResponse | ElasticsearchHttp.TlsRefused e) {
            // It answers, and says why not in a clear line: refused credentials, an untrusted certificate.
            seen = new Seen(false, e.getMessage().lines().findFirst().orElse(""));
        } catch (Exception e) {
            seen = new Seen(false, UNREACHABLE + reason(e));
        }
        return new Check(name, target, seen.healthy(), seen.detail() + pids);
    }

    /** A check of something inside a service, made only when the service answers. */
    private static Check after(Check service, String name, String target, Probe probe) {
        return reachable(service) ? check(name, target, "", probe)
                : new Check(name, target, false, "unknown: " + service.name() + " not reachable");
    }

    /** The first line of the innermost message, or "connection refused" (which the HTTP client reports without one). */
    private static String reason(Throwable e) {
        String message = null;
        for (Throwable cause = e; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (cause instanceof java.net.ConnectException) {
                return "connection refused";
            }
            if (cause instanceof java.util.concurrent.TimeoutException) {
                return "no answer within " + TIMEOUT_SECONDS + " s";
            }
            if (cause.getMessage() != null) {
                message = cause.getMessage();
            }
        }
        return message == null ? e.getClass().getSimpleName() : message.lines().findFirst().orElse(message);
    }

    private static String pids(Map<String, ProcessHandle> recorded, String service) {
        String pids = recorded.entrySet().stream().filter(entry -> entry.getKey().startsWith(service))
                .map(entry -> Long.toString(entry.getValue().pid())).collect(Collectors.joining(", "));
        return pids.isEmpty() ? "" : " (pid " + pids + ")";
    }

    private Connection database() throws Exception {
        Properties properties = new Properties();
        properties.setProperty("user", connection.pgUser);
        properties.setProperty("password", connection.pgPassword);
        properties.setProperty("connectTimeout", Integer.toString(TIMEOUT_SECONDS));
        properties.setProperty("socketTimeout", Integer.toString(TIMEOUT_SECONDS * 2));
        return DriverManager.getConnection(connection.jdbcUrl(), properties);
    }

    private Seen postgres() throws Exception {
        try (Connection db = database(); ResultSet rs = db.createStatement().executeQuery("SHOW server_version")) {
            rs.next();
            return new Seen(true, "PostgreSQL " + rs.getString(1));
        }
    }

    private Optional<SlotLag.Sample> slotSample(String slot) throws Exception {
        try (Connection db = database()) {
            return SlotLag.sample(db, slot);
        }
    }

    /**
     * Tables the pipeline cannot index correctly: without a primary key (their changes go to the dead-letter queue,
     * and under the FOR ALL TABLES publication PostgreSQL refuses their UPDATE and DELETE unless REPLICA IDENTITY FULL),
     * or with REPLICA IDENTITY USING INDEX (Debezium then keys deletes by the key column's default: docs/FINDINGS.md).
     */
    private Seen tables() throws Exception {
        String sql = "SELECT c.relname, c.relreplident, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid "
                + "AND i.indisprimary) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                + "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname";
        List<String> problems = new ArrayList<>();
        int tables = 0;
        try (Connection db = database(); ResultSet rs = db.createStatement().executeQuery(sql)) {
            while (rs.next()) {
                tables++;
                String table = rs.getString(1);
                if (!rs.getBoolean(3)) {
                    problems.add(table + ": no primary key, its changes go to the dead-letter queue");
                } else if ("i".equals(rs.getString(2))) {
                    problems.add(table + ": REPLICA IDENTITY USING INDEX, deletes would hit the wrong document "
                            + "(use DEFAULT or FULL)");
                }
            }
        }
        return problems.isEmpty() ? new Seen(true, tables + (tables == 1 ? " table" : " tables") + ", all indexable")
                : new Seen(false, String.join("\n", problems));
    }

    /** One admin client for the Kafka checks; it connects only when first used. */
    private Admin admin() {
        Properties properties = connection.kafkaClient();
        properties.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, TIMEOUT_SECONDS * 1000);
        properties.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, TIMEOUT_SECONDS * 1000);
        return Admin.create(properties);
    }

    private static Seen kafka(Admin admin) throws Exception {
        int brokers = admin.describeCluster(new DescribeClusterOptions().timeoutMs(TIMEOUT_SECONDS * 1000))
                .nodes().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).size();
        return new Seen(brokers > 0, brokers + (brokers == 1 ? " broker" : " brokers"));
    }

    private static Seen topics(Admin admin, String prefix) throws Exception {
        List<String> names = admin.listTopics(new ListTopicsOptions().timeoutMs(TIMEOUT_SECONDS * 1000))
                .names().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).stream()
                .filter(name -> name.startsWith(prefix + "."))
                .toList();
        if (names.isEmpty()) {
            return new Seen(false, "none yet (the connector creates them on its first snapshot)");
        }
        Map<String, TopicDescription> described = new TreeMap<>(
                admin.describeTopics(names).allTopicNames().get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        return new Seen(true, described.values().stream()
                .map(topic -> topic.name() + " (" + Plural.of(topic.partitions().size(), "partition") + ")")
                .collect(Collectors.joining("\n")));
    }

    private Seen connect() throws Exception {
        JsonNode root = Http.get(connection.connect + "/").json();
        return new Seen(true, "Kafka Connect " + root.path("version").asText());
    }

    private Seen connector(String name) {
        Optional<KafkaConnectClient.Status> status = new KafkaConnectClient(connection.connect).status(name);
        if (status.isEmpty()) {
            return new Seen(false, "not registered (./cdc setup-connectors)");
        }
        String failure = status.get().failure().map(KafkaConnectClient.State::trace).filter(trace -> trace != null)
                .map(trace -> ": " + trace.lines().findFirst().orElse("")).orElse("");
        return new Seen(status.get().running(), status.get().summary() + failure);
    }

    private Seen flink() throws Exception {
        JsonNode overview = new FlinkRest(connection.flink).overview();
        int taskManagers = overview.path("taskmanagers").asInt();
        return new Seen(taskManagers > 0, String.format("Flink %s, %d TaskManager%s, %d of %d slots free",
                overview.path("flink-version").asText(), taskManagers, taskManagers == 1 ? "" : "s",
                overview.path("slots-available").asInt(), overview.path("slots-total").asInt()));
    }

    /** The Flink line with the local stack's Prometheus endpoints under it, when Flink answers and they are known. */
    private Check withPrometheusEndpoints(Check flink, Path data) {
        Optional<String> endpoints = reachable(flink)
                ? Stack.readPorts(data).flatMap(ports -> prometheusEndpoints(ports, connection.flink))
                : Optional.empty();
        return endpoints.map(line -> new Check(flink.name(), flink.target(), flink.healthy(),
                flink.detail() + "\n" + line)).orElse(flink);
    }

    /**
     * Where the local stack's Flink processes serve their metrics for Prometheus, when the Flink asked about is the
     * local stack's (the Docker stack's are on port 9249 of each container).
     */
    static Optional<String> prometheusEndpoints(StackPorts ports, String flinkUrl) {
        if (java.net.URI.create(flinkUrl).getPort() != ports.flink()) {
            return Optional.empty();
        }
        List<String> taskManagers = new ArrayList<>();
        for (int i = 1; i <= FlinkCluster.TASK_MANAGERS; i++) {
            taskManagers.add(FlinkCluster.metricsUrl(ports.taskManagerMetrics(i)));
        }
        return Optional.of("metrics for Prometheus: " + FlinkCluster.metricsUrl(ports.jobManagerMetrics())
                + " (JobManager), " + String.join(", ", taskManagers) + " (TaskManagers: the job's own)");
    }

    /** The job's line, the line on its writes to Elasticsearch, and how often it commits its Kafka offsets. */
    record JobReport(Check job, Check writes, long checkpointIntervalMs) {

        static JobReport unknown(String name, String elasticsearch, Check flink) {
            String unknown = "unknown: " + flink.name() + " not reachable";
            return new JobReport(new Check("Flink job", name, false, unknown), new Check(WRITES, elasticsearch, false,
                    unknown), DEFAULT_CHECKPOINT_INTERVAL_MS);
        }
    }

    private static final String WRITES = "index writes";
    private static final long DEFAULT_CHECKPOINT_INTERVAL_MS = Long.parseLong(
            JobOptions.CHECKPOINT_INTERVAL_MS.defaultValue());
    /** What the job's exception says when Elasticsearch answered 401 or 403 (ElasticsearchIndexWriter). */
    private static final String REFUSED = "refused the job's request (authentication or authorization): ";

    /**
     * The job's state, restarts, last checkpoint and last exception, and whether Elasticsearch refuses its writes (401,
     * 403: the exception says so) or pushes back (429: the writer's {@code rejectedTooManyRequestsPerSecond} meter, its
     * rate over the last minute; two reads of a counter a few seconds apart would not do, since Flink's REST API
     * refreshes metrics only every 10 s).
     */
    static JobReport job(FlinkRest flink, String name, String elasticsearch, Optional<String> resumes, Clock clock) {
        try {
            return liveJob(flink, name, elasticsearch, resumes, clock);
        } catch (Exception e) {
            String failed = "could not ask Flink: " + reason(e);
            return new JobReport(new Check("Flink job", name, false, failed), new Check(WRITES, elasticsearch, false,
                    failed), DEFAULT_CHECKPOINT_INTERVAL_MS);
        }
    }

    private static JobReport liveJob(FlinkRest flink, String name, String elasticsearch, Optional<String> resumes,
            Clock clock) throws Exception {
        long now = clock.millis();
        Optional<FlinkRest.Job> job = flink.liveJob(name);
        if (job.isEmpty()) {
            List<String> lines = new ArrayList<>(List.of("not running (./cdc submit)"));
            Optional<FlinkRest.Job> last = flink.earlierJobs(name).stream().findFirst();
            if (last.isPresent() && "FAILED".equals(last.get().state())) {
                lastException(flink, last.get().id(), clock).ifPresent(failure -> lines.add(
                        "the last one, " + last.get().id() + ", failed at " + failure.line()));
            }
            resumes.ifPresent(lines::add);
            return new JobReport(new Check("Flink job", name, false, String.join("\n", lines)),
                    new Check(WRITES, elasticsearch, false, "unknown: no job running"), DEFAULT_CHECKPOINT_INTERVAL_MS);
        }
        String id = job.get().id();
        String state = job.get().state();
        JsonNode checkpoints = flink.checkpoints(id);
        JsonNode latest = checkpoints.path("latest").path("completed");
        boolean none = latest.isMissingNode() || latest.isNull();
        long sinceLast = none ? 0 : now - latest.path("latest_ack_timestamp").asLong();
        String last = none ? "no checkpoint yet"
                : String.format("last checkpoint #%d %s ago", latest.path("id").asLong(), ago(sinceLast));
        long failedCheckpoints = checkpoints.path("counts").path("failed").asLong();
        // Checkpoints that stop completing (e.g. the sink waiting out an Elasticsearch outage) hold back offsets.
        long interval = flink.checkpointConfig(id).path("interval").asLong(0);
        boolean stalled = interval > 0 && sinceLast > Math.max(3 * interval, 60_000);
        long restarts = flink.jobMetric(id, "numRestarts").map(Double::longValue).orElse(0L);
        // A failure in the last few minutes: a job that restarts over and over (refused credentials, say) is RUNNING
        // between two failures, so its state alone would look healthy.
        Optional<Failure> failure = lastException(flink, id, clock);
        boolean failing = failure.isPresent() && now - failure.get().at() < RECENT_FAILURE_MS;

        List<String> lines = new ArrayList<>();
        lines.add(state + " (" + id + ")" + (restarts > 0 ? ", restarted " + times(restarts) : "") + ", " + last
                + (failedCheckpoints > 0 ? ", " + failedCheckpoints + " failed" : "")
                + (stalled ? " (checkpoints stalled: every " + ago(interval) + " expected)" : ""));
        failure.ifPresent(f -> lines.add("last exception at " + f.line()));
        resumes.ifPresent(lines::add);
        Check jobCheck = new Check("Flink job", name, "RUNNING".equals(state) && !stalled && !failing,
                String.join("\n", lines));

        Check writes;
        Optional<Double> perSecond = flink.operatorMetricSum(id, "rejectedTooManyRequestsPerSecond");
        if (failing && failure.get().cause().contains(REFUSED)) {
            writes = new Check(WRITES, elasticsearch, false, "Elasticsearch refuses the job's writes (401/403): "
                    + refusal(failure.get().cause()));
        } else if (perSecond.isPresent() && perSecond.get() > 0) {
            long lastMinute = Math.max(1, Math.round(perSecond.get() * 60));
            Optional<Double> total = flink.operatorMetricSum(id, "rejectedTooManyRequests");
            writes = new Check(WRITES, elasticsearch, false, "Elasticsearch is pushing back (429): " + count(lastMinute)
                    + (lastMinute == 1 ? " retry" : " retries") + " in the last minute"
                    + total.map(n -> " (" + count(n.longValue()) + " since the job's tasks started)").orElse("")
                    + "; the writer retries them, indexing slows down");
        } else {
            writes = new Check(WRITES, elasticsearch, true, "no refusals" + (perSecond.isPresent()
                    ? ", no 429 in the last minute" : "; 429s unknown (the job reports no rejectedTooManyRequests yet)"));
        }
        return new JobReport(jobCheck, writes, interval > 0 ? interval : DEFAULT_CHECKPOINT_INTERVAL_MS);
    }

    private static final String DELAY = "index delay";
    private static final String DELAY_TARGET = "commit → acknowledged";

    /**
     * How long after their commit in PostgreSQL the job's recent writes were acknowledged by Elasticsearch: the p99 of
     * the writer's {@code commitToAcknowledgedMs} histogram (its values of the last {@link Histograms#MAX_AGE_MS}), of
     * the slowest subtask. Said, not judged: a job falling
     * behind shows in the consumer lag.
     */
    static Check delay(FlinkRest flink, String name) {
        try {
            Optional<FlinkRest.Job> job = flink.liveJob(name);
            if (job.isEmpty()) {
                return new Check(DELAY, DELAY_TARGET, false, "unknown: no job running");
            }
            Optional<Double> p99 = flink.operatorMetricMax(job.get().id(), "commitToAcknowledgedMs_p99");
            String window = Histograms.MAX_AGE_MS / 60_000 + " min";
            return new Check(DELAY, DELAY_TARGET, true, p99.map(ms -> "p99 " + millis(ms) + " (the slowest subtask's, "
                    + "over its last " + count(Histograms.WINDOW) + " writes of the last " + window + ")")
                    .orElse("not measured (no write acknowledged in the last " + window + ")"));
        } catch (Exception e) {
            return new Check(DELAY, DELAY_TARGET, false, "could not ask Flink: " + reason(e));
        }
    }

    /** A delay in words: "850 ms", "2.3 s", "3 min". */
    static String millis(double ms) {
        if (ms < 1_000) {
            return Math.round(ms) + " ms";
        }
        return ms < 120_000 ? String.format(Locale.ROOT, "%.1f s", ms / 1_000) : ago(Math.round(ms));
    }

    /** A job's most recent exception: when, its root cause, and both as words ({@code 12:02:48 (12 s ago): ...}). */
    private record Failure(long at, String cause, String line) {}

    private static Optional<Failure> lastException(FlinkRest flink, String jobId, Clock clock) throws Exception {
        JsonNode entry = flink.exceptions(jobId).path("exceptionHistory").path("entries").path(0);
        if (entry.isMissingNode() || !entry.has("timestamp")) {
            return Optional.empty();
        }
        long at = entry.path("timestamp").asLong();
        String cause = rootCause(entry.path("stacktrace").asText(entry.path("exceptionName").asText("?")));
        return Optional.of(new Failure(at, cause, SupervisorReport.at(Instant.ofEpochMilli(at), clock) + " ("
                + ago(clock.millis() - at) + " ago): " + cause));
    }

    /** Elasticsearch's reason from a refusal's message: what follows the marker, up to the writer's own advice. */
    static String refusal(String cause) {
        String reason = cause.substring(cause.indexOf(REFUSED) + REFUSED.length());
        int advice = reason.indexOf(". Check the credentials");
        return advice < 0 ? reason : reason.substring(0, advice);
    }

    private static String times(long n) {
        return n == 1 ? "once" : n + " times";
    }

    private static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    private static final long RECENT_FAILURE_MS = 300_000;

    /** The most specific line of a Java stack trace: its last {@code Caused by:}, else its first line. */
    static String rootCause(String stackTrace) {
        String cause = stackTrace.lines().findFirst().orElse("");
        for (String line : (Iterable<String>) stackTrace.lines()::iterator) {
            if (line.startsWith("Caused by: ")) {
                cause = line.substring("Caused by: ".length());
            }
        }
        return cause;
    }

    private Seen elasticsearch() throws Exception {
        JsonNode health = connection.elasticsearchClient().get("/_cluster/health");
        String status = health.path("status").asText("?");
        return new Seen(!"red".equals(status), "cluster " + status);
    }

    private Seen indices() throws Exception {
        ElasticsearchHttp es = connection.elasticsearchClient();
        JsonNode mappings = es.get("/_mapping");
        Map<String, Long> topLevel = new HashMap<>();
        for (String index : withNestedObjects(mappings)) {
            topLevel.put(index, es.count(index));
        }
        List<String> lines = indexLines(
                es.get("/_cat/indices?format=json&h=index,docs.count&s=index"),
                es.get("/_alias"),
                mappings,
                es.getIfExists("/" + IndexMappingFunction.REINDEX_INDEX + "/_search?size=1000")
                        .map(found -> found.path("hits").path("hits")).orElse(Json.array()),
                topLevel);
        return new Seen(true, lines.isEmpty() ? "none yet" : String.join("\n", lines));
    }

    /**
     * One line per index users search: an alias with the physical index behind it, its mapping (the fingerprint the job
     * recorded in the mapping's {@code _meta}) and its documents; an index without alias as it is, noting a mapping
     * Elasticsearch guessed.
     *
     * @param catIndices {@code GET _cat/indices?format=json&h=index,docs.count}
     * @param aliases {@code GET _alias}
     * @param mappings {@code GET _mapping}
     * @param reindexes the hits of {@code GET cdc-indexer-reindex/_search}: the reindexes under way
     * @param topLevelCounts by index, its {@code _count}, for the indices {@link #withNestedObjects} names: there
     *     {@code docs.count} counts every nested object as a document too
     */
    static List<String> indexLines(JsonNode catIndices, JsonNode aliases, JsonNode mappings, JsonNode reindexes,
            Map<String, Long> topLevelCounts) {
        Map<String, JsonNode> reindexing = new HashMap<>();
        for (JsonNode hit : reindexes) {
            reindexing.put(hit.path("_id").asText(), hit.path("_source"));
        }
        Map<String, List<String>> behind = new TreeMap<>();
        aliases.fields().forEachRemaining(index -> index.getValue().path("aliases").fieldNames()
                .forEachRemaining(alias -> behind.computeIfAbsent(alias, a -> new ArrayList<>()).add(index.getKey())));
        Map<String, String> counts = new TreeMap<>();
        for (JsonNode index : catIndices) {
            counts.put(index.path("index").asText(), index.path("docs.count").asText("?"));
        }
        topLevelCounts.forEach((index, count) -> counts.put(index, Long.toString(count)));
        List<String> lines = new ArrayList<>();
        Set<String> shown = new HashSet<>();
        behind.forEach((alias, indices) -> {
            if (alias.startsWith(".")) {
                return;
            }
            List<String> parts = new ArrayList<>();
            for (String index : indices) {
                shown.add(index);
                parts.add(index + " (" + mappingOf(mappings.path(index)) + ", " + counts.getOrDefault(index, "?")
                        + " documents)");
            }
            String line = alias + " → " + String.join(", ", parts);
            JsonNode reindex = reindexing.get(alias);
            if (reindex != null) {
                String next = reindex.path("to").asText();
                shown.add(next);
                line += "; reindexing into " + next + " since " + reindex.path("startedAt").asText() + " ("
                        + mappingOf(mappings.path(next)) + ", " + counts.getOrDefault(next, "0") + " documents so far)";
            }
            lines.add(line);
        });
        counts.forEach((index, count) -> {
            if (!index.startsWith(".") && !shown.contains(index) && !index.equals(IndexMappingFunction.REINDEX_INDEX)) {
                lines.add(index + ": " + count + " documents, " + mappingOf(mappings.path(index)));
            }
        });
        return lines;
    }

    /** The indices (of {@code GET _mapping}) that map a field {@code nested}, such as joined documents' children. */
    static List<String> withNestedObjects(JsonNode mappings) {
        List<String> indices = new ArrayList<>();
        mappings.fields().forEachRemaining(index -> {
            if (hasNested(index.getValue().path("mappings").path("properties"))) {
                indices.add(index.getKey());
            }
        });
        return indices;
    }

    private static boolean hasNested(JsonNode properties) {
        for (JsonNode field : properties) {
            if (field.path("type").asText().equals("nested") || hasNested(field.path("properties"))) {
                return true;
            }
        }
        return false;
    }

    private static String mappingOf(JsonNode index) {
        JsonNode meta = index.path("mappings").path("_meta").path(IndexMappingFunction.META);
        String mapping = meta.has("mapping") ? "mapping " + meta.path("mapping").asText()
                : meta.has("document") ? "mapping of joined documents" : "mapping guessed by Elasticsearch";
        // InitialLoad: the documents Elasticsearch counts are the refreshed ones.
        return InitialLoad.settingsToRestore(index) == null ? mapping
                : mapping + ", first filled by a snapshot without refresh: documents not counted or searchable until "
                        + "its snapshot is over, or the job puts refresh back";
    }

    /** A short human duration: "12 s", "3 min", "2 h". */
    static String ago(long millis) {
        Duration duration = Duration.ofMillis(Math.max(0, millis));
        if (duration.toSeconds() < 120) {
            return duration.toSeconds() + " s";
        }
        return duration.toMinutes() < 120 ? duration.toMinutes() + " min" : duration.toHours() + " h";
    }
}
