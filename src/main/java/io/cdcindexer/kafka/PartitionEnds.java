package io.cdcindexer.kafka;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the partitions of one source subtask are read to their end: what lets a quiet partition's watermark claim
 * more than it has read ({@link PartitionProgress}). Flink's idleness counts a partition idle once nothing came from it
 * for a while; a partition the consumer leaves out of its fetches with records waiting (its broker slow, Kafka away
 * and back, a restart on a backlog) is quiet too, and the watermark would pass its records. So a partition counts as
 * read to its end only against a look at Kafka at most {@link #FRESH_MS} old:
 *
 * <ul>
 *   <li>where the reader is: the offset after the last record read, or for a partition nothing was read from yet its
 *       split's start (markers resolved as the reader resolves them); outside the partition's range (a topic deleted
 *       and made again, a log truncated, records removed by retention) the reader starts again from its beginning, and
 *       so does the look, unless the look was asked before the read (then it cannot say);
 *   <li>read to its end when that is the end consumers see (the high watermark; not the last stable offset: to a
 *       reader of committed records, an open transaction's records are still to come), or when only transaction
 *       markers, or records of transactions aborted that such a reader skips, lie between: a small read of the look's
 *       own from there, reading as the reader does, says so;
 *   <li>a partition whose topic is gone (unknown to Kafka for {@link #GONE_AFTER_MS}) has nothing more to read.
 * </ul>
 *
 * <p>Each look also notes how far the subtask had read when it was asked: a partition it finds read to its end claims
 * no more of its subtask's newest time (a record appended to it after the look may be older than what other partitions
 * read since).
 *
 * <p>What it cannot see: a record Connect's producer sent that consumers cannot see yet (retrying, Kafka away, not yet
 * copied to every in-sync replica) keeps the time Connect gave it, older than what the partition claims meanwhile. The
 * watermark's claims stay as they were for that; this closes the consumer's side.
 *
 * <p>A thread of its own looks every {@link #LOOK_EVERY_MS} (two small requests, and a small read per quiet partition
 * short of its end); the task thread only compares. Made by the source's reader on the task thread
 * ({@link #forThisTask}), where the watermark generators of that task find it ({@link #ofThisTask}).
 */
public final class PartitionEnds implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PartitionEnds.class);

    /** How long it waits between looks (a look takes its own time too). */
    static final long LOOK_EVERY_MS = 1_000;
    /** After how many failed looks in a row its clients are made again (a client can stay broken). */
    static final int REMAKE_AFTER_FAILURES = 10;
    /** How often a look that keeps failing says so again. */
    private static final long WARN_AGAIN_MS = 60_000;
    /** How old a look may be to count: past it (Kafka out of reach), no partition counts as read to its end. */
    static final long FRESH_MS = 3_000;
    /**
     * A gap up to which the pacing asks the next look to read on, to find out whether only transaction markers lie
     * there (a record Connect writes with exactly-once support is followed by one): a backlog's gaps are larger.
     */
    static final long MARKERS_AT_MOST = 16;
    /** How long after the start the pacing takes every partition to have records waiting, should no look answer. */
    static final long FIRST_LOOK_MS = 10_000;
    /**
     * How long Kafka must have said a partition's topic is unknown before it counts as gone: one broker that has not
     * caught up with the cluster's metadata (restarted, or a topic just made) says so too.
     */
    static final long GONE_AFTER_MS = 5_000;

    private static final ThreadLocal<PartitionEnds> OF_TASK = new ThreadLocal<>();

    /** A partition's offsets: its first record's (or where it would be) and the one its next record will take. */
    public record Range(long beginning, long end) {
        /** A topic Kafka does not know (this very instance, compared as such): nothing to read, once it stays so. */
        public static final Range GONE = new Range(0, 0);

        /** Where a reader at this offset reads from: outside the range, the consumer starts again at the beginning. */
        long readFrom(long offset) {
            return offset < beginning || offset > end ? beginning : offset;
        }
    }

    /** Where the ranges, the group's offsets and what lies past an offset are found: Kafka, or a test's partitions. */
    public interface Lookup extends AutoCloseable {
        /** Each partition's range; {@link Range#GONE} for a topic that is gone; left out where Kafka did not say. */
        Map<TopicPartition, Range> ranges(Collection<TopicPartition> partitions) throws Exception;

        /** The group's committed offsets, where there are. */
        Map<TopicPartition, Long> committed(Collection<TopicPartition> partitions) throws Exception;

        /**
         * By partition asked: the offset up to which nothing but transaction markers lies from the gap's start (at
         * most its end), or -1 where a record lies there (or it could not say).
         */
        Map<TopicPartition, Long> recordlessUpTo(Map<TopicPartition, Gap> gaps) throws Exception;

        @Override
        default void close() throws Exception {}
    }

    /**
     * What one partition's generator has read: the offset after its last record (a partition read again from its
     * beginning goes back), and when a check first saw it there.
     */
    static final class Read {
        final TopicPartition partition;
        private long next;
        private boolean checked;
        private long checkedAtMs;

        Read(TopicPartition partition) {
            this.partition = partition;
        }

        /** A record read: the offset after it. */
        void readTo(long next) {
            this.next = next;
            checked = false; // the same offset read again (a log made again) is a read of its own
        }
    }

    /** Between where a quiet partition is read to and its end: what a read on reads. */
    public record Gap(long from, long end) {}

    /**
     * The ranges Kafka gave, when they were asked for, and the newest Kafka time the subtask had read before: what a
     * partition read to its end by this look may claim of its subtask's (a record appended to it after the look may be
     * older than what other partitions read meanwhile).
     */
    record Look(Map<TopicPartition, Range> ranges, long askedAtMs, long subtaskNewest) {}

    /** From {@code from}, nothing but markers up to {@code upTo} ({@code -1}: a record lies there). */
    private record Recordless(long from, long upTo) {}

    /**
     * A read on asked for: from where the partition is read to, going on at {@code at} where the read on it
     * {@code continues} stopped (null: from the start).
     */
    private record ReadOn(long from, long at, long end, Recordless continues) {}

    private final Supplier<Lookup> lookups;
    private final LongSupplier clockMs;
    /** By partition assigned: its split's start (an offset, or a marker). Written by the task thread. */
    private final Map<TopicPartition, Long> assigned = new ConcurrentHashMap<>();
    /** Markers resolved by a look. */
    private final Map<TopicPartition, Long> resolvedStarts = new ConcurrentHashMap<>();
    /** Quiet partitions short of their end, with where they are: for the next look to read on from there. */
    private final Map<TopicPartition, ReadOn> toReadOn = new ConcurrentHashMap<>();
    private final Map<TopicPartition, Recordless> readOn = new ConcurrentHashMap<>();
    /** By partition read from: how far. The task thread's only. */
    private final Map<TopicPartition, Read> read = new HashMap<>();
    /** The newest Kafka time read from any partition of the subtask: written by its generators, read by each look. */
    final PartitionProgress.SubtaskNewest subtaskNewest = new PartitionProgress.SubtaskNewest();
    private volatile Look last;
    /** When it was made (milliseconds): the reader starts its looks at once. */
    private final long madeAtMs;
    /** Why the thread that looks stopped, when it did other than by closing. */
    private volatile Throwable stopped;
    /** By partition: the range of the last look that had one. The thread that looks only. */
    private final Map<TopicPartition, Range> seen = new HashMap<>();
    /** By partition: since when Kafka has said its topic is unknown. The thread that looks only. */
    private final Map<TopicPartition, Long> unknownSince = new HashMap<>();
    private volatile boolean closed;
    private Thread looker;

    PartitionEnds(Supplier<Lookup> lookups, LongSupplier clockMs) {
        this.lookups = lookups;
        this.clockMs = clockMs;
        this.madeAtMs = clockMs.getAsLong();
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

    /** The fresh look by which the partition has been read to its end; null when it has not. */
    Look caughtUp(Read partition) {
        Look look = fresh();
        if (look == null) {
            return null;
        }
        if (!partition.checked) {
            partition.checked = true;
            partition.checkedAtMs = clockMs.getAsLong();
        }
        return caughtUp(partition.partition, partition.next, partition.checkedAtMs, look) ? look : null;
    }

    /**
     * How many offsets a fresh look at Kafka says lie past {@code next} in the partition (the offset after the last
     * record read; -1 for none read yet: its split's start), at most as many records as that: 0 past the look's end
     * (read since it was asked) and where only transaction markers lie between; null where no fresh look can say. Until
     * the first look answers (at most {@link #FIRST_LOOK_MS} after the start), every partition has records waiting
     * ({@link Long#MAX_VALUE}): a backlog is read from the first fetch on. A gap of at most {@link #MARKERS_AT_MOST}
     * offsets is read on at the next look, as for the watermark. The source's pacing asks it ({@link ReadPacing}).
     */
    Long offsetsWaiting(TopicPartition partition, long next) {
        Look look = fresh();
        if (look == null) {
            return last == null && clockMs.getAsLong() - madeAtMs < FIRST_LOOK_MS ? Long.valueOf(Long.MAX_VALUE) : null;
        }
        Range range = look.ranges.get(partition);
        if (range == null) {
            return null;
        }
        if (range == Range.GONE) {
            return 0L;
        }
        Long start = next >= 0 ? Long.valueOf(next) : startOf(partition);
        if (start == null) {
            return null;
        }
        if (start >= range.end) {
            return 0L;
        }
        long from = range.readFrom(start);
        // A short gap may be only the markers of a transactional producer: the next look reads on over it.
        return readToTheEnd(partition, range, from, range.end - from <= MARKERS_AT_MOST) ? 0L : range.end - from;
    }

    /** Where the split of an assigned partition starts (its marker resolved); null while not known. */
    private Long startOf(TopicPartition partition) {
        Long start = assigned.get(partition);
        return start != null && start < 0 ? resolvedStarts.get(partition) : start;
    }

    /**
     * Whether every partition assigned that nothing was read from yet starts at its end, by a fresh look (true when
     * none is assigned: a subtask without splits has nothing to read). A generator does not know its partition before
     * its first record, so one that has read nothing asks this of them all.
     */
    boolean unreadCaughtUp() {
        if (assigned.isEmpty()) {
            return true;
        }
        Look look = fresh();
        if (look == null) {
            return false;
        }
        boolean all = true;
        for (Map.Entry<TopicPartition, Long> split : assigned.entrySet()) {
            if (read.containsKey(split.getKey())) {
                continue;
            }
            Long start = startOf(split.getKey());
            all &= start != null && caughtUp(split.getKey(), start, Long.MIN_VALUE, look); // each short reads on
        }
        return all;
    }

    /**
     * Read to its end at {@code offset}, where the reader was at {@code readAtMs}: past the end of a look asked before
     * that, the look is only older than the read and cannot say; past the end of a later one, the log is behind what
     * was read (truncated, its topic made again) and the reader starts again from its beginning.
     */
    private boolean caughtUp(TopicPartition partition, long offset, long readAtMs, Look look) {
        Range range = look.ranges.get(partition);
        if (range == null || (offset > range.end && look.askedAtMs <= readAtMs)) {
            return false;
        }
        return readToTheEnd(partition, range, range.readFrom(offset), true);
    }

    /**
     * Whether a reader at {@code from} has read the range to its end: nothing lies between, or a read on found only
     * transaction markers there. If not, and {@code lookOn}, the next look reads on from there (going on from what
     * the last read on found).
     */
    private boolean readToTheEnd(TopicPartition partition, Range range, long from, boolean lookOn) {
        if (from >= range.end) {
            return true;
        }
        Recordless markers = readOn.get(partition);
        if (markers != null && markers.from == from && markers.upTo >= range.end) {
            return true;
        }
        if (lookOn) {
            boolean markersRead = markers != null && markers.from == from && markers.upTo > from;
            toReadOn.put(partition, markersRead ? new ReadOn(from, markers.upTo, range.end, markers)
                    : new ReadOn(from, from, range.end, null));
        }
        return false;
    }

    private Look fresh() {
        Throwable cause = stopped;
        if (cause != null) {
            throw new IllegalStateException("The look at the partitions' ends stopped", cause); // the task restarts
        }
        Look look = last;
        return look != null && clockMs.getAsLong() - look.askedAtMs <= FRESH_MS ? look : null;
    }

    /** One look: the markers not resolved yet, the ranges of every partition assigned, then the reads on asked for. */
    void lookNow(Lookup lookup) throws Exception {
        Map<TopicPartition, Long> markers = new HashMap<>();
        assigned.forEach((partition, start) -> {
            if (start < 0 && !resolvedStarts.containsKey(partition)) {
                markers.put(partition, start);
            }
        });
        Exception unresolved = null;
        if (!markers.isEmpty()) {
            try {
                resolvedStarts.putAll(starts(lookup, markers));
            } catch (Exception e) {
                unresolved = e; // the group's coordinator away: the ranges of the rest still count
            }
        }
        Set<TopicPartition> partitions = new HashSet<>(assigned.keySet());
        if (!partitions.isEmpty()) {
            long newestBefore = subtaskNewest.value;
            long askedAt = clockMs.getAsLong();
            Map<TopicPartition, Range> ranges = new HashMap<>(lookup.ranges(partitions));
            unknownSince.keySet().removeIf(partition -> !ranges.containsKey(partition)); // unknown in a row only
            ranges.entrySet().removeIf(answer -> {
                if (answer.getValue() != Range.GONE) {
                    unknownSince.remove(answer.getKey());
                    return false;
                }
                return askedAt - unknownSince.computeIfAbsent(answer.getKey(), p -> askedAt) < GONE_AFTER_MS;
            });
            ranges.forEach((partition, range) -> {
                Range before = seen.put(partition, range);
                if (before != null && (range.end < before.end || range.beginning < before.beginning)) {
                    readOn.remove(partition); // the log went back (its topic made again): what was read on is not
                    toReadOn.remove(partition); // nor where a read on was to go on
                }
            });
            last = new Look(Map.copyOf(ranges), askedAt, newestBefore);
        }
        if (!toReadOn.isEmpty()) {
            Map<TopicPartition, ReadOn> asked = new HashMap<>(toReadOn);
            asked.forEach(toReadOn::remove); // not one asked for meanwhile
            Map<TopicPartition, Gap> gaps = new HashMap<>();
            asked.forEach((partition, on) -> gaps.put(partition, new Gap(on.at, on.end)));
            lookup.recordlessUpTo(gaps).forEach((partition, upTo) -> {
                ReadOn on = asked.get(partition);
                // Going on from a read on forgotten since (the log went back after the generator asked) would join
                // what the old log held to what the new one does.
                if (on.continues == null || readOn.get(partition) == on.continues) {
                    readOn.put(partition, new Recordless(on.from, upTo));
                }
            });
        }
        if (unresolved != null) {
            throw unresolved;
        }
    }

    /**
     * As the reader resolves a split's marker: earliest, the partition's beginning; committed, the group's offset, else
     * the beginning (the job resets to the earliest); the latest is not known here (the reader's look came earlier), so
     * nothing counts such a partition read to its end before it has read a record.
     */
    private static Map<TopicPartition, Long> starts(Lookup lookup, Map<TopicPartition, Long> markers) throws Exception {
        Set<TopicPartition> committed = new HashSet<>();
        markers.forEach((partition, marker) -> {
            if (marker == KafkaPartitionSplit.COMMITTED_OFFSET) {
                committed.add(partition);
            }
        });
        Map<TopicPartition, Long> offsets = committed.isEmpty() ? Map.of() : lookup.committed(committed);
        Map<TopicPartition, Range> ranges = lookup.ranges(markers.keySet());
        Map<TopicPartition, Long> starts = new HashMap<>();
        markers.forEach((partition, marker) -> {
            Range range = ranges.get(partition);
            if (marker == KafkaPartitionSplit.COMMITTED_OFFSET && offsets.containsKey(partition)) {
                starts.put(partition, offsets.get(partition));
            } else if (range != null && (marker == KafkaPartitionSplit.COMMITTED_OFFSET
                    || marker == KafkaPartitionSplit.EARLIEST_OFFSET)) {
                starts.put(partition, range.beginning);
            }
        });
        return starts;
    }

    /** Starts the thread that looks. */
    public void start(String name) {
        looker = new Thread(this::lookUntilClosed, name);
        looker.setDaemon(true);
        looker.start();
    }

    private void lookUntilClosed() {
        Lookup lookup = null;
        int failures = 0;
        long failingSince = 0;
        long warnedAt = 0;
        try {
            while (!closed) {
                try {
                    if (lookup == null) {
                        lookup = lookups.get();
                    }
                    lookNow(lookup);
                    if (failures > 0) {
                        LOG.info("The partitions' ends can be looked up again, after {} s",
                                (clockMs.getAsLong() - failingSince) / 1_000);
                        failures = 0;
                    }
                } catch (InterruptedException e) {
                    throw e;
                } catch (Exception e) {
                    if (closed) {
                        break;
                    }
                    long now = clockMs.getAsLong();
                    if (failures++ == 0) {
                        failingSince = now;
                        warnedAt = now;
                        LOG.warn("Could not look up the partitions' ends ({}); until it can, no quiet partition counts "
                                + "as read to its end, and the watermark waits for the ones it holds", e.toString());
                    } else if (now - warnedAt >= WARN_AGAIN_MS) {
                        warnedAt = now;
                        LOG.warn("Still could not look up the partitions' ends, for {} s now ({})",
                                (now - failingSince) / 1_000, e.toString());
                    }
                    if (failures % REMAKE_AFTER_FAILURES == 0) {
                        close(lookup); // made again at the next look
                        lookup = null;
                    }
                }
                Thread.sleep(LOOK_EVERY_MS);
            }
        } catch (InterruptedException e) {
            // closed
        } catch (Error e) { // every Exception of a look is caught above
            if (!closed) {
                stopped = e; // the task fails at its watermark's next check, and restarts
                LOG.error("The look at the partitions' ends stopped; the task fails at its watermark's next check", e);
            }
        } finally {
            Thread.interrupted(); // Kafka's clients do not close on an interrupted thread
            close(lookup);
        }
    }

    private static void close(Lookup lookup) {
        if (lookup != null) {
            try {
                lookup.close();
            } catch (Exception e) {
                LOG.debug("Closing the look-up of the partitions' ends", e);
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

    /**
     * The look at Kafka: ranges by the admin client (one answer per partition, so a topic gone does not lose the
     * others'; a partition without a leader does, with kafka-clients 3.4: the whole look fails after its timeout, until
     * a leader is elected), the group's offsets and the reads on by a consumer of its own (it joins no group and
     * commits nothing).
     */
    static final class FromKafka implements Lookup {
        private static final Duration TIMEOUT = Duration.ofSeconds(5);
        /** How long a look reads on at most (the next goes on from where it stopped). */
        private static final Duration READ_ON_FOR = Duration.ofMillis(500);
        private final Admin admin;
        private final KafkaConsumer<byte[], byte[]> consumer;

        FromKafka(Properties properties) {
            Properties admin = new Properties();
            properties.forEach((key, value) -> {
                if (AdminClientConfig.configNames().contains((String) key)) {
                    admin.put(key, value);
                }
            });
            this.admin = Admin.create(admin);
            try {
                this.consumer = new KafkaConsumer<>(consumerSettings(properties));
            } catch (RuntimeException e) {
                this.admin.close(Duration.ZERO);
                throw e;
            }
        }

        /**
         * The look's consumer: the source's settings (servers, security, group, isolation), with reads that answer at
         * once whatever the file tunes the source's fetches to, of a record or a marker at a time, seen by no one else.
         */
        static Properties consumerSettings(Properties properties) {
            Properties consumer = new Properties();
            properties.forEach((key, value) -> {
                if (ConsumerConfig.configNames().contains((String) key)) {
                    consumer.put(key, value);
                }
            });
            consumer.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            consumer.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            consumer.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            consumer.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "1");
            consumer.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "1024"); // a marker or a record: enough
            consumer.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
            consumer.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, "1");
            consumer.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
            consumer.remove(ConsumerConfig.INTERCEPTOR_CLASSES_CONFIG);
            consumer.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
            return consumer;
        }

        @Override
        public Map<TopicPartition, Range> ranges(Collection<TopicPartition> partitions) throws InterruptedException {
            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            partitions.forEach(p -> {
                earliest.put(p, OffsetSpec.earliest());
                latest.put(p, OffsetSpec.latest());
            });
            // The log's end, not the last stable offset: a reader that reads committed records only is not read to
            // its end while a transaction is open there (its records come when it commits, with their older times).
            // The read on reads as the reader does, so a partition ending in a transaction aborted is.
            ListOffsetsOptions options = new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)
                    .timeoutMs((int) TIMEOUT.toMillis());
            ListOffsetsResult beginnings = admin.listOffsets(earliest, options);
            ListOffsetsResult ends = admin.listOffsets(latest, options);
            Map<TopicPartition, Range> ranges = new HashMap<>();
            for (TopicPartition partition : partitions) {
                try {
                    ranges.put(partition, new Range(beginnings.partitionResult(partition).get().offset(),
                            ends.partitionResult(partition).get().offset()));
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                        ranges.put(partition, Range.GONE);
                    } // else not known at this look (no leader, Kafka slow): not read to its end
                }
            }
            return ranges;
        }

        @Override
        public Map<TopicPartition, Long> committed(Collection<TopicPartition> partitions) {
            Map<TopicPartition, Long> offsets = new HashMap<>();
            consumer.committed(new HashSet<>(partitions), TIMEOUT).forEach((partition, offset) -> {
                if (offset != null) {
                    offsets.put(partition, offset.offset());
                }
            });
            return offsets;
        }

        /**
         * Reads on from each gap's start, a record or a marker at a time, for {@link #READ_ON_FOR} at most: a record
         * says it is not only markers; a position short of the end, how far it is (the next look goes on from there).
         */
        @Override
        public Map<TopicPartition, Long> recordlessUpTo(Map<TopicPartition, Gap> gaps) {
            consumer.assign(gaps.keySet());
            gaps.forEach((partition, gap) -> consumer.seek(partition, gap.from()));
            Set<TopicPartition> pending = new HashSet<>(gaps.keySet());
            Set<TopicPartition> withRecords = new HashSet<>();
            long until = System.nanoTime() + READ_ON_FOR.toNanos();
            try {
                while (!pending.isEmpty() && System.nanoTime() < until) {
                    consumer.poll(Duration.ofMillis(100)).partitions().forEach(withRecords::add);
                    pending.removeAll(withRecords);
                    pending.removeIf(p -> consumer.position(p, TIMEOUT) >= gaps.get(p).end());
                }
                Map<TopicPartition, Long> upTo = new HashMap<>();
                for (TopicPartition partition : gaps.keySet()) {
                    upTo.put(partition, withRecords.contains(partition) ? -1L : consumer.position(partition, TIMEOUT));
                }
                return upTo;
            } catch (OffsetOutOfRangeException e) {
                return Map.of(); // the log moved meanwhile: the next look says where
            } finally {
                consumer.assign(Set.of());
            }
        }

        @Override
        public void close() {
            try {
                consumer.close(Duration.ofSeconds(1));
            } finally {
                admin.close(Duration.ofSeconds(1));
            }
        }
    }
}
