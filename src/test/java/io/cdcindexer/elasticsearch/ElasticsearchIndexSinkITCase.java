package io.cdcindexer.elasticsearch;

import static io.cdcindexer.debezium.ChangeEvents.delete;
import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.Savepoints;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DocumentIds;
import io.cdcindexer.kafka.CollectingDeadLetterQueue;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.jobgraph.SavepointConfigOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The sink against a real Elasticsearch 7.10.2 node: versions, stale writes, refusals and outages. */
class ElasticsearchIndexSinkITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberSlotsPerTaskManager(1).build());

    @TempDir
    static Path dir;

    private static ElasticsearchNode elasticsearch;

    @BeforeAll
    static void startElasticsearch() {
        elasticsearch = ElasticsearchNode.start(dir.resolve("es"), FreePorts.next());
    }

    @AfterAll
    static void stopElasticsearch() {
        if (elasticsearch != null) {
            elasticsearch.close();
        }
    }

    private static BulkOptions options(int port) {
        return new BulkOptions(List.of("http://localhost:" + port), 100, 5 << 20, 50, 2, 50, 500);
    }

    private static JobClient start(String name, int port, CollectingDeadLetterQueue deadLetters, ChangeEvent... changes)
            throws Exception {
        return start(name, options(port), deadLetters, changes);
    }

    private static JobClient start(String name, BulkOptions options, CollectingDeadLetterQueue deadLetters,
            ChangeEvent... changes) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.fromData(TypeInformation.of(ChangeEvent.class), changes)
                .sinkTo(new ElasticsearchIndexSink(options, new ChangeEventEmitter(new IndexNames(name + "-{table}")),
                        deadLetters));
        return env.executeAsync(name);
    }

    /** Runs a bounded job: it ends once every write is settled (the sink flushes at the end of input). */
    private static CollectingDeadLetterQueue write(String name, ChangeEvent... changes) throws Exception {
        CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue(name);
        start(name, elasticsearch.port(), deadLetters, changes).getJobExecutionResult().get(2, TimeUnit.MINUTES);
        return deadLetters;
    }

    /**
     * Runs a bounded job whose writer sends one action per request: the first change goes out alone, before the others
     * reach the writer. Returns the dead letters.
     */
    private static CollectingDeadLetterQueue writeOnePerRequest(String name, ChangeEvent... changes) throws Exception {
        BulkOptions onePerRequest = new BulkOptions(List.of("http://localhost:" + elasticsearch.port()), 1, 5 << 20, 50,
                2, 50, 500);
        CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue(name);
        start(name, onePerRequest, deadLetters, changes).getJobExecutionResult().get(2, TimeUnit.MINUTES);
        return deadLetters;
    }

    private static JsonNode get(String index, String id) throws Exception {
        return Http.get(elasticsearch.url() + "/" + index + "/_doc/" + id).json();
    }

    private static String encode(String id) {
        return URLEncoder.encode(id, StandardCharsets.UTF_8);
    }

    @Test
    void upsertsAndDeletesCarryTheirWalPositionAsVersion() throws Exception {
        write("versions",
                upsert("users", "1", 100, "{\"id\":1,\"email\":\"a\"}", null),
                upsert("users", "2", 100, "{\"id\":2,\"email\":\"x\"}", null),
                upsert("users", "1", 200, "{\"id\":1,\"email\":\"b\"}", null),
                delete("users", "2", 300, null));

        JsonNode one = get("versions-users", "1");
        assertThat(one.get("_version").asLong()).isEqualTo(200);
        assertThat(one.get("_source").toString()).isEqualTo("{\"id\":1,\"email\":\"b\"}");
        assertThat(get("versions-users", "2").get("found").asBoolean()).isFalse();
    }

    @Test
    void documentsAreStoredByteForByte() throws Exception {
        write("exact", upsert("orders", "1", 100, "{\"id\":1,\"amount\":1234.50,\"ratio\":0.10}", null));

        assertThat(Http.get(elasticsearch.url() + "/exact-orders/_source/1").body())
                .isEqualTo("{\"id\":1,\"amount\":1234.50,\"ratio\":0.10}");
    }

    @Test
    void staleWritesAreSkippedAndNewerStateStays() throws Exception {
        write("stale", upsert("users", "1", 500, "{\"id\":1,\"email\":\"newest\"}", null));

        CollectingDeadLetterQueue deadLetters = write("stale",
                upsert("users", "1", 400, "{\"id\":1,\"email\":\"older\"}", null),
                upsert("users", "1", 500, "{\"id\":1,\"email\":\"newest\"}", null),
                delete("users", "1", 450, null));

        JsonNode doc = get("stale-users", "1");
        assertThat(doc.get("_version").asLong()).isEqualTo(500);
        assertThat(doc.get("_source").get("email").asText()).isEqualTo("newest");
        assertThat(deadLetters.letters()).as("a stale write is not a failure").isEmpty();
    }

    /**
     * A change routed during a reindex (old and next index) that reaches the writer after the reindex deleted the old
     * index: Elasticsearch is set not to make a {@code cdc.*_v<digit>*} index by itself, so that write fails and is dropped,
     * while the write to the next index lands. (A change routed to that index alone waits for it like a write to an
     * index deleted while the job runs, and is dead-lettered when it does not come back:
     * {@code ElasticsearchIndexWriterTest.aWriteWhoseIndexIsNotMadeAgainIsDeadLetteredAfterItsWait}.)
     */
    @Test
    void aWriteToTheOldIndexOfAFinishedReindexIsDroppedAndItsWriteToTheNextIndexLands() throws Exception {
        assertThat(Http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(elasticsearch.url()
                + "/cdc.retired_v2")).PUT(java.net.http.HttpRequest.BodyPublishers.noBody()).build()).status())
                .isEqualTo(200);
        ChangeEvent late = upsert("docs", "1", 100, "{\"id\":1}", null);
        late.indices = new String[] {"cdc.retired_v1", "cdc.retired_v2"};

        CollectingDeadLetterQueue deadLetters = write("retired", late);

        assertThat(get("cdc.retired_v2", "1").get("found").asBoolean()).isTrue();
        assertThat(Http.get(elasticsearch.url() + "/cdc.retired_v1").status()).as("not made again").isEqualTo(404);
        assertThat(deadLetters.letters()).isEmpty();
    }

    @Test
    void mappingConflictGoesToTheDeadLetterQueueWhileLaterChangesArrive() throws Exception {
        ChangeEvent conflicting = upsert("orders", "2", 110, "{\"id\":2,\"amount\":\"twelve\"}", null);
        CollectingDeadLetterQueue deadLetters = write("mapping",
                upsert("orders", "1", 100, "{\"id\":1,\"amount\":12.5}", null),
                conflicting,
                upsert("orders", "3", 120, "{\"id\":3,\"amount\":7}", null));

        assertThat(get("mapping-orders", "3").get("found").asBoolean()).isTrue();
        assertThat(get("mapping-orders", "2").get("found").asBoolean()).isFalse();
        assertThat(deadLetters.letters()).hasSize(1);
        DeadLetter letter = deadLetters.letters().get(0);
        assertThat(letter.stage).isEqualTo(DeadLetter.Stage.ELASTICSEARCH);
        assertThat(letter.reason).startsWith("Elasticsearch refused the index (400 mapper_parsing_exception): failed to parse field [amount]");
        assertThat(letter.index).isEqualTo("mapping-orders");
        assertThat(letter.documentId).isEqualTo("2");
        assertThat(letter.offset).isEqualTo(conflicting.offset);
        assertThat(new String(letter.value, StandardCharsets.UTF_8)).isEqualTo("{\"id\":2,\"amount\":\"twelve\"}");
    }

    @Test
    void unavailableToastedColumnsKeepTheirValue() throws Exception {
        ChangeEvent update = upsert("articles", "3", 200, "{\"id\":3,\"title\":\"b\"}", null);
        update.unavailableColumns = new String[] {"body"};
        ChangeEvent staleUpdate = upsert("articles", "3", 150, "{\"id\":3,\"title\":\"stale\"}", null);
        staleUpdate.unavailableColumns = new String[] {"body"};

        write("toast", upsert("articles", "3", 100, "{\"id\":3,\"title\":\"a\",\"body\":\"long text\"}", null));
        write("toast", update);
        JsonNode merged = get("toast-articles", "3");
        assertThat(merged.get("_source").toString()).isEqualTo("{\"id\":3,\"title\":\"b\",\"body\":\"long text\"}");
        assertThat(merged.get("_version").asLong()).as("the WAL position, like any other write").isEqualTo(200);

        write("toast", staleUpdate);
        assertThat(get("toast-articles", "3").get("_source").get("title").asText()).isEqualTo("b");

        ChangeEvent withoutStoredDocument = upsert("articles", "4", 100, "{\"id\":4,\"title\":\"t\"}", null);
        withoutStoredDocument.unavailableColumns = new String[] {"body"};
        write("toast", withoutStoredDocument);
        assertThat(get("toast-articles", "4").get("_source").toString()).isEqualTo("{\"id\":4,\"title\":\"t\"}");
    }

    /**
     * '' is a valid text key; its document id is the job's (DocumentIds), not "" (which Elasticsearch refuses, failing
     * the whole bulk request). Its upsert and then its delete go in bulk requests with other documents.
     */
    @Test
    void theDocumentOfAnEmptyStringKeyIsUpsertedAndDeletedAlongsideOthers() throws Exception {
        String empty = DocumentIds.of((ObjectNode) Http.JSON.readTree("{\"k\":\"\"}"));
        String percent = DocumentIds.of((ObjectNode) Http.JSON.readTree("{\"k\":\"%00\"}"));

        CollectingDeadLetterQueue upserts = write("empty-key",
                upsert("keys", "a", 100, "{\"k\":\"a\"}", null),
                upsert("keys", empty, 100, "{\"k\":\"\"}", null),
                upsert("keys", percent, 100, "{\"k\":\"%00\"}", null));

        assertThat(upserts.letters()).isEmpty();
        JsonNode stored = get("empty-key-keys", encode(empty));
        assertThat(stored.get("_version").asLong()).isEqualTo(100);
        assertThat(stored.get("_source").toString()).isEqualTo("{\"k\":\"\"}");
        assertThat(get("empty-key-keys", encode(percent)).get("_source").toString()).isEqualTo("{\"k\":\"%00\"}");
        assertThat(get("empty-key-keys", "a").get("found").asBoolean()).isTrue();

        CollectingDeadLetterQueue deletes = write("empty-key",
                delete("keys", empty, 200, null),
                upsert("keys", "b", 200, "{\"k\":\"b\"}", null));

        assertThat(deletes.letters()).isEmpty();
        assertThat(get("empty-key-keys", encode(empty)).get("found").asBoolean()).isFalse();
        assertThat(get("empty-key-keys", encode(percent)).get("found").asBoolean()).as("another key").isTrue();
        assertThat(get("empty-key-keys", "b").get("found").asBoolean()).isTrue();
    }

    @Test
    void writesSurviveAnOutage() throws Exception {
        try (FlakyProxy proxy = new FlakyProxy(elasticsearch.port(), 3)) {
            CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue("outage");
            JobClient job = start("outage", proxy.port(), deadLetters,
                    upsert("users", "1", 100, "{\"id\":1}", null),
                    upsert("users", "2", 100, "{\"id\":2}", null));

            job.getJobExecutionResult().get(2, TimeUnit.MINUTES);

            assertThat(proxy.dropped()).as("connections dropped before Elasticsearch was reachable").isEqualTo(3);
            assertThat(get("outage-users", "1").get("found").asBoolean()).isTrue();
            assertThat(get("outage-users", "2").get("found").asBoolean()).isTrue();
            assertThat(deadLetters.letters()).isEmpty();
        }
    }

    @Test
    void aRequestRefusedAsAWholeIsSplitUntilTheActionAtFaultIsAloneAndDeadLettered() throws Exception {
        // Elasticsearch refuses a whole bulk request (400 action_request_validation_exception) for an id over 512 bytes.
        ChangeEvent tooLongId = upsert("users", "x".repeat(600), 110, "{\"id\":0}", null);
        ChangeEvent[] changes = new ChangeEvent[21];
        for (int i = 0; i < 20; i++) {
            changes[i < 7 ? i : i + 1] = upsert("users", Integer.toString(i), 100, "{\"id\":" + i + "}", null);
        }
        changes[7] = tooLongId;

        CollectingDeadLetterQueue deadLetters = write("whole", changes);

        Http.post(elasticsearch.url() + "/whole-users/_refresh", "");
        assertThat(Http.get(elasticsearch.url() + "/whole-users/_count").json().get("count").asInt()).isEqualTo(20);
        assertThat(deadLetters.letters()).hasSize(1);
        assertThat(deadLetters.letters().get(0).documentId).isEqualTo(tooLongId.documentId);
        assertThat(deadLetters.letters().get(0).reason)
                .startsWith("Elasticsearch refused the index as a request of its own (400)")
                .contains("is too long, must be no longer than 512 bytes");
    }

    @Test
    void aRequestTooLargeIsSplitAndADocumentTooLargeOnItsOwnIsDeadLettered(@TempDir Path small) throws Exception {
        try (ElasticsearchNode limited = ElasticsearchNode.start(small.resolve("es"), FreePorts.next(),
                Map.of("http.max_content_length", "20kb"))) {
            ChangeEvent[] changes = new ChangeEvent[41];
            String kilobyte = "k".repeat(1_000);
            for (int i = 0; i < 40; i++) {
                changes[i] = upsert("articles", Integer.toString(i), 100, "{\"id\":" + i + ",\"body\":\"" + kilobyte + "\"}", null);
            }
            ChangeEvent huge = upsert("articles", "huge", 100, "{\"body\":\"" + "h".repeat(30_000) + "\"}", null);
            changes[40] = huge;
            CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue("large");

            start("large", options(limited.port()), deadLetters, changes).getJobExecutionResult().get(2, TimeUnit.MINUTES);

            Http.post(limited.url() + "/large-articles/_refresh", "");
            assertThat(Http.get(limited.url() + "/large-articles/_count").json().get("count").asInt()).isEqualTo(40);
            assertThat(deadLetters.letters()).extracting(letter -> letter.documentId).containsExactly("huge");
            assertThat(deadLetters.letters().get(0).reason).startsWith("Elasticsearch refused the index as a request of its own (413)");
        }
    }

    private static void clusterReadOnly(boolean on) throws Exception {
        Http.Response response = Http.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(elasticsearch.url() + "/_cluster/settings"))
                .header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"persistent\":{\"cluster.blocks.read_only\":" + (on ? "true" : "null") + "}}"))
                .build());
        assertThat(response.status()).as(response.body()).isEqualTo(200);
    }

    // Review finding 2: with a cluster-wide block Elasticsearch refuses the whole bulk request with 403
    // cluster_block_exception. An item with that error is retried (BulkItemOutcome), but the request-level 403 failed the
    // job as "refused the job's request (authentication or authorization)": a failure loop on a transient block, and a
    // wrong cause in the web UI and ./cdc status.
    @Test
    void aBlockedClusterIsWaitedOutNotTakenForRefusedCredentials() throws Exception {
        Http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(elasticsearch.url() + "/blocked-users"))
                .PUT(java.net.http.HttpRequest.BodyPublishers.noBody()).build());
        clusterReadOnly(true);
        try {
            CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue("blocked");
            JobClient job = start("blocked", elasticsearch.port(), deadLetters,
                    upsert("users", "1", 100, "{\"id\":1}", null));
            Thread.sleep(3_000);
            assertThat(job.getJobStatus().get())
                    .as("the job waits while the cluster is read-only").isEqualTo(org.apache.flink.api.common.JobStatus.RUNNING);

            clusterReadOnly(false);
            job.getJobExecutionResult().get(2, TimeUnit.MINUTES);

            assertThat(get("blocked-users", "1").get("found").asBoolean()).isTrue();
            assertThat(deadLetters.letters()).isEmpty();
        } finally {
            clusterReadOnly(false);
        }
    }

    @Test
    void refusedCredentialsFailTheJobWithAClearReason() throws Exception {
        try (CredentialCheckingProxy proxy = CredentialCheckingProxy.requiring(elasticsearch.port(), "indexer", "secret")) {
            JobClient job = start("credentials", proxy.port(), new CollectingDeadLetterQueue("credentials"),
                    upsert("users", "1", 100, "{\"id\":1}", null));

            assertThatThrownBy(() -> job.getJobExecutionResult().get(2, TimeUnit.MINUTES))
                    .hasStackTraceContaining("refused the job's request (authentication or authorization): "
                            + "missing authentication credentials for REST request");
        }
    }

    @Test
    void tablesThatDifferOnlyInCaseAreIndexedApart() throws Exception {
        CollectingDeadLetterQueue deadLetters = write("case",
                upsert("Users", "1", 100, "{\"id\":1,\"table\":\"Users\"}", null),
                upsert("users", "1", 100, "{\"id\":1,\"table\":\"users\"}", null));

        assertThat(get("case-~users", "1").path("_source").path("table").asText()).isEqualTo("Users");
        assertThat(get("case-users", "1").path("_source").path("table").asText()).isEqualTo("users");
        assertThat(deadLetters.letters()).isEmpty();
    }

    @Test
    void anUnavailableColumnIsTakenFromTheOlderChangeOfItsDocumentInTheSameBatchNotFromTheStoredOne() throws Exception {
        write("batch", upsert("articles", "5", 100, "{\"id\":5,\"n\":0,\"body\":\"old\"}", null));
        ChangeEvent newBody = upsert("articles", "5", 200, "{\"id\":5,\"n\":1,\"body\":\"new\"}", null);
        ChangeEvent bodyUnchanged = upsert("articles", "5", 300, "{\"id\":5,\"n\":2}", null);
        bodyUnchanged.unavailableColumns = new String[] {"body"};

        write("batch", newBody, bodyUnchanged); // one bounded run: both reach the writer before its first request

        assertThat(get("batch-articles", "5").get("_source").toString()).isEqualTo("{\"id\":5,\"n\":2,\"body\":\"new\"}");
    }

    /**
     * Changes of a live row reach the sink out of order (DocumentVersionFunction lets an older write to a live document
     * through, since Elasticsearch refuses it): transaction 2 (commit 500) completed before transaction 1 (commit 400).
     * Elasticsearch would refuse the older write; the writer must not drop the newer one for it while both wait in its
     * buffer.
     */
    @Test
    void anOlderChangeArrivingLastNeverReplacesANewerOneInTheBuffer() throws Exception {
        write("reorder",
                upsert("users", "1", 500, "{\"id\":1,\"email\":\"newest\"}", null),
                upsert("users", "1", 400, "{\"id\":1,\"email\":\"older\"}", null),
                upsert("users", "2", 500, "{\"id\":2,\"email\":\"re-inserted\"}", null),
                delete("users", "2", 400, null));

        JsonNode one = get("reorder-users", "1");
        assertThat(one.path("_source").path("email").asText()).as("the newer write stays").isEqualTo("newest");
        assertThat(one.path("_version").asLong()).isEqualTo(500);
        JsonNode two = get("reorder-users", "2");
        assertThat(two.path("found").asBoolean()).as("a row live at v500 is not deleted by an older delete").isTrue();
    }

    /**
     * Found by the chaos run (5 stale TOASTed bodies after an Elasticsearch outage). The newest write of a row (commit
     * 200) was under way when an older change of it (commit 150, whose transaction completed later on another subtask)
     * arrived, then a change that left the body alone (commit 300). That one took its body from the older change it
     * found waiting in the buffer: the row's state before it was the newer write, which only Elasticsearch knew.
     */
    @Test
    void anUnavailableColumnIsNeverTakenFromAnOlderChangeWaitingBehindANewerWriteUnderWay() throws Exception {
        ChangeEvent newest = upsert("articles", "7", 200, "{\"id\":7,\"n\":1,\"body\":\"new\"}", null);
        ChangeEvent older = upsert("articles", "7", 150, "{\"id\":7,\"n\":0,\"body\":\"old\"}", null);
        ChangeEvent bodyUnchanged = upsert("articles", "7", 300, "{\"id\":7,\"n\":2}", null);
        bodyUnchanged.unavailableColumns = new String[] {"body"};
        CollectingDeadLetterQueue deadLetters = writeOnePerRequest("underway", newest, older, bodyUnchanged);

        JsonNode stored = get("underway-articles", "7");
        assertThat(stored.path("_source").toString()).isEqualTo("{\"id\":7,\"n\":2,\"body\":\"new\"}");
        assertThat(stored.path("_version").asLong()).isEqualTo(300);
        assertThat(deadLetters.letters()).isEmpty();
    }

    /**
     * The change that set the body (commit 200) reaches the writer after the change that left it alone (commit 300),
     * while that one still waits in the buffer (its document's write of commit 100 is under way): the older change goes
     * first, and the later one is completed from it, instead of the older one being dropped as stale.
     */
    @Test
    void anOlderChangeArrivingWhileAChangeWithUnavailableColumnsWaitsGoesFirst() throws Exception {
        ChangeEvent first = upsert("articles", "8", 100, "{\"id\":8,\"n\":0,\"body\":\"old\"}", null);
        ChangeEvent bodyUnchanged = upsert("articles", "8", 300, "{\"id\":8,\"n\":2}", null);
        bodyUnchanged.unavailableColumns = new String[] {"body"};
        ChangeEvent newBody = upsert("articles", "8", 200, "{\"id\":8,\"n\":1,\"body\":\"new\"}", null);
        CollectingDeadLetterQueue deadLetters = writeOnePerRequest("latepredecessor", first, bodyUnchanged, newBody);

        JsonNode stored = get("latepredecessor-articles", "8");
        assertThat(stored.path("_source").toString()).isEqualTo("{\"id\":8,\"n\":2,\"body\":\"new\"}");
        assertThat(stored.path("_version").asLong()).isEqualTo(300);
        assertThat(deadLetters.letters()).isEmpty();
    }

    /**
     * A change that left the body alone reaches the writer before the insert of its row (the insert's transaction
     * completed later): there is no stored document to take the body from. It waits for the insert instead of being
     * written without the body.
     */
    @Test
    void aChangeWithUnavailableColumnsOfADocumentNotYetWrittenWaitsForIt() throws Exception {
        ChangeEvent bodyUnchanged = upsert("articles", "9", 300, "{\"id\":9,\"n\":2}", null);
        bodyUnchanged.unavailableColumns = new String[] {"body"};
        ChangeEvent insert = upsert("articles", "9", 200, "{\"id\":9,\"n\":1,\"body\":\"first\"}", null);
        CollectingDeadLetterQueue deadLetters = writeOnePerRequest("insertlater", bodyUnchanged, insert);

        JsonNode stored = get("insertlater-articles", "9");
        assertThat(stored.path("_source").toString()).isEqualTo("{\"id\":9,\"n\":2,\"body\":\"first\"}");
        assertThat(stored.path("_version").asLong()).isEqualTo(300);
        assertThat(deadLetters.letters()).isEmpty();
    }

    /**
     * The same through the version check in front of the writer, as the job runs them: the change that left the body
     * alone is a partial write (its transaction flushed at the timeout, still incomplete), which the version check
     * remembers. The insert, older, came after it; the version check dropped it as stale until 2026-12-04, and the
     * change was written without the body.
     */
    @Test
    void aPartialWriteLackingAColumnIsCompletedFromTheInsertTheVersionCheckLetsThroughAfterIt() throws Exception {
        ChangeEvent bodyUnchanged = upsert("articles", "10", 300, "{\"id\":10,\"n\":2}", null);
        bodyUnchanged.unavailableColumns = new String[] {"body"};
        bodyUnchanged.partial = true;
        ChangeEvent insert = upsert("articles", "10", 200, "{\"id\":10,\"n\":1,\"body\":\"first\"}", null);
        CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue("partialwrite");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.fromData(TypeInformation.of(ChangeEvent.class), bodyUnchanged, insert)
                .keyBy(DocumentVersionFunction.DOCUMENT_KEY)
                .process(new DocumentVersionFunction(60_000, 600_000, 30_000, Long.MAX_VALUE))
                .sinkTo(new ElasticsearchIndexSink(options(elasticsearch.port()),
                        new ChangeEventEmitter(new IndexNames("partialwrite-{table}")), deadLetters));
        env.execute("partialwrite");

        JsonNode stored = get("partialwrite-articles", "10");
        assertThat(stored.path("_source").toString()).isEqualTo("{\"id\":10,\"n\":2,\"body\":\"first\"}");
        assertThat(stored.path("_version").asLong()).isEqualTo(300);
        assertThat(deadLetters.letters()).isEmpty();
    }

    /**
     * A table with two TOASTed columns: change 200 gives the body a new value and leaves the summary alone, change 300
     * leaves both alone. Both wait behind change 100 in the writer's buffer; 300 replaced 200 there and was completed
     * from the stored document, the body of 100.
     */
    @Test
    void aChangeLeavingTwoToastedColumnsAloneKeepsTheValueTheChangeBeforeItSet() throws Exception {
        ChangeEvent newBody = upsert("articles", "8", 200, "{\"id\":8,\"n\":1,\"body\":\"new\"}", null);
        newBody.unavailableColumns = new String[] {"summary"};
        ChangeEvent bothUnchanged = upsert("articles", "8", 300, "{\"id\":8,\"n\":2}", null);
        bothUnchanged.unavailableColumns = new String[] {"body", "summary"};

        CollectingDeadLetterQueue deadLetters = write("two-toasted",
                upsert("articles", "8", 100, "{\"id\":8,\"n\":0,\"body\":\"old\",\"summary\":\"s\"}", null),
                newBody, bothUnchanged); // one bounded run: all three reach the writer before its first request

        JsonNode stored = get("two-toasted-articles", "8");
        assertThat(stored.path("_source").toString())
                .isEqualTo("{\"id\":8,\"n\":2,\"body\":\"new\",\"summary\":\"s\"}");
        assertThat(stored.path("_version").asLong()).isEqualTo(300);
        assertThat(deadLetters.letters()).isEmpty();
    }

    /**
     * The multi-get answers a document of an index that does not exist yet, or is closed, with an error of its own, not
     * "found": false. Neither is worth a retry (the writer retries item errors, a shard not yet started say): the first
     * is written without the columns, the second refused for good like any write to a closed index.
     */
    @Test
    void aChangeWithUnavailableColumnsToAMissingOrClosedIndexIsNotRetriedForEver() throws Exception {
        Http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(elasticsearch.url() + "/nomget-closed"))
                .PUT(java.net.http.HttpRequest.BodyPublishers.noBody()).build());
        Http.post(elasticsearch.url() + "/nomget-closed/_close", "");
        ChangeEvent missing = upsert("missing", "1", 300, "{\"id\":1,\"n\":2}", null);
        missing.unavailableColumns = new String[] {"body"};
        ChangeEvent closed = upsert("closed", "1", 300, "{\"id\":1,\"n\":2}", null);
        closed.unavailableColumns = new String[] {"body"};

        CollectingDeadLetterQueue deadLetters = write("nomget", missing, closed);

        assertThat(get("nomget-missing", "1").path("_source").toString()).isEqualTo("{\"id\":1,\"n\":2}");
        assertThat(deadLetters.letters()).extracting(letter -> letter.index).containsExactly("nomget-closed");
    }

    /**
     * A table's index deleted while the job runs, its changes routed to it by name as the mapping step routes them:
     * Elasticsearch answers 404 {@code index_not_found_exception}, being set not to make a job's versioned index by a
     * write. The write waits until the index is made again (here by the test, as the mapping step does at the next
     * change of its table) and lands there, instead of going to the dead-letter queue; a delete there has nothing left
     * to delete and is settled.
     */
    @Test
    void aWriteToAnIndexDeletedWhileTheJobRunsWaitsForItToBeMadeAgain() throws Exception {
        String index = "cdc.gone-articles_v1";
        // A delete and a write of the index, then (a few times a second) changes the writer skips, as a running job's
        // stream goes on: at the end of the input nothing would come to make the index again, and nothing waits.
        GeneratorFunction<Long, ChangeEvent> changes = n -> {
            ChangeEvent change = n == 0 ? delete("articles", "2", 100, null)
                    : upsert("articles", "1", 100, "{\"id\":1}", null);
            change.indices = new String[] {index};
            if (n > 1) {
                change.action = ChangeEvent.Action.SKIP;
            }
            return change;
        };
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue("gone");
        env.fromSource(new DataGeneratorSource<>(changes, Long.MAX_VALUE, RateLimiterStrategy.perSecond(5),
                        TypeInformation.of(ChangeEvent.class)), WatermarkStrategy.noWatermarks(), "changes")
                .sinkTo(new ElasticsearchIndexSink(options(elasticsearch.port()),
                        new ChangeEventEmitter(new IndexNames("gone-{table}")), deadLetters));
        // The index, made and deleted (its alias goes with it), as by hand while the job runs.
        assertThat(Http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(elasticsearch.url() + "/" + index))
                .PUT(java.net.http.HttpRequest.BodyPublishers.noBody()).build()).status()).isEqualTo(200);
        assertThat(Http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(elasticsearch.url() + "/" + index))
                .DELETE().build()).status()).isEqualTo(200);
        JobClient job = env.executeAsync("gone");
        try {
            Thread.sleep(3_000);
            assertThat(Http.get(elasticsearch.url() + "/" + index).status()).as("not made by the write").isEqualTo(404);
            assertThat(deadLetters.letters()).isEmpty();
            assertThat(Http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(elasticsearch.url() + "/"
                    + index)).PUT(java.net.http.HttpRequest.BodyPublishers.noBody()).build()).status()).isEqualTo(200);

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!get(index, "1").path("found").asBoolean() && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertThat(get(index, "1").path("_source").toString()).isEqualTo("{\"id\":1}");
            assertThat(deadLetters.letters()).isEmpty();
        } finally {
            job.cancel().get(30, TimeUnit.SECONDS);
        }
    }

    /**
     * The index is an alias over two indices, one of them its write index (a rollover): it takes writes, but a multi-get
     * cannot read through it. The change that left the body alone is dead-lettered with the reason, neither retried for
     * ever nor written with its body blanked out.
     */
    @Test
    void aChangeWhoseStoredDocumentCannotBeReadThroughAnAliasIsDeadLettered() throws Exception {
        for (String index : List.of("rollover-000001", "rollover-000002")) {
            Http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(elasticsearch.url() + "/" + index))
                    .header("Content-Type", "application/json")
                    .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"aliases\":{\"rollover-articles\":"
                            + (index.endsWith("2") ? "{\"is_write_index\":true}" : "{}") + "}}"))
                    .build());
        }
        ChangeEvent bodyUnchanged = upsert("articles", "1", 300, "{\"id\":1,\"n\":2}", null);
        bodyUnchanged.unavailableColumns = new String[] {"body"};

        CollectingDeadLetterQueue deadLetters = write("rollover", bodyUnchanged,
                upsert("articles", "2", 300, "{\"id\":2,\"n\":2,\"body\":\"b\"}", null));

        assertThat(get("rollover-000002", "2").path("found").asBoolean()).isTrue();
        assertThat(get("rollover-000002", "1").path("found").asBoolean()).isFalse();
        assertThat(deadLetters.letters()).singleElement().satisfies(letter -> assertThat(letter.reason)
                .startsWith("Elasticsearch could not read the stored document to complete the unavailable (TOASTed) "
                        + "columns body (illegal_argument_exception)"));
    }

    @Test
    void aMultiGetRefusedForLackOfPrivilegesFailsTheJobWithAClearReason() throws Exception {
        // A role that may write the indices but not read them: the multi-get that completes unavailable columns is
        // refused (403), which no retry fixes.
        try (CredentialCheckingProxy proxy = CredentialCheckingProxy.refusing(elasticsearch.port(), "/_mget")) {
            ChangeEvent bodyUnchanged = upsert("articles", "1", 300, "{\"id\":1,\"n\":2}", null);
            bodyUnchanged.unavailableColumns = new String[] {"body"};
            JobClient job = start("readonly", proxy.port(), new CollectingDeadLetterQueue("readonly"), bodyUnchanged);

            assertThatThrownBy(() -> job.getJobExecutionResult().get(2, TimeUnit.MINUTES))
                    .hasStackTraceContaining("refused the job's request (authentication or authorization): the multi-get")
                    .hasStackTraceContaining("is unauthorized for user [indexer]");
        }
    }

    /**
     * An update that leaves the body alone, whose row's insert is still held upstream (its transaction waits in the
     * collapse) when a savepoint is taken: the writer used to write it without the body at the savepoint's flush, and
     * the insert, older, was then refused. It goes into the sink's state instead, and the job restored from the
     * savepoint completes it from the insert, which the collapse sends again.
     */
    @Test
    void aChangeWaitingForItsDocumentAtASavepointIsCompletedFromItsInsertAfterTheRestore(@TempDir Path savepoints)
            throws Exception {
        CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue("awaiting");
        ChangesThenIdle.emitted = false;
        StreamExecutionEnvironment first = StreamExecutionEnvironment.getExecutionEnvironment();
        toElasticsearch(first, "changes", ChangesThenIdle.of(200, "{\"id\":1,\"n\":1}", "body"), deadLetters);
        JobClient job = first.executeAsync("awaiting, first run");
        String savepoint;
        try {
            while (!ChangesThenIdle.emitted) {
                Thread.sleep(20);
            }
            savepoint = Savepoints.stopWithSavepoint(job, savepoints);
        } catch (Exception | AssertionError e) {
            job.cancel(); // the other tests need the slot
            throw e;
        }
        assertThat(get("awaiting-articles", "1").path("found").asBoolean()).as("not written without its body")
                .isFalse();

        Configuration restore = new Configuration();
        restore.set(SavepointConfigOptions.SAVEPOINT_PATH, savepoint);
        restore.set(SavepointConfigOptions.SAVEPOINT_IGNORE_UNCLAIMED_STATE, true); // the first source's
        StreamExecutionEnvironment second = StreamExecutionEnvironment.getExecutionEnvironment(restore);
        toElasticsearch(second, "insert", ChangesThenIdle.of(100, "{\"id\":1,\"n\":0,\"body\":\"b0\"}"), deadLetters);
        JobClient restored = second.executeAsync("awaiting, restored");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (get("awaiting-articles", "1").path("_version").asLong() < 200 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
        } finally {
            restored.cancel().get(1, TimeUnit.MINUTES);
        }

        JsonNode document = get("awaiting-articles", "1");
        assertThat(document.path("_source").toString()).isEqualTo("{\"id\":1,\"n\":1,\"body\":\"b0\"}");
        assertThat(document.path("_version").asLong()).isEqualTo(200);
        assertThat(deadLetters.letters()).isEmpty();
    }

    /**
     * A stop with a savepoint (no drain, as {@code ./cdc down}'s) while a write waits out its back-off: Flink quiesces
     * the operators' timers before the savepoint, so a retry on such a timer never came and the savepoint's flush
     * waited for it until the stop failed (FINDINGS 22). The write is tried again and the job stops.
     */
    @Test
    void aStopWithASavepointWhileAWriteWaitsForItsRetryWritesItAndEnds(@TempDir Path savepoints) throws Exception {
        try (FlakyProxy proxy = new FlakyProxy(elasticsearch.port(), 1)) {
            CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue("stopping");
            ChangesThenIdle.emitted = false;
            StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
            // A back-off long enough for the stop to reach the writer (well under a second here) while its write waits.
            long backoffMs = 10_000;
            BulkOptions slowRetries = new BulkOptions(List.of("http://localhost:" + proxy.port()), 100, 5 << 20, 50, 2,
                    backoffMs, backoffMs);
            toElasticsearch(env, "changes", ChangesThenIdle.of(100, "{\"id\":1}"), slowRetries, "stopping-{table}",
                    deadLetters);
            JobClient job = env.executeAsync("stopping");
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (proxy.dropped() == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(proxy.dropped()).as("the write's first try failed").isEqualTo(1);
                long droppedAt = System.nanoTime();
                assertThat(get("stopping-articles", "1").path("found").asBoolean()).as("waiting for its retry")
                        .isFalse();
                assertThat(System.nanoTime() - droppedAt).as("the stop is asked for early in the back-off")
                        .isLessThan(TimeUnit.MILLISECONDS.toNanos(backoffMs / 4));
                Savepoints.stopWithSavepoint(job, savepoints);
                assertThat(System.nanoTime() - droppedAt).as("the stop waited for the write's retry")
                        .isGreaterThan(TimeUnit.MILLISECONDS.toNanos(backoffMs / 2));
            } catch (Exception | AssertionError e) {
                job.cancel(); // the other tests need the slot
                throw e;
            }
            assertThat(get("stopping-articles", "1").path("_version").asLong()).as("written at the stop")
                    .isEqualTo(100);
            assertThat(deadLetters.letters()).isEmpty();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (writerTimerThreads(job) > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(writerTimerThreads(job)).as("the writer's timers ended with it").isZero();
        }
    }

    private static long writerTimerThreads(JobClient job) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive()
                && t.getName().startsWith("Elasticsearch writer timers of")
                && t.getName().endsWith(" of job " + job.getJobID())).count();
    }

    /** @param sourceUid a new one for a source that must start from its first change again after a restore */
    private static void toElasticsearch(StreamExecutionEnvironment env, String sourceUid,
            DataGeneratorSource<ChangeEvent> source, CollectingDeadLetterQueue deadLetters) {
        toElasticsearch(env, sourceUid, source, options(elasticsearch.port()), "awaiting-{table}", deadLetters);
    }

    private static void toElasticsearch(StreamExecutionEnvironment env, String sourceUid,
            DataGeneratorSource<ChangeEvent> source, BulkOptions options, String indices,
            CollectingDeadLetterQueue deadLetters) {
        env.setParallelism(1);
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "changes").uid(sourceUid)
                .sinkTo(new ElasticsearchIndexSink(options,
                        new ChangeEventEmitter(new IndexNames(indices)), deadLetters))
                .uid("elasticsearch-sink");
    }

    /**
     * Sends one change of articles/1, then runs until it is stopped, as the job's stream does (a source of Flink's new
     * interface, as the job's Kafka source). What it sends after the change, a few times a second, the writer skips.
     */
    private static final class ChangesThenIdle {

        /** Set once the change is sent (the test and the MiniCluster share this JVM). */
        static volatile boolean emitted;

        static DataGeneratorSource<ChangeEvent> of(long version, String document, String... unavailable) {
            GeneratorFunction<Long, ChangeEvent> changes = index -> {
                ChangeEvent change = upsert("articles", "1", version, document, null);
                change.unavailableColumns = unavailable.length == 0 ? null : unavailable;
                if (index > 0) {
                    change.action = ChangeEvent.Action.SKIP;
                } else {
                    emitted = true;
                }
                return change;
            };
            return new DataGeneratorSource<>(changes, Long.MAX_VALUE, RateLimiterStrategy.perSecond(5),
                    TypeInformation.of(ChangeEvent.class));
        }
    }
}
