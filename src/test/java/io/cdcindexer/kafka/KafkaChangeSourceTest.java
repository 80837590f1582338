package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.job.JobOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

    // Review finding 4: the source sets these after the user's file (setProperty wins), so a value in the file was
    // dropped without a word, unlike bootstrap.servers or group.id, which are refused.
    @Test
    void settingsTheSourceMakesItselfAreRefusedNotSilentlyDropped(@TempDir Path dir) throws Exception {
        for (String line : List.of("max.partition.fetch.bytes=1048576", "partition.discovery.interval.ms=0",
                "client.id.prefix=mine", "commit.offsets.on.checkpoint=false")) {
            Path file = Files.writeString(dir.resolve("kafka.properties"), line + "\n");
            JobOptions options = JobOptions.fromArgs("--kafka.properties-file", file.toString());

            assertThatThrownBy(() -> KafkaChangeSource.create(options)).as(line)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(line.substring(0, line.indexOf('=')));
        }
    }
}
