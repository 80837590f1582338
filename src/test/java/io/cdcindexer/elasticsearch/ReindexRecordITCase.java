package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DebeziumFixtures;
import io.cdcindexer.debezium.DecodeFunction;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reindex record that cannot be read for a moment (its shard not started), against a real Elasticsearch node. */
class ReindexRecordITCase {

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

    private static ChangeEvent change(long lsn) throws Exception {
        try (OneInputStreamOperatorTestHarness<KafkaRecord, ChangeEvent> decode = ProcessFunctionTestHarnesses
                .forProcessFunction(new DecodeFunction("cdc.transaction", "cdc\\.public\\..*",
                        "__debezium_unavailable_value"))) {
            decode.processElement(DebeziumFixtures.record("captured/schema-0-insert"), 0);
            ChangeEvent change = decode.extractOutputValues().get(0);
            change.rowSchema = IndexMappingTest.afterSchema("schema-0-insert");
            change.lsn = lsn;
            change.version = lsn;
            return change;
        }
    }

    private static int send(String method, String path, String body) throws Exception {
        return Http.send(HttpRequest.newBuilder(URI.create(elasticsearch.url() + "/" + path))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .build()).status();
    }

    private static List<String> lastIndices(OneInputStreamOperatorTestHarness<ChangeEvent, ChangeEvent> harness) {
        List<ChangeEvent> out = harness.extractOutputValues();
        return List.of(out.get(out.size() - 1).indices);
    }

    /**
     * A proxy in front of the node that, while {@code unavailable} is set, answers a multi-get of the reindex record as
     * Elasticsearch 7.10 does while that index's primary shard is not assigned (seen on this node with the shard made
     * unassigned: status 200, the item an error, no "found").
     */
    private static final class UnavailableRecordProxy implements AutoCloseable {
        private final HttpServer server;
        final AtomicBoolean unavailable = new AtomicBoolean();

        UnavailableRecordProxy(String target) throws Exception {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", exchange -> {
                try {
                    String path = exchange.getRequestURI().toString();
                    byte[] body = exchange.getRequestBody().readAllBytes();
                    int status;
                    byte[] answer;
                    if (unavailable.get() && path.startsWith("/" + IndexMappingFunction.REINDEX_INDEX + "/_mget")) {
                        status = 200;
                        StringBuilder docs = new StringBuilder();
                        for (JsonNode id : Http.JSON.readTree(body).path("ids")) {
                            docs.append(docs.length() == 0 ? "" : ",").append("{\"_index\":\"")
                                    .append(IndexMappingFunction.REINDEX_INDEX).append("\",\"_type\":null,\"_id\":")
                                    .append(id).append(",\"error\":{\"root_cause\":[{\"type\":"
                                            + "\"no_shard_available_action_exception\",\"reason\":\"No shard "
                                            + "available for [org.elasticsearch.action.get.MultiGetShardRequest@4e48fd00]"
                                            + "\"}],\"type\":\"no_shard_available_action_exception\",\"reason\":"
                                            + "\"No shard available for [org.elasticsearch.action.get."
                                            + "MultiGetShardRequest@4e48fd00]\"}}");
                        }
                        answer = ("{\"docs\":[" + docs + "]}").getBytes(StandardCharsets.UTF_8);
                    } else {
                        HttpRequest.Builder forward = HttpRequest.newBuilder(URI.create(target + path))
                                .header("Content-Type", "application/json");
                        forward.method(exchange.getRequestMethod(), body.length == 0
                                ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
                        HttpResponse<byte[]> response = Http.CLIENT.send(forward.build(),
                                HttpResponse.BodyHandlers.ofByteArray());
                        status = response.statusCode();
                        answer = response.body();
                    }
                    exchange.getResponseHeaders().add("Content-Type", "application/json");
                    exchange.sendResponseHeaders(status, answer.length == 0 ? -1 : answer.length);
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(answer);
                    }
                } catch (Exception e) {
                    exchange.close();
                }
            });
            server.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort();
        }

        @Override
        public void close() {
            server.stop(0);
        }
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
        try (UnavailableRecordProxy proxy = new UnavailableRecordProxy(elasticsearch.url());
                var harness = ProcessFunctionTestHarnesses.forProcessFunction(
                        (ProcessFunction<ChangeEvent, ChangeEvent>) new IndexMappingFunction(List.of(proxy.url()),
                                new IndexNames("red-{table}"), "", "", 30_000))) {
            harness.processElement(change(100), 0);
            assertThat(send("PUT", IndexMappingFunction.REINDEX_INDEX + "/_doc/red-products?refresh=true",
                    "{\"alias\":\"red-products\",\"to\":\"red-products_v2\",\"fromLsn\":200}")).isBetween(200, 201);
            Thread.sleep(IndexMappingFunction.ROUTES_MAX_AGE_MS + 200);
            harness.processElement(change(300), 0);
            assertThat(lastIndices(harness)).containsExactly("red-products_v1", "red-products_v2");

            // The record's shard is unavailable for a while (as after a restart, until it has recovered).
            proxy.unavailable.set(true);
            Thread.sleep(IndexMappingFunction.ROUTES_MAX_AGE_MS + 200);
            ChangeEvent late = change(400);
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
                proxy.unavailable.set(false);
            }
            processed.get(60, TimeUnit.SECONDS);
            assertThat(lastIndices(harness)).as("a change after fromLsn, routed while the record could not be read")
                    .containsExactly("red-products_v1", "red-products_v2");
        }
    }
}
