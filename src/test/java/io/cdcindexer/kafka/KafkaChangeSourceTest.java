package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.job.JobOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.flink.metrics.groups.SourceReaderMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.util.SimpleUserCodeClassLoader;
import org.apache.flink.util.UserCodeClassLoader;
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

    /**
     * The reader the job's source makes hands its {@link PartitionEnds} to the watermark generators of its task (made
     * on the same thread), which would otherwise count a quiet partition idle by quiet alone; closed, it takes it back.
     */
    @Test
    void itsReaderHandsThePartitionsEndsToTheWatermarkOfItsTask() throws Exception {
        KafkaChangeSource source = KafkaChangeSource.create(JobOptions.defaults());
        SourceReaderContext context = new SourceReaderContext() {
            @Override
            public SourceReaderMetricGroup metricGroup() {
                return UnregisteredMetricsGroup.createSourceReaderMetricGroup();
            }

            @Override
            public Configuration getConfiguration() {
                return new Configuration();
            }

            @Override
            public String getLocalHostName() {
                return "localhost";
            }

            @Override
            public int getIndexOfSubtask() {
                return 0;
            }

            @Override
            public void sendSplitRequest() {}

            @Override
            public void sendSourceEventToCoordinator(SourceEvent sourceEvent) {}

            @Override
            public UserCodeClassLoader getUserCodeClassLoader() {
                return SimpleUserCodeClassLoader.create(getClass().getClassLoader());
            }

            @Override
            public int currentParallelism() {
                return 1;
            }
        };

        SourceReader<KafkaRecord, KafkaPartitionSplit> reader = source.createReader(context);
        try {
            assertThat(PartitionEnds.ofThisTask()).isNotNull();
        } finally {
            reader.close();
        }
        assertThat(PartitionEnds.ofThisTask()).isNull();
    }
}
