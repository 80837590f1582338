package io.cdcindexer.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.connector.kafka.source.metrics.KafkaSourceReaderMetrics;
import org.apache.flink.runtime.metrics.MetricNames;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * Holds the Docker stack's monitoring to the job and to itself, reading the files as they are checked in: Prometheus
 * (docker/prometheus/prometheus.yml) scrapes every Flink service on the port of Flink's Prometheus reporter
 * (flink-conf/config.yaml); Grafana provisions the Prometheus data source and the dashboard
 * docker/grafana/dashboards/cdc-indexer.json from the folders docker-compose.yml mounts; and every query of the
 * dashboard names only metrics that exist, by the names Flink's Prometheus reporter gives them: the job's own, which
 * src/main registers, and Flink's.
 */
class DashboardFileTest {

    private static final Path DASHBOARD = Path.of("docker/grafana/dashboards/cdc-indexer.json");
    private static final Path DATASOURCES = Path.of("docker/grafana/provisioning/datasources/prometheus.yml");
    private static final Path DASHBOARD_PROVIDERS = Path.of("docker/grafana/provisioning/dashboards/cdc-indexer.yml");
    private static final Path PROMETHEUS_CONFIG = Path.of("docker/prometheus/prometheus.yml");
    private static final Path FLINK_CONF = Path.of("flink-conf/config.yaml");
    private static final Path DOCKERFILE = Path.of("docker/Dockerfile");
    private static final Path MAIN_SOURCES = Path.of("src/main/java");

    /**
     * How Flink's Prometheus reporter names an operator's metric: this prefix, then the metric's name, after the key of
     * each key/value group ({@code addGroup("table", t).counter("changesDecoded")} gives
     * {@code ..._table_changesDecoded} with the label {@code table}).
     */
    static final String OPERATOR = "flink_taskmanager_job_task_operator_";
    /** How it names a job's metric on the JobManager. */
    static final String JOB = "flink_jobmanager_job_";

    /** The keys of the job's key/value metric groups (issue 11's contract). */
    static final Set<String> GROUP_KEYS = Set.of("table", "reason", "status");

    /** The job's own operator metrics (issue 11's contract), without {@link #OPERATOR}: src/main registers each. */
    static final Set<String> JOB_METRICS = Set.of(
            "changesDecoded", "table_changesDecoded", "tombstones", "deadLetters", "reason_deadLetters",
            "changesCollapsed", "transactionsCompleted", "transactionsTimedOut", "transactionsFlushedEarly",
            "transactionsPending", "staleChangesDropped",
            "documentsIndexed", "documentsDeleted", "staleWritesSkipped", "actionsRetried", "status_actionsRetried",
            "rejectedTooManyRequests", "bulkRequests", "bulkRequestsInFlight",
            "bulkRequestLatencyMs", "bulkRequestActions", "bulkRequestBytes",
            "commitToAcknowledgedMs", "table_commitToAcknowledgedMs");

    /**
     * What Flink 1.20 and its Kafka connector register by themselves, by their constants where they are public
     * (checkpoint metrics: Flink 1.20's CheckpointStatsTracker). The Kafka consumer's own metrics keep their names,
     * with '-' turned into '_' by the reporter.
     */
    static final Set<String> FLINK_METRICS = Set.of(
            OPERATOR + MetricNames.PENDING_RECORDS,
            OPERATOR + KafkaSourceReaderMetrics.KAFKA_SOURCE_READER_METRIC_GROUP + "_"
                    + KafkaSourceReaderMetrics.KAFKA_CONSUMER_METRIC_GROUP + "_records_lag_max",
            JOB + MetricNames.NUM_RESTARTS,
            JOB + "numberOfCompletedCheckpoints",
            JOB + "numberOfFailedCheckpoints",
            JOB + "lastCheckpointDuration",
            JOB + "lastCheckpointSize");

