package io.cdcindexer.elasticsearch;

import static io.cdcindexer.debezium.ChangeEvents.delete;
import static io.cdcindexer.debezium.ChangeEvents.endAt;
import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.cdcindexer.cli.ElasticsearchHttp;
import io.cdcindexer.cli.ReindexCommand;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DebeziumFixtures;
import io.cdcindexer.debezium.DecodeFunction;
import io.cdcindexer.kafka.CollectingDeadLetterQueue;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import io.cdcindexer.transaction.TransactionCollapseFunction;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletableFuture;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reindex's routing and writes against a real Elasticsearch node, in the sequences an adversarial review found
 * breaking it: a reindex run again after --abort, the flip landing between the two route requests, a job over many
 * tables, an outage longer than the retry limit, a table whose name has "_v" in it, a reindex record that cannot be
 * read for a moment.
 */
class ReindexRoutingITCase {

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

    // --- helpers -----------------------------------------------------------------------------------------------------

    private static ChangeEvent change(String fixture) throws Exception {
        return IndexMappingFunctionITCase.change(fixture);
    }

    private static ChangeEvent at(long lsn, ChangeEvent change) {
        change.lsn = lsn;
        change.version = lsn;
        return change;
    }

    private static OneInputStreamOperatorTestHarness<ChangeEvent, ChangeEvent> harness(String url, String prefix,
            long retryLimitMs) throws Exception {
        return ProcessFunctionTestHarnesses.forProcessFunction((ProcessFunction<ChangeEvent, ChangeEvent>)
                new IndexMappingFunction(List.of(url), new IndexNames(prefix + "-{table}"), "", "", retryLimitMs));
    }

    private static int send(String method, String path, String body) throws Exception {
        return Http.send(HttpRequest.newBuilder(URI.create(elasticsearch.url() + "/" + path))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .build()).status();
    }

    private static void recordReindex(String alias, String next, long fromLsn) throws Exception {
        recordReindex(alias, next, fromLsn, java.time.Instant.now().toString());
    }

    private static void recordReindex(String alias, String next, long fromLsn, String startedAt) throws Exception {
        assertThat(send("PUT", IndexMappingFunction.REINDEX_INDEX + "/_doc/" + alias + "?refresh=true",
                "{\"alias\":\"" + alias + "\",\"to\":\"" + next + "\",\"fromLsn\":" + fromLsn
                        + ",\"startedAt\":\"" + startedAt + "\"}"))
                .isBetween(200, 201);
    }

    private static void flip(String alias, String from, String to) throws Exception {
        assertThat(send("POST", "_aliases", "{\"actions\":[{\"add\":{\"index\":\"" + to + "\",\"alias\":\"" + alias
                + "\"}},{\"remove\":{\"index\":\"" + from + "\",\"alias\":\"" + alias + "\"}}]}")).isEqualTo(200);
    }

    private static void waitForRoutes() throws InterruptedException {
        Thread.sleep(IndexMappingFunction.ROUTES_MAX_AGE_MS + 200);
    }

    private static List<String> lastIndices(OneInputStreamOperatorTestHarness<ChangeEvent, ChangeEvent> harness) {
        List<ChangeEvent> out = harness.extractOutputValues();
        return List.of(out.get(out.size() - 1).indices);
    }

    private static JsonNode get(String index, String id) throws Exception {
        return Http.get(elasticsearch.url() + "/" + index + "/_doc/" + id).json();
    }

    /** Writes the changes through the job's sink (a bounded job); returns its dead letters. */
    private static CollectingDeadLetterQueue write(String name, String indexTemplate, ChangeEvent... changes)
            throws Exception {
        CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue(name);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.fromData(TypeInformation.of(ChangeEvent.class), changes)
                .sinkTo(new ElasticsearchIndexSink(
                        new BulkOptions(List.of(elasticsearch.url()), 100, 5 << 20, 50, 2, 50, 500),
                        new ChangeEventEmitter(new IndexNames(indexTemplate)), deadLetters));
        env.executeAsync(name).getJobExecutionResult().get(2, TimeUnit.MINUTES);
        return deadLetters;
    }

    /**
     * An HTTP proxy in front of the node: runs a hook before forwarding the first request whose path contains a given
     * text, answers 503 while "down", and while "recordUnavailable" answers a multi-get of the reindex record as
     * Elasticsearch 7.10 does while that index's primary shard is not assigned (seen on a node with the shard made
     * unassigned: status 200, the item an error, no "found").
     */
    private static final class HookProxy implements AutoCloseable {
        private final HttpServer server;
        private final AtomicReference<String> trigger = new AtomicReference<>();
        private final AtomicReference<Runnable> hook = new AtomicReference<>();
        final AtomicBoolean down = new AtomicBoolean();
        final AtomicBoolean recordUnavailable = new AtomicBoolean();

