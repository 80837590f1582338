package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KafkaConnectWorkerTest {

    @Test
    void workerReadsSecretsFromItsEnvironmentAndKeepsOneReplica() {
        String properties = KafkaConnectWorker.workerProperties(18083, "localhost:19092");

        assertThat(properties)
                .contains("bootstrap.servers=localhost:19092")
                .contains("listeners=http://localhost:18083")
                .contains("config.providers=env")
                .contains("config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider")
                .contains("config.storage.replication.factor=1")
                .contains("offset.storage.replication.factor=1")
                .contains("status.storage.replication.factor=1");
    }
}
