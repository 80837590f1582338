package io.cdcindexer.kafka;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the partitions of one source subtask are read to their end: what lets a quiet partition's watermark claim
 * more than it has read ({@link PartitionProgress}). Flink's idleness counts a partition idle once nothing came from it
 * for a while; a partition the consumer leaves out of its fetches with records waiting (its broker slow, Kafka away
 * and back, a restart on a backlog) is quiet too, and the watermark would pass its records. So a partition counts as
 * read to its end only when the offset after its last record read has reached the end Kafka gave at a look at most
 * {@link #FRESH_MS} old; a partition nothing was read from yet, when its split's start has.
 *
 * <p>A thread of its own asks Kafka for the ends every {@link #LOOK_EVERY_MS} (one small request); the task thread
 * only compares. Made by the source's reader on the task thread ({@link #forThisTask}), where the watermark generators
 * of that task find it ({@link #ofThisTask}).
 */
public final class PartitionEnds implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PartitionEnds.class);

    /** How often it asks Kafka for the ends. */
    static final long LOOK_EVERY_MS = 1_000;
    /** How old a look may be to count: past it (Kafka out of reach), no partition counts as read to its end. */
    static final long FRESH_MS = 3_000;

    private static final ThreadLocal<PartitionEnds> OF_TASK = new ThreadLocal<>();

    /** Where the ends, and the starts of splits given by a marker, are found: Kafka, or a test's partitions. */
    public interface Lookup extends AutoCloseable {
        /** Each partition's end: the offset its next record will take. */
        Map<TopicPartition, Long> ends(Collection<TopicPartition> partitions) throws Exception;

        /**
         * Where splits whose start is a marker ({@link KafkaPartitionSplit#EARLIEST_OFFSET},
         * {@link KafkaPartitionSplit#COMMITTED_OFFSET}) start, found as the reader finds it; left out where it cannot say.
         */
        Map<TopicPartition, Long> starts(Map<TopicPartition, Long> markers) throws Exception;

        @Override
        default void close() throws Exception {}
    }

    /** What one partition's generator has read: the offset after its last record. */
    static final class Read {
        final TopicPartition partition;
        long next;

        Read(TopicPartition partition) {
            this.partition = partition;
        }
    }

    /** The ends Kafka gave, and when they were asked for. */
    private record Look(Map<TopicPartition, Long> ends, long askedAtMs) {}

    private final Supplier<Lookup> lookups;
    private final LongSupplier clockMs;
    /** By partition assigned: its split's start (an offset, or a marker). Written by the task thread. */
    private final Map<TopicPartition, Long> assigned = new ConcurrentHashMap<>();
    /** Markers resolved by a look. */
    private final Map<TopicPartition, Long> resolvedStarts = new ConcurrentHashMap<>();
    /** By partition read from: how far. The task thread's only. */
    private final Map<TopicPartition, Read> read = new HashMap<>();
    private volatile Look last;
    private volatile boolean closed;
    private Thread looker;

    PartitionEnds(Supplier<Lookup> lookups, LongSupplier clockMs) {
        this.lookups = lookups;
        this.clockMs = clockMs;
    }

    /** Made for the task whose thread calls this (a source reader being created); {@link #start} it, then close it. */
    public static PartitionEnds forThisTask(Supplier<Lookup> lookups) {
        PartitionEnds ends = new PartitionEnds(lookups, () -> System.nanoTime() / 1_000_000);
        OF_TASK.set(ends);
        return ends;
    }

    /** The one of the task whose thread calls this; null when its source gives none (a test's source). */
    static PartitionEnds ofThisTask() {
        return OF_TASK.get();
    }

    /** A split given to the reader, with its start. */
    public void assigned(TopicPartition partition, long start) {
        assigned.put(partition, start);
    }

    /** Where the generator of a partition keeps how far it has read (from its first record on). */
    Read reading(TopicPartition partition) {
        return read.computeIfAbsent(partition, Read::new);
    }

    /** Whether the partition has been read to the end of a fresh look. */
    boolean caughtUp(Read partition) {
        Look look = fresh();
        if (look == null) {
            return false;
        }
        Long end = look.ends.get(partition.partition);
        return end != null && partition.next >= end;
    }

    /**
     * Whether every partition assigned that nothing was read from yet has its start at the end of a fresh look. A
     * generator does not know its partition before its first record, so one that has read nothing asks this of them all.
     */
    boolean unreadCaughtUp() {
        Look look = fresh();
        if (look == null || assigned.isEmpty()) {
            return false;
        }
        for (Map.Entry<TopicPartition, Long> split : assigned.entrySet()) {
            if (read.containsKey(split.getKey())) {
                continue;
            }
            Long start = split.getValue() >= 0 ? split.getValue() : resolvedStarts.get(split.getKey());
            Long end = look.ends.get(split.getKey());
            if (start == null || end == null || start < end) {
                return false;
            }
        }
        return true;
    }

    private Look fresh() {
        Look look = last;
        return look != null && clockMs.getAsLong() - look.askedAtMs <= FRESH_MS ? look : null;
    }

    /** One look: the markers not resolved yet, then the ends of every partition assigned. */
    void lookNow(Lookup lookup) throws Exception {
        Map<TopicPartition, Long> markers = new HashMap<>();
        assigned.forEach((partition, start) -> {
            if (start < 0 && !resolvedStarts.containsKey(partition)) {
                markers.put(partition, start);
            }
        });
        if (!markers.isEmpty()) {
            resolvedStarts.putAll(lookup.starts(markers));
        }
        Set<TopicPartition> partitions = new HashSet<>(assigned.keySet());
        if (partitions.isEmpty()) {
            return;
        }
        long askedAt = clockMs.getAsLong();
        last = new Look(Map.copyOf(lookup.ends(partitions)), askedAt);
    }

    /** Starts the thread that looks. */
    public void start(String name) {
        looker = new Thread(this::lookUntilClosed, name);
        looker.setDaemon(true);
        looker.start();
    }

    private void lookUntilClosed() {
        try (Lookup lookup = lookups.get()) {
            boolean failing = false;
            while (!closed) {
                try {
                    lookNow(lookup);
                    if (failing) {
                        LOG.info("The partitions' ends could be looked up again");
                        failing = false;
                    }
                } catch (Exception e) {
                    if (closed) {
                        break;
                    }
                    if (!failing) {
                        LOG.warn("Could not look up the partitions' ends ({}); until it can, no quiet partition counts "
                                + "as read to its end, and the watermark waits for the ones it holds", e.toString());
                        failing = true;
                    }
                }
                Thread.sleep(LOOK_EVERY_MS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            if (!closed) {
                LOG.warn("The look-up of the partitions' ends stopped", e);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        if (OF_TASK.get() == this) {
            OF_TASK.remove();
        }
        if (looker != null) {
            looker.interrupt();
            looker.join(10_000);
        }
    }

    /** The ends and starts from Kafka, by a consumer of its own (it joins no group and reads no record). */
    static final class FromKafka implements Lookup {
        private static final Duration TIMEOUT = Duration.ofSeconds(5);
        private final KafkaConsumer<byte[], byte[]> consumer;

        FromKafka(Properties properties) {
            Properties own = new Properties();
            own.putAll(properties);
            own.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            own.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            own.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            this.consumer = new KafkaConsumer<>(own);
        }

        @Override
        public Map<TopicPartition, Long> ends(Collection<TopicPartition> partitions) {
            return consumer.endOffsets(partitions, TIMEOUT);
        }

        /** Earliest: the partition's beginning; committed: the group's offset, else the beginning (as the job resets). */
        @Override
        public Map<TopicPartition, Long> starts(Map<TopicPartition, Long> markers) {
            Set<TopicPartition> committed = new HashSet<>();
            Set<TopicPartition> earliest = new HashSet<>();
            markers.forEach((partition, marker) -> {
                if (marker == KafkaPartitionSplit.COMMITTED_OFFSET) {
                    committed.add(partition);
                } else if (marker == KafkaPartitionSplit.EARLIEST_OFFSET) {
                    earliest.add(partition);
                } // the latest: not known here (the reader's look came earlier); nothing counts it read to its end
            });
            Map<TopicPartition, Long> starts = new HashMap<>();
            if (!committed.isEmpty()) {
                for (Map.Entry<TopicPartition, OffsetAndMetadata> offset : consumer.committed(committed, TIMEOUT)
                        .entrySet()) {
                    if (offset.getValue() != null) {
                        starts.put(offset.getKey(), offset.getValue().offset());
                    } else {
                        earliest.add(offset.getKey());
                    }
                }
                committed.stream().filter(p -> !starts.containsKey(p)).forEach(earliest::add);
            }
            if (!earliest.isEmpty()) {
                starts.putAll(consumer.beginningOffsets(List.copyOf(earliest), TIMEOUT));
            }
            return starts;
        }

        @Override
        public void close() {
            consumer.close(Duration.ofSeconds(1));
        }
    }
}
