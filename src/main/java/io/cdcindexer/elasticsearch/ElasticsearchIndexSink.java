package io.cdcindexer.elasticsearch;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.kafka.DeadLetterQueue;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
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
 * a job of such a version restored from this one's savepoint drops it (those changes are then missing until their
 * rows change again). It must run right after a stream keyed by {@link DocumentVersionFunction#DOCUMENT_KEY}, at the
 * same parallelism, as in the job: a restored change whose key is another subtask's is written at once.
 */
public final class ElasticsearchIndexSink implements Sink<ChangeEvent>, SupportsWriterState<ChangeEvent, AwaitingDocument> {

    private static final long serialVersionUID = 1L;

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
        try {
            TaskInfo task = context.getTaskInfo();
            // The writer runs right after the version check, keyed by document: the subtask of a document's key is
            // the one its changes reach.
            Predicate<ChangeEvent> owned = change -> KeyGroupRangeAssignment.assignKeyToParallelOperator(
                    change.documentKey(), task.getMaxNumberOfParallelSubtasks(), // DocumentVersionFunction.DOCUMENT_KEY
                    task.getNumberOfParallelSubtasks()) == task.getIndexOfThisSubtask();
            return new ElasticsearchIndexWriter(emitter, options, context.getMailboxExecutor(),
                    context.getProcessingTimeService(), context.metricGroup(), deadLetterQueue.open(), recoveredState,
                    owned);
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("Could not open the Elasticsearch writer", e);
        }
    }

    @Override
    public SimpleVersionedSerializer<AwaitingDocument> getWriterStateSerializer() {
        return AwaitingDocument.Serializer.INSTANCE;
    }
}
