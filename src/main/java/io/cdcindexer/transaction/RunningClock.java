package io.cdcindexer.transaction;

import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;

/**
 * Processing time less the time the job was down: the clock of the memories that must outlast whatever of the stream is
 * still in flight (a deleted row's version, a transaction flushed before its last change came). Nothing moves while the
 * job is down, so what was in flight at its last checkpoint is still in flight when it is restored, however long later;
 * a memory counted in processing time would have run out meanwhile, and its restored timer would clear it at once.
 *
 * <p>The time down is taken from the last checkpoint to the first use after the restore (a little more than the job
 * was down: memories only last longer). It is kept in operator state, as a union, so that every subtask of a rescaled job
 * takes the same. A function keeps its memories' times on this clock ({@link #now}), and sets its timers at
 * {@link #processingTime}: after a restore its restored timers fire early, and it sets them again.
 */
public final class RunningClock {

    /** Per subtask: the processing time of its last checkpoint, and the time down it had counted until then. */
    private ListState<Tuple2<Long, Long>> state;
    private long down;
    /** Restored and not yet counted: the last checkpoint's time; {@link Long#MIN_VALUE} once counted, or for none. */
    private long lastCheckpointAt = Long.MIN_VALUE;

    /** Call from the function's {@code initializeState}. */
    public void initialize(FunctionInitializationContext context) throws Exception {
        state = context.getOperatorStateStore().getUnionListState(
                new ListStateDescriptor<>("running-clock", Types.TUPLE(Types.LONG, Types.LONG)));
        down = 0;
        lastCheckpointAt = Long.MIN_VALUE;
        for (Tuple2<Long, Long> restored : state.get()) {
            lastCheckpointAt = Math.max(lastCheckpointAt, restored.f0);
            down = Math.max(down, restored.f1);
        }
    }

    /** Call from the function's {@code snapshotState}. */
    public void snapshot(FunctionSnapshotContext context) throws Exception {
        now(context.getCheckpointTimestamp()); // a restore not counted yet (nothing came since) is counted now
        state.update(List.of(Tuple2.of(context.getCheckpointTimestamp(), down)));
    }

    /** The running time at processing time {@code processingTime} (now, the first call after a restore). */
    public long now(long processingTime) {
        if (lastCheckpointAt != Long.MIN_VALUE) {
            // Rounded up to the second, so that memories rounded to the second keep to whole seconds.
            down += (Math.max(0, processingTime - lastCheckpointAt) + 999) / 1000 * 1000;
            lastCheckpointAt = Long.MIN_VALUE;
        }
        return processingTime - down;
    }

    /**
     * The processing time at which the running time will be {@code runningTime}, as far as is known now: call it after
     * {@link #now}, which counts a restore's time down.
     */
    public long processingTime(long runningTime) {
        return runningTime + down;
    }
}
