package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class KafkaBrokerTest {

    @RepeatedTest(20)
    void clusterIdLooksLikeKafkasOwn() {
        assertThat(KafkaBroker.randomClusterId()).matches("[A-Za-z0-9_][A-Za-z0-9_-]{21}");
    }

    @Test
    void singleNodeIsBrokerAndControllerWithOneReplicaEverywhere() {
        String properties = KafkaBroker.serverProperties(Path.of("/data/kafka/data"), 19092, 19093);

        assertThat(properties)
                .contains("process.roles=broker,controller")
                .contains("controller.quorum.voters=1@localhost:19093")
                .contains("listeners=PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093")
                .contains("advertised.listeners=PLAINTEXT://localhost:19092")
                .contains("log.dirs=/data/kafka/data")
                .contains("offsets.topic.replication.factor=1")
                .contains("transaction.state.log.replication.factor=1");
    }
}
