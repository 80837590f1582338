package io.cdcindexer.elasticsearch;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.transaction.RunningClock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.TimeDomain;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Keyed by document, right before the Elasticsearch sink: lets a change through only when it is newer, by
 * {@code (version, lsn)}, than the last change let through for its document, and drops older ones as stale.
 *
 * <p>Why the job must do this itself: changes of one row can reach this point out of order (transactions are collapsed
 * on different subtasks, and one held back by a slow partition completes after a later one), and Elasticsearch remembers
 * a deleted document's version only for {@code index.gc_deletes} (60 s by default). An older upsert that arrives after
 * that re-creates a deleted row for good. So a delete's version is remembered here for {@code deleteMemoryMs}. Writes to
 * a live document need no memory here: Elasticsearch refuses an older version itself. Except where two changes of a row
 * share a version: a transaction flushed before it was complete ({@link ChangeEvent#partial}) sends a later change of a
 * row with the version of the part already written, and Elasticsearch ({@code external_gte}) lets both through, so the
 * version of such a write is remembered for {@code writeMemoryMs}, and the order by the changes' own positions is kept
 * here; a change of an earlier transaction still goes on when that write lacks columns, which it waits for in the
 * writer ({@link #stale}), and a write lacking columns takes over a memory instead of ending it. Both in keyed state,
 * cleared by a timer when their time is up, so memory holds only recent deletes and partial writes. Since the sink
 * runs on the same subtask (forward), every write of one document goes through one writer, which keeps them in order
 * ({@link ElasticsearchIndexWriter}).
 *
 * <p>A change with unavailable (unchanged TOASTed) columns is held until the watermark shows that every partition has
 * been read past its Kafka time ({@link #dueTime}): its values for those columns are the row's previous values, and the previous change of
 * the row, committed earlier, was written to Kafka earlier, so by then it has come through (a transaction collapsed on
 * another subtask can complete after a later one). Dropping that previous change as older, after the held one had been
 * completed from the stored document, would otherwise lose its values for good. A watermark that stands still is waited
 * for too (the source held up by back-pressure has not read the previous change yet), for up to {@link #MAX_HOLD_MS};
 * the hold is looked at every {@code holdLimitMs}.
 */
public final class DocumentVersionFunction extends KeyedProcessFunction<String, ChangeEvent, ChangeEvent>
        implements CheckpointedFunction {

    private static final long serialVersionUID = 1L;

    /** Keys a change by its document: topic and id. */
    public static final KeySelector<ChangeEvent, String> DOCUMENT_KEY = ChangeEvent::documentKey;

    /**
     * The longest a change waits for a watermark that stands still. A standing watermark means the source is not
     * reading (back-pressure during an Elasticsearch outage, Kafka away), not that nothing more will come: the change
     * before the held one may still be unread. One hour, as long as the collapse keeps a transaction it flushed.
     */
    static final long MAX_HOLD_MS = 3_600_000;

    /**
     * How far the watermark must be past a remembered change, beyond the transaction timeout, before its memory ends:
     * Kafka times are Connect's wall clock, which may step back.
     */
    static final long CLOCK_SLACK_MS = 10_000;

    private final long writeMemoryMs;
    private final long deleteMemoryMs;
    private final long holdLimitMs;
    private final long fullCount;
    /** Its input comes unshuffled from the collapse, in the same chain ({@link #inOneChain}). */
    private boolean inOneChain;

    /**
     * The version, WAL position and expiry ({@link #clock}) of the last change let through for the document, while it
     * needs remembering: a delete, or a write of a partly flushed transaction. A timer clears it at its expiry (Flink's
     * state time-to-live was tried first: its incremental cleanup walked the state on every access and took three
     * quarters of the sink task's time).
     */
    private transient ValueState<Tuple3<Long, Long, Long>> remembered;
    /**
     * Set while the remembered change is a write lacking columns ({@link #stale}); absent for a delete, a partial write
     * with every column, and in state written before 2026-12-04 (nothing older goes on).
     */
    private transient ValueState<Boolean> rememberedLacksColumns;
    /**
     * While the remembered change lacks columns: the newest delete let through before it, or a memory it replaced that
     * may have been one (a delete, a partial write with every column, one restored from before this state). Nothing
     * older goes on: Elasticsearch may have forgotten the delete.
     */
    private transient ValueState<Tuple2<Long, Long>> deleteBefore;
    /**
     * While the remembered change lacks columns: the partial writes let through before it, each as its version and the
     * position of its latest part. An earlier part of one of their transactions does not go on: Elasticsearch
     * ({@code external_gte}) would take it after the later part.
     */
    private transient ValueState<List<Tuple2<Long, Long>>> partialsBefore;
    /**
     * The Kafka time of a memory past the subtask's full count, which ends once the watermark is past it
     * ({@link #forgetsAt}, an event-time timer); absent for the others, which end by their clock only.
     */
    private transient ValueState<Long> rememberedKafkaTime;
    /**
     * How many memories of this run the subtask holds. Not state: restored memories are not counted (after a rescale a
     * count could not be split by key), so a restored job keeps up to that many more for their full time.
     */
    private transient long memories;
    /**
     * The transaction timeout the memories count with: the longer one of the run restored from, in every subtask's
     * state, until the collapse has looked at every restored transaction again (within that timeout of running, when
     * it sets its flush to the timeout it runs with), then the job's own.
     */
    private transient long largestTimeoutMs;
    private transient ListState<Long> timeoutsState;
    /** Changes with unavailable columns waiting for the watermark, by the time they may leave. */
    private transient MapState<Long, List<ChangeEvent>> held;
    /**
     * The document's one hold limit while changes are held: when it ends (processing time) and the watermark when it
     * started counting. Other processing-time timers of the document (a memory's expiry) are not hold limits.
     */
    private transient ValueState<Long> holdDeadline;
    private transient ValueState<Long> holdWatermark;
    /** When the document's current hold began ({@link #clock}). */
    private transient ValueState<Long> holdSince;
    /**
     * The clock of the memories and of a hold's longest wait: processing time less the time the job was down, since
     * nothing moves meanwhile (the change older than a remembered delete, held upstream, is still to come).
     */
    private transient RunningClock clock;
    /** When this instance first ran (processing time); not state: it starts again with every restore. */
    private transient long startedAt;
    private transient Counter stale;
    private transient Counter heldBack;

    /**
     * @param writeMemoryMs how long the version of a document's last write is remembered
     * @param deleteMemoryMs how long the version of a delete is remembered (longer: Elasticsearch forgets it)
     * @param holdLimitMs the transaction timeout: how often a change with unavailable columns looks whether its wait for
     *     the watermark may end, and how far past the watermark the collapse may still hold a transaction
     * @param fullCount how many memories a subtask keeps for their full time; past that (a mass delete, a huge
     *     transaction), a memory of a change with a Kafka time ends once the watermark is past it ({@link #forgetsAt})
     */
    public DocumentVersionFunction(long writeMemoryMs, long deleteMemoryMs, long holdLimitMs, long fullCount) {
        this.writeMemoryMs = writeMemoryMs;
        this.deleteMemoryMs = deleteMemoryMs;
        this.holdLimitMs = holdLimitMs;
        this.fullCount = fullCount;
    }

    /**
     * Its input comes straight from the collapse in the same chain, not keyed by a network exchange: the job builds it so
     * at parallelism 1 when it writes no joined documents, where every document belongs to the one subtask. It then
     * refuses to run on more than one, where a document's changes would meet on a subtask that does not hold its state.
     */
    public DocumentVersionFunction inOneChain() {
        this.inOneChain = true;
        return this;
    }

    @Override
    public void open(Configuration parameters) {
        int subtasks = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
        if (inOneChain && subtasks > 1) {
            throw new IllegalStateException("The job was built to run at parallelism 1, its version check in the "
                    + "collapse's chain with no exchange keyed by document before it, but it runs on " + subtasks
                    + " subtasks: the cluster rescaled it without building it again. Submit the job again with "
                    + "--parallelism " + subtasks + ": it is then built with the exchange, as it also is whenever the "
                    + "configuration it is built with names the adaptive scheduler or parallelism overrides");
        }
        remembered = getRuntimeContext().getState(
                new ValueStateDescriptor<>("remembered", Types.TUPLE(Types.LONG, Types.LONG, Types.LONG)));
        rememberedKafkaTime = getRuntimeContext().getState(
                new ValueStateDescriptor<>("remembered-kafka-time", Types.LONG));
        rememberedLacksColumns = getRuntimeContext().getState(
                new ValueStateDescriptor<>("remembered-lacks-columns", Types.BOOLEAN));
        deleteBefore = getRuntimeContext().getState(
                new ValueStateDescriptor<>("delete-before", Types.TUPLE(Types.LONG, Types.LONG)));
        partialsBefore = getRuntimeContext().getState(
                new ValueStateDescriptor<>("partials-before", Types.LIST(Types.TUPLE(Types.LONG, Types.LONG))));
        held = getRuntimeContext().getMapState(new MapStateDescriptor<>("held", Types.LONG,
                Types.LIST(TypeInformation.of(ChangeEvent.class))));
        holdDeadline = getRuntimeContext().getState(new ValueStateDescriptor<>("hold-deadline", Types.LONG));
        holdWatermark = getRuntimeContext().getState(new ValueStateDescriptor<>("hold-watermark", Types.LONG));
        holdSince = getRuntimeContext().getState(new ValueStateDescriptor<>("hold-since", Types.LONG));
        startedAt = Long.MIN_VALUE;
        stale = getRuntimeContext().getMetricGroup().counter("staleChangesDropped");
        heldBack = getRuntimeContext().getMetricGroup().counter("changesHeldForTheWatermark");
        getRuntimeContext().getMetricGroup().gauge("versionsRemembered", () -> memories);
        clock.start(getRuntimeContext());
    }

    @Override
    public void processElement(ChangeEvent change, Context ctx, Collector<ChangeEvent> out) throws Exception {
        if (change.action == ChangeEvent.Action.SKIP) {
            return; // its record is in the dead-letter queue: nothing to write
        }
        startedAt(ctx);
        if (largestTimeoutMs > holdLimitMs
                && ctx.timerService().currentProcessingTime() - startedAt >= largestTimeoutMs + CLOCK_SLACK_MS) {
            largestTimeoutMs = holdLimitMs; // every transaction restored with the longer timeout has been looked at again
        }
        long due = dueTime(change, ctx.timestamp());
        if (change.hasUnavailableColumns() && due != Long.MIN_VALUE && ctx.timerService().currentWatermark() < due) {
            if (stale(change, remembered.value())) {
                stale.inc(); // no use holding it
                return;
            }
            List<ChangeEvent> waiting = held.get(due);
            List<ChangeEvent> more = waiting == null ? new ArrayList<>() : new ArrayList<>(waiting);
            more.add(change.copy());
            held.put(due, more);
            ctx.timerService().registerEventTimeTimer(due);
            if (holdDeadline.value() == null) {
                long deadline = ctx.timerService().currentProcessingTime() + holdLimitMs;
                holdDeadline.update(deadline);
                holdWatermark.update(ctx.timerService().currentWatermark());
                holdSince.update(clock.now(ctx.timerService().currentProcessingTime()));
                ctx.timerService().registerProcessingTimeTimer(deadline);
            }
            heldBack.inc();
            return;
        }
        writeIfNewer(change, ctx, out);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<ChangeEvent> out) throws Exception {
        boolean watermark = ctx.timeDomain() == TimeDomain.EVENT_TIME;
        if (!watermark) {
            // A restored timer fires when the job starts again, however long after its time: what it set again counts
            // from now, and the memories from the time the job ran. Never before the timer's own time (a clock that
            // stepped back would set the same timer again, and fire it again at once).
            long now = Math.max(timestamp, ctx.timerService().currentProcessingTime());
            long running = clock.now(now);
            Tuple3<Long, Long, Long> last = remembered.value();
            if (last != null && last.f2 <= running) {
                if (held.isEmpty()) {
                    forgetMemory(); // its memory is over
                    forgetWatermarkTimer(ctx);
                } else {
                    // Held changes are still to be compared with it: it is remembered until they leave.
                    remember(last.f0, last.f1, running + 1_000, ctx);
                }
            } else if (last != null) {
                // Its time is not up (the job was down meanwhile): its timer is set again, at the time it now ends.
                ctx.timerService().registerProcessingTimeTimer(clock.processingTime(last.f2));
            }
            Long deadline = holdDeadline.value();
            if (deadline == null || timestamp < deadline) {
                return; // not the hold limit
            }
            // The hold limit waits, like the collapse's timeout, while the watermark still moves towards the held
            // changes (catching up on a backlog), once for a first watermark after a (re)start, and while it stands
            // still (the source held up by back-pressure) for up to MAX_HOLD_MS.
            long current = ctx.timerService().currentWatermark();
            Long then = holdWatermark.value();
            Long since = holdSince.value();
            if (since == null) { // a hold restored from a savepoint of a job that did not keep its start
                since = running;
                holdSince.update(since);
            }
            boolean noWatermarkYet = current == Long.MIN_VALUE && timestamp < startedAt(ctx) + holdLimitMs;
            boolean standingStillNotLong = running < since + MAX_HOLD_MS;
            if (noWatermarkYet || (then != null && current > then) || standingStillNotLong) {
                holdWatermark.update(current);
                holdDeadline.update(now + holdLimitMs);
                ctx.timerService().registerProcessingTimeTimer(now + holdLimitMs);
                return;
            }
        }
        List<ChangeEvent> due = new ArrayList<>();
        for (Iterator<Map.Entry<Long, List<ChangeEvent>>> it = held.iterator(); it.hasNext(); ) {
            Map.Entry<Long, List<ChangeEvent>> entry = it.next();
            if (!watermark || entry.getKey() <= timestamp) {
                due.addAll(entry.getValue());
                it.remove();
            }
        }
        if (held.isEmpty()) {
            held.clear(); // the iterator leaves an empty map behind, an entry for good
            Long deadline = holdDeadline.value();
            Tuple3<Long, Long, Long> last = remembered.value();
            if (deadline != null && (last == null || clock.processingTime(last.f2) != deadline)) { // one timer may serve both
                ctx.timerService().deleteProcessingTimeTimer(deadline);
            }
            holdDeadline.clear();
            holdWatermark.clear();
            holdSince.clear();
        }
        // Oldest first, so that each is completed from the one before it.
        due.sort(Comparator.<ChangeEvent>comparingLong(c -> c.version).thenComparingLong(c -> c.lsn));
        for (ChangeEvent change : due) {
            writeIfNewer(change, ctx, out);
        }
        forgetIfTheWatermarkIsPast(ctx);
    }

    /**
     * The watermark past which nothing older than a change written to Kafka at {@code kafkaTime} can still come, so that
     * its memory may end: every partition read past it, and past it by the transaction timeout, at which the collapse
     * flushes every transaction still incomplete (older ones included) before the watermark goes on (a longer timeout
     * for a while after a restore, {@link #largestTimeoutMs}); {@link #CLOCK_SLACK_MS} more for Connect's clock. Only
     * for memories past the full count: Connect, restarted, sends again what followed its last stored offset with new
     * Kafka times, which the watermark says nothing of, and the hour drops those.
     */
    long forgetsAt(long kafkaTime) {
        return kafkaTime + largestTimeoutMs + CLOCK_SLACK_MS;
    }

    /**
     * Ends a memory past the full count when the watermark is past it and no held change is still to be compared with
     * it; sets its timer again when its end moved (a longer timeout since a restore).
     */
    private void forgetIfTheWatermarkIsPast(OnTimerContext ctx) throws Exception {
        Long kafkaTime = rememberedKafkaTime.value();
        if (kafkaTime == null) {
            return;
        }
        long end = forgetsAt(kafkaTime);
        if (end > ctx.timerService().currentWatermark()) {
            ctx.timerService().registerEventTimeTimer(end);
            return;
        }
        if (!held.isEmpty()) {
            return; // the hold's own timers come back here
        }
        Tuple3<Long, Long, Long> last = remembered.value();
        forgetMemory();
        rememberedKafkaTime.clear();
        if (last != null) {
            deleteExpiryTimer(last.f2, ctx);
        }
    }

    // A memory ends: it no longer counts towards the full count.
    private void forgetMemory() {
        remembered.clear();
        rememberedLacksColumns.clear();
        deleteBefore.clear();
        partialsBefore.clear();
        memories = Math.max(0, memories - 1);
    }

    /** The memory's end by the watermark is gone with it (its timer too, unless held changes are due then). */
    private void forgetWatermarkTimer(Context ctx) throws Exception {
        Long kafkaTime = rememberedKafkaTime.value();
        if (kafkaTime != null) {
            rememberedKafkaTime.clear();
            long end = forgetsAt(kafkaTime);
            if (!held.contains(end)) {
                ctx.timerService().deleteEventTimeTimer(end);
            }
        }
    }

    /**
     * When a change with unavailable columns may leave: once the watermark says that every partition has been read past
     * its own Kafka millisecond. The change before it of the same row, and the rest of that change's transaction, were
     * written to Kafka before it, so that is enough; not its stream timestamp, which is its transaction END's time when
     * the transaction completed there, later than every change of it (at the end of a burst the watermark stops at the
     * newest change and never reaches the last END). A change flushed at its transaction's timeout has no stream
     * timestamp at all. Without a Kafka time (a record without timestamp) the stream timestamp serves;
     * {@code Long.MIN_VALUE} when it has neither.
     */
    static long dueTime(ChangeEvent change, Long timestamp) {
        if (change.kafkaTime > 0) {
            return change.kafkaTime;
        }
        return timestamp == null ? Long.MIN_VALUE : timestamp;
    }

    /**
     * Older than the remembered change, and of no use downstream: older than a delete (which Elasticsearch forgets), or
     * than a partial write it would let through after it (an earlier part of the same transaction, which has the same
     * version), or than a partial write with every column. A change of an earlier transaction than a write lacking
     * columns goes on: that write waits in the writer for the row's change before it, which this may be (its
     * transaction completed later), or for that change's own (a chain of writes lacking columns); the writer puts it
     * first, and Elasticsearch refuses it if it is older than what it holds. Except a change from before a delete
     * let through, which Elasticsearch may have forgotten ({@link #deleteBefore}), and an earlier part of a partial
     * write's transaction ({@link #partialsBefore}).
     */
    private boolean stale(ChangeEvent change, Tuple3<Long, Long, Long> last) throws Exception {
        if (last == null || change.isNewerThan(last.f0, last.f1)) {
            return false;
        }
        if (change.version == last.f0 || !Boolean.TRUE.equals(rememberedLacksColumns.value())) {
            return true;
        }
        Tuple2<Long, Long> delete = deleteBefore.value();
        if (delete != null && !change.isNewerThan(delete.f0, delete.f1)) {
            return true;
        }
        List<Tuple2<Long, Long>> partials = partialsBefore.value();
        if (partials != null) {
            for (Tuple2<Long, Long> partial : partials) {
                if (change.version == partial.f0 && change.lsn <= partial.f1) {
                    return true;
                }
            }
        }
        return false;
    }

    // What a change let through beside a write lacking columns, or a memory that write replaced, keeps out after it.
    private void keepOutWhatIsOlderThan(long version, long lsn, boolean delete, boolean partial) throws Exception {
        if (delete) {
            Tuple2<Long, Long> before = deleteBefore.value();
            if (before == null || before.f0 < version || (before.f0 == version && before.f1 < lsn)) {
                deleteBefore.update(Tuple2.of(version, lsn));
            }
        } else if (partial) {
            List<Tuple2<Long, Long>> partials = partialsBefore.value();
            List<Tuple2<Long, Long>> more = partials == null ? new ArrayList<>() : new ArrayList<>(partials);
            more.removeIf(known -> known.f0 == version && known.f1 <= lsn);
            if (more.stream().noneMatch(known -> known.f0 == version)) {
                more.add(Tuple2.of(version, lsn));
            }
            partialsBefore.update(more);
        }
    }

    private void writeIfNewer(ChangeEvent change, Context ctx, Collector<ChangeEvent> out) throws Exception {
        Tuple3<Long, Long, Long> last = remembered.value();
        if (stale(change, last)) {
            stale.inc();
            return;
        }
        if (last != null && !change.isNewerThan(last.f0, last.f1)) {
            // The row's change before a write still waiting for it, maybe: the memory stays, as long as a delete's
            // when this is one.
            boolean olderDelete = change.action == ChangeEvent.Action.DELETE;
            keepOutWhatIsOlderThan(change.version, change.lsn, olderDelete, change.partial);
            if (olderDelete) {
                long until = expiry(ctx, deleteMemoryMs);
                if (until > last.f2) {
                    deleteExpiryTimer(last.f2, ctx);
                    remember(last.f0, last.f1, until, ctx);
                }
            }
            out.collect(change);
            return;
        }
        boolean delete = change.action == ChangeEvent.Action.DELETE;
        // A write lacking columns does not end a memory as a live document's write does: it waits in the writer for
        // the row's change before it, and until it is written, Elasticsearch may hold nothing newer than a forgotten
        // delete.
        if (delete || change.partial || (last != null && change.hasUnavailableColumns())) {
            long until = expiry(ctx, delete ? deleteMemoryMs : writeMemoryMs);
            if (!delete && change.hasUnavailableColumns() && last != null) {
                // A memory lacking columns was a write, maybe partial (its parts kept out); any other may have been a
                // delete, which is then kept out as long as it would have been remembered.
                boolean lacked = Boolean.TRUE.equals(rememberedLacksColumns.value());
                keepOutWhatIsOlderThan(last.f0, last.f1, !lacked, lacked);
                if (deleteBefore.value() != null) {
                    until = Math.max(until, last.f2);
                }
            }
            if (last != null && last.f2 != until) {
                deleteExpiryTimer(last.f2, ctx);
            }
            if (last == null) {
                memories++;
            }
            if (!delete && change.hasUnavailableColumns()) {
                rememberedLacksColumns.update(true);
            } else if (last != null) { // without a memory before, they are not set
                rememberedLacksColumns.clear();
                deleteBefore.clear(); // nothing older goes on
                partialsBefore.clear();
            }
            remember(change.version, change.lsn, until, ctx);
            forgetWatermarkTimer(ctx);
            if (memories > fullCount && change.kafkaTime > 0) {
                // Past the full count (a mass delete, a huge transaction): ends by the watermark, so memory stays bounded.
                rememberedKafkaTime.update(change.kafkaTime);
                ctx.timerService().registerEventTimeTimer(forgetsAt(change.kafkaTime));
            }
        } else if (last != null) {
            forgetMemory(); // a live document: Elasticsearch refuses anything older itself
            clock.now(ctx.timerService().currentProcessingTime());
            deleteExpiryTimer(last.f2, ctx);
            forgetWatermarkTimer(ctx);
        }
        out.collect(change);
    }

    /** Remembers a version and LSN until {@code until} (the running clock), and sets the timer that ends it then. */
    private void remember(long version, long lsn, long until, Context ctx) throws Exception {
        remembered.update(Tuple3.of(version, lsn, until));
        ctx.timerService().registerProcessingTimeTimer(clock.processingTime(until));
    }

    /** When a memory kept {@code forMs} from now ends, on the running clock, to the second (fewer timers). */
    private long expiry(Context ctx, long forMs) {
        long now = clock.now(ctx.timerService().currentProcessingTime());
        return ((now + forMs) / 1000 + 1) * 1000;
    }

    private long startedAt(Context ctx) {
        if (startedAt == Long.MIN_VALUE) {
            startedAt = ctx.timerService().currentProcessingTime();
        }
        return startedAt;
    }

    // A memory's expiry timer (its time on the clock), unless the same timer also ends the hold limit. One set before
    // a restore stays, and finds nothing to clear.
    private void deleteExpiryTimer(long expiry, Context ctx) throws Exception {
        Long deadline = holdDeadline.value();
        long timer = clock.processingTime(expiry);
        if (deadline == null || deadline != timer) {
            ctx.timerService().deleteProcessingTimeTimer(timer);
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        clock.snapshot();
        timeoutsState.update(List.of(largestTimeoutMs));
    }

    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        clock = new RunningClock();
        clock.initialize(context);
        memories = 0;
        timeoutsState = context.getOperatorStateStore().getUnionListState(
                new ListStateDescriptor<>("transaction-timeouts", Types.LONG));
        largestTimeoutMs = holdLimitMs;
        for (Long timeout : timeoutsState.get()) {
            largestTimeoutMs = Math.max(largestTimeoutMs, timeout);
        }
    }
}
