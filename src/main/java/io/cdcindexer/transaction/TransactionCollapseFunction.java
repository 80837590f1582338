package io.cdcindexer.transaction;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.ChangeEvent.Action;
import io.cdcindexer.debezium.TransactionEnd;
import java.io.IOException;
import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.TimeDomain;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the changes of each transaction until it is complete, then emits one final change per row, versioned with the
 * transaction's commit position.
 *
 * <p>Keyed by transaction: a change with transaction metadata is keyed by its txId, and so is the stand-in that carries
 * its transaction's END event ({@link ChangeEvent#endOf}), in the same stream, so both meet here. One input, not two:
 * at parallelism 1 the collapse then runs in the decoder's task ({@link #inOneChain}), each change handed on as an
 * object. A transaction is complete when its END event has arrived and every table it names has received its events;
 * then the collapsed changes are emitted and the state and timer are cleared. Several changes of one row collapse into
 * the one with the highest WAL position (insert→update→update gives the last image, insert→delete a delete,
 * delete→insert an upsert); an older or repeated event (a duplicate after a restart) neither wins nor counts. A
 * transaction still incomplete after the timeout is flushed anyway, counted and logged, so nothing ever stalls; what is
 * known of it (its END's commit position, its counts) is kept until every partition has been read past it (at most an
 * hour), so that a late change of it still leaves with the same version as the flushed part, not its own lower LSN, and
 * never loses to an older state. A transaction that holds {@code maxHeldChanges} rows is flushed the same way, early,
 * so that a million-row transaction never sits in memory whole.
 *
 * <p>The timeout is in processing time, but it waits while the job is still catching up to the transaction: the table
 * topics and the transaction topic are read at different speeds (a fetch holds many more small END events than change
 * events), so on a backlog one side can run minutes ahead of the other. The watermark, taken from the Kafka timestamps of
 * every partition (idle ones aside), says how far all of them have been read. When the timeout fires while the watermark
 * has moved since the transaction started (or since the last deferral) but has not yet passed the transaction's own
 * Kafka time plus the timeout, its missing part can still arrive: the timeout is deferred by another period. When the
 * watermark stands still (a quiet stream, a source without timestamps) or is past, the transaction is flushed. Right
 * after a restore there is no watermark yet: a restored timer then waits one more period instead of flushing every
 * transaction that straddled the checkpoint. An incomplete transaction is also flushed as soon as the watermark is past
 * its Kafka time plus the timeout (an event-time timer, {@link TransactionProgress#flushAtWatermark}), before that
 * watermark goes on: no transaction leaves after a watermark past it by the timeout, which the version check relies on
 * to forget a delete ({@code DocumentVersionFunction#forgetsAt}).
 *
 * <p>Changes without transaction metadata (snapshot reads, or a connector without {@code provide.transaction.metadata})
 * are keyed by document and pass straight through without touching state.
 */
public final class TransactionCollapseFunction extends KeyedProcessFunction<String, ChangeEvent, ChangeEvent>
        implements CheckpointedFunction {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(TransactionCollapseFunction.class);

    /** Keys a change, and an END's stand-in: by transaction when it has one, else by document. */
    public static final KeySelector<ChangeEvent, String> CHANGE_KEY =
            change -> change.transactionId != null ? "tx:" + change.transactionId : "doc:" + change.documentKey();

    /** The longest a transaction flushed at its timeout is remembered for its late changes. */
    static final long FLUSHED_MEMORY_MS = 3_600_000;

    private final long timeoutMs;
    private final long maxHeldChanges;
    /** Its input comes unshuffled from the decoder, in the same chain ({@link #inOneChain}). */
    private boolean inOneChain;

    private transient MapState<String, ChangeEvent> changes;
    private transient ValueState<TransactionProgress> progress;
    private transient ListState<Long> pendingState;
    private transient long pending;
    private transient long startedAt;
    /** The clock of the flushed transactions' memory: it stops while the job is down. */
    private transient RunningClock clock;

    private transient Counter passedThrough;
    private transient Counter collapsedAway;
    private transient Counter duplicates;
    private transient Counter completed;
    private transient Counter timedOut;
    private transient Counter deferred;
    private transient Counter lateChanges;
    private transient Counter flushEarly;

    /**
     * @param timeoutMs how long an incomplete transaction is held (see the class comment)
     * @param maxHeldChanges a transaction holding this many rows is flushed early: its changes leave, the rest as they
     *     come, versioned by their own positions until its END gives the commit position
     */
    public TransactionCollapseFunction(long timeoutMs, long maxHeldChanges) {
        this.timeoutMs = timeoutMs;
        this.maxHeldChanges = maxHeldChanges;
    }

    /**
     * Marks the collapse as built into the decoder's chain, its input not keyed by an exchange: the job does so at
     * parallelism 1, where every transaction is the one subtask's. It then refuses to run on more than one, where a
     * transaction's changes would meet on a subtask that does not hold its state.
     */
    public TransactionCollapseFunction inOneChain() {
        this.inOneChain = true;
        return this;
    }

    @Override
    public void open(Configuration parameters) {
        int subtasks = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
        if (inOneChain && subtasks > 1) {
            throw new IllegalStateException("The job was built to run at parallelism 1, its collapse in the decoder's "
                    + "chain with no exchange keyed by transaction before it, but it runs on " + subtasks
                    + " subtasks: the cluster rescaled it without building it again. Submit the job again with "
                    + "--parallelism " + subtasks + ": it is then built with the exchange, as it also is whenever the "
                    + "configuration it is built with names the adaptive scheduler or parallelism overrides");
        }
        changes = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("changes", Types.STRING, TypeInformation.of(ChangeEvent.class)));
        progress = getRuntimeContext().getState(
                new ValueStateDescriptor<>("progress", TypeInformation.of(TransactionProgress.class)));
        var metrics = getRuntimeContext().getMetricGroup();
        passedThrough = metrics.counter("changesWithoutTransaction");
        collapsedAway = metrics.counter("changesCollapsed");
        duplicates = metrics.counter("duplicateChanges");
        completed = metrics.counter("transactionsCompleted");
        timedOut = metrics.counter("transactionsTimedOut");
        deferred = metrics.counter("timeoutsDeferred");
        lateChanges = metrics.counter("lateChanges");
        flushEarly = metrics.counter("transactionsFlushedEarly");
        metrics.gauge("transactionsPending", () -> pending);
        clock.start(getRuntimeContext());
    }

    @Override
    public void processElement(ChangeEvent change, Context ctx, Collector<ChangeEvent> out) throws Exception {
        if (change.isTransactionEnd()) {
            end(change.end, ctx, out);
            return;
        }
        // Only the steps chained right after the decoder read these (the exchange that was once here dropped them):
        // neither is kept in state, here or in the version check.
        change.rowSchema = null;
        change.snapshot = null;
        startedAt(ctx);
        if (change.transactionId == null) {
            passedThrough.inc();
            out.collect(change);
            return;
        }
        TransactionProgress tx = progressOrStart(ctx);
        tx.seenAt(timestampOf(ctx));
        if (tx.flushed) {
            // The rest of a transaction flushed before it was complete (at its timeout, or early): it leaves at once,
            // versioned like the flushed part (the commit position once the END is known), so it never loses to the
            // older state it replaces.
            tx.received(change.table);
            if (change.action != Action.SKIP) {
                lateChanges.inc();
                change.partial = true;
                out.collect(versioned(change, tx));
            }
            storeOrEmit(tx, ctx, out);
            return;
        }
        String key = change.documentKey(); // a dead-letter stand-in's id is its WAL position: repeats meet here too
        ChangeEvent held = changes.get(key);
        if (held != null && !change.isNewerThan(held.version, held.lsn)) {
            duplicates.inc(); // already have this change or a later one of the same row
        } else {
            if (held != null) {
                collapsedAway.inc();
            }
            changes.put(key, held == null ? change : ChangeEvent.collapse(held, change));
            tx.received(change.table);
            if (held == null && ++tx.held >= maxHeldChanges && !tx.isComplete()) {
                // A huge transaction: its changes leave now and the rest as they come, so memory stays bounded.
                LOG.info("Transaction {} holds {} changes: flushing them early, the rest leave as they come",
                        ctx.getCurrentKey(), tx.held);
                flushEarly.inc();
                emitHeld(tx, out, true);
                noFlushAtTheWatermark(tx, ctx);
                tx.flushed = true;
                tx.flushedAt = clock.now(ctx.timerService().currentProcessingTime());
            }
        }
        storeOrEmit(tx, ctx, out);
    }

    private void end(TransactionEnd end, Context ctx, Collector<ChangeEvent> out) throws Exception {
        startedAt(ctx);
        if (end.tables.length == 0 && progress.value() == null) {
            return; // none of the transaction's tables is indexed
        }
        TransactionProgress tx = progressOrStart(ctx);
        tx.seenAt(timestampOf(ctx));
        tx.end(end);
        storeOrEmit(tx, ctx, out);
    }

    private void storeOrEmit(TransactionProgress tx, Context ctx, Collector<ChangeEvent> out) throws Exception {
        if (tx.isComplete() && !tx.flushed) {
            emitHeld(tx, out, false);
            completed.inc();
            forget(tx, ctx);
        } else {
            // A flushed transaction is kept until its timer says every partition was read past it, even once its counts
            // are met: a change sent again (a connector restart) counts too, and its real last change may still come.
            flushAtTheWatermark(tx, ctx);
            progress.update(tx);
        }
    }

    /**
     * Sets the event-time timer that flushes an incomplete transaction once the watermark is past its Kafka time plus
     * the timeout, unless it has one or has no Kafka time (then only the processing-time timer flushes it).
     */
    private void flushAtTheWatermark(TransactionProgress tx, Context ctx) {
        if (!tx.flushed && tx.flushAtWatermark == 0 && tx.eventTime != Long.MIN_VALUE) {
            tx.flushAtWatermark = saturatedAdd(tx.eventTime, timeoutMs);
            ctx.timerService().registerEventTimeTimer(tx.flushAtWatermark);
        }
    }

    // A flushed or forgotten transaction needs its event-time timer no more.
    private static void noFlushAtTheWatermark(TransactionProgress tx, Context ctx) {
        if (tx.flushAtWatermark != 0) {
            ctx.timerService().deleteEventTimeTimer(tx.flushAtWatermark);
            tx.flushAtWatermark = 0;
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<ChangeEvent> out) throws Exception {
        TransactionProgress tx = progress.value();
        if (ctx.timeDomain() == TimeDomain.EVENT_TIME) {
            if (tx != null && tx.flushAtWatermark == timestamp) {
                flushByTheWatermark(tx, ctx, out);
            }
            return;
        }
        if (tx == null || tx.timeoutAt != timestamp) {
            return;
        }
        long watermark = ctx.timerService().currentWatermark();
        boolean readPast = watermark >= saturatedAdd(tx.eventTime, timeoutMs);
        // A restored timer fires when the job starts again, however long after its time: the next period counts from
        // now, not from its time (which would fire it again at once, once per period the job was down).
        long now = Math.max(timestamp, ctx.timerService().currentProcessingTime()); // a clock stepped back: its time
        long running = clock.now(now);
        if (tx.flushed) {
            // Forgotten only once every partition has been read past it: a watermark that stands still (the job
            // back-pressured by an Elasticsearch outage, say) does not mean that its late changes are not coming. Nor
            // does the time the job was down: the hour counts the time it ran.
            if (readPast || running - tx.flushedAt >= FLUSHED_MEMORY_MS) {
                LOG.info("Transaction {} flushed at its timeout is forgotten ({}, watermark {})",
                        ctx.getCurrentKey(), tx, watermark);
                forget(tx, ctx);
            } else {
                waitAnotherPeriod(tx, now, watermark, ctx);
            }
            return;
        }
        boolean noWatermarkYet = watermark == Long.MIN_VALUE && timestamp < startedAt(ctx) + timeoutMs;
        if (noWatermarkYet || (watermark > tx.watermark && !readPast)) {
            // Still catching up: the partitions move, but have not all been read past this transaction yet. Or the job
            // was just (re)started and has read nothing yet (no watermark): give the source one period to start.
            waitAnotherPeriod(tx, now, watermark, ctx);
            deferred.inc();
            return;
        }
        flush(tx, watermark, running, ctx, out);
        waitAnotherPeriod(tx, now, watermark, ctx);
    }

    // Every partition has been read past the transaction by the timeout: flushed now, before the watermark goes on,
    // then kept a period for its late changes, as when its processing-time timer flushes it. A Kafka time that grew
    // since the timer was set: set again.
    private void flushByTheWatermark(TransactionProgress tx, OnTimerContext ctx, Collector<ChangeEvent> out)
            throws Exception {
        tx.flushAtWatermark = 0;
        long watermark = ctx.timerService().currentWatermark();
        if (watermark < saturatedAdd(tx.eventTime, timeoutMs)) {
            flushAtTheWatermark(tx, ctx);
            progress.update(tx);
            return;
        }
        long now = ctx.timerService().currentProcessingTime();
        flush(tx, watermark, clock.now(now), ctx, out);
        ctx.timerService().deleteProcessingTimeTimer(tx.timeoutAt);
        waitAnotherPeriod(tx, now, watermark, ctx);
    }

    private void flush(TransactionProgress tx, long watermark, long running, Context ctx, Collector<ChangeEvent> out)
            throws Exception {
        LOG.warn("Transaction {} incomplete at its timeout ({} ms, watermark {}): {}; flushing its {} changes anyway",
                ctx.getCurrentKey(), timeoutMs, watermark, tx, tx.receivedTotal());
        emitHeld(tx, out, true);
        timedOut.inc();
        noFlushAtTheWatermark(tx, ctx);
        // Keep what is known of it (its END, its counts) for its late changes.
        tx.flushed = true;
        tx.flushedAt = running;
    }

    private void waitAnotherPeriod(TransactionProgress tx, long now, long watermark, OnTimerContext ctx)
            throws IOException {
        tx.watermark = watermark;
        tx.timeoutAt = now + timeoutMs;
        ctx.timerService().registerProcessingTimeTimer(tx.timeoutAt);
        if (tx.flushAtWatermark > saturatedAdd(tx.eventTime, timeoutMs)) {
            noFlushAtTheWatermark(tx, ctx); // restored from a run with a longer timeout: the one it runs with now
        }
        flushAtTheWatermark(tx, ctx); // and one restored from a checkpoint made before it had this timer
        progress.update(tx);
    }

    // When this instance first ran (processing time): a watermark still missing a period later is not coming soon.
    // Not state: it starts again with every restore.
    private long startedAt(Context ctx) {
        if (startedAt == Long.MIN_VALUE) {
            startedAt = ctx.timerService().currentProcessingTime();
        }
        return startedAt;
    }

    private TransactionProgress progressOrStart(Context ctx) throws IOException {
        TransactionProgress tx = progress.value();
        if (tx == null) {
            tx = new TransactionProgress(ctx.timerService().currentProcessingTime() + timeoutMs,
                    ctx.timerService().currentWatermark());
            ctx.timerService().registerProcessingTimeTimer(tx.timeoutAt);
            pending++;
        }
        return tx;
    }

    private static long timestampOf(Context ctx) {
        Long timestamp = ctx.timestamp();
        return timestamp == null ? Long.MIN_VALUE : timestamp;
    }

    private static long saturatedAdd(long time, long duration) {
        return time > Long.MAX_VALUE - duration ? Long.MAX_VALUE : time + duration;
    }

    // Emits the collapsed changes held for the transaction (dead-letter stand-ins write nothing) and clears them.
    private void emitHeld(TransactionProgress tx, Collector<ChangeEvent> out, boolean partial) throws Exception {
        for (ChangeEvent change : changes.values()) {
            if (change.action != Action.SKIP) {
                change.partial = partial;
                out.collect(versioned(change, tx));
            }
        }
        changes.clear();
    }

    // Each change leaves with its transaction's commit position as version (when the END event gave it): a change's
    // own LSN can be lower than that of a snapshot read taken while its transaction was still open, the commit position
    // cannot. Its own LSN stays in ChangeEvent.lsn and orders the changes of one transaction.
    private static ChangeEvent versioned(ChangeEvent change, TransactionProgress tx) {
        if (tx.commitLsn > change.version) {
            change.version = tx.commitLsn;
        }
        return change;
    }

    // Clears everything the transaction held: its state and its timer.
    private void forget(TransactionProgress tx, Context ctx) throws Exception {
        changes.clear();
        progress.clear();
        ctx.timerService().deleteProcessingTimeTimer(tx.timeoutAt);
        noFlushAtTheWatermark(tx, ctx);
        pending = Math.max(0, pending - 1);
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        pendingState.update(List.of(pending));
        clock.snapshot();
    }

    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        pendingState = context.getOperatorStateStore().getListState(new ListStateDescriptor<>("pending", Types.LONG));
        pending = 0;
        startedAt = Long.MIN_VALUE;
        clock = new RunningClock();
        clock.initialize(context);
        for (Long restored : pendingState.get()) {
            pending += restored;
        }
    }
}
