package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The look at Kafka's ends, as far as it goes without a broker (against one: {@code CdcIndexerJobKafkaITCase}). */
class PartitionEndsTest {

    /**
     * The look's consumer takes the source's settings (servers, security, isolation), but not what would slow its
     * small reads (fetches tuned for catch-up wait for bytes that a marker never fills) or show them to anyone else.
     */
    @Test
    void theLooksConsumerReadsAtOnceAndShowsItsReadsToNoInterceptor() {
        Properties source = new Properties();
        source.put("bootstrap.servers", "kafka:9092");
        source.put("security.protocol", "SASL_SSL");
        source.put("isolation.level", "read_committed");
        source.put("fetch.min.bytes", "1048576");
        source.put("fetch.max.wait.ms", "500");
        source.put("interceptor.classes", "com.example.CountingInterceptor");
        source.put("group.instance.id", "indexer-1");
        source.put("linger.ms", "5"); // a producer's

        Properties look = PartitionEnds.FromKafka.consumerSettings(source);

        assertThat(look).containsEntry("bootstrap.servers", "kafka:9092")
                .containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("isolation.level", "read_committed")
                .containsEntry("fetch.min.bytes", "1")
                .containsEntry("fetch.max.wait.ms", "100")
                .containsEntry("enable.auto.commit", "false")
                .containsEntry("auto.offset.reset", "none")
                .doesNotContainKeys("interceptor.classes", "group.instance.id", "linger.ms");
    }
}
