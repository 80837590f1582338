package io.cdcindexer.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.kafka.PartitionEnds;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.Collector;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The job's watermark against Flink's own source machinery ({@code SourceReaderBase}, which the Kafka reader is built
 * on): a watermark {@code w} must mean that no record up to {@code w} is still to be read in any partition the reader
 * has, or a change with unavailable columns leaves before the row's previous change has been read. {@code
 * SourceReaderBase} creates a split's watermark output only when the split's first records are fetched; what keeps a
 * partition not fetched yet (right after a start, or a topic just discovered) from being left out of the watermark is
 * Flink's {@code SourceOperator}, which creates the outputs of the splits it is given (and of restored ones) itself.
 * This holds the job to it across Flink upgrades.
 */
class PartitionWatermarkITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberSlotsPerTaskManager(1).build());

    /** Partition 0 is fetched first (Kafka time 1000), partition 1 (Kafka time 500) only later. */
    private static final Map<String, List<KafkaRecord>> PARTITIONS = Map.of(
            "cdc.public.articles-0", List.of(record(0, 0, 1_000), record(0, 1, 1_001)),
            "cdc.transaction-0", List.of(record(1, 0, 500)));

    private static KafkaRecord record(int partition, long offset, long kafkaTime) {
        return new KafkaRecord(partition == 0 ? "cdc.public.articles" : "cdc.transaction", 0, offset, kafkaTime, null,
                null);
    }

    private static TopicPartition partitionOf(String splitId) {
        int dash = splitId.lastIndexOf('-');
        return new TopicPartition(splitId.substring(0, dash), Integer.parseInt(splitId.substring(dash + 1)));
    }

    /** The partitions' ranges, as Kafka would give them: each holds the records above from offset 0. */
    private static final PartitionEnds.Lookup ENDS = new PartitionEnds.Lookup() {
        @Override
        public Map<TopicPartition, PartitionEnds.Range> ranges(Collection<TopicPartition> partitions) {
            Map<TopicPartition, PartitionEnds.Range> ranges = new HashMap<>();
            for (TopicPartition partition : partitions) {
                ranges.put(partition, new PartitionEnds.Range(0,
                        PARTITIONS.get(partition.topic() + "-" + partition.partition()).size()));
            }
            return ranges;
        }

        @Override
        public Map<TopicPartition, Long> committed(Collection<TopicPartition> partitions) {
            return Map.of();
        }

        @Override
        public Map<TopicPartition, Long> recordlessUpTo(Map<TopicPartition, PartitionEnds.Gap> gaps) {
            Map<TopicPartition, Long> upTo = new HashMap<>();
            gaps.keySet().forEach(partition -> upTo.put(partition, -1L)); // records lie in every gap
            return upTo;
        }
    };

    /** How long after the first partition the second is fetched; the reader runs in this JVM (a MiniCluster). */
    private static volatile long secondFetchAfterMs;

    @Test
    void theWatermarkNeverPassesARecordOfAPartitionNotFetchedYet() throws Exception {
        assertThat(watermarkWhenTheSecondPartitionIsRead(1_500)).isLessThan(500);
    }

    /**
     * A partition not fetched for the idleness timeout (5 s) with records waiting in it (Kafka away and back, a restart
     * on a backlog) is quiet, but not read to its end ({@link PartitionEnds}): it is not idle, and the watermark waits
     * for its records. Until 2026-12-02 Flink's idleness counted it idle, and the watermark reached 1001 first.
     */
    @Test
    void theWatermarkNeverPassesARecordOfAPartitionFetchedOnlyAfterTheIdlenessTimeout() throws Exception {
        assertThat(watermarkWhenTheSecondPartitionIsRead(6_000)).isLessThan(500);
    }

    // The watermark the record of Kafka time 500 comes after.
    private static long watermarkWhenTheSecondPartitionIsRead(long delayMs) throws Exception {
        secondFetchAfterMs = delayMs;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.getConfig().setAutoWatermarkInterval(50);

        List<String> seen = new ArrayList<>();
        env.fromSource(new PartitionsInTurn(), CdcIndexerJob.PARTITION_PROGRESS, "partitions")
                .process(new ProcessFunction<KafkaRecord, String>() {
                    @Override
                    public void processElement(KafkaRecord record, Context ctx, Collector<String> out) {
                        out.collect(record.topic + " " + record.timestamp + " after watermark "
                                + ctx.timerService().currentWatermark());
                    }
                })
                .executeAndCollect(10)
                .forEach(seen::add);

        String late = seen.stream().filter(s -> s.startsWith("cdc.transaction")).findFirst().orElseThrow();
        return Long.parseLong(late.substring(late.lastIndexOf(' ') + 1));
    }

    /** One split per partition, both assigned to the one reader at once, as Kafka's enumerator does. */
    static final class PartitionsInTurn implements Source<KafkaRecord, Partition, Void>,
            ResultTypeQueryable<KafkaRecord> {

        @Override
        public Boundedness getBoundedness() {
            return Boundedness.BOUNDED;
        }

        @Override
        public SourceReader<KafkaRecord, Partition> createReader(SourceReaderContext context) {
            PartitionEnds ends = PartitionEnds.forThisTask(() -> ENDS); // as the job's Kafka source does
            return new SingleThreadMultiplexSourceReaderBase<KafkaRecord, KafkaRecord, Partition, Partition>(
                    InTurn::new, (record, output, split) -> output.collect(record), new Configuration(), context) {
                @Override
                public void start() {
                    super.start();
                    ends.start("partition ends");
                }

                @Override
                public void addSplits(List<Partition> splits) {
                    splits.forEach(split -> ends.assigned(partitionOf(split.id()), 0));
                    super.addSplits(splits);
                }

                @Override
                public void close() throws Exception {
                    try {
                        super.close();
                    } finally {
                        ends.close();
                    }
                }

                @Override
                protected void onSplitFinished(Map<String, Partition> finished) {}

                @Override
                protected Partition initializedState(Partition split) {
                    return split;
                }

                @Override
                protected Partition toSplitType(String splitId, Partition state) {
                    return state;
                }
            };
        }

        @Override
        public SplitEnumerator<Partition, Void> createEnumerator(SplitEnumeratorContext<Partition> context) {
            return new SplitEnumerator<>() {
                @Override
                public void start() {}

                @Override
                public void handleSplitRequest(int subtaskId, String requesterHostname) {}

                @Override
                public void addSplitsBack(List<Partition> splits, int subtaskId) {}

                @Override
                public void addReader(int subtaskId) {
                    context.assignSplits(new SplitsAssignment<>(Map.of(subtaskId,
                            List.of(new Partition("cdc.public.articles-0"), new Partition("cdc.transaction-0")))));
                    context.signalNoMoreSplits(subtaskId);
                }

                @Override
                public Void snapshotState(long checkpointId) {
                    return null;
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public SplitEnumerator<Partition, Void> restoreEnumerator(SplitEnumeratorContext<Partition> context,
                Void checkpoint) {
            return createEnumerator(context);
        }

        @Override
        public SimpleVersionedSerializer<Partition> getSplitSerializer() {
            return new SimpleVersionedSerializer<>() {
                @Override
                public int getVersion() {
                    return 1;
                }

                @Override
                public byte[] serialize(Partition split) {
                    return split.id.getBytes(StandardCharsets.UTF_8);
                }

                @Override
                public Partition deserialize(int version, byte[] serialized) {
                    return new Partition(new String(serialized, StandardCharsets.UTF_8));
                }
            };
        }

        @Override
        public SimpleVersionedSerializer<Void> getEnumeratorCheckpointSerializer() {
            return new SimpleVersionedSerializer<>() {
                @Override
                public int getVersion() {
                    return 1;
                }

                @Override
                public byte[] serialize(Void checkpoint) {
                    return new byte[0];
                }

                @Override
                public Void deserialize(int version, byte[] serialized) {
                    return null;
                }
            };
        }

        @Override
        public TypeInformation<KafkaRecord> getProducedType() {
            return TypeInformation.of(KafkaRecord.class);
        }
    }

    record Partition(String id) implements SourceSplit {
        @Override
        public String splitId() {
            return id;
        }
    }

    /** Fetches the first partition at once, the second {@link #secondFetchAfterMs} later, then ends. */
    static final class InTurn implements SplitReader<KafkaRecord, Partition> {
        private final ArrayDeque<String> assigned = new ArrayDeque<>();
        private final List<String> all = new ArrayList<>();
        private long firstFetchAt;
        private long bothAssignedAt;

        @Override
        public RecordsWithSplitIds<KafkaRecord> fetch() {
            RecordsBySplits.Builder<KafkaRecord> records = new RecordsBySplits.Builder<>();
            if (firstFetchAt == 0 && assigned.size() < 2) {
                sleep();
            } else if (firstFetchAt == 0 && bothAssignedAt == 0) {
                bothAssignedAt = System.currentTimeMillis();
            } else if (firstFetchAt == 0 && System.currentTimeMillis() - bothAssignedAt < 1_000) {
                // A second after the assignment: the partition not fetched yet has been quiet a second longer, so
                // it would count idle (by quiet alone) a second before the other, which would then set the watermark.
                sleep();
            } else if (firstFetchAt == 0) {
                firstFetchAt = System.currentTimeMillis();
                records.addAll(assigned.peekFirst(), PARTITIONS.get(assigned.pollFirst()));
            } else if (!assigned.isEmpty() && System.currentTimeMillis() - firstFetchAt >= secondFetchAfterMs) {
                records.addAll(assigned.peekFirst(), PARTITIONS.get(assigned.pollFirst()));
            } else if (assigned.isEmpty() && System.currentTimeMillis() - firstFetchAt >= secondFetchAfterMs + 500) {
                all.forEach(records::addFinishedSplit);
                all.clear();
            } else {
                sleep();
            }
            return records.build();
        }

        private static void sleep() {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void handleSplitsChanges(SplitsChange<Partition> change) {
            change.splits().forEach(split -> {
                assigned.add(split.id);
                all.add(split.id);
            });
        }

        @Override
        public void wakeUp() {}

        @Override
        public void close() {}
    }
}
