package io.cdcindexer.documents;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
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
 * oldest transaction first, and sends what changed, marked with the watermark it was due at. That message reaches the
 * next stage before the watermark does (Flink fires timers before it passes a watermark on), so every stage applies
 * a transaction at the same watermark and a change takes one watermark step to its document, however deep.
 */
abstract class WholeTransactionsFunction extends KeyedProcessFunction<String, JoinMessage, JoinMessage> {

    private static final long serialVersionUID = 1L;

    /** Messages not yet due, by the watermark they wait to be passed. */
    private transient MapState<Long, List<JoinMessage>> waiting;

    @Override
    public void open(Configuration parameters) throws Exception {
        waiting = getRuntimeContext().getMapState(new MapStateDescriptor<>("waiting", Types.LONG,
                Types.LIST(TypeInformation.of(JoinMessage.class))));
        openState();
    }

    /** Opens the stage's own state. */
    abstract void openState() throws Exception;

    /** Applies one due message to the key's state (the current key is its key). */
    abstract void apply(JoinMessage message, Context ctx) throws Exception;

    /** Sends what the messages just applied changed, each message marked {@code after}. */
    abstract void send(long after, Context ctx, Collector<JoinMessage> out) throws Exception;

    /** A processing-time timer of the stage's own (expiries). */
    void onProcessingTime(long timestamp, OnTimerContext ctx, Collector<JoinMessage> out) throws Exception {}

    @Override
    public void processElement(JoinMessage message, Context ctx, Collector<JoinMessage> out) throws Exception {
        long watermark = ctx.timerService().currentWatermark();
        // Never behind the watermark already come (a message restored or sent before any watermark): due at the next.
        long after = Math.max(message.after, watermark);
        if (after == Long.MAX_VALUE) { // the input has ended: nothing more can come
            apply(message, ctx);
            send(after, ctx, out);
            return;
        }
        List<JoinMessage> list = waiting.get(after);
        List<JoinMessage> more = list == null ? new ArrayList<>() : new ArrayList<>(list);
        more.add(message);
        waiting.put(after, more);
        ctx.timerService().registerEventTimeTimer(after + 1);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<JoinMessage> out) throws Exception {
        if (ctx.timeDomain() != TimeDomain.EVENT_TIME) {
            onProcessingTime(timestamp, ctx, out);
            return;
        }
        List<Map.Entry<Long, List<JoinMessage>>> due = new ArrayList<>();
        for (Iterator<Map.Entry<Long, List<JoinMessage>>> it = waiting.iterator(); it.hasNext(); ) {
            Map.Entry<Long, List<JoinMessage>> entry = it.next();
            if (entry.getKey() < timestamp) {
                due.add(Map.entry(entry.getKey(), entry.getValue()));
                it.remove();
            }
        }
        if (due.isEmpty()) {
            return; // an earlier timer of this watermark took them
        }
        if (waiting.isEmpty()) {
            waiting.clear(); // removing through the iterator leaves the empty map in the state backend
        }
        due.sort(Map.Entry.comparingByKey());
        for (Map.Entry<Long, List<JoinMessage>> entry : due) {
            for (JoinMessage message : entry.getValue()) {
                apply(message, ctx);
            }
        }
        send(timestamp - 1, ctx, out);
    }
}
