package io.cdcindexer.elasticsearch;

import io.cdcindexer.debezium.ChangeEvent;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Keyed by document, right before the Elasticsearch sink: lets a change through only when it is newer, by
 * {@code (version, lsn)}, than the last change let through for its document, and drops older ones as stale.
 *
 * <p>Why the job must do this itself: changes of one row can reach this point out of order (transactions are collapsed
 * on different subtasks, and one held back by a slow partition completes after a later one), and Elasticsearch remembers
 * a deleted document's version only for {@code index.gc_deletes} (60 s by default). An older upsert that arrives after
 * that re-creates a deleted row for good. So a delete's version is remembered here for {@code deleteMemoryMs}, and other
 * writes' for {@code writeMemoryMs} (long enough to catch a late or repeated change; Elasticsearch's own version check
 * still refuses an older write to a live document after that). Both in keyed state with a time-to-live, so memory holds
 * only recently changed documents. Since the sink runs on the same subtask (forward), every write of one document goes
 * through one writer, which keeps them in order ({@link ElasticsearchIndexWriter}).
 */
public final class DocumentVersionFunction extends KeyedProcessFunction<String, ChangeEvent, ChangeEvent> {

    private static final long serialVersionUID = 1L;

    /** Keys a change by its document: topic and id. */
    public static final KeySelector<ChangeEvent, String> DOCUMENT_KEY = ChangeEvent::documentKey;

    private final long writeMemoryMs;
    private final long deleteMemoryMs;

    /** The version and WAL position of the last write let through, and of the last delete. */
    private transient ValueState<Tuple2<Long, Long>> lastWrite;
    private transient ValueState<Tuple2<Long, Long>> lastDelete;
    private transient Counter stale;

    /**
     * @param writeMemoryMs how long the version of a document's last write is remembered
     * @param deleteMemoryMs how long the version of a delete is remembered (longer: Elasticsearch forgets it)
     */
    public DocumentVersionFunction(long writeMemoryMs, long deleteMemoryMs) {
        this.writeMemoryMs = writeMemoryMs;
        this.deleteMemoryMs = deleteMemoryMs;
    }

    @Override
    public void open(Configuration parameters) {
        lastWrite = getRuntimeContext().getState(remembered("last-write", writeMemoryMs));
        lastDelete = getRuntimeContext().getState(remembered("last-delete", deleteMemoryMs));
        stale = getRuntimeContext().getMetricGroup().counter("staleChangesDropped");
    }

    private static ValueStateDescriptor<Tuple2<Long, Long>> remembered(String name, long ttlMs) {
        ValueStateDescriptor<Tuple2<Long, Long>> descriptor =
                new ValueStateDescriptor<>(name, Types.TUPLE(Types.LONG, Types.LONG));
        descriptor.enableTimeToLive(StateTtlConfig.newBuilder(java.time.Duration.ofMillis(ttlMs))
                .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                .build());
        return descriptor;
    }

    @Override
    public void processElement(ChangeEvent change, Context ctx, Collector<ChangeEvent> out) throws Exception {
        if (change.action == ChangeEvent.Action.SKIP) {
            return; // its record is in the dead-letter queue: nothing to write
        }
        if (olderThan(lastWrite.value(), change) || olderThan(lastDelete.value(), change)) {
            stale.inc();
            return;
        }
        Tuple2<Long, Long> written = Tuple2.of(change.version, change.lsn);
        lastWrite.update(written);
        if (change.action == ChangeEvent.Action.DELETE) {
            lastDelete.update(written);
        } else {
            lastDelete.clear();
        }
        out.collect(change);
    }

    private static boolean olderThan(Tuple2<Long, Long> last, ChangeEvent change) {
        return last != null && !change.isNewerThan(last.f0, last.f1);
    }
}
