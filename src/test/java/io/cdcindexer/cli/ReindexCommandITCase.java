package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.Http;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The reindex's completeness check and its flip, against a real Elasticsearch node. */
@ExtendWith(SharedServices.class)
class ReindexCommandITCase {

    private static ElasticsearchNode elasticsearch;

    @BeforeAll
    static void start(ElasticsearchNode node) {
        elasticsearch = node;
    }

    private static int put(String path, String body) throws Exception {
        return Http.send(HttpRequest.newBuilder(URI.create(elasticsearch.url() + "/" + path))
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(body)).build())
                .status();
    }

    /** Runs the check with these rows in the table; returns what it printed. */
    private static String awaitComplete(String current, String next, Set<String> rows, long millis) throws Exception {
        ReindexCommand command = new ReindexCommand();
        StringWriter printed = new StringWriter();
        command.out = new PrintWriter(printed);
        command.es = new ElasticsearchHttp(elasticsearch.url());
        command.awaitComplete(current, next, ids -> {
            Set<String> existing = new HashSet<>(ids);
            existing.retainAll(rows);
            return existing;
        }, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis));
        return printed.toString();
    }

    /**
     * After a TRUNCATE (design.md prescribes a reindex for it), or a delete the old index missed, the old index holds
     * documents whose rows are gone: they are rightly not carried over, and the check passes.
     */
    @Test
    void documentsWhoseRowIsGoneAreNotWaitedFor() throws Exception {
        for (int id = 1; id <= 3; id++) {
            assertThat(put("trunc_v1/_doc/" + id + "?refresh=true", "{\"id\":" + id + "}")).isBetween(200, 201);
        }
        assertThat(put("trunc_v2/_doc/3?refresh=true", "{\"id\":3}")).isBetween(200, 201); // row 3 inserted again

        assertThat(awaitComplete("trunc_v1", "trunc_v2", Set.of("3"), 5_000))
                .contains("2 documents of trunc_v1 whose row is gone (e.g. ")
                .contains("trunc_v2 holds every document of trunc_v1 whose row exists");
    }

    @Test
    void aDocumentWhoseRowExistsButIsNotInTheNextIndexHoldsTheFlipBack() throws Exception {
        assertThat(put("held_v1/_doc/1?refresh=true", "{\"id\":1}")).isBetween(200, 201);
        assertThat(put("held_v2", "{}")).isEqualTo(200);

        assertThatThrownBy(() -> awaitComplete("held_v1", "held_v2", Set.of("1"), 3_000))
                .hasMessageContaining("1 document of held_v1 never reached held_v2")
                .hasMessageContaining("the alias is not moved");
    }

    /**
     * An empty table: no change and no snapshot row is routed to the next index, so the job never makes it; the check
     * makes it, strict and without fields, with the current index's settings, for the job to extend.
     */
    @Test
    void theNextIndexOfAnEmptyTableIsMadeForTheJobToFill() throws Exception {
        assertThat(put("empty_v1", "{\"settings\":{\"number_of_shards\":2,\"number_of_replicas\":0}}")).isEqualTo(200);

        awaitComplete("empty_v1", "empty_v2", Set.of(), 5_000);

        var index = Http.get(elasticsearch.url() + "/empty_v2").json().path("empty_v2");
        assertThat(index.path("mappings").path("dynamic").asText()).isEqualTo("strict");
        assertThat(index.path("settings").path("index").path("number_of_shards").asText()).isEqualTo("2");
    }

    /** A current index still filled without refresh hands on the refresh it is to have after, not its -1. */
    @Test
    void theNextIndexOfAnIndexStillLoadingGetsTheRefreshItIsToHaveAfter() throws Exception {
        assertThat(put("loading_v1", "{\"settings\":{\"refresh_interval\":\"-1\"},\"mappings\":{\"_meta\":"
                + "{\"cdc-indexer\":{\"mapping\":\"x\",\"initialLoad\":{\"index.refresh_interval\":\"3s\"}}}}}"))
                .isEqualTo(200);

        awaitComplete("loading_v1", "loading_v2", Set.of(), 5_000);

        var settings = Http.get(elasticsearch.url() + "/loading_v2").json().path("loading_v2").path("settings")
                .path("index");
        assertThat(settings.path("refresh_interval").asText()).isEqualTo("3s");
    }

    /**
     * An index from before aliases ({@code legacy} a concrete index): the flip swaps it for the alias of the same name in
     * one request, so a search by that name never fails, and finds the new index's documents.
     */
    @Test
    void anIndexFromBeforeAliasesIsReplacedByTheAliasInOneStep() throws Exception {
        assertThat(put("legacy/_doc/1?refresh=true", "{\"id\":1,\"v\":\"old\"}")).isBetween(200, 201);
        assertThat(put("legacy_v1/_doc/1?refresh=true", "{\"id\":1,\"v\":\"new\"}")).isBetween(200, 201);
        ReindexCommand command = new ReindexCommand();
        command.es = new ElasticsearchHttp(elasticsearch.url());

        command.flip("legacy", "legacy", "legacy_v1");

        assertThat(Http.get(elasticsearch.url() + "/_alias/legacy").json().has("legacy_v1")).isTrue();
        assertThat(Http.get(elasticsearch.url() + "/legacy/_doc/1").json().path("_source").path("v").asText())
                .isEqualTo("new");
        assertThat(ReindexCommand.nextIndex("legacy", "legacy")).isEqualTo("legacy_v1");
    }
}