    /** What the dashboard must show (issue 11): throughput, lag, delay, dead letters, Elasticsearch errors, checkpoints. */
    static final Set<String> REQUIRED = Set.of(
            OPERATOR + "documentsIndexed", OPERATOR + "documentsDeleted", OPERATOR + "table_changesDecoded",
            OPERATOR + MetricNames.PENDING_RECORDS, OPERATOR + "commitToAcknowledgedMs",
            OPERATOR + "reason_deadLetters", OPERATOR + "status_actionsRetried", OPERATOR + "rejectedTooManyRequests",
            JOB + "numberOfCompletedCheckpoints", JOB + "numberOfFailedCheckpoints", JOB + MetricNames.NUM_RESTARTS);

    /** The delay percentiles the dashboard shows, as Flink's reporter labels a histogram's quantiles. */
    static final Set<String> DELAY_QUANTILES = Set.of("0.5", "0.99");

    /** The PromQL functions, aggregations and keywords a dashboard may use: every other name in a query is a metric. */
    static final Set<String> PROMQL_WORDS = Set.of(
            "sum", "max", "min", "avg", "count", "topk", "bottomk", "quantile", "rate", "irate", "increase", "delta",
            "deriv", "max_over_time", "min_over_time", "avg_over_time", "histogram_quantile", "clamp_min", "clamp_max",
            "abs", "vector", "scalar", "time", "by", "without", "on", "ignoring", "group_left", "group_right", "and",
            "or", "unless", "offset", "bool");


    private final Map<String, Object> compose = ComposeFileReader.read(ComposeFileReader.COMPOSE_FILE,
            ComposeFileReader.readEnvFile(ComposeFileReader.ENV_FILE));
    private final JsonNode dashboard = ConfigFiles.readJson(DASHBOARD);

    @Test
    void theDashboardIsAGrafanaDashboardOnTheProvisionedDataSource() {
        String uid = String.valueOf(firstDataSource().get("uid"));
        SoftAssertions softly = new SoftAssertions();
        softly.assertThat(dashboard.path("uid").asText()).as("uid of %s", DASHBOARD).isNotBlank();
        softly.assertThat(dashboard.path("title").asText()).as("title of %s", DASHBOARD).isNotBlank();
        List<JsonNode> panels = panels();
        softly.assertThat(panels).as("panels of %s", DASHBOARD).hasSizeGreaterThanOrEqualTo(REQUIRED.size() / 2);
        softly.assertThat(panels.stream().map(p -> p.path("id").asInt()).distinct().count())
                .as("panel ids of %s must be unique", DASHBOARD).isEqualTo((long) panels.size());
        for (JsonNode panel : panels) {
            if (panel.path("type").asText().equals("row")) {
                continue;
            }
            String title = panel.path("title").asText();
            softly.assertThat(panel.path("datasource").path("uid").asText())
                    .as("data source of panel '%s' vs the uid %s provisions", title, DATASOURCES).isEqualTo(uid);
            softly.assertThat(panel.path("targets").size()).as("queries of panel '%s'", title).isPositive();
            panel.path("targets").forEach(target -> softly.assertThat(target.path("expr").asText())
                    .as("a query of panel '%s'", title).isNotBlank());
        }
        dashboard.path("templating").path("list").forEach(variable -> softly.assertThat(
                variable.path("datasource").path("uid").asText())
                .as("data source of variable '%s'", variable.path("name").asText()).isEqualTo(uid));
        softly.assertAll();
    }

    @Test
    void everyQueryNamesOnlyKnownMetrics() {
        Set<String> known = new TreeSet<>(FLINK_METRICS);
        JOB_METRICS.forEach(name -> known.add(OPERATOR + name));
        SoftAssertions softly = new SoftAssertions();
        queries().forEach((where, expr) -> {
            Set<String> metrics = metricNames(expr);
            softly.assertThat(metrics).as("metrics in %s: %s", where, expr).isNotEmpty();
            softly.assertThat(metrics).as("metrics in %s: %s (a name that is neither a metric of the contract's list"
                    + " nor a PromQL word this test knows)", where, expr).isSubsetOf(known);
        });
        softly.assertAll();
    }

