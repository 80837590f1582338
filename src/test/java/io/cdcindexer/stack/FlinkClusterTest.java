package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class FlinkClusterTest {

    private static final String BASE = String.join("\n",
            "# comment: rest.port: 1",
            "rest.port: 8081",
            "taskmanager.numberOfTaskSlots: 2",
            "",
            "env.java.opts.all: --add-opens=java.base/java.util=ALL-UNNAMED  --add-opens=java.base/java.lang=ALL-UNNAMED",
            "");

    @Test
    void replacesOverriddenKeysInPlaceAndAppendsNewOnes() {
        String merged = FlinkCluster.withOverrides(BASE, Map.of("rest.port", "18081", "io.tmp.dirs", "/data/tmp"));

        assertThat(merged).isEqualTo(String.join("\n",
                "# comment: rest.port: 1",
                "rest.port: 18081",
                "taskmanager.numberOfTaskSlots: 2",
                "",
                "env.java.opts.all: --add-opens=java.base/java.util=ALL-UNNAMED  --add-opens=java.base/java.lang=ALL-UNNAMED",
                "",
                "# Local stack instance (written by FlinkCluster)",
                "io.tmp.dirs: /data/tmp",
                ""));
    }

    @Test
    void parsesFlatKeysAndIgnoresComments() {
        Map<String, String> config = FlinkCluster.parse(BASE);

        assertThat(config).containsOnlyKeys("rest.port", "taskmanager.numberOfTaskSlots", "env.java.opts.all");
        assertThat(config.get("env.java.opts.all")).startsWith("--add-opens=java.base/java.util=ALL-UNNAMED");
    }

    @Test
    void localInstanceGetsItsOwnPortsAndFoldersOnLoopback() {
        Map<String, String> overrides = FlinkCluster.localOverrides(Path.of("/data/flink"), 18081, 16123,
                List.of(19249, 19250, 19251));

        assertThat(overrides)
                .containsEntry("rest.port", "18081")
                .as("every process's Prometheus port; each process is started with its own")
                .containsEntry("metrics.reporter.prom.port", "19249,19250,19251")
                .containsEntry("jobmanager.rpc.port", "16123")
                .containsEntry("rest.bind-address", "localhost")
                .containsEntry("execution.checkpointing.dir", "file:///data/flink/checkpoints")
                .containsEntry("execution.checkpointing.savepoint-dir", "file:///data/flink/savepoints");
    }

    @Test
    void checkedInConfigurationHasWhatTheStacksRelyOn() throws IOException {
        Map<String, String> config = FlinkCluster.parse(Files.readString(ProjectHome.dir().resolve("flink-conf/config.yaml")));

        assertThat(config)
                .containsEntry("rest.port", "8081")
                .containsEntry("taskmanager.numberOfTaskSlots", "2")
                .containsEntry("state.backend.type", "hashmap")
                .containsEntry("execution.checkpointing.storage", "filesystem")
                .containsEntry("restart-strategy.type", "exponential-delay")
                .containsKeys("execution.checkpointing.interval", "execution.checkpointing.dir",
                        "execution.checkpointing.savepoint-dir", "taskmanager.memory.process.size");
        assertThat(config.get("env.java.opts.all")).contains("--add-opens=java.base/java.util=ALL-UNNAMED");
        assertThat(config)
                .containsEntry("metrics.reporter.prom.factory.class",
                        "org.apache.flink.metrics.prometheus.PrometheusReporterFactory")
                .as("quoted: the reporter reads its options as strings only, a YAML number or boolean is ignored")
                .containsEntry("metrics.reporter.prom.port", "\"9249\"")
                .as("label values as they are: table=\"public.users\"")
                .containsEntry("metrics.reporter.prom.filterLabelValueCharacters", "\"false\"");
    }
}
