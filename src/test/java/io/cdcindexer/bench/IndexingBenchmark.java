package io.cdcindexer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.cli.DownCommand;
import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.elasticsearch.BulkOptions;
import io.cdcindexer.elasticsearch.ChangeEventEmitter;
import io.cdcindexer.elasticsearch.ElasticsearchIndexSink;
import io.cdcindexer.elasticsearch.IndexNames;
import io.cdcindexer.job.CdcIndexerJob;
import io.cdcindexer.job.JobOptions;
import io.cdcindexer.kafka.DeadLetterSink;
import io.cdcindexer.kafka.KafkaChangeSource;
import io.cdcindexer.kafka.KafkaDeadLetterQueue;
import io.cdcindexer.kafka.TestProducers;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.KafkaBroker;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Measures the job's throughput against a real Elasticsearch 7.10.2 node and a real Kafka broker on this machine. Not a
 * test: nothing is asserted about time. Each scenario fills Kafka first with Debezium events shaped exactly like the
 * shipped connector's (JSON converter with schemas, transaction metadata), then starts the job on a local MiniCluster
 * and times how long until Elasticsearch holds the final state.
 *
 * <ul>
 *   <li>{@code inserts}: N inserts in transactions of {@code --tx-size} rows (catching up on a backlog);
 *   <li>{@code updates}: rows updated {@code --updates} times inside each transaction (what collapsing saves);
 *   <li>{@code bulk}: the same documents bulk-indexed straight into Elasticsearch, the ceiling to compare with;
 *   <li>{@code sql-inserts}, {@code sql-updates}: Kafka filled as for {@code inserts} and {@code updates}, indexed by the
 *       stock Flink SQL pipeline ({@code debezium-json} → {@code elasticsearch-7}, {@link SqlBaselineProcess}) into an
 *       index of its own, timed the same way.
 * </ul>
 *
 * Options: {@code --events N}, {@code --tx-size N}, {@code --updates N}, {@code --parallelism N},
 * {@code --bulk-actions N} (the SQL sink's {@code sink.bulk-flush.max-actions}; its default when not given),
 * {@code --in-flight N}, {@code --fetch-bytes N} (the consumer's {@code max.partition.fetch.bytes}: the job's
 * {@code kafka.max-partition-fetch-bytes}, the SQL source's {@code properties.max.partition.fetch.bytes}; each its own
 * default when not given), {@code --compression none|lz4|zstd} (how the records are stored in Kafka, as the Connect
 * worker's producer would write them), {@code --replica-identity default|full} (whether updates carry the row's
 * previous image in {@code before}, as under {@code REPLICA IDENTITY FULL}: {@code debezium-json} fails on updates
 * without it, so {@code sql-updates} defaults to {@code full}, the others to {@code default}),
 * {@code --schemas true|false} (whether records carry the JSON converter's schema, {@code schemas.enable}; without it a
 * users record is 0.5 KB instead of 2.9 KB, and its decimal is a number, as {@code decimal.handling.mode=double} writes
 * it: what a schema registry would leave in each record), {@code --timeout-s N} (give up when Elasticsearch does not reach the final state in time, 900 by default),
 * {@code --documents FILE} (the job also builds the joined documents it declares; timed until the first document index
 * is complete too), {@code --checkpoint-interval-ms N} (the job's checkpoint interval, its default when not given),
 * {@code --backlog-rate N} (the records' Kafka times as if Connect had written N change events a second up to now: a
 * backlog that built up over events / N seconds; without it, the times of the fill itself, a few seconds for them all),
 * {@code --max-ends-ahead N} (the job's {@code transaction.max-ends-ahead}; 0 reads without pacing),
 * {@code --kafka-properties FILE} (the job's {@code kafka.properties-file}: Kafka client settings),
 * {@code --ceiling-answers filtered|full} ({@code bulk}: Elasticsearch's answers filtered to each item's status and
 * error, as the job asks for them, or whole, as the ceiling was measured before 2026-12-04),
 * {@code --warm-ups N} (runs before the measured one, in the same JVM, Elasticsearch node and Kafka broker, each from
 * an empty index and the topics' start: the figures of a pipeline whose compilers have done their work, which takes
 * about four runs of 600,000 inserts for the job (docs/performance.md, "JIT-warm"); not for the SQL pipeline, which
 * starts a JVM for each run). After the job's
 * run it prints the most transactions the collapse held at once, how many partitions the source paused, and the size
 * of its state (a savepoint, untimed).
 *
 * <p>Every scenario also reports its second half: from the first look that finds half the documents in their final
 * state to the last. By then the JIT compilers of the pipeline and of Elasticsearch have done most of their work, as in
 * a pipeline that has been running for a while; the first half holds the warm-up of a fresh JVM.
 *
 * <pre>
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test.classpath -Dmdep.includeScope=test
 * java -Xms2g -Xmx2g -cp target/test-classes:target/classes:$(cat target/test.classpath) \
 *     io.cdcindexer.bench.IndexingBenchmark inserts --events 300000
 * </pre>
 */
public final class IndexingBenchmark {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String TOPIC = "cdc.public.users";
    private static final String INDEX = "cdc.public.users";
    private static final String SQL_INDEX = "sql.public.users";
    private static final String SQL_PREFIX = "sql-";
    private static final List<String> OPTIONS = List.of("--events", "--tx-size", "--updates", "--parallelism",
            "--bulk-actions", "--in-flight", "--fetch-bytes", "--compression", "--replica-identity", "--schemas",
            "--timeout-s", "--documents", "--checkpoint-interval-ms", "--backlog-rate", "--max-ends-ahead",
            "--kafka-properties", "--ceiling-answers", "--warm-ups");

    /**
     * As the job's requests' (BulkProtocol.FILTER_PATH, which BulkProtocolTest holds this to), the ceiling's answers
     * hold each item's status and error only: it asks of Elasticsearch the same work as the job (whole answers measured
     * no different: performance.md).
     */
    public static final String FILTER_PATH = "errors,items.*.status,items.*.error.type,items.*.error.reason";

    private final Map<String, String> args;
    /** The first joined document's index when --documents names a declaration; null otherwise. */
    private String joinedIndex;
    private final int events;
    private final int txSize;
    private final int updates;
    private final int parallelism;
    private final boolean beforeImages;
    /** Whether records carry the JSON converter's schema (schemas.enable). */
    private final boolean schemas;
    private final long timeoutNanos;
    /** Change events per second of Kafka time; 0 for the fill's own clock. */
    private final double backlogRate;
    /** Runs before the measured one, in the same processes: a TaskManager and a node that have been running a while. */
    private final int warmUps;
    /** How the ceiling's answers come: filtered to each item's status and error, as the job's, or full. */
    private final String ceilingAnswers;
    /** Elasticsearch's shard-level writes and documents written when the current run started. */
    private long[] writesAtStart = new long[2];

    private IndexingBenchmark(String scenario, Map<String, String> args) {
        this.args = args;
        this.events = Integer.parseInt(args.getOrDefault("--events", "200000"));
        this.txSize = Integer.parseInt(args.getOrDefault("--tx-size", "10"));
        this.updates = Integer.parseInt(args.getOrDefault("--updates", "5"));
        this.parallelism = Integer.parseInt(args.getOrDefault("--parallelism", "1"));
        String replicaIdentity = args.getOrDefault("--replica-identity",
                scenario.equals(SQL_PREFIX + "updates") ? "full" : "default");
        if (!replicaIdentity.equals("default") && !replicaIdentity.equals("full")) {
            throw new IllegalArgumentException("--replica-identity is default or full, not " + replicaIdentity);
        }
        this.beforeImages = replicaIdentity.equals("full");
        this.schemas = Boolean.parseBoolean(args.getOrDefault("--schemas", "true"));
        this.timeoutNanos = Long.parseLong(args.getOrDefault("--timeout-s", "900")) * 1_000_000_000L;
        String backlogRate = args.get("--backlog-rate");
        this.backlogRate = backlogRate == null ? 0 : Double.parseDouble(backlogRate);
        if (backlogRate != null && !(this.backlogRate > 0 && this.backlogRate < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("--backlog-rate is change events a second, above 0, not " + backlogRate);
        }
        this.ceilingAnswers = args.getOrDefault("--ceiling-answers", "filtered");
        if (!ceilingAnswers.equals("filtered") && !ceilingAnswers.equals("full")) {
            throw new IllegalArgumentException("--ceiling-answers is filtered or full, not " + ceilingAnswers);
        }
        this.warmUps = Integer.parseInt(args.getOrDefault("--warm-ups", "0"));
        if (warmUps < 0 || warmUps > 0 && scenario.startsWith(SQL_PREFIX)) {
            throw new IllegalArgumentException("--warm-ups is 0 or more, for inserts, updates and bulk (the SQL "
                    + "pipeline runs in a JVM of its own, started for each run), not " + warmUps + " for " + scenario);
        }
    }

    public static void main(String[] argv) throws Exception {
        String scenario = argv.length > 0 ? argv[0] : "inserts";
        if (!scenario.equals("bulk") && !scenario.startsWith(SQL_PREFIX)) {
            Benchmarks.requireFixedHeap(); // the job runs in this JVM (the SQL pipeline in one with this heap, fixed)
        }
        new IndexingBenchmark(scenario, Benchmarks.flags(argv, 1, OPTIONS)).run(scenario);
        System.exit(0);
    }

    private void run(String scenario) throws Exception {
        Path dir = Files.createTempDirectory("cdc-benchmark");
        try (ElasticsearchNode elasticsearch = ElasticsearchNode.start(dir.resolve("elasticsearch"), FreePorts.next())) {
            if (scenario.equals("bulk")) {
                for (int run = 0; run <= warmUps; run++) {
                    startRun(elasticsearch, run);
                    bulk(elasticsearch);
                }
            } else {
                try (KafkaBroker kafka = KafkaBroker.start(dir.resolve("kafka"), FreePorts.next())) {
                    if (scenario.startsWith(SQL_PREFIX)) {
                        long expectedDocs = fill(kafka, scenario.substring(SQL_PREFIX.length()));
                        runSqlBaseline(dir, kafka, elasticsearch, expectedDocs, scenario);
                    } else {
                        long expectedDocs = fill(kafka, scenario);
                        for (int run = 0; run <= warmUps; run++) {
                            startRun(elasticsearch, run);
                            runJob(kafka, elasticsearch, expectedDocs, scenario, run);
                        }
                    }
                }
            }
        } catch (Exception | Error e) {
            System.err.println("Kept the services' data and logs in " + dir);
            throw e;
        }
        // A run leaves up to a few GB of topics and indices behind; only a failed run's are worth reading.
        try (java.util.stream.Stream<Path> files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }

    /**
     * Before each run but the first, the index goes (the job makes it again, as at its first start); every run of the
     * job reads the topics from the start in a consumer group of its own.
     */
    private void startRun(ElasticsearchNode elasticsearch, int run) throws Exception {
        if (warmUps > 0) {
            System.out.println(run < warmUps ? "--- warm-up " + (run + 1) + " of " + warmUps
                    : "--- measured, after " + warmUps + " warm-up" + (warmUps == 1 ? "" : "s")
                            + " in the same processes");
        }
        for (String index : run == 0 ? List.<String>of() : joinedIndex == null ? List.of(INDEX)
                : List.of(INDEX, joinedIndex)) {
            Http.Response deleted = Http.send(HttpRequest.newBuilder(
                    URI.create(elasticsearch.url() + "/" + index + "*")).DELETE().build());
            if (!deleted.ok()) {
                throw new IllegalStateException("could not delete " + index + "*: " + deleted.body());
            }
        }
        writesAtStart = writes(elasticsearch);
    }

    // --- events -------------------------------------------------------------------------------------------------

    private static final String KEY_SCHEMA = "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,"
            + "\"default\":0,\"field\":\"id\"}],\"optional\":false,\"name\":\"cdc.public.users.Key\"}";

    /** The row schema of users as the shipped connector writes it, with a decimal and a timestamptz. */
    private static ArrayNode rowFields() {
        ArrayNode fields = MAPPER.createArrayNode();
        fields.addObject().put("type", "int32").put("optional", false).put("field", "id");
        fields.addObject().put("type", "string").put("optional", true).put("field", "username");
        fields.addObject().put("type", "string").put("optional", true).put("field", "email");
        ObjectNode balance = fields.addObject().put("type", "bytes").put("optional", true)
                .put("name", "org.apache.kafka.connect.data.Decimal").put("version", 1);
        balance.putObject("parameters").put("scale", "2").put("connect.decimal.precision", "10");
        balance.put("field", "balance");
        fields.addObject().put("type", "string").put("optional", true).put("name", "io.debezium.time.ZonedTimestamp")
                .put("version", 1).put("field", "created_at");
        fields.addObject().put("type", "int32").put("optional", true).put("field", "seq");
        return fields;
    }

    private static ObjectNode envelopeSchema() {
        ObjectNode schema = MAPPER.createObjectNode().put("type", "struct");
        ArrayNode fields = schema.putArray("fields");
        for (String image : List.of("before", "after")) {
            fields.addObject().put("type", "struct").<ObjectNode>set("fields", rowFields()).put("optional", true)
                    .put("name", "cdc.public.users.Value").put("field", image);
        }
        ObjectNode source = fields.addObject().put("type", "struct");
        ArrayNode sourceFields = source.putArray("fields");
        for (String name : List.of("version", "connector", "name", "db", "sequence", "schema", "table")) {
            sourceFields.addObject().put("type", "string").put("optional", false).put("field", name);
        }
        for (String name : List.of("ts_ms", "ts_us", "ts_ns", "txId", "lsn", "xmin")) {
            sourceFields.addObject().put("type", "int64").put("optional", true).put("field", name);
        }
        sourceFields.addObject().put("type", "string").put("optional", true).put("name", "io.debezium.data.Enum")
                .put("version", 1).put("field", "snapshot");
        source.put("optional", false).put("name", "io.debezium.connector.postgresql.Source").put("version", 1)
                .put("field", "source");
        ObjectNode transaction = fields.addObject().put("type", "struct");
        transaction.putArray("fields").addObject().put("type", "string").put("optional", false).put("field", "id");
        transaction.put("optional", true).put("name", "event.block").put("version", 1).put("field", "transaction");
        fields.addObject().put("type", "string").put("optional", false).put("field", "op");
        fields.addObject().put("type", "int64").put("optional", true).put("field", "ts_ms");
        schema.put("optional", false).put("name", "cdc.public.users.Envelope").put("version", 2);
        return schema;
    }

    /** A users row; without a schema, its decimal is a number, as {@code decimal.handling.mode=double} writes it. */
    private static ObjectNode row(int id, int seq, boolean schema) {
        ObjectNode row = MAPPER.createObjectNode().put("id", id).put("username", "user" + id)
                .put("email", "user" + id + "@example.com");
        if (schema) {
            row.put("balance", Base64.getEncoder().encodeToString(java.math.BigInteger.valueOf(100_050L + id).toByteArray()));
        } else {
            row.put("balance", (100_050L + id) / 100.0);
        }
        return row.put("created_at", "2026-11-27T10:00:00.123456Z").put("seq", seq);
    }

    /** A change event; {@code before} is null for inserts, and for updates unless the table has REPLICA IDENTITY FULL. */
    private static byte[] change(ObjectNode schema, String op, ObjectNode before, int id, int seq, long lsn, long txId,
            int order) {
        ObjectNode payload = MAPPER.createObjectNode();
        if (before == null) {
            payload.putNull("before");
        } else {
            payload.set("before", before);
        }
        payload.set("after", row(id, seq, schema != null));
        payload.putObject("source").put("version", "3.6.1.Final").put("connector", "postgresql").put("name", "cdc")
                .put("ts_ms", 1764240000000L).put("snapshot", "false").put("db", "testdb")
                .put("sequence", "[null,\"" + lsn + "\"]").put("schema", "public").put("table", "users")
                .put("txId", txId).put("lsn", lsn).putNull("xmin");
        payload.putObject("transaction").put("id", txId + ":" + lsn).put("total_order", order)
                .put("data_collection_order", order);
        payload.put("op", op).put("ts_ms", 1764240000123L);
        if (schema == null) {
            return payload.toString().getBytes(StandardCharsets.UTF_8);
        }
        ObjectNode value = MAPPER.createObjectNode();
        value.set("schema", schema);
        value.set("payload", payload);
        return value.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] end(long txId, int count) {
        return ("{\"status\":\"END\",\"id\":\"" + txId + ":1\",\"event_count\":" + count
                + ",\"data_collections\":[{\"data_collection\":\"public.users\",\"event_count\":" + count + "}]}")
                .getBytes(StandardCharsets.UTF_8);
    }

    private byte[] key(int id) {
        if (!schemas) {
            return ("{\"id\":" + id + "}").getBytes(StandardCharsets.UTF_8);
        }
        return ("{\"schema\":" + KEY_SCHEMA + ",\"payload\":{\"id\":" + id + "}}").getBytes(StandardCharsets.UTF_8);
    }

    /** Fills the topics and returns how many documents the final state has. */
    private long fill(KafkaBroker kafka, String scenario) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(TOPIC, 2, (short) 1), new NewTopic("cdc.transaction", 2, (short) 1)))
                    .all().get();
        }
        Map<String, String> props = Map.of(ProducerConfig.LINGER_MS_CONFIG, "20",
                ProducerConfig.BATCH_SIZE_CONFIG, "262144",
                ProducerConfig.COMPRESSION_TYPE_CONFIG, args.getOrDefault("--compression", "none"));
        ObjectNode schema = schemas ? envelopeSchema() : null;
        long started = System.nanoTime();
        long bytes = 0;
        long docs;
        KafkaTimes times = new KafkaTimes(events, backlogRate);
        try (KafkaProducer<byte[], byte[]> producer = TestProducers.bytes(kafka.bootstrapServers(), props)) {
            long lsn = 1_000_000;
            long txId = 1_000;
            if (scenario.equals("inserts")) {
                docs = events;
                for (int id = 1; id <= events; id += txSize) {
                    txId++;
                    int count = Math.min(txSize, events - id + 1);
                    for (int i = 0; i < count; i++) {
                        byte[] value = change(schema, "c", null, id + i, 0, lsn += 64, txId, i + 1);
                        bytes += value.length;
                        producer.send(new ProducerRecord<>(TOPIC, null, times.next(), key(id + i), value));
                    }
                    producer.send(new ProducerRecord<>("cdc.transaction", null, times.last(),
                            ("" + txId).getBytes(), end(txId, count)));
                }
            } else if (scenario.equals("updates")) {
                // Each transaction inserts a row and updates it `updates` times: 1 + updates events, one document.
                docs = events / (1 + updates);
                for (int id = 1; id <= docs; id++) {
                    txId++;
                    for (int seq = 0; seq <= updates; seq++) {
                        ObjectNode before = seq > 0 && beforeImages ? row(id, seq - 1, schemas) : null;
                        byte[] value = change(schema, seq == 0 ? "c" : "u", before, id, seq, lsn += 64, txId, seq + 1);
                        bytes += value.length;
                        producer.send(new ProducerRecord<>(TOPIC, null, times.next(), key(id), value));
                    }
                    producer.send(new ProducerRecord<>("cdc.transaction", null, times.last(),
                            ("" + txId).getBytes(), end(txId, updates + 1)));
                }
            } else {
                throw new IllegalArgumentException("Unknown scenario " + scenario
                        + ": inserts, updates, sql-inserts, sql-updates or bulk");
            }
        }
        System.out.printf("filled Kafka: %d change events, %.0f MB, in %.1f s%s%n", events, bytes / 1e6,
                (System.nanoTime() - started) / 1e9, beforeImages ? ", updates with before images" : "");
        return docs;
    }

    /**
     * The Kafka times of the change events: with a backlog rate, the k-th written at k / rate seconds past the start of
     * a backlog that ends now; without, now. An END event takes its transaction's last change's.
     */
    private static final class KafkaTimes {
        private final double rate;
        private final long first;
        private long written;
        private long last;

        KafkaTimes(long events, double rate) {
            this.rate = rate;
            this.first = System.currentTimeMillis() - (rate > 0 ? (long) (events * 1000 / rate) : 0);
        }

        long next() {
            last = rate > 0 ? first + (long) (written++ * 1000 / rate) : System.currentTimeMillis();
            return last;
        }

        long last() {
            return last;
        }
    }

    // --- the job ------------------------------------------------------------------------------------------------

    private void runJob(KafkaBroker kafka, ElasticsearchNode elasticsearch, long expectedDocs, String scenario, int run)
            throws Exception {
        JobOptions options = JobOptions.fromArgs("--kafka.bootstrap-servers", kafka.bootstrapServers(),
                "--kafka.group-id", "cdc-indexer-benchmark-" + run,
                "--elasticsearch.hosts", elasticsearch.url(), "--parallelism", Integer.toString(parallelism),
                "--elasticsearch.bulk.max-actions", args.getOrDefault("--bulk-actions", "2000"),
                "--elasticsearch.bulk.max-in-flight", args.getOrDefault("--in-flight", "2"),
                "--kafka.max-partition-fetch-bytes", args.getOrDefault("--fetch-bytes",
                        JobOptions.KAFKA_MAX_PARTITION_FETCH_BYTES.defaultValue()),
                "--documents", args.getOrDefault("--documents", ""),
                "--transaction.max-ends-ahead", args.getOrDefault("--max-ends-ahead",
                        JobOptions.TRANSACTION_MAX_ENDS_AHEAD.defaultValue()),
                "--checkpoint.interval-ms", args.getOrDefault("--checkpoint-interval-ms",
                        JobOptions.CHECKPOINT_INTERVAL_MS.defaultValue()),
                "--kafka.properties-file", args.getOrDefault("--kafka-properties", ""));
        JoinedDocuments documents = JoinedDocuments.of(options.get(JobOptions.DOCUMENTS));
        joinedIndex = documents.isEmpty() ? null : documents.roots().get(0).index;
        Configuration config = new Configuration();
        config.set(TaskManagerOptions.NUM_TASK_SLOTS, Math.max(2, parallelism));
        config.setString("metrics.reporter.peak.factory.class", PeakPending.Factory.class.getName());
        config.setString("metrics.reporter.peak.interval", "100 ms");
        PeakPending.reset();
        // As flink-conf/config.yaml: checkpoints to files. The MiniCluster's default keeps them in the JobManager's
        // memory, which refuses a state over 5 MB, as the joined documents' is.
        config.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        Path checkpoints = Files.createTempDirectory("cdc-bench-checkpoints");
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpoints.toUri().toString());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, config);
        KafkaDeadLetterQueue deadLetters = new KafkaDeadLetterQueue(kafka.bootstrapServers(), "cdc.dlq");
        CdcIndexerJob job = new CdcIndexerJob(options, KafkaChangeSource.create(options),
                new ElasticsearchIndexSink(BulkOptions.from(options),
                        new ChangeEventEmitter(new IndexNames(options.get(JobOptions.ELASTICSEARCH_INDEX))), deadLetters),
                new DeadLetterSink(deadLetters));

        long started = System.nanoTime();
        JobClient client = job.executeAsync(env);
        try {
            awaitFinalState(elasticsearch, kafka, ProcessHandle.current().pid(), INDEX, expectedDocs, scenario, started,
                    () -> { });
            System.out.printf("  collapse: at most %d transactions held at once; source: %d splits paused to read in step%n",
                    PeakPending.peak(), PeakPending.pauses());
            printStateSize(client, expectedDocs);
        } finally {
            client.cancel().get();
            // Cancelling returns once the cluster has taken the request: the next run, and the checkpoints' deletion,
            // wait for the job's end (its result comes once its MiniCluster has shut down).
            try {
                client.getJobExecutionResult().get();
            } catch (java.util.concurrent.ExecutionException cancelled) {
                // as asked
            }
            deleteCheckpoints(checkpoints);
        }
        System.out.printf("  (job: bulk max-actions %s, %s in flight, external versions, fetches of %s bytes per partition%s)%n",
                args.getOrDefault("--bulk-actions", "2000"), args.getOrDefault("--in-flight", "2"),
                options.get(JobOptions.KAFKA_MAX_PARTITION_FETCH_BYTES),
                joinedIndex == null ? "" : "; joined documents into " + joinedIndex + " too, timed until it is complete");
    }

    /** Deletes a job's checkpoints, which Flink may still be discarding some of meanwhile. */
    private static void deleteCheckpoints(Path dir) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                DownCommand.deleteRecursively(dir);
                return;
            } catch (java.io.IOException | java.io.UncheckedIOException racing) {
                if (attempt == 10) {
                    throw racing;
                }
                Thread.sleep(200);
            }
        }
    }

    /**
     * The job's whole state once the final state is searchable, as the size of a savepoint in Flink's canonical
     * format (the same for every state backend; timed nothing, taken after the clock stopped).
     */
    private static void printStateSize(JobClient client, long documents) throws Exception {
        Path savepoints = Files.createTempDirectory("cdc-bench-state");
        try {
            client.triggerSavepoint(savepoints.toUri().toString(), SavepointFormatType.CANONICAL)
                    .get(5, TimeUnit.MINUTES);
            long bytes;
            try (Stream<Path> files = Files.walk(savepoints)) {
                bytes = files.filter(Files::isRegularFile).mapToLong(file -> file.toFile().length()).sum();
            }
            System.out.printf("  state: a canonical savepoint of %.1f MB, %.0f bytes per document%n",
                    bytes / 1_000_000.0, (double) bytes / Math.max(1, documents));
        } finally {
            DownCommand.deleteRecursively(savepoints);
        }
    }

    // --- the stock Flink SQL pipeline, in its own JVM -----------------------------------------------------------

    private void runSqlBaseline(Path dir, KafkaBroker kafka, ElasticsearchNode elasticsearch, long expectedDocs,
            String scenario) throws Exception {
        List<String> baselineArgs = new java.util.ArrayList<>(List.of("--kafka", kafka.bootstrapServers(),
                "--elasticsearch", elasticsearch.url(), "--topic", TOPIC, "--index", SQL_INDEX,
                "--parallelism", Integer.toString(parallelism)));
        for (String option : List.of("--bulk-actions", "--fetch-bytes")) {
            if (args.containsKey(option)) {
                baselineArgs.addAll(List.of(option, args.get(option)));
            }
        }
        try (SqlBaselineProcess baseline = SqlBaselineProcess.start(dir.resolve("sql-baseline"), baselineArgs)) {
            // Timed from the baseline's main method, as the job is from executeAsync: planning and the MiniCluster's
            // start count, the JVM's start and the source launcher's compilation do not.
            long started = System.nanoTime() - (System.currentTimeMillis() - baseline.startedAtMillis()) * 1_000_000L;
            awaitFinalState(elasticsearch, kafka, baseline.pid(), SQL_INDEX, expectedDocs, scenario, started,
                    baseline::checkAlive);
            System.out.printf("  (SQL pipeline: bulk max-actions %s, 1 request at a time, an update with upsert per"
                    + " row, fetches of %s bytes per partition)%n", args.getOrDefault("--bulk-actions", "default 1000"),
                    args.getOrDefault("--fetch-bytes", "default 1048576"));
        }
    }

    // --- timing -------------------------------------------------------------------------------------------------

    /** What a pipeline under measurement is checked with while the benchmark waits for it (e.g. that it still runs). */
    @FunctionalInterface
    private interface Check {
        void run() throws Exception;
    }

    /** The processes {@link #awaitFinalState} reports the cores of, in the order of its {@code pids}. */
    private static final String[] PROCESSES = {"pipeline", "Elasticsearch", "Kafka"};

    /**
     * Polls {@code index} until it holds the final state ({@code expectedDocs} documents; for updates, each at its last
     * {@code seq}), then prints the time from {@code startedNanos} and from the first such document, the cores the
     * pipeline ({@code pipelinePid}), Elasticsearch and Kafka used in between, and document 1 as indexed.
     */
    private void awaitFinalState(ElasticsearchNode elasticsearch, KafkaBroker kafka, long pipelinePid, String index,
            long expectedDocs, String scenario, long startedNanos, Check check) throws Exception {
        long[] pids = {pipelinePid, elasticsearch.process().pid(), kafka.process().pid()};
        long[] cpuAtFirstVisible = new long[pids.length + 1];
        long compilingAtFirstVisible = 0;
        long firstVisible = 0;
        long visibleAtFirst = 0;
        // The second half of the backlog: the JIT compilers of the pipeline and Elasticsearch have done most of their
        // work by then, as in a pipeline that has been running for a while.
        long[] cpuAtHalf = new long[pids.length + 1];
        long compilingAtHalf = 0;
        long half = 0;
        long visibleAtHalf = 0;
        String doneQuery = scenario.endsWith("updates") ? "seq:" + updates : "*:*";
        while (true) {
            Thread.sleep(250);
            check.run();
            long visible = count(elasticsearch, index, doneQuery);
            if (visible > 0 && firstVisible == 0) {
                firstVisible = System.nanoTime();
                visibleAtFirst = visible;
                cpuAtFirstVisible = cpuNow(pids);
                compilingAtFirstVisible = compilingMillis();
            }
            if (visible > 0 && visible >= expectedDocs / 2 && half == 0) {
                half = System.nanoTime();
                visibleAtHalf = visible;
                cpuAtHalf = cpuNow(pids);
                compilingAtHalf = compilingMillis();
            }
            // With joined documents, done when the first document index holds its final state too.
            if (visible >= expectedDocs && (joinedIndex == null || pipelinePid != ProcessHandle.current().pid()
                    || count(elasticsearch, joinedIndex, doneQuery) >= expectedDocs)) {
                break;
            }
            if (System.nanoTime() - startedNanos > timeoutNanos) {
                throw new IllegalStateException(scenario + ": Elasticsearch index " + index + " holds " + visible
                        + " of " + expectedDocs + " documents in their final state after " + timeoutNanos / 1_000_000_000L
                        + " s (--timeout-s)");
            }
        }
        long done = System.nanoTime();
        double total = (done - startedNanos) / 1e9;
        double steady = (done - firstVisible) / 1e9;
        System.out.printf("%s: %d change events → %d documents, parallelism %d%n", scenario, events, expectedDocs,
                parallelism);
        System.out.printf("  from job start:          %.1f s, %.0f events/s%n", total, events / total);
        System.out.printf("  from first doc visible:  %.1f s, %.0f events/s (%.0f docs/s)%n", steady, events / steady,
                expectedDocs / steady);
        System.out.println("  cores used meanwhile:   " + cores(PROCESSES, pids, cpuAtFirstVisible, steady));
        // The events the window covers: those of the documents not yet in their final state when it opened.
        double windowEvents = (double) events * (expectedDocs - visibleAtFirst) / expectedDocs;
        double pipelineCpu = (cpuNanos(pids[0]) - cpuAtFirstVisible[0]) / 1e9;
        System.out.printf("  pipeline CPU per event:  %.1f µs (%.1f core-seconds over %.0f events)%n",
                pipelineCpu * 1e6 / windowEvents, pipelineCpu, windowEvents);
        if (pipelinePid == ProcessHandle.current().pid()) {
            // A run of half a minute is short enough for the JIT compiler's warm-up to be a large part of it.
            double compiling = (compilingMillis() - compilingAtFirstVisible) / 1e3;
            System.out.printf("    of which JIT compiling: %.1f µs (%.1f s); without it: %.1f µs%n",
                    compiling * 1e6 / windowEvents, compiling, (pipelineCpu - compiling) * 1e6 / windowEvents);
        }
        System.out.println("  document 1: " + Http.get(elasticsearch.url() + "/" + index + "/_doc/1").json().path("_source"));
        // The second half: the same figures, from the first look that found half the documents in their final state.
        if (visibleAtHalf >= expectedDocs) {
            System.out.println("  second half (warm):      n/a (one look found half and all; run more events)");
            return;
        }
        double halfSeconds = (done - half) / 1e9;
        double halfEvents = (double) events * (expectedDocs - visibleAtHalf) / expectedDocs;
        double halfCpu = (cpuNanos(pids[0]) - cpuAtHalf[0]) / 1e9;
        System.out.printf("  second half (warm):      %.1f s, %.0f events/s (%.0f docs/s); cores: %s%n", halfSeconds,
                halfEvents / halfSeconds, (expectedDocs - visibleAtHalf) / halfSeconds,
                cores(PROCESSES, pids, cpuAtHalf, halfSeconds));
        System.out.printf("    Elasticsearch CPU per document: %.1f µs; %s%n",
                (cpuNanos(pids[1]) - cpuAtHalf[1]) / 1e3 / (expectedDocs - visibleAtHalf), writeTasks(elasticsearch));
        if (pipelinePid == ProcessHandle.current().pid()) {
            double compiling = (compilingMillis() - compilingAtHalf) / 1e3;
            System.out.printf("    pipeline CPU per event: %.1f µs, of which JIT compiling %.1f µs%n",
                    halfCpu * 1e6 / halfEvents, compiling * 1e6 / halfEvents);
        } else {
            System.out.printf("    pipeline CPU per event: %.1f µs%n", halfCpu * 1e6 / halfEvents);
        }
    }

    /**
     * How many shard-level writes Elasticsearch did in this run (one per bulk request and shard) and how many documents
     * each held: smaller bulk requests cost it more per document.
     */
    private String writeTasks(ElasticsearchNode elasticsearch) throws Exception {
        long[] now = writes(elasticsearch);
        long tasks = now[0] - writesAtStart[0];
        return String.format("%d writes of %.0f documents on average, over the whole run", tasks,
                tasks == 0 ? 0.0 : (double) (now[1] - writesAtStart[1]) / tasks);
    }

    /** Elasticsearch's shard-level writes and documents indexed or deleted since it started. */
    private static long[] writes(ElasticsearchNode elasticsearch) throws Exception {
        JsonNode node = Http.get(elasticsearch.url() + "/_nodes/_local/stats/thread_pool,indices").json()
                .path("nodes").elements().next();
        JsonNode indexing = node.path("indices").path("indexing");
        return new long[] {node.path("thread_pool").path("write").path("completed").asLong(),
                indexing.path("index_total").asLong() + indexing.path("delete_total").asLong()};
    }

    /**
     * The cores the processes {@code names} ({@code pids}) used since {@code cpuAt}, over {@code seconds}, and the cores
     * the machine left idle ({@code cpuAt}'s last element, {@link #idleNanos}): where none are, the processes share the
     * cores by what each costs per document (docs/performance.md, "The ratio is a ratio of costs").
     */
    private static String cores(String[] names, long[] pids, long[] cpuAt, double seconds) {
        StringBuilder cores = new StringBuilder();
        for (int i = 0; i < pids.length; i++) {
            cores.append(String.format("%s%s %.2f", i == 0 ? "" : ", ", names[i],
                    (cpuNanos(pids[i]) - cpuAt[i]) / 1e9 / seconds));
        }
        return cores.append(String.format(", idle %.2f", (idleNanos() - cpuAt[pids.length]) / 1e9 / seconds))
                .toString();
    }

    /** The CPU time of {@code pids} so far, and the machine's idle time last ({@link #cores}). */
    private static long[] cpuNow(long[] pids) {
        long[] now = new long[pids.length + 1];
        for (int i = 0; i < pids.length; i++) {
            now[i] = cpuNanos(pids[i]);
        }
        now[pids.length] = idleNanos();
        return now;
    }

    /** The time all cores of the machine have been idle or waiting for I/O so far, from /proc/stat (0 without it). */
    static long idleNanos() {
        try {
            // "cpu  user nice system idle iowait irq softirq steal ...", in USER_HZ ticks (100 a second on Linux)
            String[] ticks = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            return (Long.parseLong(ticks[4]) + Long.parseLong(ticks[5])) * 10_000_000L;
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
    }

        /** Time this JVM's JIT compiler threads have spent compiling so far (their CPU time, near enough). */
    private static long compilingMillis() {
        return java.lang.management.ManagementFactory.getCompilationMXBean().getTotalCompilationTime();
    }

    /** CPU time a process has used so far (user and system), from /proc. */
    private static long cpuNanos(long pid) {
        return ProcessHandle.of(pid).flatMap(process -> process.info().totalCpuDuration())
                .map(java.time.Duration::toNanos).orElse(0L);
    }

    private static long count(ElasticsearchNode elasticsearch, String index, String query) throws Exception {
        Http.Response response = Http.get(elasticsearch.url() + "/" + index + "/_count?q=" + query);
        return response.ok() ? response.json().path("count").asLong() : 0;
    }

    // --- the ceiling: the same documents bulk-indexed directly --------------------------------------------------

    private void bulk(ElasticsearchNode elasticsearch) throws Exception {
        int batch = Integer.parseInt(args.getOrDefault("--bulk-actions", "2000"));
        int clients = Integer.parseInt(args.getOrDefault("--in-flight", "2"));
        URI bulkUri = URI.create(elasticsearch.url() + (ceilingAnswers.equals("full") ? "/_bulk"
                : "/_bulk?filter_path=" + FILTER_PATH));
        ObjectNode schema = envelopeSchema();
        io.cdcindexer.debezium.DebeziumDecoder decoder = new io.cdcindexer.debezium.DebeziumDecoder("x");
        List<String> bodies = new java.util.ArrayList<>();
        for (int from = 0; from < events; from += batch) {
            StringBuilder body = new StringBuilder();
            for (int id = from + 1; id <= Math.min(events, from + batch); id++) {
                JsonNode after = decoder.decode(TOPIC, key(id), change(schema, "c", null, id, 0, id, 1, 1)).after();
                body.append("{\"index\":{\"_index\":\"").append(INDEX).append("\",\"_id\":\"").append(id)
                        .append("\",\"version\":").append(id).append(",\"version_type\":\"external\"}}\n")
                        .append(after).append('\n');
            }
            bodies.add(body.toString());
        }
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        long[] clientAndNode = {ProcessHandle.current().pid(), elasticsearch.process().pid()};
        long[] cpuAtStart = cpuNow(clientAndNode);
        long started = System.nanoTime();
        // When the first look found half the documents, and how many it found: the second half is timed from there.
        long[] half = new long[3];
        Thread poller = new Thread(() -> {
            try {
                while (true) {
                    long visible = count(elasticsearch, INDEX, "*:*");
                    synchronized (half) {
                        if (visible >= events / 2 && half[0] == 0) {
                            half[0] = System.nanoTime();
                            half[1] = visible;
                            half[2] = cpuNanos(elasticsearch.process().pid());
                        }
                    }
                    Thread.sleep(250);
                }
            } catch (InterruptedException e) {
                // done
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        poller.setDaemon(true);
        poller.start();
        Thread[] threads = new Thread[clients];
        // A client whose request failed stops the others and the run, which would otherwise wait for its documents.
        java.util.concurrent.atomic.AtomicReference<Throwable> failed =
                new java.util.concurrent.atomic.AtomicReference<>();
        for (int c = 0; c < clients; c++) {
            threads[c] = new Thread(() -> {
                try {
                    for (int i = next.getAndIncrement(); i < bodies.size() && failed.get() == null;
                            i = next.getAndIncrement()) {
                        Http.Response response = Http.send(HttpRequest.newBuilder(bulkUri)
                                .timeout(java.time.Duration.ofMinutes(2))
                                .header("Content-Type", "application/x-ndjson")
                                .POST(HttpRequest.BodyPublishers.ofString(bodies.get(i))).build());
                        if (!response.ok() || response.body().contains("\"errors\":true")) {
                            String body = response.body();
                            throw new IllegalStateException("bulk failed: "
                                    + body.substring(0, Math.min(300, body.length())));
                        }
                    }
                } catch (Exception | Error e) {
                    if (!failed.compareAndSet(null, e)) {
                        failed.get().addSuppressed(e);
                    }
                }
            });
            threads[c].setDaemon(true); // one that hangs must not keep the JVM from ending with the failure
            threads[c].start();
        }
        // The JDK client's request time-out ends once an answer's headers came: a body that stalls after them, or a
        // client that hangs otherwise, is bounded here by --timeout-s.
        for (Thread thread : threads) {
            thread.join(Math.max(1, (timeoutNanos - (System.nanoTime() - started)) / 1_000_000));
            if (thread.isAlive()) {
                failed.compareAndSet(null, new IllegalStateException("a bulk request still under way after "
                        + timeoutNanos / 1_000_000_000L + " s (--timeout-s)"));
            }
        }
        if (failed.get() != null) {
            poller.interrupt();
            throw new IllegalStateException("the ceiling's bulk requests failed", failed.get());
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf("bulk: %d documents straight into Elasticsearch (%d per request, %d at once, answers %s): "
                + "%.1f s, %.0f docs/s%n", events, batch, clients, ceilingAnswers, seconds, events / seconds);
        System.out.println("  cores used meanwhile:   "
                + cores(new String[] {"client", "Elasticsearch"}, clientAndNode, cpuAtStart, seconds));
        // The pipelines are timed until a search finds every document, polled every 250 ms as here, which also keeps
        // the index from going search-idle (refreshed every second): the ceiling timed the same way.
        for (long visible; (visible = count(elasticsearch, INDEX, "*:*")) < events; ) {
            if (System.nanoTime() - started > timeoutNanos) {
                poller.interrupt();
                throw new IllegalStateException("the ceiling: " + visible + " of " + events
                        + " documents searchable after " + timeoutNanos / 1_000_000_000L + " s (--timeout-s)");
            }
            Thread.sleep(250);
        }
        long done = System.nanoTime();
        double searchable = (done - started) / 1e9;
        poller.interrupt();
        poller.join();
        System.out.printf("  until all searchable, polled as the pipelines are: %.1f s, %.0f docs/s%n", searchable,
                events / searchable);
        if (half[0] > 0) {
            double halfSeconds = (done - half[0]) / 1e9;
            long cpu = cpuNanos(elasticsearch.process().pid()) - half[2];
            System.out.printf("  second half (warm):      %.1f s, %.0f docs/s; Elasticsearch %.2f cores%n", halfSeconds,
                    (events - half[1]) / halfSeconds, cpu / 1e9 / halfSeconds);
            System.out.printf("    Elasticsearch CPU per document: %.1f µs; %s%n", cpu / 1e3 / (events - half[1]),
                    writeTasks(elasticsearch));
        }
    }
}