    @Test
    void theDashboardShowsWhatAnOperatorNeeds() {
        Set<String> used = queries().values().stream().flatMap(expr -> metricNames(expr).stream())
                .collect(Collectors.toCollection(TreeSet::new));
        assertThat(used).as("metrics %s shows", DASHBOARD).containsAll(REQUIRED);

        Set<String> quantiles = new TreeSet<>();
        Matcher quantile = Pattern.compile(Pattern.quote(OPERATOR) + "commitToAcknowledgedMs\\{[^}]*quantile=\"([0-9.]+)\"")
                .matcher(String.join("\n", queries().values()));
        while (quantile.find()) {
            quantiles.add(quantile.group(1));
        }
        assertThat(quantiles).as("quantiles of commitToAcknowledgedMs that %s shows", DASHBOARD)
                .containsAll(DELAY_QUANTILES);
    }

    @Test
    void theJobRegistersItsMetricsThatTheDashboardShows() throws IOException {
        String sources = mainSources();
        Set<String> used = queries().values().stream().flatMap(expr -> metricNames(expr).stream())
                .filter(name -> name.startsWith(OPERATOR) && JOB_METRICS.contains(name.substring(OPERATOR.length())))
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> missing = new TreeSet<>();
        for (String metric : used) {
            String name = metric.substring(OPERATOR.length());
            for (String key : GROUP_KEYS) {
                if (name.startsWith(key + "_")) {
                    if (!sources.contains("\"" + key + "\"") || !sources.contains("addGroup(")) {
                        missing.add(metric + " (no addGroup with the key \"" + key + "\")");
                    }
                    name = name.substring(key.length() + 1);
                }
            }
            if (!sources.contains("\"" + name + "\"")) {
                missing.add(metric + " (no metric \"" + name + "\")");
            }
        }
        assertThat(missing).as("metrics %s shows that the job does not register: src/main/java names them nowhere",
                DASHBOARD).isEmpty();
    }

    @Test
    void prometheusScrapesEveryFlinkServiceOnTheReportersPort() {
        Map<String, String> flinkConf = ConfigFiles.flatten(ConfigFiles.yaml(ConfigFiles.read(FLINK_CONF)));
        assertThat(flinkConf.get("metrics.reporter.prom.factory.class")).as("the Prometheus reporter in %s", FLINK_CONF)
                .isEqualTo("org.apache.flink.metrics.prometheus.PrometheusReporterFactory");
        String port = flinkConf.get("metrics.reporter.prom.port");
        assertThat(port).as("metrics.reporter.prom.port in %s: one port, each Flink container has its own", FLINK_CONF)
                .matches("\\d+");

        Set<String> expected = new TreeSet<>();
        for (String name : services().keySet()) {
            Object command = service(name).get("command");
            if ("jobmanager".equals(command) || "taskmanager".equals(command)) {
                expected.add(service(name).get("hostname") + ":" + port);
            }
        }
        assertThat(expected).as("Flink services of %s", ComposeFileReader.COMPOSE_FILE).hasSize(3);
        Set<String> targets = new TreeSet<>();
        Map<String, Object> prometheus = asMap(ConfigFiles.yaml(ConfigFiles.read(PROMETHEUS_CONFIG)), PROMETHEUS_CONFIG.toString());
        for (Object job : (List<?>) prometheus.get("scrape_configs")) {
            for (Object config : (List<?>) asMap(job, "a scrape config").getOrDefault("static_configs", List.of())) {
                ((List<?>) asMap(config, "a static config").get("targets")).forEach(t -> targets.add(String.valueOf(t)));
            }
        }
        assertThat(targets).as("targets in %s vs the JobManager and TaskManager services on metrics.reporter.prom.port",
                PROMETHEUS_CONFIG).isEqualTo(expected);

        List<String> command = stringList(service("prometheus").get("command"));
        String configFile = command.stream().filter(a -> a.startsWith("--config.file=")).findFirst()
                .map(a -> a.substring("--config.file=".length())).orElse("(no --config.file)");
        assertThat(ComposeFileReader.hostPathOf(service("prometheus"), configFile))
                .as("--config.file of service 'prometheus' vs %s", PROMETHEUS_CONFIG).contains(PROMETHEUS_CONFIG);
    }

