package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.job.JobOptions;
import java.util.List;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class KafkaChangeSourceTest {

    private static final TopicPartition USERS = new TopicPartition("cdc.public.users", 0);

    @Test
    void startsFromTheGroupsCommittedOffsetsByDefaultAndTheEarliestWhereNone() {
        var initializer = KafkaChangeSource.startingOffsets(JobOptions.defaults());

        assertThat(initializer.getPartitionOffsets(List.of(USERS), null))
                .containsEntry(USERS, KafkaPartitionSplit.COMMITTED_OFFSET);
        assertThat(initializer.getAutoOffsetResetStrategy()).isEqualTo(OffsetResetStrategy.EARLIEST);
    }

    @Test
    void earliestReadsEverythingKafkaStillHoldsWhateverTheGroupCommitted() {
        var initializer = KafkaChangeSource.startingOffsets(JobOptions.fromArgs("--kafka.starting-offsets", "earliest"));

        assertThat(initializer.getPartitionOffsets(List.of(USERS), null))
                .containsEntry(USERS, KafkaPartitionSplit.EARLIEST_OFFSET);
    }

    @Test
    void anUnknownStartingPointIsAnError() {
        assertThatThrownBy(() -> JobOptions.fromArgs("--kafka.starting-offsets", "latest"))
                .hasMessage("Option --kafka.starting-offsets must be committed or earliest, got 'latest'");
    }
}
