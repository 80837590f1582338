package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.util.clock.ManualClock;
import org.junit.jupiter.api.Test;

/** One partition's watermark: what it claims while records come, and once it is quiet. */
class PartitionProgressTest {

    private final ManualClock activity = new ManualClock();
    private final PartitionProgress.SubtaskNewest subtask = new PartitionProgress.SubtaskNewest();
    private final PartitionProgress progress = new PartitionProgress(activity, subtask);
    private final List<Long> emitted = new ArrayList<>();
    private final WatermarkOutput output = new WatermarkOutput() {
        @Override
        public void emitWatermark(Watermark watermark) {
            emitted.add(watermark.getTimestamp());
        }

        @Override
        public void markIdle() {}

        @Override
        public void markActive() {}
    };

    private void read(long kafkaTime) {
        progress.onEvent(new KafkaRecord("t", 0, 0, kafkaTime, null, null), kafkaTime, output);
    }

    private long emit() {
        progress.onPeriodicEmit(output);
        return emitted.get(emitted.size() - 1);
    }

    @Test
    void nothingIsClaimedBeforeTheFirstRecord() {
        activity.advanceTime(10, TimeUnit.SECONDS);
        progress.onPeriodicEmit(output);
        assertThat(emitted).isEmpty();
    }

    @Test
    void whileRecordsComeTheNewestMillisecondMayStillHaveMore() {
        read(1_000);
        read(1_000);
        activity.advanceTime(PartitionProgress.QUIET_MS - 1, TimeUnit.MILLISECONDS);
        assertThat(emit()).as("another record of millisecond 1000 may be next").isEqualTo(999);
    }

    /**
     * Quiet by the split's input-activity clock, which Flink pauses while the source is back-pressured: a source held
     * up by a slow sink is not quiet, only not read, and claims no more than it read.
     */
    @Test
    void aQuietPartitionHasReadItsNewestMillisecond() {
        read(1_000);
        activity.advanceTime(PartitionProgress.QUIET_MS, TimeUnit.MILLISECONDS);
        assertThat(emit()).isEqualTo(1_000);

        read(1_500);
        assertThat(emit()).as("records come again").isEqualTo(1_499);
    }

    @Test
    void anOlderTimestampDoesNotMoveItBack() {
        read(1_000);
        read(900);
        assertThat(emit()).isEqualTo(999);
    }

    /**
     * At the end of a burst every partition falls idle in the same check, and Flink then keeps the least of their
     * watermarks: a change newer than that would wait for the next write. A partition quiet for a while claims the
     * newest time its subtask read from any partition, so the subtask's watermark reaches its newest change.
     */
    @Test
    void aPartitionQuietForAWhileClaimsTheNewestTimeOfItsSubtask() {
        ManualClock otherActivity = new ManualClock();
        PartitionProgress other = new PartitionProgress(otherActivity, subtask);
        read(1_000);
        other.onEvent(new KafkaRecord("t", 1, 0, 1_500, null, null), 1_500, output);

        activity.advanceTime(PartitionProgress.QUIET_MS, TimeUnit.MILLISECONDS);
        assertThat(emit()).as("quiet: its own newest").isEqualTo(1_000);
        activity.advanceTime(PartitionProgress.SUBTASK_QUIET_MS - PartitionProgress.QUIET_MS, TimeUnit.MILLISECONDS);
        assertThat(emit()).as("quiet for longer: the subtask's newest").isEqualTo(1_500);
    }
}