    @Test
    void theFlinkImageHasThePrometheusReporter() {
        String dockerfile = ConfigFiles.read(DOCKERFILE);
        // The flink image ships the reporter as a plugin; copied to lib/ as well, it would be loaded twice.
        assertThat(dockerfile).as("%s must check that the Flink image has the reporter plugin", DOCKERFILE)
                .contains("RUN ls /opt/flink/plugins/metrics-prometheus/flink-metrics-prometheus-*.jar")
                .doesNotContain("/opt/flink/lib/flink-metrics-prometheus");
    }

    @Test
    void grafanaProvisionsTheDataSourceAndTheDashboard() {
        Map<String, Object> grafana = service("grafana");
        SoftAssertions softly = new SoftAssertions();
        softly.assertThat(ComposeFileReader.hostPathOf(grafana, "/etc/grafana/provisioning"))
                .as("Grafana's provisioning folder in service 'grafana'").contains(DATASOURCES.getParent().getParent());

        Map<String, Object> dataSource = firstDataSource();
        URI url = URI.create(String.valueOf(dataSource.get("url")));
        softly.assertThat(dataSource.get("type")).as("type of the data source in %s", DATASOURCES).isEqualTo("prometheus");
        softly.assertThat(url.getHost()).as("host of the data source in %s vs the Prometheus service", DATASOURCES)
                .isEqualTo("prometheus");
        softly.assertThat(containerPorts("prometheus")).as("container port of service 'prometheus' vs the data source")
                .contains(url.getPort());
        Map<String, Object> global = asMap(asMap(ConfigFiles.yaml(ConfigFiles.read(PROMETHEUS_CONFIG)), "").get("global"), "global");
        softly.assertThat(String.valueOf(asMap(dataSource.get("jsonData"), "jsonData").get("timeInterval")))
                .as("timeInterval of the data source in %s vs scrape_interval in %s", DATASOURCES, PROMETHEUS_CONFIG)
                .isEqualTo(String.valueOf(global.get("scrape_interval")));

        List<?> providers = (List<?>) asMap(ConfigFiles.yaml(ConfigFiles.read(DASHBOARD_PROVIDERS)), "").get("providers");
        softly.assertThat(providers).as("dashboard providers in %s", DASHBOARD_PROVIDERS).hasSize(1);
        String path = String.valueOf(asMap(asMap(providers.get(0), "provider").get("options"), "options").get("path"));
        softly.assertThat(ComposeFileReader.hostPathOf(grafana, path))
                .as("options.path of %s, as service 'grafana' mounts it", DASHBOARD_PROVIDERS).contains(DASHBOARD.getParent());
        String home = String.valueOf(environment("grafana").get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"));
        softly.assertThat(ComposeFileReader.hostPathOf(grafana, home)).as("Grafana's home dashboard %s", home)
                .contains(DASHBOARD);
        softly.assertThat(ComposeFileReader.mounts(grafana)).as("bind mounts of service 'grafana': read-only")
                .filteredOn(ComposeFileReader.Mount::isBindMount).allMatch(ComposeFileReader.Mount::readOnly);
        softly.assertAll();
    }

    /** The metric names in a PromQL expression: every name that is no PromQL word, outside strings, labels and ranges. */
    static Set<String> metricNames(String expr) {
        String names = expr.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"")
                .replaceAll("\\{[^}]*}", " ")
                .replaceAll("\\[[^]]*]", " ")
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", "$1 ");
        Set<String> metrics = new TreeSet<>();
        Matcher name = Pattern.compile("(?<![0-9.$\\w])[A-Za-z_:][A-Za-z0-9_:]*").matcher(names);
        while (name.find()) {
            if (!PROMQL_WORDS.contains(name.group())) {
                metrics.add(name.group());
            }
        }
        return metrics;
    }

