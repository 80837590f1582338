package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.KafkaBroker;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The probes {@code down} and {@code submit} ask before and while they wait for a savepoint, against a real
 * Elasticsearch node and Kafka broker: both answer. (That nobody on a port does not answer is {@link JobStopTest}'s;
 * the stop itself, on a real Flink cluster, is {@link SubmitCommandITCase}'s.)
 */
@ExtendWith(SharedServices.class)
class JobStopITCase {

    @Test
    void runningElasticsearchAndKafkaAnswer(ElasticsearchNode elasticsearch, KafkaBroker kafka) {
        assertThat(JobStop.Dependency.firstDown(List.of(JobStop.Dependency.elasticsearch(elasticsearch.url()),
                JobStop.Dependency.kafka(kafka.bootstrapServers())))).isEmpty();
    }
}
