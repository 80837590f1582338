package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ElasticsearchNodeITCase {

    @TempDir
    static Path dir;

    static ElasticsearchNode elasticsearch;

    @BeforeAll
    static void start() {
        elasticsearch = ElasticsearchNode.start(dir, FreePorts.next());
    }

    @AfterAll
    static void stop() {
        if (elasticsearch != null) {
            elasticsearch.close();
            assertThat(elasticsearch.process().isAlive()).isFalse();
        }
    }

    @Test
    void answersAsElasticsearch7() throws Exception {
        Http.Response root = Http.get(elasticsearch.url());

        assertThat(root.status()).isEqualTo(200);
        assertThat(root.json().path("version").path("number").asText()).isEqualTo("7.10.2");
    }

    @Test
    void indexesAndFindsADocument() throws Exception {
        Http.Response put = Http.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(elasticsearch.url() + "/it-index/_doc/1?refresh=true"))
                .header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"name\":\"alice\"}")).build());
        assertThat(put.status()).isEqualTo(201);

        Http.Response get = Http.get(elasticsearch.url() + "/it-index/_doc/1");
        assertThat(get.json().path("_source").path("name").asText()).isEqualTo("alice");
    }

    @Test
    void recordsItsPidAndLog() {
        assertThat(dir.resolve("elasticsearch.pid")).hasContent(Long.toString(elasticsearch.process().pid()));
        assertThat(elasticsearch.process().log()).content().contains("Elasticsearch ready");
    }
}
