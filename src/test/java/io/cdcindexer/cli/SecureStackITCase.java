package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.elasticsearch.CredentialCheckingProxy;
import io.cdcindexer.elasticsearch.TestCertificates;
import io.cdcindexer.kafka.TestProducers;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.PostgresServer;
import io.cdcindexer.stack.ProjectHome;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real job on a real Flink session cluster, and {@code ./cdc}, through a TLS-terminating, credential-checking proxy
 * in front of Elasticsearch (the node we run has no security module; docs/security.md): the job authenticates with an
 * API key from the TaskManagers' environment, {@code ./cdc verify} with a key file and {@code ./cdc status} with a user
 * and password from its environment; a wrong password gives one clear line in the web UI's exceptions and in
 * {@code ./cdc status}. No secret appears in the job's or the JobManager's configuration, the REST API, any log, or
 * what {@code ./cdc} prints. Needs {@code target/cdc-indexer-job.jar} (mvn package).
 */
@ExtendWith(SharedServices.class)
class SecureStackITCase {

    private static final String API_KEY = "c2VjcmV0LWFwaS1rZXktaWQ6c2VjcmV0LWFwaS1rZXktdmFsdWU=";
    private static final String PASSWORD = "Pa55-for-the-status-command";
    private static final String WRONG_PASSWORD = "Wr0ng-but-still-a-secret";
    private static final String TABLE = "secure_orders";

    @TempDir
    static Path dir;

    static PostgresServer postgres;
    static KafkaBroker kafka;
    static ElasticsearchNode elasticsearch;
    static String database;
    static TestCertificates certificates;
    static CredentialCheckingProxy proxy;
    static FlinkCluster flink;

    @BeforeAll
    static void start(PostgresServer pg, KafkaBroker broker, ElasticsearchNode es) throws Exception {
        postgres = pg;
        kafka = broker;
        elasticsearch = es;
        database = SharedServices.createDatabase(postgres, "secure");
        certificates = TestCertificates.make(dir.resolve("certs"));
        proxy = CredentialCheckingProxy.secure(elasticsearch.port(), certificates,
                CredentialCheckingProxy.apiKey(API_KEY), CredentialCheckingProxy.basic("cdc_indexer", PASSWORD));
        flink = FlinkCluster.start(dir.resolve("flink"), FreePorts.next(), Map.of("ELASTICSEARCH_API_KEY", API_KEY));
    }

