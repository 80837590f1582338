package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The user's Kafka client settings: read as they are, never replacing the client's own. */
class KafkaClientPropertiesTest {

    @TempDir
    Path dir;

    @Test
    void theFileIsReadAsItIsWithConfigProviderReferencesLeftForTheClient() throws Exception {
        Path file = Files.writeString(dir.resolve("kafka.properties"), """
                security.protocol=SASL_SSL
                sasl.mechanism=PLAIN
                config.providers=file
                config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
                sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="cdc" password="${file:/run/secrets/kafka:password}";
                """);

        Map<String, String> settings = KafkaClientProperties.read(file.toString());

        assertThat(settings).containsEntry("security.protocol", "SASL_SSL").containsEntry("config.providers", "file");
        assertThat(settings.get("sasl.jaas.config")).endsWith("password=\"${file:/run/secrets/kafka:password}\";");
        assertThat(KafkaClientProperties.read("")).isEmpty();
    }

    @Test
    void settingsTheClientsOwnAreRefusedNotSilentlyOverridden() throws Exception {
        Path file = Files.writeString(dir.resolve("kafka.properties"), "bootstrap.servers=elsewhere:9092\n");

        assertThatThrownBy(() -> KafkaClientProperties.read(file.toString()))
                .hasMessageContaining("sets bootstrap.servers, which cdc-indexer sets itself (use --kafka.bootstrap-servers");
        assertThatThrownBy(() -> KafkaClientProperties.read(dir.resolve("missing").toString()))
                .hasMessage("Cannot read the Kafka client properties file " + dir.resolve("missing") + " (NoSuchFileException)");
    }

    @Test
    void theClientsOwnSettingsWin() {
        Properties own = new Properties();
        own.put("acks", "all");

        Properties all = KafkaClientProperties.with(Map.of("acks", "0", "security.protocol", "SSL"), own);

        assertThat(all).containsEntry("acks", "all").containsEntry("security.protocol", "SSL");
    }
}
