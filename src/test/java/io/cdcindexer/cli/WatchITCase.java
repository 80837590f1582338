package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.ElasticsearchNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(SharedServices.class)
class WatchITCase {

    static ElasticsearchHttp es;
    static String url;

    @BeforeAll
    static void start(ElasticsearchNode node) {
        url = node.url();
        es = new ElasticsearchHttp(url);
    }

    @Test
    void showsCreatedUpdatedAndDeletedDocumentsLive() throws Exception {
        es.put("/cdc.public.watched/_doc/1?refresh=true", Json.parse("{\"id\":1,\"email\":\"a@example.com\"}", "t"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CompletableFuture<CliRun> watch = CliRun.start(out, "watch", "--elasticsearch", url, "--index",
                "cdc.public.watched*", "--interval", "100ms", "--max-events", "4", "--timeout", "60s");
        awaitOutput(out, "watch: cdc.public.watched (1 doc)");

        es.put("/cdc.public.watched/_doc/2?refresh=true", Json.parse("{\"id\":2,\"email\":\"b@example.com\"}", "t"));
        awaitOutput(out, "created watched/2");
        es.put("/cdc.public.watched/_doc/1?refresh=true", Json.parse("{\"id\":1,\"email\":\"c@example.com\"}", "t"));
        awaitOutput(out, "updated watched/1");
        es.delete("/cdc.public.watched/_doc/1?refresh=true");
        awaitOutput(out, "deleted watched/1");
        es.put("/cdc.public.watched_later/_doc/7?refresh=true", Json.parse("{\"id\":7}", "t"));

        CliRun run = watch.get(60, TimeUnit.SECONDS);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out().lines().toList()).containsSubsequence(List.of(
                "created watched/2 {\"id\":2,\"email\":\"b@example.com\"}",
                "updated watched/1 email: \"a@example.com\" → \"c@example.com\"",
                "deleted watched/1",
                "index cdc.public.watched_later appeared",
                "created watched_later/7 {\"id\":7}"));
    }

    @Test
    void findsTheDeletedDocumentsAmongThousands() {
        StringBuilder bulk = new StringBuilder();
        for (int id = 1; id <= 3_000; id++) {
            bulk.append("{\"index\":{\"_index\":\"cdc.public.many\",\"_id\":\"").append(id).append("\"}}\n")
                    .append("{\"id\":").append(id).append("}\n");
        }
        es.bulk(bulk.toString());
        es.refresh("cdc.public.many");
        IndexWatcher watcher = new IndexWatcher(es, "cdc.public.many", false);
        assertThat(watcher.size()).isEqualTo(3_000);

        es.delete("/cdc.public.many/_doc/17");
        es.delete("/cdc.public.many/_doc/2999");
        es.put("/cdc.public.many/_doc/500", Json.parse("{\"id\":500,\"note\":\"changed\"}", "t"));
        es.put("/cdc.public.many/_doc/3001", Json.parse("{\"id\":3001}", "t"));
        es.refresh("cdc.public.many");

        assertThat(watcher.poll()).extracting(IndexWatcher.Change::describe).containsExactlyInAnyOrder(
                "updated many/500 note: (absent) → \"changed\"",
                "created many/3001 {\"id\":3001}",
                "deleted many/17",
                "deleted many/2999");
        assertThat(watcher.poll()).isEmpty();
        assertThat(watcher.size()).isEqualTo(2_999);
    }

    @Test
    void saysWhenElasticsearchStopsAnsweringAndCarriesOnOnceItIsBack() throws Exception {
        es.put("/cdc.public.restarted/_doc/1?refresh=true", Json.parse("{\"id\":1}", "t"));
        try (CuttableProxy proxy = new CuttableProxy(new java.net.URI(url).getPort())) {
            String viaProxy = "http://localhost:" + proxy.port();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            CompletableFuture<CliRun> watch = CliRun.start(out, "watch", "--elasticsearch", viaProxy, "--index",
                    "cdc.public.restarted*", "--interval", "100ms", "--max-events", "2", "--timeout", "60s");
            awaitOutput(out, "watch: cdc.public.restarted (1 doc)");

            proxy.cut();
            es.put("/cdc.public.restarted/_doc/2?refresh=true", Json.parse("{\"id\":2}", "t"));
            Thread.sleep(1_000); // a few polls that find nobody
            proxy.mend();
            es.put("/cdc.public.restarted/_doc/3?refresh=true", Json.parse("{\"id\":3}", "t"));

            CliRun run = watch.get(60, TimeUnit.SECONDS);
            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(run.err()).contains("watch: Elasticsearch at " + viaProxy + " does not answer (",
                    "); waiting for it to come back (Ctrl-C stops)")
                    .containsPattern("watch: Elasticsearch at " + viaProxy + " answers again after \\d+ s; carrying on");
            assertThat(run.out().lines().toList()).containsSubsequence("created restarted/2 {\"id\":2}",
                    "created restarted/3 {\"id\":3}");
        }
    }

    @Test
    void anOutageStillUnderWayAtTheTimeoutIsAnError() throws Exception {
        try (CuttableProxy proxy = new CuttableProxy(new java.net.URI(url).getPort())) {
            String viaProxy = "http://localhost:" + proxy.port();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            CompletableFuture<CliRun> watch = CliRun.start(out, "watch", "--elasticsearch", viaProxy, "--index",
                    "cdc.public.gone*", "--interval", "100ms", "--timeout", "3s");
            awaitOutput(out, "watch: no index matches cdc.public.gone* yet");
            proxy.cut();

            CliRun run = watch.get(60, TimeUnit.SECONDS);
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.err()).containsPattern("cdc watch: stopped at the --timeout: Elasticsearch at " + viaProxy
                    + " has not answered for the last \\d s");
        }
    }

    @Test
    void timesOutWithFewerEventsThanAskedFor() {
        CliRun run = CliRun.of("watch", "--elasticsearch", url, "--index", "cdc.public.quiet*", "--max-events", "1",
                "--timeout", "1s", "--interval", "200ms");

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.out()).contains("no index matches cdc.public.quiet* yet");
        assertThat(run.err()).contains("timed out after 1 s with 0 of 1 change");
    }

    private static void awaitOutput(ByteArrayOutputStream out, String text) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!out.toString(StandardCharsets.UTF_8).contains(text)) {
            assertThat(System.nanoTime()).as("waiting for '" + text + "' in:\n" + out.toString(StandardCharsets.UTF_8))
                    .isLessThan(deadline);
            LockSupport.parkNanos(50_000_000); // poll interval
        }
    }
}