    @Test
    void metricNamesSkipsWhatIsNoMetric() {
        assertThat(metricNames("sum by (table) (rate(" + OPERATOR + "table_changesDecoded{job_name=~\"$job\", x=\"a b\"}"
                + "[$__rate_interval])) offset 5m > 1e3")).containsExactly(OPERATOR + "table_changesDecoded");
        assertThat(metricNames("max(up) or vector(0)")).containsExactly("up");
    }

    /** Every query of the dashboard by where it stands: panel targets, and the metric of each label_values variable. */
    private Map<String, String> queries() {
        Map<String, String> queries = new LinkedHashMap<>();
        for (JsonNode panel : panels()) {
            panel.path("targets").forEach(target -> queries.put("panel '" + panel.path("title").asText() + "' query "
                    + target.path("refId").asText(), target.path("expr").asText()));
        }
        Pattern labelValues = Pattern.compile("label_values\\(\\s*([^,()]+?)\\s*,\\s*\\w+\\s*\\)");
        dashboard.path("templating").path("list").forEach(variable -> {
            JsonNode query = variable.path("query");
            String text = query.isObject() ? query.path("query").asText() : query.asText();
            Matcher matcher = labelValues.matcher(text);
            assertThat(matcher.matches()).as("query of variable '%s': label_values(metric, label)", variable.path("name"))
                    .isTrue();
            queries.put("variable '" + variable.path("name").asText() + "'", matcher.group(1));
        });
        return queries;
    }

    /** Every panel, those inside collapsed rows too. */
    private List<JsonNode> panels() {
        List<JsonNode> panels = new ArrayList<>();
        dashboard.path("panels").forEach(panel -> {
            panels.add(panel);
            panel.path("panels").forEach(panels::add);
        });
        return panels;
    }

    private Map<String, Object> firstDataSource() {
        List<?> sources = (List<?>) asMap(ConfigFiles.yaml(ConfigFiles.read(DATASOURCES)), DATASOURCES.toString()).get("datasources");
        assertThat(sources).as("datasources in %s", DATASOURCES).hasSize(1);
        return asMap(sources.get(0), "the data source in " + DATASOURCES);
    }

    private static String mainSources() throws IOException {
        try (Stream<Path> files = Files.walk(MAIN_SOURCES)) {
            return files.filter(f -> f.toString().endsWith(".java")).map(ConfigFiles::read)
                    .collect(Collectors.joining("\n"));
        }
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> services() {
        return (Map<String, Object>) compose.get("services");
    }

    private Map<String, Object> service(String name) {
        return asMap(services().get(name), "service '" + name + "' in " + ComposeFileReader.COMPOSE_FILE);
    }

    private Map<String, Object> environment(String name) {
        return asMap(service(name).get("environment"), "environment of service '" + name + "'");
    }

    private List<Integer> containerPorts(String name) {
        return stringList(service(name).getOrDefault("ports", List.of())).stream()
                .map(port -> Integer.parseInt(port.substring(port.lastIndexOf(':') + 1))).toList();
    }

    private static List<String> stringList(Object value) {
        return value instanceof List<?> list ? list.stream().map(String::valueOf).toList() : List.of(String.valueOf(value));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object node, String what) {
        assertThat(node).as(what).isInstanceOf(Map.class);
        return (Map<String, Object>) node;
    }
}
