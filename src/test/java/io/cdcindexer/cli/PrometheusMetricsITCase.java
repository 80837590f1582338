package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.kafka.TestProducers;

import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.ProjectHome;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's metrics as Prometheus scrapes them: the real job jar on the local stack's Flink cluster (two TaskManagers,
 * the reporter on a port of each), reading Debezium-shaped changes of two tables from a real Kafka broker (one record
 * malformed) and writing them to a real Elasticsearch node. The TaskManagers' endpoints must serve the new metric
 * families under the names the dashboard uses, with values that fit what was sent; the REST API must serve the p99
 * that {@code ./cdc status} shows. Needs {@code target/cdc-indexer-job.jar} (mvn package).
 */
@ExtendWith(SharedServices.class)
class PrometheusMetricsITCase {

    private static final String PREFIX = "prom";
    private static final String OPERATOR = "flink_taskmanager_job_task_operator_";
    private static final int USERS = 20;
    private static final int ORDERS = 10;

    @TempDir
    static Path dir;

    static KafkaBroker kafka;
    static ElasticsearchNode elasticsearch;
    static FlinkCluster flink;

    @BeforeAll
    static void start(KafkaBroker broker, ElasticsearchNode node) throws Exception {
        kafka = broker;
        elasticsearch = node;
        Properties properties = new Properties();
        properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        try (Admin admin = Admin.create(properties)) {
            admin.createTopics(List.of(new NewTopic(PREFIX + ".public.users", 2, (short) 1),
                    new NewTopic(PREFIX + ".public.orders", 1, (short) 1), new NewTopic(PREFIX + ".dlq", 1, (short) 1)))
                    .all().get(30, TimeUnit.SECONDS);
        }
        flink = FlinkCluster.start(dir.resolve("flink"), FreePorts.next());
    }

    @AfterAll
    static void stop() {
        if (flink != null) {
            flink.close();
        }
    }

    @Test
    void theTaskManagersServeTheJobsMetricsForPrometheus() throws Exception {
        Path jar = ProjectHome.dir().resolve(SubmitCommand.JOB_JAR);
        assertThat(jar).as("the job jar; build it with mvn -DskipTests package").isRegularFile();
        FlinkRest rest = new FlinkRest(flink.url());
        String job = SubmitCommand.submit(new PrintWriter(new StringWriter()), rest,
                CommittedOffsets.in(kafka.bootstrapServers()), jar, List.of(
                        "--kafka.bootstrap-servers", kafka.bootstrapServers(),
                        "--elasticsearch.hosts", elasticsearch.url(),
                        "--kafka.topic-pattern", PREFIX + "\\.public\\..*",
                        "--kafka.transaction-topic", "", // transactions ignored: each change is written as it comes
                        "--kafka.dlq-topic", PREFIX + ".dlq",
                        "--kafka.group-id", "prometheus-it",
                        "--kafka.starting-offsets", "earliest",
                        "--documents", ""), // the plain indices only: their writes are counted below
                SubmitCommand.Start.WITHOUT_STATE);
        try {
            produce();

            // The reporter reads the metrics when scraped: no fetch interval to wait for, only the job to catch up. A
            // scrape reads one family after another while the writer goes on, and a table's histogram is registered at
            // its first write: wait until every family asserted on below has caught up in the same scrape.
            List<Sample> scraped = awaitScrape(samples -> sum(samples, OPERATOR + "documentsIndexed", Map.of())
                    >= USERS + ORDERS && sum(samples, OPERATOR + "reason_deadLetters", Map.of("reason", "malformed")) >= 1
                    && sum(samples, OPERATOR + "commitToAcknowledgedMs_count", Map.of()) >= USERS + ORDERS
                    && Stream.of("public.users", "public.orders").allMatch(table -> !matching(samples,
                            OPERATOR + "table_commitToAcknowledgedMs", Map.of("table", table, "quantile", "0.99"))
                            .isEmpty()));

            assertThat(sum(scraped, OPERATOR + "documentsIndexed", Map.of())).isEqualTo(USERS + ORDERS);
            assertThat(sum(scraped, OPERATOR + "table_changesDecoded", Map.of("table", "public.users")))
                    .as("%s", like(scraped, "changesDecoded")).isEqualTo(USERS);
            assertThat(sum(scraped, OPERATOR + "table_changesDecoded", Map.of("table", "public.orders")))
                    .isEqualTo(ORDERS);
            assertThat(sum(scraped, OPERATOR + "reason_deadLetters", Map.of("reason", "malformed"))).isEqualTo(1);
            assertThat(sum(scraped, OPERATOR + "commitToAcknowledgedMs_count", Map.of()))
                    .as("one value per document written").isEqualTo(USERS + ORDERS);
            for (String table : List.of("public.users", "public.orders")) {
                List<Sample> p99 = matching(scraped, OPERATOR + "table_commitToAcknowledgedMs",
                        Map.of("table", table, "quantile", "0.99"));
                assertThat(p99).as("p99 of %s, from a TaskManager that wrote it", table).isNotEmpty()
                        .allSatisfy(sample -> assertThat(sample.value()).as("ms from commit to acknowledged")
                                .isBetween(0.0, 120_000.0));
            }
            assertThat(matching(scraped, OPERATOR + "bulkRequestLatencyMs", Map.of("quantile", "0.5")))
                    .isNotEmpty().allSatisfy(sample -> assertThat(sample.value()).isBetween(0.0, 60_000.0));
            assertThat(sum(scraped, OPERATOR + "bulkRequestActions_count", Map.of())).isPositive();
            assertThat(matching(scraped, OPERATOR + "bulkRequestBytes", Map.of("quantile", "0.99"))).isNotEmpty();
            assertThat(matching(scraped, OPERATOR + "pendingRecords", Map.of()))
                    .as("the Kafka source's lag: records not read yet").isNotEmpty();
            assertThat(matching(scraped, OPERATOR + "KafkaSourceReader_KafkaConsumer_records_lag_max", Map.of()))
                    .as("the Kafka consumer's own lag metric").isNotEmpty();
            assertThat(matching(scraped, OPERATOR + "KafkaSourceReader_topic_partition_currentOffset",
                    Map.of("topic", PREFIX + ".public.users"))).as("%s", like(scraped, "currentOffset")).isNotEmpty();
            assertThat(Http.get(flink.metricsUrls().get(0)).body()).as("the JobManager's endpoint")
                    .contains("flink_jobmanager_numRegisteredTaskManagers");

            // What ./cdc status reads: the REST API refreshes metrics at most every 10 s.
            Optional<Double> p99 = Optional.empty();
            Instant deadline = Instant.now().plusSeconds(30);
            while (p99.isEmpty() && Instant.now().isBefore(deadline)) {
                p99 = rest.operatorMetricMax(job, "commitToAcknowledgedMs_p99");
                Thread.sleep(p99.isEmpty() ? 500 : 0);
            }
            assertThat(p99).hasValueSatisfying(ms -> assertThat(ms).isBetween(0.0, 120_000.0));
            assertThat(StatusCommand.delay(rest, "cdc-indexer").detail()).startsWith("p99 ");
        } finally {
            rest.cancel(job, Duration.ofMinutes(1));
        }
    }

