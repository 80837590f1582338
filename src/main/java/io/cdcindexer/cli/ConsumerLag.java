package io.cdcindexer.cli;

import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * How far the job's consumer group is behind the change topics: per partition, the end offset minus the offset the group
 * committed, judged from two samples taken a moment apart.
 *
 * <p>The job's Kafka source commits its offsets only when a checkpoint completes, so the committed lag includes what the
 * job read since the last checkpoint: under a steady load it rises between two checkpoints and drops at each, while the
 * job keeps up. Growth alone therefore says little; lag that grows and exceeds both {@link #THRESHOLD} and what two
 * checkpoint intervals of the new changes account for does: the job is falling behind, or not reading at all.
 */
final class ConsumerLag {

    /** Lag below this many records is never a problem. */
    static final long THRESHOLD = 10_000;

    private ConsumerLag() {}

    /** The group's committed offsets and the topics' end offsets at one moment, for the partitions it committed. */
    record Sample(long atMillis, Map<TopicPartition, Long> end, Map<TopicPartition, Long> committed) {

        /** Records behind, per partition the group committed (never negative). */
        Map<TopicPartition, Long> lagByPartition() {
            Map<TopicPartition, Long> lag = new HashMap<>();
            committed.forEach((partition, offset) -> lag.put(partition,
                    Math.max(0, end.getOrDefault(partition, offset) - offset)));
            return lag;
        }

        long lag() {
            return lagByPartition().values().stream().mapToLong(Long::longValue).sum();
        }

        long endTotal() {
            return committed.keySet().stream().mapToLong(partition -> end.getOrDefault(partition, 0L)).sum();
        }
    }

    /** Asks Kafka for the group's committed offsets and the end offsets of those partitions. */
    static Sample sample(Admin admin, String groupId, int timeoutSeconds) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(groupId)
                .partitionsToOffsetAndMetadata().get(timeoutSeconds, TimeUnit.SECONDS);
        Map<TopicPartition, Long> committed = new HashMap<>();
        offsets.forEach((partition, offset) -> {
            if (offset != null) {
                committed.put(partition, offset.offset());
            }
        });
        Map<TopicPartition, Long> end = new HashMap<>();
        if (!committed.isEmpty()) {
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> latest = admin.listOffsets(
                    committed.keySet().stream().collect(Collectors.toMap(p -> p, p -> OffsetSpec.latest())))
                    .all().get(timeoutSeconds, TimeUnit.SECONDS);
            latest.forEach((partition, info) -> end.put(partition, info.offset()));
        }
        return new Sample(System.currentTimeMillis(), end, committed);
    }

    /**
     * Healthy or not, and what to say, from two samples (the later is the lag shown).
     *
     * @param checkpointIntervalMs how often the job commits its offsets (the job's checkpoint interval)
     */
    static StatusCommand.Seen judge(Sample first, Sample second, long checkpointIntervalMs) {
        if (second.committed().isEmpty()) {
            return new StatusCommand.Seen(true, "no committed offsets yet (the job commits them on each checkpoint)");
        }
        long lag = second.lag();
        long change = lag - first.lag();
        long windowMs = Math.max(1, second.atMillis() - first.atMillis());
        String window = StatusCommand.ago(windowMs);
        // New changes per ms during the sampling, and the lag that two checkpoint intervals of them account for.
        double arriving = Math.max(0, second.endTotal() - first.endTotal()) / (double) windowMs;
        long accountedFor = Math.max(THRESHOLD, Math.round(arriving * 2 * checkpointIntervalMs));
        boolean fallingBehind = change > 0 && lag > accountedFor;
        int partitions = second.committed().size();
        StringBuilder detail = new StringBuilder(count(lag) + (lag == 1 ? " record" : " records") + " behind on "
                + partitions + (partitions == 1 ? " partition" : " partitions"));
        detail.append(change > 0 ? ", growing: +" + count(change) + " in " + window
                : change < 0 ? ", shrinking: -" + count(-change) + " in " + window : ", steady over " + window);
        if (fallingBehind) {
            detail.append("\nthe job is falling behind: more than ").append(count(accountedFor))
                    .append(" and growing (offsets are committed on each checkpoint, every ")
                    .append(StatusCommand.ago(checkpointIntervalMs)).append(", so some lag is normal under load)");
            topics(second).forEach(line -> detail.append('\n').append(line));
        }
        return new StatusCommand.Seen(!fallingBehind, detail.toString());
    }

    /** The topics with the most lag, at most three, as {@code topic: N records}. */
    private static List<String> topics(Sample sample) {
        Map<String, Long> byTopic = new HashMap<>();
        sample.lagByPartition().forEach((partition, lag) -> byTopic.merge(partition.topic(), lag, Long::sum));
        return byTopic.entrySet().stream().filter(entry -> entry.getValue() > 0)
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed()
                        .thenComparing(Map.Entry.comparingByKey(Comparator.naturalOrder())))
                .limit(3).map(entry -> entry.getKey() + ": " + count(entry.getValue()) + " records").toList();
    }

    private static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }
}
