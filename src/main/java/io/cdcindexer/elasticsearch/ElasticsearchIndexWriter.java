package io.cdcindexer.elasticsearch;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.DeadLetterQueue;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.connector.elasticsearch.sink.ElasticsearchEmitter;
import org.apache.flink.connector.elasticsearch.sink.RequestIndexer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.apache.http.HttpHost;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.DocWriteRequest;
import org.elasticsearch.action.bulk.BulkItemResponse;
import org.elasticsearch.action.bulk.BulkRequest;
import org.elasticsearch.action.bulk.BulkResponse;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.get.MultiGetItemResponse;
import org.elasticsearch.action.get.MultiGetRequest;
import org.elasticsearch.action.get.MultiGetResponse;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.action.update.UpdateRequest;
import org.elasticsearch.client.RequestOptions;
import org.elasticsearch.client.RestClient;
import org.elasticsearch.client.RestHighLevelClient;
import org.elasticsearch.common.bytes.BytesReference;
import org.elasticsearch.common.xcontent.XContentType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends changes to Elasticsearch in bulk requests, without blocking on any single write.
 *
 * <p>A bulk request goes out when it is full (actions or bytes) or its oldest action has waited the flush interval; up to
 * {@code maxInFlight} are under way at once, and {@link #write} waits only when all of them are. Each item's answer is
 * classified ({@link BulkItemOutcome}): written; stale (409, counted); transient (retried with exponential backoff,
 * forever, so nothing is dropped and the job never fails for it); or rejected for good (to the dead-letter queue).
 * {@link #flush} (on every checkpoint) returns only when every action so far is settled and the dead letters are
 * durable: at-least-once, and with external versions, an exactly-once effect.
 *
 * <p>A change with unavailable (unchanged TOASTed) columns must not blank them out: before its bulk request goes out,
 * one multi-get fetches the stored documents and their values complete the change's document. The write keeps the
 * change's external version, so it still loses against anything newer.
 *
 * <p>All state is touched only by the task thread: answers from the HTTP client come back through the mailbox.
 */
final class ElasticsearchIndexWriter implements SinkWriter<ChangeEvent>, RequestIndexer {

    private static final Logger LOG = LoggerFactory.getLogger(ElasticsearchIndexWriter.class);

    /** One action on its way, with the change it came from. */
    private static final class Pending {
        final DocWriteRequest<?> request;
        final ChangeEvent change;
        int attempts;

        Pending(DocWriteRequest<?> request, ChangeEvent change) {
            this.request = request;
            this.change = change;
        }
    }

    private final ElasticsearchEmitter<ChangeEvent> emitter;
    private final BulkOptions options;
    private final RestHighLevelClient client;
    private final MailboxExecutor mailbox;
    private final ProcessingTimeService time;
    private final DeadLetterQueue.Writer deadLetters;

    private List<Pending> buffer = new ArrayList<>();
    private long bufferBytes;
    private boolean flushScheduled;
    private int inFlight;
    private int waitingForRetry;
    private ChangeEvent current;

    private final Counter indexed;
    private final Counter deleted;
    private final Counter stale;
    private final Counter retried;
    private final Counter deadLettered;
    private final Counter bulkRequests;
    private final Counter recordsSend;
    private final Counter unavailableKept;

    ElasticsearchIndexWriter(ElasticsearchEmitter<ChangeEvent> emitter, BulkOptions options, MailboxExecutor mailbox,
            ProcessingTimeService time, SinkWriterMetricGroup metrics, DeadLetterQueue.Writer deadLetters)
            throws Exception {
        this.emitter = emitter;
        this.options = options;
        this.mailbox = mailbox;
        this.time = time;
        this.deadLetters = deadLetters;
        this.client = new RestHighLevelClient(RestClient
                .builder(options.hosts().stream().map(HttpHost::create).toArray(HttpHost[]::new))
                .setRequestConfigCallback(config -> config.setConnectTimeout(5_000).setSocketTimeout(120_000)));
        this.indexed = metrics.counter("documentsIndexed");
        this.deleted = metrics.counter("documentsDeleted");
        this.stale = metrics.counter("staleWritesSkipped");
        this.retried = metrics.counter("actionsRetried");
        this.deadLettered = metrics.counter("deadLetters");
        this.bulkRequests = metrics.counter("bulkRequests");
        this.recordsSend = metrics.getNumRecordsSendCounter();
        this.unavailableKept = metrics.counter("unavailableColumnsWithoutStoredValue");
        metrics.gauge("bulkRequestsInFlight", () -> inFlight);
        metrics.gauge("actionsWaitingForRetry", () -> waitingForRetry);
        emitter.open();
    }

    @Override
    public void write(ChangeEvent change, Context context) throws IOException, InterruptedException {
        current = change;
        emitter.emit(change, context, this);
        current = null;
        if (buffer.size() >= options.maxActions() || bufferBytes >= options.maxBytes()) {
            while (inFlight >= options.maxInFlight()) {
                mailbox.yield();
            }
            send();
        } else if (!flushScheduled && !buffer.isEmpty()) {
            scheduleFlush();
        }
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        while (!buffer.isEmpty() || inFlight > 0 || waitingForRetry > 0) {
            if (!buffer.isEmpty() && inFlight < options.maxInFlight()) {
                send();
            } else {
                mailbox.yield();
            }
        }
        deadLetters.flush();
    }

    @Override
    public void add(DeleteRequest... requests) {
        for (DeleteRequest request : requests) {
            buffer(request, 64);
        }
    }

    @Override
    public void add(IndexRequest... requests) {
        for (IndexRequest request : requests) {
            buffer(request, 64 + request.source().length());
        }
    }

    @Override
    public void add(UpdateRequest... requests) {
        for (UpdateRequest request : requests) {
            buffer(request, 256 + (request.doc() == null ? 0 : request.doc().source().length()));
        }
    }

    private void buffer(DocWriteRequest<?> request, long bytes) {
        buffer.add(new Pending(request, current));
        bufferBytes += bytes;
    }

    private void scheduleFlush() {
        flushScheduled = true;
        time.registerTimer(time.getCurrentProcessingTime() + options.intervalMs(), timestamp -> {
            flushScheduled = false;
            if (buffer.isEmpty()) {
                return;
            }
            if (inFlight < options.maxInFlight()) {
                send();
            } else {
                scheduleFlush();
            }
        });
    }

    private void send() {
        List<Pending> batch = buffer;
        buffer = new ArrayList<>(Math.min(options.maxActions(), 4096));
        bufferBytes = 0;
        inFlight++;
        List<Pending> incomplete = new ArrayList<>();
        for (Pending pending : batch) {
            if (pending.change != null && pending.change.hasUnavailableColumns()
                    && pending.request instanceof IndexRequest) {
                incomplete.add(pending);
            }
        }
        if (incomplete.isEmpty()) {
            sendBulk(batch);
        } else {
            completeThenSend(batch, incomplete);
        }
    }

    // Fetches the stored documents (realtime) and fills in the unavailable columns, then sends the bulk request.
    private void completeThenSend(List<Pending> batch, List<Pending> incomplete) {
        MultiGetRequest get = new MultiGetRequest().realtime(true);
        for (Pending pending : incomplete) {
            IndexRequest request = (IndexRequest) pending.request;
            get.add(request.index(), request.id());
        }
        client.mgetAsync(get, RequestOptions.DEFAULT, new ActionListener<>() {
            @Override
            public void onResponse(MultiGetResponse response) {
                mailbox.execute(() -> {
                    MultiGetItemResponse[] items = response.getResponses();
                    for (int i = 0; i < items.length; i++) {
                        complete(incomplete.get(i), items[i]);
                    }
                    sendBulk(batch);
                }, "elasticsearch multi-get response");
            }

            @Override
            public void onFailure(Exception error) {
                mailbox.execute(() -> failed(batch, error), "elasticsearch multi-get failure");
            }
        });
    }

    private void complete(Pending pending, MultiGetItemResponse item) {
        IndexRequest request = (IndexRequest) pending.request;
        byte[] stored = item.isFailed() || !item.getResponse().isExists() ? null
                : BytesReference.toBytes(item.getResponse().getSourceAsBytesRef());
        ChangeEvent completed = pending.change.withUnavailableColumnsFrom(stored);
        if (completed.hasUnavailableColumns()) {
            unavailableKept.inc();
            LOG.warn("{}/{}: no stored value for the unavailable columns {}; they stay out of the document",
                    request.index(), request.id(), String.join(", ", completed.unavailableColumns));
        }
        request.source(completed.document, XContentType.JSON);
    }

    private void sendBulk(List<Pending> batch) {
        BulkRequest request = new BulkRequest();
        for (Pending pending : batch) {
            request.add(pending.request);
        }
        bulkRequests.inc();
        client.bulkAsync(request, RequestOptions.DEFAULT, new ActionListener<>() {
            @Override
            public void onResponse(BulkResponse response) {
                mailbox.execute(() -> completed(batch, response), "elasticsearch bulk response");
            }

            @Override
            public void onFailure(Exception error) {
                mailbox.execute(() -> failed(batch, error), "elasticsearch bulk failure");
            }
        });
    }

    private void completed(List<Pending> batch, BulkResponse response) throws IOException {
        inFlight--;
        BulkItemResponse[] items = response.getItems();
        List<Pending> again = null;
        for (int i = 0; i < items.length; i++) {
            Pending pending = batch.get(i);
            switch (BulkItemOutcome.of(items[i])) {
                case WRITTEN:
                    (pending.request.opType() == DocWriteRequest.OpType.DELETE ? deleted : indexed).inc();
                    recordsSend.inc();
                    break;
                case STALE:
                    stale.inc();
                    break;
                case RETRY:
                    if (again == null) {
                        again = new ArrayList<>();
                        LOG.warn("Elasticsearch could not take some actions now, retrying them; first: {}",
                                items[i].getFailureMessage());
                    }
                    again.add(pending);
                    break;
                case REJECTED:
                    deadLetter(pending, items[i]);
                    break;
                default:
                    throw new IllegalStateException();
            }
        }
        if (again != null) {
            retryLater(again);
        }
    }

    private void failed(List<Pending> batch, Exception error) {
        inFlight--;
        LOG.warn("A bulk request of {} actions failed ({}); retrying it", batch.size(), error.toString());
        retryLater(batch);
    }

    private void retryLater(List<Pending> actions) {
        int attempts = 0;
        for (Pending pending : actions) {
            attempts = Math.max(attempts, ++pending.attempts);
        }
        retried.inc(actions.size());
        waitingForRetry += actions.size();
        time.registerTimer(time.getCurrentProcessingTime() + options.backoffMs(attempts), timestamp -> {
            waitingForRetry -= actions.size();
            buffer.addAll(actions);
            if (inFlight < options.maxInFlight()) {
                send();
            } else if (!flushScheduled) {
                scheduleFlush();
            }
        });
    }

    private void deadLetter(Pending pending, BulkItemResponse item) throws IOException {
        ChangeEvent change = pending.change;
        DeadLetter letter = new DeadLetter();
        letter.stage = DeadLetter.Stage.ELASTICSEARCH;
        letter.reason = "Elasticsearch refused the " + item.getOpType().getLowercase() + " (" + item.getFailure().getStatus()
                + "): " + item.getFailureMessage();
        letter.topic = change.topic;
        letter.partition = change.partition;
        letter.offset = change.offset;
        letter.key = change.key;
        letter.value = change.document;
        letter.index = item.getIndex();
        letter.documentId = change.documentId;
        LOG.warn("Sending {}/{} to the dead-letter queue: {}", letter.index, letter.documentId, letter.reason);
        deadLetters.send(letter);
        deadLettered.inc();
    }

    @Override
    public void close() throws Exception {
        try {
            emitter.close();
        } finally {
            try {
                client.close();
            } finally {
                deadLetters.close();
            }
        }
    }
}
