package io.cdcindexer.job;

import static io.cdcindexer.job.DebeziumJson.change;
import static io.cdcindexer.job.DebeziumJson.end;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.Savepoints;
import io.cdcindexer.elasticsearch.BulkOptions;
import io.cdcindexer.elasticsearch.ChangeEventEmitter;
import io.cdcindexer.elasticsearch.ElasticsearchIndexSink;
import io.cdcindexer.elasticsearch.IndexNames;
import io.cdcindexer.kafka.CollectingDeadLetterQueue;
import io.cdcindexer.kafka.DeadLetterSink;
import io.cdcindexer.kafka.KafkaChangeSource;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.kafka.TestProducers;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.KafkaBroker;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.jobgraph.SavepointConfigOptions;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole job's savepoint restores into the job built the other way: at parallelism 2 the job has its two exchanges
 * (the collapse keyed by transaction, the version check by document, each a task of its own), at parallelism 1 none
 * (the source, the decoder, the collapse, the version check and the writer in one task, the END events in the stream of
 * the changes). A user who changes {@code --parallelism} restores one from the other. The real Kafka source against a
 * real broker and the real writer against a real
 * Elasticsearch node; the index forgets a deleted document's version at once ({@code index.gc_deletes: 0s}), so only the
 * version check's memory keeps an older change from bringing a deleted row back.
 */
class SavepointAcrossShapesITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    private static final String INDEX = "shapes-users";

    @TempDir
    static Path dir;

    private static KafkaBroker kafka;
    private static ElasticsearchNode elasticsearch;

    @BeforeAll
    static void start() {
        kafka = KafkaBroker.start(dir.resolve("kafka"), FreePorts.next());
        elasticsearch = ElasticsearchNode.start(dir.resolve("es"), FreePorts.next());
    }

    @AfterAll
    static void stop() {
        if (elasticsearch != null) {
            elasticsearch.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    /**
     * Each job but the last is stopped with a savepoint holding, in the collapse, two transactions whose changes it has
     * read and whose END events it has not (an update of one row, and an older update of a row deleted since), and, in
     * the version check, the memory of that delete. The next job, of the other shape, is restored from it and then
     * reads both END events: the held update is written, and the older change is dropped instead of bringing the
     * deleted row back. Two to one, then one to two.
     */
    @Test
    void aSavepointOfEitherShapeRestoresIntoTheOtherWithItsHeldTransactionsAndItsMemoryOfADelete(
            @TempDir Path savepoints) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
                KafkaProducer<byte[], byte[]> producer = TestProducers.bytes(kafka.bootstrapServers())) {
            // One partition each: what the source reads of a topic, it reads in the order it was written.
            admin.createTopics(List.of(new NewTopic("cdc.public.users", 1, (short) 1),
                    new NewTopic("cdc.transaction", 1, (short) 1))).all().get();
            HttpRequest create = HttpRequest.newBuilder(URI.create(elasticsearch.url() + "/" + INDEX))
                    .header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofString("{\"settings\":{\"index\":{\"gc_deletes\":\"0s\"}}}"))
                    .build();
            assertThat(Http.send(create).status()).as("index created").isEqualTo(200);
            CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue("shapes");

            int[] parallelisms = {2, 1, 2};
            String savepoint = null;
            for (int round = 0; round < parallelisms.length; round++) {
                boolean last = round == parallelisms.length - 1;
                if (round > 0) {
                    // The END events of the transactions the savepoint holds, read only by the restored job.
                    send(producer, end(stale(round - 1), lsn(round - 1, 30), "users", 1),
                            end(held(round - 1), lsn(round - 1, 50), "users", 1));
                }
                JobClient job = start(parallelisms[round], savepoint, deadLetters);
                String stopped;
                try {
                    if (round > 0) {
                        int before = round - 1;
                        await("round " + before + "'s held update written after the restore at parallelism "
                                + parallelisms[round], () -> "held".equals(email(row(before, 1))));
                    }
                    if (!last) {
                        int now = round;
                        sendRound(producer, now);
                        // The marker's change follows the held ones in their partition: once it is written, the
                        // source has read them, and the savepoint's barrier comes after them.
                        await("round " + now + "'s marker written", () -> email(row(now, 3)) != null);
                    }
                    stopped = Savepoints.stopWithSavepoint(job, savepoints);
                } catch (Exception | AssertionError e) {
                    job.cancel(); // the slots, for the next test
                    throw e;
                }
                // Elasticsearch prunes a delete's tombstone at a refresh once gc_deletes (0 s) is past by its clock,
                // which ticks every 200 ms: from here on only the job remembers the delete.
                Thread.sleep(500);
                Http.post(elasticsearch.url() + "/" + INDEX + "/_refresh", "");
                if (round > 0) {
                    // The older update's END came before the held update's, on one partition: the restored job read it
                    // before the savepoint's barrier, and the savepoint's flush wrote whatever it let through.
                    int deleted = row(round - 1, 2);
                    assertThat(email(deleted)).as("round %d's deleted row, after the restore at parallelism %d read the "
                            + "END of its older update", round - 1, parallelisms[round]).isNull();
                    // Elasticsearch itself would have taken the older update at its version: only the job kept it out.
                    HttpRequest older = HttpRequest.newBuilder(URI.create(elasticsearch.url() + "/" + INDEX + "/_doc/"
                                    + deleted + "?version=" + lsn(round - 1, 30) + "&version_type=external"))
                            .header("Content-Type", "application/json")
                            .PUT(HttpRequest.BodyPublishers.ofString("{\"id\":" + deleted + "}")).build();
                    assertThat(Http.send(older).status()).as("Elasticsearch's answer to the older update by hand")
                            .isEqualTo(201);
                }
                if (!last) {
                    assertThat(email(row(round, 1))).as("round %d's held update, not written before its END", round)
                            .isEqualTo("inserted");
                    assertThat(email(row(round, 2))).as("round %d's deleted row", round).isNull();
                }
                savepoint = stopped;
            }
            assertThat(deadLetters.letters()).isEmpty();
        }
    }

    /**
     * A round's records: row 1 inserted, row 2 inserted then deleted, both written; an update of row 1 and an update of
     * row 2 older than its delete, each in a transaction whose END comes only after the savepoint; row 3, the marker.
     */
    private static void sendRound(KafkaProducer<byte[], byte[]> producer, int round) throws Exception {
        send(producer,
                change("users", "c", row(round, 1), lsn(round, 10), tx(round, "a"), "email", "inserted"),
                end(tx(round, "a"), lsn(round, 10), "users", 1),
                change("users", "c", row(round, 2), lsn(round, 20), tx(round, "b"), "email", "inserted"),
                end(tx(round, "b"), lsn(round, 20), "users", 1),
                change("users", "u", row(round, 2), lsn(round, 30), stale(round), "email", "older than the delete"),
                change("users", "d", row(round, 2), lsn(round, 40), tx(round, "d")),
                end(tx(round, "d"), lsn(round, 40), "users", 1),
                change("users", "u", row(round, 1), lsn(round, 50), held(round), "email", "held"),
                change("users", "c", row(round, 3), lsn(round, 60), tx(round, "m"), "email", "marker"),
                end(tx(round, "m"), lsn(round, 60), "users", 1));
    }

    private static int row(int round, int n) {
        return 10 * round + n;
    }

    private static long lsn(int round, int n) {
        return 1_000L * (round + 1) + n;
    }

    private static String tx(int round, String name) {
        return round + name;
    }

    private static String stale(int round) {
        return tx(round, "s");
    }

    private static String held(int round) {
        return tx(round, "h");
    }

    private static JobClient start(int parallelism, String savepoint, CollectingDeadLetterQueue deadLetters)
            throws Exception {
        JobOptions options = JobOptions.fromArgs("--parallelism", Integer.toString(parallelism),
                "--kafka.bootstrap-servers", kafka.bootstrapServers(), "--kafka.group-id", "shapes",
                "--checkpoint.interval-ms", "200",
                // Nothing held is flushed without its END while the test runs.
                "--transaction.timeout-ms", "600000",
                "--elasticsearch.hosts", elasticsearch.url(), "--elasticsearch.index", "shapes-{table}");
        Configuration configuration = new Configuration();
        if (savepoint != null) {
            configuration.set(SavepointConfigOptions.SAVEPOINT_PATH, savepoint); // every state claimed: none ignored
        }
        return new CdcIndexerJob(options, KafkaChangeSource.create(options),
                new ElasticsearchIndexSink(BulkOptions.from(options),
                        new ChangeEventEmitter(new IndexNames(options.get(JobOptions.ELASTICSEARCH_INDEX))), deadLetters),
                new DeadLetterSink(deadLetters))
                .executeAsync(StreamExecutionEnvironment.getExecutionEnvironment(configuration));
    }

    /** Sends the records in order, and returns once the broker has every one of them. */
    private static void send(KafkaProducer<byte[], byte[]> producer, KafkaRecord... records) throws Exception {
        List<java.util.concurrent.Future<?>> sent = new java.util.ArrayList<>();
        for (KafkaRecord record : records) {
            sent.add(producer.send(new ProducerRecord<>(record.topic, record.key, record.value)));
        }
        for (java.util.concurrent.Future<?> each : sent) {
            each.get(1, TimeUnit.MINUTES);
        }
    }

    /** The document's email, or null when there is no such document. */
    private static String email(int id) {
        try {
            JsonNode document = Http.get(elasticsearch.url() + "/" + INDEX + "/_doc/" + id).json();
            return document.path("found").asBoolean() ? document.path("_source").path("email").asText() : null;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Timed out waiting for: " + what);
            }
            Thread.sleep(100);
        }
    }
}
