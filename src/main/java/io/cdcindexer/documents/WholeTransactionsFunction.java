package io.cdcindexer.documents;

import io.cdcindexer.transaction.RunningClock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.execution.SuppressRestartsException;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.TimeDomain;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * A stage of joined documents that applies what it is sent a whole transaction at a time, so that a document is built
 * once per transaction however many of its rows the transaction changed.
 *
 * <p>How it knows a transaction is whole: the collapse sends every change of a transaction in one go, between two
 * watermarks, and each message carries the last watermark before it ({@link JoinMessage#after}). Flink keeps records and
 * watermarks in order on every channel, so once a watermark past that has come in on every input, every message of the
 * transaction has come in too. A message waits in state until then; then the stage applies every message that is due,
 * oldest transaction first, and sends what changed, marked with the watermark before the one it was due at. That
 * message reaches the next stage before the watermark does (Flink fires timers before it passes a watermark on), so
 * every stage applies a transaction at the same watermark and a change takes one watermark step to its document,
 * however deep.
 *
 * <p>A watermark that stands still for {@link #STANDING_STILL_MS} (a transaction flushed at its timeout while nothing
 * else is written, a job restored while the database is quiet: the source claims no time it has not read) would hold
 * messages for good: they are then applied as they are, and what the stage sends is due at once at the next stage,
 * where messages due at once are applied together after {@link #OVERDUE_BATCH_MS}. Right after a restore, before any
 * watermark has come, it waits {@link #FIRST_WATERMARK_LOOKS} times as long: the source is still starting.
 */
abstract class WholeTransactionsFunction extends KeyedProcessFunction<String, JoinMessage, JoinMessage>
        implements CheckpointedFunction {

    private static final long serialVersionUID = 1L;

    /** How long messages wait for a watermark that does not move before they are applied anyway. */
    static final long STANDING_STILL_MS = 2_000;
    /** How many such waits pass, after a restore, before the lack of any watermark counts as standing still. */
    static final int FIRST_WATERMARK_LOOKS = 5;
    /** Messages already due when they come (sent on after a watermark stood still) are applied this much later, together. */
    static final long OVERDUE_BATCH_MS = 50;

    /** Messages not yet due, in the order they came. */
    private transient ListState<JoinMessage> waiting;
    /**
     * While messages wait: when to look whether the watermark moved (processing time), the watermark then, and how many
     * looks found no watermark at all.
     */
    private transient ValueState<Tuple3<Long, Long, Integer>> standing;
    /** When messages that came due are applied (processing time); null while none wait for that. */
    private transient ValueState<Long> overdueAt;
    /** What the node was when the state was kept ({@link JoinNode#declaration}), in every subtask's checkpoint. */
    private transient ListState<String> declaration;
    /** The clock of the stage's memories (a delete's): processing time less the time the job was down. */
    private transient RunningClock clock;

    /** The node whose state the stage keeps: its stages are named by its place, whatever else it is declared as. */
    abstract JoinNode declared();

    /**
     * Refuses a state kept for a node declared otherwise under the same place (another table, relation or foreign key):
     * Flink restores a stage by its name, which is the place, and the state would be read as the new node's. A state
     * kept before this check carries no declaration, and is taken as it is.
     */
    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        declaration = context.getOperatorStateStore().getUnionListState(
                new ListStateDescriptor<>("declaration", Types.STRING));
        clock = new RunningClock();
        clock.initialize(context);
        JoinNode node = declared();
        String now = node.declaration();
        for (String kept : declaration.get()) {
            if (!kept.equals(now)) {
                String way = node.relation == JoinNode.Relation.ROOT
                        ? "give the document a new index (and delete the old one by hand)"
                        : "give the node a new field name (a new place, which starts empty)";
                // Not worth a restart: the same savepoint would be refused again, for good.
                throw new SuppressRestartsException(new IllegalStateException("The state of the joined documents' "
                        + "node " + node.path + " was kept when it was " + JoinNode.describe(kept) + "; it is declared "
                        + "now as " + JoinNode.describe(now) + " (the documents file changed under the same place). "
                        + "Restored, the state would be read as the new node's rows, so the job stops. Either " + way
                        + ", then ./cdc submit --allow-non-restored-state (the old place's state is left out); or "
                        + "delete the document's index and start without state: ./cdc submit --without-state, then "
                        + "./cdc snapshot of the document's tables (docs/documents.md)"));
            }
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        declaration.update(List.of(declared().declaration()));
        clock.snapshot();
    }

    /**
     * Remembers a delete for {@code memoryMs} of the job running ({@link RunningClock}): returns when it is forgotten,
     * rounded up to the second (fewer distinct timers), and sets the timer that {@link #forgotten} then answers.
     */
    long rememberDelete(long memoryMs, Context ctx) {
        long forgetAt = ((clock.now(ctx.timerService().currentProcessingTime()) + memoryMs) / 1000 + 1) * 1000;
        ctx.timerService().registerProcessingTimeTimer(clock.processingTime(forgetAt));
        return forgetAt;
    }

    /**
     * In a processing-time timer of time {@code timestamp}: whether a delete remembered until {@code forgetAt} is over.
     * A timer restored after the job was down fires before that: it is set again. Never counted from before the
     * timer's own time (a clock that stepped back would set the same timer again, and fire it again at once).
     */
    boolean forgotten(long forgetAt, long timestamp, Context ctx) {
        if (forgetAt <= clock.now(Math.max(timestamp, ctx.timerService().currentProcessingTime()))) {
            return true;
        }
        ctx.timerService().registerProcessingTimeTimer(clock.processingTime(forgetAt));
        return false;
    }

    @Override
    public void open(Configuration parameters) throws Exception {
        waiting = getRuntimeContext().getListState(
                new ListStateDescriptor<>("waiting", TypeInformation.of(JoinMessage.class)));
        standing = getRuntimeContext().getState(
                new ValueStateDescriptor<>("standing", Types.TUPLE(Types.LONG, Types.LONG, Types.INT)));
        overdueAt = getRuntimeContext().getState(new ValueStateDescriptor<>("overdue-at", Types.LONG));
        clock.start(getRuntimeContext());
        openState();
    }

    /** Opens the stage's own state. */
    abstract void openState() throws Exception;

    /** Applies one due message to the key's state (the current key is its key). */
    abstract void apply(JoinMessage message, Context ctx) throws Exception;

    /** Sends what the messages just applied changed, each message marked {@code after}. */
    abstract void send(long after, Context ctx, Collector<JoinMessage> out) throws Exception;

    /** A message as the state keeps it until it is due (a copy, which the stage may complete). */
    JoinMessage kept(JoinMessage copy) {
        return copy;
    }

    /**
     * A processing-time timer of the stage's own (expiries, on the {@link RunningClock}: a timer restored after the job
     * was down fires before the memory's time is up, and is set again). Called for every processing-time timer.
     */
    void onProcessingTime(long timestamp, OnTimerContext ctx, Collector<JoinMessage> out) throws Exception {}

    @Override
    public void processElement(JoinMessage message, Context ctx, Collector<JoinMessage> out) throws Exception {
        long watermark = ctx.timerService().currentWatermark();
        waiting.add(kept(message.copy())); // the state keeps it; the input is not to be kept
        if (watermark == Long.MAX_VALUE) { // the input has ended: nothing more can come
            applyWaiting(Long.MAX_VALUE, ctx, out);
            return;
        }
        long now = ctx.timerService().currentProcessingTime();
        if (message.after < watermark && overdueAt.value() == null) {
            // Due already: sent on after a watermark that stood still. Its transaction's other messages came before the
            // watermark that passed it; those sent on with it come within moments, and are applied with it.
            overdueAt.update(now + OVERDUE_BATCH_MS);
            ctx.timerService().registerProcessingTimeTimer(now + OVERDUE_BATCH_MS);
        }
        // Also for a message due already: should a restore lose the watermark it was due at, the next one, or the
        // look below, applies it.
        ctx.timerService().registerEventTimeTimer(message.after == Long.MAX_VALUE ? message.after : message.after + 1);
        if (standing.value() == null) {
            long lookAt = secondAfter(now + STANDING_STILL_MS);
            standing.update(Tuple3.of(lookAt, watermark, 0));
            ctx.timerService().registerProcessingTimeTimer(lookAt);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<JoinMessage> out) throws Exception {
        long watermark = ctx.timerService().currentWatermark();
        if (ctx.timeDomain() == TimeDomain.EVENT_TIME) {
            applyWaiting(watermark, ctx, out);
            return;
        }
        Long overdue = overdueAt.value();
        if (overdue != null && overdue <= timestamp) {
            overdueAt.clear();
            applyWaiting(watermark, ctx, out);
        }
        Tuple3<Long, Long, Integer> look = standing.value();
        if (look != null && look.f0 <= timestamp) {
            boolean noWatermarkYet = watermark == Long.MIN_VALUE && look.f2 + 1 < FIRST_WATERMARK_LOOKS;
            if (look.f1 < watermark || noWatermarkYet) { // it moves, or a restored job's source is still starting
                // From now: a look restored after the job was down fires late, and the next ones must still be apart.
                long lookAt = secondAfter(Math.max(timestamp, ctx.timerService().currentProcessingTime())
                        + STANDING_STILL_MS);
                standing.update(Tuple3.of(lookAt, watermark, watermark == Long.MIN_VALUE ? look.f2 + 1 : 0));
                ctx.timerService().registerProcessingTimeTimer(lookAt);
            } else {
                applyWaiting(Long.MAX_VALUE, ctx, out);
            }
        }
        onProcessingTime(timestamp, ctx, out);
    }

    // Applies, oldest transaction first, every waiting message marked before the watermark given, and sends.
    private void applyWaiting(long watermark, Context ctx, Collector<JoinMessage> out) throws Exception {
        List<JoinMessage> due = new ArrayList<>();
        List<JoinMessage> later = new ArrayList<>();
        for (JoinMessage message : waiting.get()) {
            (message.after < watermark ? due : later).add(message);
        }
        if (due.isEmpty()) {
            return; // an earlier timer of this watermark took them
        }
        due.sort(Comparator.comparingLong(message -> message.after)); // stable: the order they came within one
        if (later.isEmpty()) {
            waiting.clear();
            standing.clear();
            overdueAt.clear();
        } else {
            waiting.update(later);
        }
        for (JoinMessage message : due) {
            apply(message, ctx);
        }
        // Marked with the watermark before the current one: due at the next stage when this one reaches it, or at
        // once there when the watermark stands still.
        long current = ctx.timerService().currentWatermark();
        send(current == Long.MIN_VALUE ? current : current - 1, ctx, out);
    }

    private static long secondAfter(long time) {
        return (time / 1000 + 1) * 1000;
    }
}
