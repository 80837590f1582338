package io.cdcindexer.kafka;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.util.clock.RelativeClock;

/**
 * The watermark of one Kafka partition: how far it has been read, by Kafka time. A watermark {@code w} says that no
 * record of the partition with a timestamp up to {@code w} is still to be read.
 *
 * <p>While records come, that is the newest timestamp minus 1 ms: Connect writes hundreds of records in one
 * millisecond after a restart, so another record of the newest millisecond may be next. Once the partition has had no
 * record for {@link #QUIET_MS} of its input-activity clock, its newest millisecond counts as read too, so that a change
 * that waits for its own millisecond (the job holds changes with unavailable columns until then) does not wait for the
 * partition's next write. Flink pauses that clock while the source is back-pressured, so a source held up by a slow
 * sink never claims more than it has read.
 */
public final class PartitionProgress implements WatermarkGenerator<KafkaRecord> {

    /** How long a partition must have been quiet before its newest millisecond counts as read. */
    static final long QUIET_MS = 1_000;

    private final RelativeClock activity;
    private long newest = Long.MIN_VALUE;
    private long lastRecordAt;

    /** @param activity the split's input-activity clock (paused by Flink under back-pressure) */
    public PartitionProgress(RelativeClock activity) {
        this.activity = activity;
    }

    @Override
    public void onEvent(KafkaRecord record, long timestamp, WatermarkOutput output) {
        newest = Math.max(newest, timestamp);
        lastRecordAt = activity.relativeTimeMillis();
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        if (newest == Long.MIN_VALUE) {
            return; // nothing read yet: no claim
        }
        boolean quiet = activity.relativeTimeMillis() - lastRecordAt >= QUIET_MS;
        output.emitWatermark(new Watermark(quiet ? newest : newest - 1));
    }
}
