package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;

import io.cdcindexer.job.JobOptions;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.ProjectHome;
import io.cdcindexer.stack.Stack;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
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
            "Shows, on one screen: each service (reachable? its PID when ./cdc up started it), the replication slot and "
                    + "its lag, the connector and its tasks, the change topics, the Flink job and its last checkpoint, "
                    + "and each index with its document count.",
            "Works against the local stack and the Docker stack alike. Exit code 0 when all is healthy, 1 otherwise.",
        })
public final class StatusCommand implements Callable<Integer> {

    private static final int TIMEOUT_SECONDS = 3;
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
    public Integer call() {
        try (Admin admin = admin()) {
            return report(admin);
        }
    }

    private int report(Admin admin) {
        ConnectorNames names = ConnectorNames.fromConfig();
        Map<String, ProcessHandle> recorded = Stack.running(dataDir.resolve());
        Check postgres = check("PostgreSQL", connection.jdbcUrl(), pids(recorded, "postgres/"), this::postgres);
        Check kafka = check("Kafka", connection.kafka, pids(recorded, "kafka/"), () -> kafka(admin));
        Check connect = check("Kafka Connect", connection.connect, pids(recorded, "connect/"), this::connect);
        Check flink = check("Flink", connection.flink, pids(recorded, "flink/"), this::flink);
        Check elasticsearch = check("Elasticsearch", connection.elasticsearch, pids(recorded, "elasticsearch/"),
                this::elasticsearch);
        String jobName = JobOptions.JOB_NAME.defaultValue();
        List<Check> checks = List.of(postgres, kafka, connect, flink, elasticsearch,
                after(postgres, "replication slot", names.slot(), () -> slot(names.slot())),
                after(postgres, "captured tables", "public.*", this::tables),
                after(connect, "connector", names.connector(), () -> connector(names.connector())),
                after(kafka, "topics", names.topicPrefix() + ".*", () -> topics(admin, names.topicPrefix())),
                after(flink, "Flink job", jobName, () -> job(jobName)),
                after(elasticsearch, "indices", "", this::indices));

        PrintWriter out = spec.commandLine().getOut();
        out.print(render(checks));
        out.flush();
        return checks.stream().allMatch(Check::healthy) ? 0 : 1;
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
    private record Seen(boolean healthy, String detail) {}

    @FunctionalInterface
    private interface Probe {
        Seen probe() throws Exception;
    }

    private static Check check(String name, String target, String pids, Probe probe) {
        Seen seen;
        try {
            seen = probe.probe();
        } catch (Exception e) {
            seen = new Seen(false, UNREACHABLE + reason(e));
        }
        return new Check(name, target, seen.healthy(), seen.detail() + pids);
    }

    /** A check of something inside a service, made only when the service answers. */
    private static Check after(Check service, String name, String target, Probe probe) {
        return service.healthy() || !service.detail().startsWith(UNREACHABLE) ? check(name, target, "", probe)
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

    private Seen slot(String slot) throws Exception {
        String sql = "SELECT plugin, active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)) "
                + "FROM pg_replication_slots WHERE slot_name = ?";
        try (Connection db = database(); PreparedStatement statement = db.prepareStatement(sql)) {
            statement.setString(1, slot);
            try (ResultSet rs = statement.executeQuery()) {
                if (!rs.next()) {
                    return new Seen(false, "missing (the connector creates it: ./cdc setup-connectors)");
                }
                boolean active = rs.getBoolean(2);
                return new Seen(active, (active ? "active" : "inactive (no connector reads it; the WAL piles up)")
                        + ", " + rs.getString(1) + ", lag " + rs.getString(3));
            }
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
        Properties properties = new Properties();
        properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, connection.kafka);
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
                .map(topic -> topic.name() + " (" + topic.partitions().size() + " partitions)")
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

    private Seen job(String name) throws Exception {
        FlinkRest flink = new FlinkRest(connection.flink);
        Optional<FlinkRest.Job> job = flink.liveJob(name);
        if (job.isEmpty()) {
            return new Seen(false, "not running (./cdc submit)");
        }
        JsonNode checkpoints = flink.checkpoints(job.get().id());
        JsonNode latest = checkpoints.path("latest").path("completed");
        String last = latest.isMissingNode() || latest.isNull() ? "no checkpoint yet"
                : String.format("last checkpoint #%d %s ago", latest.path("id").asLong(),
                        ago(System.currentTimeMillis() - latest.path("latest_ack_timestamp").asLong()));
        long failed = checkpoints.path("counts").path("failed").asLong();
        // Checkpoints that stop completing (e.g. the sink waiting out an Elasticsearch outage) hold back offsets.
        long interval = flink.checkpointConfig(job.get().id()).path("interval").asLong(0);
        long sinceLast = latest.isMissingNode() || latest.isNull() ? 0
                : System.currentTimeMillis() - latest.path("latest_ack_timestamp").asLong();
        boolean stalled = interval > 0 && sinceLast > Math.max(3 * interval, 60_000);
        // A failure in the last few minutes: a job that restarts over and over (refused credentials, say) is RUNNING
        // between two failures, so its state alone would look healthy.
        JsonNode failure = flink.exceptions(job.get().id()).path("exceptionHistory").path("entries").path(0);
        long failedAgo = System.currentTimeMillis() - failure.path("timestamp").asLong();
        boolean failing = !failure.isMissingNode() && failedAgo < RECENT_FAILURE_MS;
        return new Seen("RUNNING".equals(job.get().state()) && !stalled && !failing, job.get().state() + " ("
                + job.get().id() + "), " + last + (failed > 0 ? ", " + failed + " failed" : "")
                + (stalled ? " (checkpoints stalled: every " + ago(interval) + " expected)" : "")
                + (failing ? "\nfailed " + ago(failedAgo) + " ago: " + rootCause(failure.path("stacktrace").asText()) : ""));
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
        JsonNode health = Http.get(connection.elasticsearch + "/_cluster/health").json();
        String status = health.path("status").asText("?");
        return new Seen(!"red".equals(status), "cluster " + status);
    }

    private Seen indices() throws Exception {
        JsonNode indices = Http.get(connection.elasticsearch + "/_cat/indices?format=json&h=index,health,docs.count&s=index").json();
        List<String> lines = new ArrayList<>();
        for (JsonNode index : indices) {
            String name = index.path("index").asText();
            if (!name.startsWith(".")) {
                lines.add(name + ": " + index.path("docs.count").asText("?") + " documents");
            }
        }
        return new Seen(true, lines.isEmpty() ? "none yet" : String.join("\n", lines));
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
