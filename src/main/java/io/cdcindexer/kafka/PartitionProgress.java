package io.cdcindexer.kafka;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkGeneratorSupplier;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.util.clock.RelativeClock;
import org.apache.kafka.common.TopicPartition;

/**
 * The watermark of one Kafka partition: how far it has been read, by Kafka time. A watermark {@code w} says that no
 * record of the partition with a timestamp up to {@code w} is still to be read.
 *
 * <ul>
 *   <li>While records come: the newest timestamp minus 1 ms. Connect writes hundreds of records in one millisecond
 *       after a restart, so another record of the newest millisecond may be next.
 *   <li>Quiet for {@link #QUIET_MS} and read to its end: the newest timestamp, so that a change that waits for its own
 *       millisecond (the job holds changes with unavailable columns until then) does not wait for the partition's next
 *       write.
 *   <li>Quiet for {@link #SUBTASK_QUIET_MS} and read to its end: the newest timestamp read from any partition of its
 *       source subtask before the look that says so. At the end of a burst every partition falls idle in the same
 *       check, and Flink then keeps the least of their watermarks; without this, a change newer than that would wait
 *       for the next write.
 *   <li>Quiet for {@link #IDLE_MS} and read to its end: idle, left out of the subtask's watermark until its next record
 *       (a table nobody writes must not hold every other back). One that has read nothing yet is idle after
 *       {@link #QUIET_MS} already, once every partition of its subtask that has read nothing is read to its end: it has
 *       no time to claim first, and idle later, in the same check as the last partition read, it would leave the
 *       subtask's watermark where it was (Flink keeps it while every partition is idle).
 * </ul>
 *
 * <p>Read to its end as {@link PartitionEnds} says: the offset after its last record has reached the end Kafka gave at a
 * recent look. Quiet alone is not enough: a partition the consumer leaves out of its fetches with records waiting (its
 * broker slow, Kafka away and back, a restart on a backlog) is quiet too, and a watermark past its records would let a
 * change it holds go before them. A source that gives no ends (a test's) counts every quiet partition read to its end.
 *
 * <p>Quiet by the split's input-activity clock, which Flink stops while the source is back-pressured: a source held up by
 * a slow sink is not quiet, only not read, and claims no more than it has read.
 */
public final class PartitionProgress implements WatermarkGenerator<KafkaRecord> {

    /** How long a partition must have been quiet before its newest millisecond counts as read. */
    static final long QUIET_MS = 1_000;
    /**
     * How long before it claims its subtask's newest time: well past a fetch that leaves it out, short of the 5 s after
     * which Flink counts it idle and stops listening to it.
     */
    static final long SUBTASK_QUIET_MS = 3_000;
    /** How long a partition read to its end must have been quiet before it counts as idle. */
    static final long IDLE_MS = 5_000;

    /** The newest Kafka time one source subtask has read from any of its partitions (each look reads it). */
    static final class SubtaskNewest {
        volatile long value = Long.MIN_VALUE;
    }

    private final RelativeClock activity;
    private final SubtaskNewest subtask;
    /** Null for a source that gives no ends. */
    private final PartitionEnds ends;
    /** How far its partition is read, from its first record on. */
    private PartitionEnds.Read read;
    private long newest = Long.MIN_VALUE;
    private long lastRecordAt;

    PartitionProgress(RelativeClock activity, SubtaskNewest subtask, PartitionEnds ends) {
        this.activity = activity;
        this.subtask = subtask;
        this.ends = ends;
        this.lastRecordAt = activity.relativeTimeMillis();
    }

    /** The generators of one source subtask's partitions, sharing what the subtask has read. */
    public static WatermarkGeneratorSupplier<KafkaRecord> perPartition() {
        return new PerPartition();
    }

    private static final class PerPartition implements WatermarkGeneratorSupplier<KafkaRecord> {
        private static final long serialVersionUID = 1L;
        // One instance per source subtask, whose partitions' generators are all called by its task thread.
        private transient SubtaskNewest subtask;

        @Override
        public WatermarkGenerator<KafkaRecord> createWatermarkGenerator(Context context) {
            PartitionEnds ends = PartitionEnds.ofThisTask();
            if (subtask == null) {
                subtask = ends != null ? ends.subtaskNewest : new SubtaskNewest();
            }
            return new PartitionProgress(context.getInputActivityClock(), subtask, ends);
        }
    }

    @Override
    public void onEvent(KafkaRecord record, long timestamp, WatermarkOutput output) {
        newest = Math.max(newest, timestamp);
        if (timestamp > subtask.value) {
            subtask.value = timestamp;
        }
        lastRecordAt = activity.relativeTimeMillis();
        if (ends != null) {
            if (read == null) {
                read = ends.reading(new TopicPartition(record.topic, record.partition));
            }
            read.readTo(record.offset + 1); // a split's records come in order; back only when read again from its start
        }
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        long quietFor = activity.relativeTimeMillis() - lastRecordAt;
        if (quietFor < QUIET_MS) {
            if (newest != Long.MIN_VALUE) {
                output.emitWatermark(new Watermark(newest - 1));
            }
            return;
        }
        PartitionEnds.Look look = ends == null || read == null ? null : ends.caughtUp(read);
        boolean readToItsEnd = ends == null || (read == null ? ends.unreadCaughtUp() : look != null);
        if (readToItsEnd && (quietFor >= IDLE_MS || (newest == Long.MIN_VALUE && ends != null))) {
            output.markIdle();
        } else if (newest != Long.MIN_VALUE) {
            // Of the subtask's newest, only what was read before the look: what other partitions read since may be
            // newer than a record appended to this one after it.
            long subtaskNewest = look == null ? subtask.value : Math.min(subtask.value, look.subtaskNewest());
            long watermark = !readToItsEnd ? newest - 1
                    : quietFor >= SUBTASK_QUIET_MS ? Math.max(newest, subtaskNewest) : newest;
            output.emitWatermark(new Watermark(watermark));
        } // nothing read yet, and not idle: no claim, which holds the subtask's watermark back
    }
}