    @AfterAll
    static void stop() {
        if (flink != null) {
            flink.close();
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    @Test
    void theJobAndTheCommandsWorkThroughTlsAndAuthAndNoSecretLeaks() throws Exception {
        try (Connection db = SharedServices.connect(postgres, database); Statement sql = db.createStatement()) {
            sql.execute("CREATE TABLE " + TABLE + " (id int PRIMARY KEY, name text)");
            sql.execute("INSERT INTO " + TABLE + " VALUES (1, 'ada'), (2, 'grace'), (3, 'barbara')");
        }
        produce("cdc.public." + TABLE, List.of(row(TABLE, 1, "ada", "first"), row(TABLE, 2, "grace", "true"),
                row(TABLE, 3, "barbara", "last")));

        String jobId = submit("secure-job", List.of());
        awaitDocuments("cdc.public." + TABLE, 3);
        assertThat(proxy.forwarded()).as("the job wrote through the proxy").isPositive();

        Path keyFile = Files.writeString(dir.resolve("api-key"), API_KEY + "\n");
        CliRun verify = CliRun.of(Stream.concat(Stream.of("verify", "--table", TABLE),
                Stream.of(flags(proxy.url(), "--elasticsearch-ca", certificates.caPem().toString(),
                        "--elasticsearch-api-key-file", keyFile.toString()))).toArray(String[]::new));
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        assertThat(verify.out()).contains(TABLE).contains("3 rows");

        String status = cdcProcess(List.of("status"), Map.of("ELASTICSEARCH_URL", proxy.url(),
                "ELASTICSEARCH_CA", certificates.caPem().toString(), "ELASTICSEARCH_USERNAME", "cdc_indexer",
                "ELASTICSEARCH_PASSWORD", PASSWORD, "FLINK_URL", flink.url()));
        assertThat(status).containsPattern("ok +Elasticsearch +" + java.util.regex.Pattern.quote(proxy.url()) + " +cluster")
                .contains("cdc.public." + TABLE + " → cdc.public." + TABLE + "_v1");

        List<String> seen = new ArrayList<>(List.of(verify.out(), verify.err(), status));
        seen.add(Http.get(flink.url() + "/jobs/" + jobId + "/config").body());
        seen.add(Http.get(flink.url() + "/jobs/" + jobId + "/jobmanager/config").body());
        seen.add(Http.get(flink.url() + "/jobs/" + jobId).body());
        seen.add(Http.get(flink.url() + "/jobmanager/config").body());
        seen.add(Http.get(flink.url() + "/jobmanager/environment").body());
        seen.add(Http.get(flink.url() + "/jobmanager/log").body());
        for (JsonNode taskManager : Http.get(flink.url() + "/taskmanagers").json().path("taskmanagers")) {
            String id = taskManager.path("id").asText();
            seen.add(Http.get(flink.url() + "/taskmanagers/" + id).body());
            seen.add(Http.get(flink.url() + "/taskmanagers/" + id + "/log").body());
        }
        try (Stream<Path> logs = Files.walk(dir.resolve("flink"))) {
            for (Path log : logs.filter(p -> p.toString().endsWith(".log") || p.toString().endsWith(".out")).toList()) {
                seen.add(Files.readString(log, StandardCharsets.ISO_8859_1));
            }
        }
        assertThat(seen.get(seen.size() - 1)).as("a log was read").isNotEmpty();
        assertThat(String.join("\n", seen)).doesNotContain(API_KEY).doesNotContain(PASSWORD);
    }

    @Test
    void aWrongPasswordGivesOneClearLineInTheWebUiAndInStatus() throws Exception {
        Path wrong = Files.writeString(dir.resolve("wrong-password"), WRONG_PASSWORD);
        String jobId = submit("secure-wrong", List.of("--elasticsearch.username", "cdc_indexer",
                "--elasticsearch.password-file", wrong.toString(), "--elasticsearch.index", "wrong-{table}"));
        produce("cdc.public.wrong_password_orders", List.of(row("wrong_password_orders", 1, "x", "first")));

        String exception = awaitException(jobId);
        assertThat(exception).contains("Elasticsearch at " + proxy.url() + " refused the job's request (authentication "
                + "or authorization): unable to authenticate user [cdc_indexer]");

        String status = cdcProcess(List.of("status"), Map.of("ELASTICSEARCH_URL", proxy.url(),
                "ELASTICSEARCH_CA", certificates.caPem().toString(), "ELASTICSEARCH_USERNAME", "cdc_indexer",
                "ELASTICSEARCH_PASSWORD", WRONG_PASSWORD, "FLINK_URL", flink.url()));
        assertThat(status).contains("Elasticsearch at " + proxy.url() + " refused the credentials (401): unable to "
                + "authenticate user [cdc_indexer]");
        assertThat(exception + status).doesNotContain(WRONG_PASSWORD);
        new FlinkRest(flink.url()).cancel(jobId, Duration.ofSeconds(30));
    }

    private static String[] flags(String elasticsearchUrl, String... more) {
        List<String> flags = new ArrayList<>(List.of(SharedServices.postgresFlags(postgres, database)));
        flags.addAll(List.of("--kafka", kafka.bootstrapServers(), "--elasticsearch", elasticsearchUrl, "--flink",
                flink.url()));
        flags.addAll(List.of(more));
        return flags.toArray(String[]::new);
    }

    private static String submit(String name, List<String> more) throws Exception {
        List<String> args = new ArrayList<>(List.of("--job.name", name, "--kafka.bootstrap-servers",
                kafka.bootstrapServers(), "--kafka.group-id", name, "--kafka.topic-pattern", "cdc\\.public\\."
                        + (name.equals("secure-job") ? TABLE : "wrong_password_orders"),
                "--kafka.transaction-topic", "", "--kafka.dlq-topic", name + ".dlq",
                "--elasticsearch.hosts", proxy.url(), "--elasticsearch.ca-file", certificates.caPem().toString(),
                "--checkpoint.interval-ms", "1000", "--parallelism", "1"));
        args.addAll(more);
        return SubmitCommand.submit(new PrintWriter(new StringWriter()), new FlinkRest(flink.url()),
                CommittedOffsets.in(kafka.bootstrapServers()), ProjectHome.dir().resolve(SubmitCommand.JOB_JAR), args,
                SubmitCommand.Start.WITHOUT_STATE);
    }

    /** Runs the command line in its own JVM, as ./cdc does, with these environment variables. */
    private static String cdcProcess(List<String> args, Map<String, String> environment) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dcdc.home=" + ProjectHome.dir(), "-cp", System.getProperty("java.class.path"), Cdc.class.getName()));
        command.addAll(args);
        command.addAll(List.of(SharedServices.postgresFlags(postgres, database)));
        command.addAll(List.of("--kafka", kafka.bootstrapServers()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(environment);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor();
        return output;
    }

    private static void produce(String topic, List<String> values) throws Exception {
        try (KafkaProducer<String, String> producer = TestProducers.strings(kafka.bootstrapServers())) {
            for (String value : values) {
                String id = Json.parse(value, "event").path("payload").path("after").path("id").asText();
                producer.send(new ProducerRecord<>(topic, "{\"id\":" + id + "}", value)).get();
            }
        }
    }

    /**
     * A snapshot read of a row (id, name), as Debezium with the JsonConverter's schemas writes it, with its snapshot mark
     * ({@code first}, {@code true}, {@code last}, ...).
     */
    private static String row(String table, int id, String name, String mark) {
        ObjectNode rowSchema = Json.object().put("type", "struct").put("optional", true).put("field", "after")
                .put("name", "cdc.public." + table + ".Value");
        ArrayNode fields = rowSchema.putArray("fields");
        fields.addObject().put("type", "int32").put("optional", false).put("field", "id");
        fields.addObject().put("type", "string").put("optional", true).put("field", "name");
        ObjectNode before = rowSchema.deepCopy().put("field", "before");
        ObjectNode schema = Json.object().put("type", "struct").put("optional", false)
                .put("name", "cdc.public." + table + ".Envelope");
        schema.putArray("fields").add(before).add(rowSchema)
                .add(Json.object().put("type", "struct").put("optional", false).put("field", "source"))
                .add(Json.object().put("type", "string").put("optional", false).put("field", "op"))
                .add(Json.object().put("type", "int64").put("optional", true).put("field", "ts_ms"));
        ObjectNode payload = Json.object();
        payload.putNull("before");
        payload.putObject("after").put("id", id).put("name", name);
        payload.putObject("source").put("version", "3.6.1.Final").put("connector", "postgresql").put("name", "cdc")
                .put("db", database).put("schema", "public").put("table", table).put("txId", 700 + id)
                .put("lsn", 24_000_000L + id).put("snapshot", mark).put("ts_ms", System.currentTimeMillis());
        payload.put("op", "r").put("ts_ms", System.currentTimeMillis());
        payload.putNull("transaction");
        ObjectNode message = Json.object();
        message.set("schema", schema);
        message.set("payload", payload);
        return Json.compact(message);
    }

    private static void awaitDocuments(String index, int count) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(90));
        while (true) {
            Http.Response response = Http.get(elasticsearch.url() + "/" + index + "/_count");
            if (response.ok() && response.json().path("count").asInt() >= count) {
                return;
            }
            assertThat(Instant.now()).as("%d documents in %s: %s", count, index, response.body()).isBefore(deadline);
            Thread.sleep(500);
        }
    }

    private static String awaitException(String jobId) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(90));
        while (true) {
            JsonNode entries = new FlinkRest(flink.url()).exceptions(jobId).path("exceptionHistory").path("entries");
            if (entries.size() > 0) {
                return entries.get(0).path("stacktrace").asText();
            }
            assertThat(Instant.now()).as("an exception of job %s", jobId).isBefore(deadline);
            Thread.sleep(500);
        }
    }
}