    // Changes committed "now" (source.ts_ms), schemas disabled, and one record that is not JSON.
    private static void produce() {
        try (KafkaProducer<String, String> producer = TestProducers.strings(kafka.bootstrapServers())) {
            for (int id = 1; id <= USERS; id++) {
                producer.send(change("users", id, "c"));
            }
            for (int id = 1; id <= ORDERS; id++) {
                producer.send(change("orders", id, "c"));
            }
            producer.send(new ProducerRecord<>(PREFIX + ".public.users", "{\"id\":999}", "{\"op\":"));
            producer.flush();
        }
    }

    private static ProducerRecord<String, String> change(String table, int id, String op) {
        ObjectNode value = Json.object();
        value.putNull("before");
        value.putObject("after").put("id", id).put("name", table + " " + id);
        value.putObject("source").put("connector", "postgresql").put("db", "testdb").put("schema", "public")
                .put("table", table).put("lsn", 1_000L + id).put("txId", 700 + id)
                .put("ts_ms", System.currentTimeMillis()).put("snapshot", "false");
        value.putNull("transaction");
        value.put("op", op).put("ts_ms", System.currentTimeMillis());
        return new ProducerRecord<>(PREFIX + ".public." + table, "{\"id\":" + id + "}", value.toString());
    }

    /** One line of Prometheus's text format: {@code name{label="value",...} value}. */
    record Sample(String name, Map<String, String> labels, double value) {

        static Sample parse(String line) {
            int brace = line.indexOf('{');
            int space = line.lastIndexOf(' ');
            String name = line.substring(0, brace < 0 ? space : brace);
            Map<String, String> labels = new LinkedHashMap<>();
            if (brace >= 0) {
                String body = line.substring(brace + 1, line.lastIndexOf('}'));
                // Flink's label values carry no quotes or commas here: split on the quotes.
                for (String pair : body.split("\",")) {
                    int equals = pair.indexOf('=');
                    if (equals > 0) {
                        labels.put(pair.substring(0, equals), pair.substring(equals + 2).replaceAll("\"$", ""));
                    }
                }
            }
            return new Sample(name, labels, Double.parseDouble(line.substring(space + 1)));
        }
    }

    /** Every sample the TaskManagers serve now. */
    private static List<Sample> scrape() throws Exception {
        List<Sample> samples = new ArrayList<>();
        for (String url : flink.metricsUrls().subList(1, flink.metricsUrls().size())) {
            Http.Response response = Http.get(url);
            assertThat(response.status()).as(url).isEqualTo(200);
            response.body().lines().filter(line -> !line.isBlank() && !line.startsWith("#"))
                    .map(Sample::parse).forEach(samples::add);
        }
        return samples;
    }

    private static List<Sample> awaitScrape(Predicate<List<Sample>> done) throws Exception {
        Instant deadline = Instant.now().plusSeconds(60);
        List<Sample> samples = scrape();
        while (!done.test(samples) && Instant.now().isBefore(deadline)) {
            Thread.sleep(500);
            samples = scrape();
        }
        return samples;
    }

    private static List<Sample> matching(List<Sample> samples, String name, Map<String, String> labels) {
        return samples.stream().filter(sample -> sample.name().equals(name)
                && sample.labels().entrySet().containsAll(labels.entrySet())).toList();
    }

    // What was served under names containing the text: shown when an assertion fails.
    private static List<String> like(List<Sample> samples, String text) {
        return samples.stream().filter(sample -> sample.name().contains(text))
                .map(sample -> sample.name() + sample.labels() + " " + sample.value()).toList();
    }

    private static double sum(List<Sample> samples, String name, Map<String, String> labels) {
        return matching(samples, name, labels).stream().mapToDouble(Sample::value).sum();
    }
}