        HookProxy(String target) throws Exception {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", exchange -> {
                try {
                    if (down.get()) {
                        exchange.sendResponseHeaders(503, -1);
                        exchange.close();
                        return;
                    }
                    String path = exchange.getRequestURI().toString();
                    String on = trigger.get();
                    if (on != null && path.contains(on) && trigger.compareAndSet(on, null)) {
                        hook.get().run();
                    }
                    byte[] body = exchange.getRequestBody().readAllBytes();
                    if (recordUnavailable.get() && path.startsWith("/" + IndexMappingFunction.REINDEX_INDEX + "/_mget")) {
                        byte[] answer = unassignedShard(body);
                        exchange.getResponseHeaders().add("Content-Type", "application/json");
                        exchange.sendResponseHeaders(200, answer.length);
                        try (OutputStream out = exchange.getResponseBody()) {
                            out.write(answer);
                        }
                        return;
                    }
                    HttpRequest.Builder forward = HttpRequest.newBuilder(URI.create(target + path))
                            .header("Content-Type", "application/json");
                    forward.method(exchange.getRequestMethod(), body.length == 0
                            ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
                    HttpResponse<byte[]> answer = Http.CLIENT.send(forward.build(),
                            HttpResponse.BodyHandlers.ofByteArray());
                    exchange.getResponseHeaders().add("Content-Type", "application/json");
                    exchange.sendResponseHeaders(answer.statusCode(),
                            answer.body().length == 0 ? -1 : answer.body().length);
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(answer.body());
                    }
                } catch (Exception e) {
                    exchange.close();
                }
            });
            server.start();
        }

        private static byte[] unassignedShard(byte[] multiGet) throws java.io.IOException {
            StringBuilder docs = new StringBuilder();
            for (JsonNode id : Http.JSON.readTree(multiGet).path("ids")) {
                docs.append(docs.length() == 0 ? "" : ",").append("{\"_index\":\"")
                        .append(IndexMappingFunction.REINDEX_INDEX).append("\",\"_type\":null,\"_id\":")
                        .append(id).append(",\"error\":{\"root_cause\":[{\"type\":"
                                + "\"no_shard_available_action_exception\",\"reason\":\"No shard "
                                + "available for [org.elasticsearch.action.get.MultiGetShardRequest@4e48fd00]"
                                + "\"}],\"type\":\"no_shard_available_action_exception\",\"reason\":"
                                + "\"No shard available for [org.elasticsearch.action.get."
                                + "MultiGetShardRequest@4e48fd00]\"}}");
            }
            return ("{\"docs\":[" + docs + "]}").getBytes(StandardCharsets.UTF_8);
        }

        void before(String pathContains, Runnable action) {
            hook.set(action);
            trigger.set(pathContains);
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    // --- findings ----------------------------------------------------------------------------------------------------

    /**
     * ./cdc reindex fails (timeout, Ctrl-C), the user runs --abort (record and next index deleted) and then reindexes
     * again, as the error message says. The next index has the same name again, and every subtask that routed a change
     * to it the first time still has it in its mapping cache (keyed by physical name, never invalidated): it is never
     * made again, so every write to it (snapshot rows included) fails with index_not_found and is dead-lettered.
     */
    @Test
    void aReindexRunAgainAfterAbortGetsItsNextIndexMadeAgain() throws Exception {
        try (var harness = harness(elasticsearch.url(), "rerun", 30_000)) {
            harness.processElement(at(100, change("schema-0-insert")), 0);
            recordReindex("rerun-products", "rerun-products_v2", 200);
            waitForRoutes();
            harness.processElement(at(300, change("schema-0-insert")), 0);
            assertThat(Http.get(elasticsearch.url() + "/rerun-products_v2").status()).isEqualTo(200);

            // ./cdc reindex products --abort
            assertThat(send("DELETE", IndexMappingFunction.REINDEX_INDEX + "/_doc/rerun-products?refresh=true", null))
                    .isEqualTo(200);
            waitForRoutes();
            assertThat(send("DELETE", "rerun-products_v2", null)).isEqualTo(200);
            harness.processElement(at(400, change("schema-0-insert")), 0);

            // ./cdc reindex products, again
            recordReindex("rerun-products", "rerun-products_v2", 500);
            waitForRoutes();
            harness.processElement(at(600, change("schema-0-insert")), 0);

            assertThat(lastIndices(harness)).contains("rerun-products_v2");
            assertThat(Http.get(elasticsearch.url() + "/rerun-products_v2").status())
                    .as("the next index the change is routed to exists").isEqualTo(200);
        }
    }

    /**
     * The same, when the subtask routes no change while the reindex is aborted (its partitions were quiet): it never
     * sees the route without the next index, so only the record's start tells the second reindex from the first.
     */
    @Test
    void aReindexRunAgainAfterAnAbortItNeverSawGetsItsNextIndexMadeAgain() throws Exception {
        try (var harness = harness(elasticsearch.url(), "quiet", 30_000)) {
            harness.processElement(at(100, change("schema-0-insert")), 0);
            recordReindex("quiet-products", "quiet-products_v2", 200, "first");
            waitForRoutes();
            harness.processElement(at(300, change("schema-0-insert")), 0);
            assertThat(Http.get(elasticsearch.url() + "/quiet-products_v2").status()).isEqualTo(200);

            // ./cdc reindex products --abort, then ./cdc reindex products: no change meanwhile
            assertThat(send("DELETE", IndexMappingFunction.REINDEX_INDEX + "/_doc/quiet-products?refresh=true", null))
                    .isEqualTo(200);
            assertThat(send("DELETE", "quiet-products_v2", null)).isEqualTo(200);
            recordReindex("quiet-products", "quiet-products_v2", 500, "second");
            waitForRoutes();
            harness.processElement(at(600, change("schema-0-insert")), 0);

            assertThat(lastIndices(harness)).contains("quiet-products_v2");
            assertThat(Http.get(elasticsearch.url() + "/quiet-products_v2").status())
                    .as("the next index the change is routed to exists").isEqualTo(200);
        }
    }

    /**
     * The route look-up is two requests: the alias first, then the reindex record. ./cdc reindex flips the alias and
     * then deletes the record. When both happen between a subtask's two requests, the subtask sees the old index behind
     * the alias and no reindex: for up to 2 s it routes changes to the old index only, which the reindex deletes a few
     * seconds later. Those changes never reach the new index (a delete among them leaves the row in it for good).
     */
    @Test
    void aFlipBetweenTheTwoRouteRequestsNeverRoutesAChangeToTheOldIndexOnly() throws Exception {
        try (HookProxy proxy = new HookProxy(elasticsearch.url());
                var harness = harness(proxy.url(), "race", 30_000)) {
            harness.processElement(at(100, change("schema-0-insert")), 0);
            recordReindex("race-products", "race-products_v2", 200);
            waitForRoutes();
            harness.processElement(at(300, change("schema-0-insert")), 0);
            assertThat(lastIndices(harness)).containsExactly("race-products_v1", "race-products_v2");

            // ./cdc reindex's step 4 lands right after the subtask asked for the alias and before it asks for the record.
            proxy.before(IndexMappingFunction.REINDEX_INDEX + "/_mget", () -> {
                try {
                    flip("race-products", "race-products_v1", "race-products_v2");
                    send("DELETE", IndexMappingFunction.REINDEX_INDEX + "/_doc/race-products?refresh=true", null);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            waitForRoutes();
            harness.processElement(at(400, change("schema-0-insert")), 0);

            assertThat(lastIndices(harness)).as("the alias now points at _v2").contains("race-products_v2");
        }
    }

    /**
     * The route look-up names every alias the subtask has seen in the URL of one GET ({@code a,b,c/_alias}).
     * Elasticsearch refuses a request line longer than http.max_initial_line_length (4 KB by default) with a 400, which
     * the step takes as a refusal and fails the task; after the restart the first change of each table brings the list
     * back. A job over ~60 tables with long names (~150 with names like cdc.public.customer_orders) cannot run.
     */
    @Test
    void aJobOverManyTablesCanStillLookUpItsRoutes() throws Exception {
        try (var harness = harness(elasticsearch.url(), "many", 30_000)) {
            assertThatCode(() -> {
                for (int i = 0; i < 80; i++) {
                    ChangeEvent change = change("schema-0-insert");
                    String table = "a_table_with_a_rather_long_but_perfectly_ordinary_name_" + i;
                    change.table = "public." + table;
                    change.topic = "cdc.public." + table; // the index name is cached by topic
                    harness.processElement(at(100 + i, change), 0);
                }
            }).doesNotThrowAnyException();
            assertThat(harness.extractOutputValues()).hasSize(80);
            assertThat(harness.extractOutputValues()).extracting(c -> c.indices[0]).doesNotHaveDuplicates();
        }
    }

    /**
     * Before the reindex change the step asked Elasticsearch once per index and schema; a change of a known schema
     * went on without a request, and an outage was the writer's to ride out (it retries forever). The routes are read
     * again every 2 s, so a change of a known schema waits while Elasticsearch is away: for as long as it takes, never
     * failing the task after the retry limit (which restarted the job over and over during a long outage).
     */
    @Test
    void aChangeOfAKnownSchemaWaitsOutAnOutageLongerThanTheRetryLimitWithoutFailingTheTask() throws Exception {
        try (HookProxy proxy = new HookProxy(elasticsearch.url());
                var harness = harness(proxy.url(), "outage", 1_500)) {
            ChangeEvent first = at(100, change("schema-0-insert"));
            harness.processElement(first, 0);
            proxy.down.set(true);
            waitForRoutes();

            ChangeEvent known = at(200, change("schema-0-insert"));
            known.rowSchema = first.rowSchema; // the very same schema instance, as the decoder hands it on
            java.util.concurrent.CompletableFuture<Void> processed = java.util.concurrent.CompletableFuture.runAsync(
                    () -> {
                        try {
                            harness.processElement(known, 0);
                        } catch (Exception e) {
                            throw new java.util.concurrent.CompletionException(e);
                        }
                    });
            Thread.sleep(3_000); // twice the retry limit
            assertThat(processed).as("held back while Elasticsearch is away").isNotDone();
            proxy.down.set(false);
            processed.get(30, TimeUnit.SECONDS);
            assertThat(lastIndices(harness)).containsExactly("outage-products_v1");
        }
    }

    /**
     * action.auto_create_index "-cdc.*_v*,+*" is meant for the job's versioned physical indices, but the pattern
     * matches every index whose name has "_v" anywhere after "cdc.": tables such as user_visits, order_values,
     * page_views, or a schema app_v2. With --elasticsearch.mappings none (the job leaves index creation to
     * Elasticsearch, "as before") their first write is refused with index_not_found and dead-lettered.
     */
    @Test
    void aTableWhoseNameContainsUnderscoreVIsStillIndexedWithoutDerivedMappings() throws Exception {
        CollectingDeadLetterQueue deadLetters = write("visits", "{topic}",
                upsert("user_visits", "1", 100, "{\"id\":1,\"page\":\"/\"}", null));

        assertThat(deadLetters.letters()).extracting(letter -> letter.reason).isEmpty();
        assertThat(get("cdc.public.user_visits", "1").path("found").asBoolean()).isTrue();
    }

    /**
     * The record of the reindex is read with a multi-get, and an item that is not "found" is taken as "no reindex". A
     * multi-get answers 200 with an item error (no_shard_available_action_exception) while the record's shard cannot
     * be read: the node just restarted and the index is still recovering, the node holding it left. For that moment
     * the subtask routes every change to the old index only. Those changes never reach the new index; after the flip
     * an update is lost there and a deleted row comes back (the completeness check only looks for documents the new
     * index lacks).
     */
    @Test
    void aRecordThatCannotBeReadForAMomentDoesNotDropTheNextIndexFromTheRoute() throws Exception {
        try (HookProxy proxy = new HookProxy(elasticsearch.url());
                var harness = ProcessFunctionTestHarnesses.forProcessFunction(
                        (ProcessFunction<ChangeEvent, ChangeEvent>) new IndexMappingFunction(List.of(proxy.url()),
                                new IndexNames("red-{table}"), "", "", 30_000))) {
            harness.processElement(at(100, change("schema-0-insert")), 0);
            assertThat(send("PUT", IndexMappingFunction.REINDEX_INDEX + "/_doc/red-products?refresh=true",
                    "{\"alias\":\"red-products\",\"to\":\"red-products_v2\",\"fromLsn\":200}")).isBetween(200, 201);
            Thread.sleep(IndexMappingFunction.ROUTES_MAX_AGE_MS + 200);
            harness.processElement(at(300, change("schema-0-insert")), 0);
            assertThat(lastIndices(harness)).containsExactly("red-products_v1", "red-products_v2");

            // The record's shard is unavailable for a while (as after a restart, until it has recovered).
            proxy.recordUnavailable.set(true);
            Thread.sleep(IndexMappingFunction.ROUTES_MAX_AGE_MS + 200);
            ChangeEvent late = at(400, change("schema-0-insert"));
            CompletableFuture<Void> processed = CompletableFuture.runAsync(() -> {
                try {
                    harness.processElement(late, 0);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            try {
                processed.get(10, TimeUnit.SECONDS);
            } catch (TimeoutException waiting) {
                // Held back until the record can be read again: what it should do.
            } finally {
                proxy.recordUnavailable.set(false);
            }
            processed.get(60, TimeUnit.SECONDS);
            assertThat(lastIndices(harness)).as("a change after fromLsn, routed while the record could not be read")
                    .containsExactly("red-products_v1", "red-products_v2");
        }
    }
}
