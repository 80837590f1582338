package io.cdcindexer.transaction;

import java.util.List;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.streaming.api.operators.StreamingRuntimeContext;

/**
 * Processing time less the time the job was down: the clock of the memories that must outlast whatever of the stream is
 * still in flight (a deleted row's version, a transaction flushed before its last change came). Nothing moves while the
 * job is down, so what was in flight at its last checkpoint is still in flight when it is restored, however long later;
 * a memory counted in processing time would have run out meanwhile, and its restored timer would clear it at once.
 *
 * <p>The time down is counted from the subtask's last checkpoint to its start after the restore, both on the
 * TaskManagers' own processing time (a little more than the job was down: memories only last longer). It is kept in
 * operator state, as a union, so that every subtask of a rescaled job takes the same. A function keeps its memories'
 * times on this clock ({@link #now}) and sets its timers at {@link #processingTime}: after a restore its restored timers
 * fire early, and it sets them again.
 *
 * <p>Use: {@link #initialize} from the function's {@code initializeState}, {@link #start} from its {@code open},
 * {@link #snapshot} from its {@code snapshotState}.
 */
public final class RunningClock {

    /** Per subtask: the processing time of its last checkpoint, and the time down counted until then. */
    private ListState<Tuple2<Long, Long>> state;
    private long down;
    /** The last checkpoint's time, restored; {@link Long#MIN_VALUE} for none (a fresh start, or an older savepoint). */
    private long restoredCheckpointAt = Long.MIN_VALUE;
    private StreamingRuntimeContext context;

    public void initialize(FunctionInitializationContext context) throws Exception {
        state = context.getOperatorStateStore().getUnionListState(
                new ListStateDescriptor<>("running-clock", Types.TUPLE(Types.LONG, Types.LONG)));
        down = 0;
        restoredCheckpointAt = Long.MIN_VALUE;
        for (Tuple2<Long, Long> restored : state.get()) {
            // The earliest of the subtasks' times of that checkpoint: a TaskManager whose clock runs ahead could only
            // make the time down longer (memories last longer), never shorter.
            restoredCheckpointAt = restoredCheckpointAt == Long.MIN_VALUE ? restored.f0
                    : Math.min(restoredCheckpointAt, restored.f0);
            down = Math.max(down, restored.f1);
        }
    }

    /** Counts the time the job was down, from the last checkpoint to now. */
    public void start(RuntimeContext runtimeContext) {
        context = (StreamingRuntimeContext) runtimeContext;
        if (restoredCheckpointAt != Long.MIN_VALUE) {
            // Rounded up to the second, so that memories rounded to the second keep to whole seconds.
            down += (Math.max(0, processingTimeNow() - restoredCheckpointAt) + 999) / 1000 * 1000;
            restoredCheckpointAt = Long.MIN_VALUE;
        }
    }

    public void snapshot() throws Exception {
        state.update(List.of(Tuple2.of(processingTimeNow(), down)));
    }

    /** The running time at processing time {@code processingTime}. */
    public long now(long processingTime) {
        return processingTime - down;
    }

    /** The processing time at which the running time will be {@code runningTime}. */
    public long processingTime(long runningTime) {
        return runningTime + down;
    }

    private long processingTimeNow() {
        return context.getProcessingTimeService().getCurrentProcessingTime();
    }
}
