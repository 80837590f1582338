package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.kafka.TestProducers;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.PostgresServer;
import io.cdcindexer.stack.ProjectHome;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * ./cdc reindex's lock, completion detection and --abort against real services, in the sequences the second adversarial
 * review found breaking them.
 */
@ExtendWith(SharedServices.class)
class ReindexSnapshotITCase {

    static PostgresServer postgres;
    static KafkaBroker kafka;
    static ElasticsearchNode elasticsearch;

    @BeforeAll
    static void start(PostgresServer postgresServer, KafkaBroker broker, ElasticsearchNode node) {
        postgres = postgresServer;
        kafka = broker;
        elasticsearch = node;
    }

    private static int send(String method, String path, String body) throws Exception {
        return Http.send(HttpRequest.newBuilder(URI.create(elasticsearch.url() + "/" + path))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .build()).status();
    }

    /**
     * --abort while the reindex is still running (from another terminal: it looked stuck, or a colleague's). --abort
     * deletes the record, finds the alias still on the old index, waits 5 s, and deletes the next index without looking
     * again; the running reindex flips the alias to the next index meanwhile (and deletes the record, already gone).
     * The alias then points at nothing: every search fails with index_not_found; the job finds the alias gone but
     * _v1 still there and fails its task over and over ("a reindex left half done"); the reindex's retire step then
     * deletes _v1 as well once its writes stop. Both indices are gone.
     */
    @Test
    void anAbortOverlappingTheFlipNeverLeavesTheAliasWithoutAnIndex() throws Exception {
        assertThat(send("PUT", "abort-race_v1", "{\"aliases\":{\"abort-race\":{}}}")).isEqualTo(200);
        assertThat(send("PUT", "abort-race_v1/_doc/1?refresh=true", "{\"id\":1}")).isBetween(200, 201);
        assertThat(send("PUT", "abort-race_v2", "{}")).isEqualTo(200);
        assertThat(send("PUT", "abort-race_v2/_doc/1?refresh=true", "{\"id\":1}")).isBetween(200, 201);
        assertThat(send("PUT", "cdc-indexer-reindex/_doc/abort-race?refresh=true",
                "{\"alias\":\"abort-race\",\"from\":\"abort-race_v1\",\"to\":\"abort-race_v2\",\"fromLsn\":1}"))
                .isBetween(200, 201);

        StringWriter printed = new StringWriter();
        ReindexCommand aborting = command(printed);
        aborting.es = new ElasticsearchHttp(elasticsearch.url());
        JsonNode record = Http.JSON.readTree("{\"to\":\"abort-race_v2\"}");
        CompletableFuture<Object> abort = CompletableFuture.supplyAsync(() -> {
            try {
                return aborting.abort("abort-race", Optional.of(record));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(1_500);
        // The running ./cdc reindex reaches step 4: the alias moves in one step, then the record is deleted.
        assertThat(send("POST", "_aliases", "{\"actions\":[{\"add\":{\"index\":\"abort-race_v2\",\"alias\":"
                + "\"abort-race\"}},{\"remove\":{\"index\":\"abort-race_v1\",\"alias\":\"abort-race\"}}]}"))
                .isEqualTo(200);
        send("DELETE", "cdc-indexer-reindex/_doc/abort-race?refresh=true", null);
        String ended;
        try {
            abort.get(60, TimeUnit.SECONDS);
            ended = "normally";
        } catch (java.util.concurrent.ExecutionException e) {
            ended = "with " + e.getCause().getCause().getMessage(); // "There is no index abort-race yet"
        }

        assertThat(send("GET", "abort-race/_search", null)).as("a search on the alias after --abort (it ended "
                + ended + ")").isEqualTo(200);
    }

    private static ReindexCommand command(StringWriter printed) {
        ReindexCommand command = new ReindexCommand();
        command.out = new PrintWriter(printed, true);
        command.config = ProjectHome.dir().resolve("configs/debezium-postgres-connector.json");
        command.timeout = Duration.ofSeconds(8);
        command.table = "t";
        command.group = "no-such-job";
        command.connection = ConnectionOptions.parse("--kafka", kafka.bootstrapServers());
        return command;
    }

    /**
     * A transaction that wrote the table and stays open (a batch job, a session idle in transaction, a prepared
     * transaction): the command's LOCK ... IN SHARE MODE waits 10 s in the lock queue, and every writer of the table
     * queues behind it, although it conflicts with nothing they do; after the lock_timeout it tries again at once. So
     * the table takes no write at all (but for a few milliseconds every 10 s) for as long as that transaction lasts,
     * up to the --timeout (2 h by default): a write outage, in a "zero-downtime" reindex.
     */
    @Test
    void anOpenTransactionOnTheTableDoesNotStopEveryOtherWriterOfIt() throws Exception {
        String database = SharedServices.createDatabase(postgres, "cli_reindex_review_lock");
        try (Connection db = SharedServices.connect(postgres, database);
                Connection longTransaction = SharedServices.connect(postgres, database);
                Connection writer = SharedServices.connect(postgres, database);
                Statement statement = db.createStatement()) {
            statement.execute("CREATE TABLE t (id int PRIMARY KEY, body text)");
            statement.execute("INSERT INTO t SELECT i, 'x' FROM generate_series(1, 100) i");
            longTransaction.setAutoCommit(false);
            try (Statement open = longTransaction.createStatement()) {
                open.execute("INSERT INTO t VALUES (1000, 'an open transaction')");
            }

            StringWriter printed = new StringWriter();
            ReindexCommand command = command(printed);
            Path file = command.config;
            KafkaConnectClient.ConnectorConfig connector = KafkaConnectClient.ConnectorConfig.read(file);
            CapturedTable table = CapturedTable.withPrimaryKey(db, "public").stream()
                    .filter(t -> t.name().equals("t")).findFirst().orElseThrow();
            CompletableFuture<Object> signalled = CompletableFuture.supplyAsync(() -> {
                try {
                    return command.snapshot(db, connector, file, table, null, System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(1_000);

            // An ordinary writer of other rows, allowed 2 s per statement.
            List<String> refused = new ArrayList<>();
            try (Statement write = writer.createStatement()) {
                write.execute("SET statement_timeout = '2s'");
                for (int id = 2000; id < 2005; id++) {
                    try {
                        write.execute("INSERT INTO t VALUES (" + id + ", 'unrelated')");
                    } catch (SQLException e) {
                        refused.add(id + ": " + e.getMessage());
                    }
                }
            }
            longTransaction.commit();
            signalled.get(60, TimeUnit.SECONDS);

            assertThat(refused).as("writes to the table while ./cdc reindex waits for a long transaction to end")
                    .isEmpty();
        }
    }

    /**
     * The end of the snapshot is found by searching the record's bytes for "op":"r" and "snapshot":"last". A table with
     * a column named snapshot (a backup catalogue, say) whose value is 'last' puts exactly those bytes into the after
     * image of its snapshot row: the first such row ends the wait, the alias moves while the snapshot is still running
     * (only ids of the old index are checked after it, so rows the old index lacks — the retyped rows the reindex was
     * run for — are missing from searches until the snapshot really ends).
     */
    @Test
    void aRowWhoseSnapshotColumnSaysLastDoesNotEndTheSnapshot() throws Exception {
        String topic = "cdc.public.backups";
        kafka.createTopic(topic, 2);
        String signalTopic = "cdc.debezium.signal";
        try {
            kafka.createTopic(signalTopic, 1);
        } catch (Exception alreadyThere) {
            // made by another test
        }
        StringWriter printed = new StringWriter();
        ReindexCommand command = command(printed);
        command.es = new ElasticsearchHttp(elasticsearch.url());
        KafkaConnectClient.ConnectorConfig connector = KafkaConnectClient.ConnectorConfig.read(command.config);
        Map<TopicPartition, Long> before = Map.of(new TopicPartition(topic, 0), 0L, new TopicPartition(topic, 1), 0L);

        // The first of 3 snapshot rows, as Debezium's JsonConverter writes it (schema left out for brevity).
        String first = "{\"payload\":{\"before\":null,\"after\":{\"id\":1,\"snapshot\":\"last\"},\"source\":{"
                + "\"version\":\"3.6.1.Final\",\"connector\":\"postgresql\",\"name\":\"cdc\",\"snapshot\":\"first\","
                + "\"db\":\"testdb\",\"schema\":\"public\",\"table\":\"backups\",\"txId\":771,\"lsn\":31732800},"
                + "\"transaction\":null,\"op\":\"r\",\"ts_ms\":1764518400000}}";
        try (KafkaProducer<byte[], byte[]> producer = TestProducers.bytes(kafka.bootstrapServers())) {
            producer.send(new ProducerRecord<>(topic, 0, "{\"id\":1}".getBytes(StandardCharsets.UTF_8),
                    first.getBytes(StandardCharsets.UTF_8))).get();
        }

        ReindexCommand.Signalled signalled = new ReindexCommand.Signalled(3L, "cdc-reindex-fence-none");
        String failure;
        try {
            command.awaitCopied(connector, topic, before, signalled, "cdc.public.backups_v2",
                    System.nanoTime() + TimeUnit.SECONDS.toNanos(8));
            failure = "none";
        } catch (CliException e) {
            failure = e.getMessage();
        }
        assertThat(printed.toString()).as("what it printed")
                .doesNotContain("Debezium has sent every row of the snapshot");
        assertThat(failure).startsWith("The snapshot did not finish");
    }

    /**
     * The table had rows under the lock (a queue, a session table), and they were deleted before Debezium read it (it
     * reads when its stream reaches the signal: seconds later when it lags). The snapshot sends no row, so no
     * "snapshot":"last"; the fence is only used when the count was 0. The fence (after the signal in the WAL, sent
     * once streaming resumed after the snapshot) says the snapshot is over, yet the command waits for a last row that
     * never comes until --timeout (2 h by default), then fails. The same happens when the blocking snapshot fails
     * (Debezium logs "Error while executing requested blocking snapshot" and resumes streaming).
     */
    @Test
    void aSnapshotThatSentNoRowIsOverOnceTheFenceHasCome() throws Exception {
        String topic = "cdc.public.sessions";
        kafka.createTopic(topic, 2);
        String signalTopic = "cdc.debezium.signal";
        try {
            kafka.createTopic(signalTopic, 1);
        } catch (Exception alreadyThere) {
            // made by another test
        }
        StringWriter printed = new StringWriter();
        ReindexCommand command = command(printed);
        command.es = new ElasticsearchHttp(elasticsearch.url());
        command.timeout = Duration.ofSeconds(40);
        KafkaConnectClient.ConnectorConfig connector = KafkaConnectClient.ConnectorConfig.read(command.config);
        Map<TopicPartition, Long> before = Map.of(new TopicPartition(topic, 0), 0L, new TopicPartition(topic, 1), 0L);
        String fence = "cdc-reindex-fence-" + java.util.UUID.randomUUID();
        try (KafkaProducer<byte[], byte[]> producer = TestProducers.bytes(kafka.bootstrapServers())) {
            producer.send(new ProducerRecord<>(signalTopic, ("{\"id\":\"" + fence + "\"}").getBytes(StandardCharsets.UTF_8),
                    ("{\"payload\":{\"after\":{\"id\":\"" + fence + "\",\"type\":\"log\"},\"op\":\"c\"}}")
                            .getBytes(StandardCharsets.UTF_8))).get();
        }
        ReindexCommand.Signalled signalled = new ReindexCommand.Signalled(3L, fence);
        long started = System.nanoTime();
        String failure;
        try {
            command.awaitCopied(connector, topic, before, signalled, "cdc.public.sessions_v2",
                    System.nanoTime() + TimeUnit.SECONDS.toNanos(40));
            failure = "none";
        } catch (CliException e) {
            failure = e.getMessage();
        }
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
        assertThat(failure).as("after " + seconds + " s").doesNotStartWith("The snapshot did not finish");
    }
}
