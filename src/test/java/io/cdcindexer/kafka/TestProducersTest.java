package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TestProducersTest {

    @Test
    void testsWriteOneRequestAtATimeWhateverElseTheySet() {
        assertThat(TestProducers.settings("localhost:9092", Map.of("transactional.id", "t", "batch.size", "262144")))
                .containsEntry("max.in.flight.requests.per.connection", "1")
                .containsEntry("transactional.id", "t")
                .containsEntry("bootstrap.servers", "localhost:9092")
                .doesNotContainKey("enable.idempotence"); // Kafka's default: on
    }

    @Test
    void moreInFlightIsRefused() {
        assertThatThrownBy(() -> TestProducers.settings("localhost:9092",
                Map.of("max.in.flight.requests.per.connection", "5")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("KAFKA-15591");
    }
}
