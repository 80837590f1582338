package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FlinkClusterITCase {

    @TempDir
    static Path dir;

    static FlinkCluster flink;

    @BeforeAll
    static void start() {
        flink = FlinkCluster.start(dir, FreePorts.next());
    }

    @AfterAll
    static void stop() {
        if (flink != null) {
            flink.close();
            assertThat(flink.jobManager().isAlive()).isFalse();
            assertThat(flink.taskManager().isAlive()).isFalse();
        }
    }

    @Test
    void overviewShowsOneTaskManagerWithTwoSlots() throws Exception {
        JsonNode overview = Http.get(flink.url() + "/overview").json();

        assertThat(overview.path("flink-version").asText()).isEqualTo("1.20.5");
        assertThat(overview.path("taskmanagers").asInt()).isEqualTo(1);
        assertThat(overview.path("slots-total").asInt()).isEqualTo(2);
    }

    @Test
    void runsWithTheRepositoryConfigurationAndItsOwnFolders() throws Exception {
        JsonNode config = Http.get(flink.url() + "/jobmanager/config").json();

        assertThat(valueOf(config, "restart-strategy.type")).isEqualTo("exponential-delay");
        assertThat(valueOf(config, "state.backend.type")).isEqualTo("hashmap");
        assertThat(valueOf(config, "execution.checkpointing.dir")).isEqualTo(dir.resolve("checkpoints").toUri().toString());
    }

    @Test
    void servesTheWebUi() throws Exception {
        Http.Response index = Http.get(flink.url() + "/");

        assertThat(index.status()).isEqualTo(200);
        assertThat(index.body()).containsIgnoringCase("Apache Flink Web Dashboard");
    }

    private static String valueOf(JsonNode config, String key) {
        for (JsonNode entry : config) {
            if (entry.path("key").asText().equals(key)) {
                return entry.path("value").asText();
            }
        }
        return null;
    }
}
