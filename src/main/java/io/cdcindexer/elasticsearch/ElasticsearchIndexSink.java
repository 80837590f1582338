package io.cdcindexer.elasticsearch;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.kafka.DeadLetterQueue;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.Predicate;
import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.elasticsearch.sink.ElasticsearchEmitter;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes changes to Elasticsearch: the connector's {@link ElasticsearchEmitter} turns each change into requests, and
 * {@link ElasticsearchIndexWriter} sends them in bulk with external versions, retries transient failures with backoff and
 * sends documents refused for good to the dead-letter queue.
 *
 * <p>The connector's own Sink V2 writer (3.0.1) fails the job on any failed item, a 409 from a stale write included, and
 * has no failure hook; that is why the writer is ours while the emitter contract is the connector's.
 *
 * <p>Its state holds only the changes that were waiting, at a checkpoint, for their document's first write
 * ({@link AwaitingDocument}); it is usually empty. A job of a version whose writer had no state restores with none;
 * a job of such a version restored from this one's savepoint ignores it (those changes are then missing until their
 * rows change again), and a later upgrade drops it ({@link #ofTheCheckpoint}). It must run right after a stream keyed
 * by {@link DocumentVersionFunction#DOCUMENT_KEY}, at the same parallelism, as in the job ({@link #owned}).
 */
public final class ElasticsearchIndexSink implements Sink<ChangeEvent>, SupportsWriterState<ChangeEvent, AwaitingDocument> {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ElasticsearchIndexSink.class);

    private final BulkOptions options;
    private final ElasticsearchEmitter<ChangeEvent> emitter;
    private final DeadLetterQueue deadLetterQueue;

    public ElasticsearchIndexSink(BulkOptions options, ElasticsearchEmitter<ChangeEvent> emitter,
            DeadLetterQueue deadLetterQueue) {
        this.options = options;
        this.emitter = emitter;
        this.deadLetterQueue = deadLetterQueue;
    }

    @Override
    @Deprecated
    public SinkWriter<ChangeEvent> createWriter(InitContext context) {
        throw new UnsupportedOperationException("Flink 1.20 calls createWriter(WriterInitContext)");
    }

    @Override
    public StatefulSinkWriter<ChangeEvent, AwaitingDocument> createWriter(WriterInitContext context) throws IOException {
        return restoreWriter(context, List.of());
    }

    @Override
    public StatefulSinkWriter<ChangeEvent, AwaitingDocument> restoreWriter(WriterInitContext context,
            Collection<AwaitingDocument> recoveredState) throws IOException {
        TaskInfo task = context.getTaskInfo();
        // Not Flink's processing-time service: Flink quiesces it before a stop's savepoint (see MailboxTimers).
        MailboxTimers timers = new MailboxTimers(context.getMailboxExecutor(),
                "Elasticsearch writer timers of " + task.getTaskNameWithSubtasks() + " of job "
                        + context.getJobInfo().getJobId());
        try {
            return new ElasticsearchIndexWriter(emitter, options, context.getMailboxExecutor(), timers,
                    context.metricGroup(), deadLetterQueue.open(),
                    ofTheCheckpoint(recoveredState, context.getRestoredCheckpointId()),
                    owned(task.getIndexOfThisSubtask(), task.getNumberOfParallelSubtasks(),
                            task.getMaxNumberOfParallelSubtasks()));
        } catch (Throwable e) {
            timers.close();
            if (e instanceof IOException io) {
                throw io;
            }
            if (e instanceof Error error) {
                throw error;
            }
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("Could not open the Elasticsearch writer", e);
        }
    }

    /**
     * The restored changes that the checkpoint restored from took. A version of the job whose sink had no state
     * (restored from this one's savepoint, a rollback) carries the state along unread into its own checkpoints: what a
     * later upgrade finds there from an earlier checkpoint is over (its rows changed since), and written now it could
     * bring a deleted row back.
     */
    static List<AwaitingDocument> ofTheCheckpoint(Collection<AwaitingDocument> restored, OptionalLong checkpointId) {
        List<AwaitingDocument> current = new ArrayList<>();
        for (AwaitingDocument awaiting : restored) {
            if (checkpointId.isPresent() && awaiting.checkpointId() == checkpointId.getAsLong()) {
                current.add(awaiting);
            } else {
                LOG.warn("{}/{}: a change restored from checkpoint {} while restoring checkpoint {}, carried along by "
                        + "a version of the job without the writer's state: dropped", awaiting.index(),
                        awaiting.changes().get(0).documentId, awaiting.checkpointId(),
                        checkpointId.isPresent() ? checkpointId.getAsLong() : "none");
            }
        }
        return current;
    }

    /**
     * Whether a change's document is this subtask's: the writer runs right after the version check, keyed by
     * {@link DocumentVersionFunction#DOCUMENT_KEY}, so the subtask of a document's key is the one its changes reach.
     */
    static Predicate<ChangeEvent> owned(int subtask, int parallelism, int maxParallelism) {
        return change -> KeyGroupRangeAssignment.assignKeyToParallelOperator(change.documentKey(), maxParallelism,
                parallelism) == subtask;
    }

    @Override
    public SimpleVersionedSerializer<AwaitingDocument> getWriterStateSerializer() {
        return AwaitingDocument.Serializer.INSTANCE;
    }
}
