package io.cdcindexer.job;

import io.cdcindexer.kafka.KafkaRecord;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;

/**
 * A bounded, checkpointable source that replays records the way Kafka delivers them: in order within a partition, in
 * any interleaving across partitions. It is a {@link DataGeneratorSource}, which splits its index range into one
 * contiguous split per reader; the partitions are laid out as equal-sized contiguous ranges (padded with records the job
 * ignores), so with parallelism 1 or 2 each reader replays whole partitions in order. Records keep their Kafka
 * timestamps (0 unless a test sets them), which make the job's watermark.
 */
final class PartitionedRecordsSource {

    private PartitionedRecordsSource() {}

    /** @param partitions each partition's records, in order; at most 2 partitions (the tests' parallelism) */
    static DataGeneratorSource<KafkaRecord> of(List<List<KafkaRecord>> partitions, double recordsPerSecond) {
        int size = partitions.stream().mapToInt(List::size).max().orElse(0);
        List<KafkaRecord> laidOut = new ArrayList<>();
        for (int p = 0; p < 2; p++) {
            List<KafkaRecord> partition = p < partitions.size() ? partitions.get(p) : List.of();
            long offset = 0;
            for (KafkaRecord record : partition) {
                laidOut.add(new KafkaRecord(record.topic, p, offset++, record.timestamp, record.key, record.value));
            }
            for (int pad = partition.size(); pad < size; pad++) {
                laidOut.add(DebeziumJson.tombstone("padding", 0)); // a tombstone is counted and dropped
            }
        }
        ArrayList<KafkaRecord> records = new ArrayList<>(laidOut);
        return new DataGeneratorSource<>(index -> records.get(index.intValue()), records.size(),
                RateLimiterStrategy.perSecond(recordsPerSecond), TypeInformation.of(KafkaRecord.class));
    }
}
