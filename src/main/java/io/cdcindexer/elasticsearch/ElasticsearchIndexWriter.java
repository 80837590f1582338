package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DebeziumDecoder;
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
import org.apache.http.entity.ByteArrayEntity;
import org.apache.http.entity.ContentType;
import org.apache.http.util.EntityUtils;
import org.elasticsearch.action.DocWriteRequest;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.action.update.UpdateRequest;
import org.elasticsearch.client.Request;
import org.elasticsearch.client.Response;
import org.elasticsearch.client.ResponseListener;
import org.elasticsearch.client.RestClient;
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
 * <p>Requests go out through Elasticsearch's low-level REST client, written and read by {@link BulkProtocol}, so each
 * document reaches Elasticsearch byte for byte. All state is touched only by the task thread: answers from the HTTP
 * client come back through the mailbox.
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
    private static final ContentType NDJSON = ContentType.create("application/x-ndjson");

    private final RestClient client;
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
        this.client = RestClient
                .builder(options.hosts().stream().map(HttpHost::create).toArray(HttpHost[]::new))
                .setRequestConfigCallback(config -> config.setConnectTimeout(5_000).setSocketTimeout(120_000))
                .build();
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
        throw new UnsupportedOperationException("Changes become index and delete requests only: every write carries an "
                + "external version, which the update API does not take");
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
            if (pending.change.hasUnavailableColumns() && pending.request instanceof IndexRequest) {
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
        ObjectNode body = DebeziumDecoder.mapper().createObjectNode();
        ArrayNode docs = body.putArray("docs");
        for (Pending pending : incomplete) {
            docs.addObject().put("_index", pending.request.index()).put("_id", pending.request.id());
        }
        Request request = new Request("POST", "/_mget");
        request.setEntity(new ByteArrayEntity(DebeziumDecoder.toJson(body), ContentType.APPLICATION_JSON));
        perform(request, "multi-get", response -> {
            JsonNode found = DebeziumDecoder.mapper().readTree(response).path("docs");
            for (int i = 0; i < incomplete.size(); i++) {
                complete(incomplete.get(i), found.path(i));
            }
            sendBulk(batch);
        }, error -> failed(batch, error));
    }

    private void complete(Pending pending, JsonNode stored) {
        IndexRequest request = (IndexRequest) pending.request;
        JsonNode source = stored.path("_source");
        ChangeEvent completed = pending.change.withUnavailableColumnsFrom(
                source.isObject() ? DebeziumDecoder.toJson((ObjectNode) source) : null);
        if (completed.hasUnavailableColumns()) {
            unavailableKept.inc();
            LOG.warn("{}/{}: no stored value for the unavailable columns {}; they stay out of the document",
                    request.index(), request.id(), String.join(", ", completed.unavailableColumns));
        }
        request.source(completed.document, XContentType.JSON);
    }

    private void sendBulk(List<Pending> batch) {
        List<DocWriteRequest<?>> requests = new ArrayList<>(batch.size());
        for (Pending pending : batch) {
            requests.add(pending.request);
        }
        Request request = new Request("POST", "/_bulk");
        request.addParameter("filter_path", BulkProtocol.FILTER_PATH);
        request.setEntity(new ByteArrayEntity(BulkProtocol.body(requests), NDJSON));
        bulkRequests.inc();
        perform(request, "bulk", response -> completed(batch, BulkProtocol.failedOrNull(response, batch.size())),
                error -> failed(batch, error));
    }

    /** What to do with a response body or a failure; runs on the task thread. */
    private interface Handler<T> {
        void handle(T value) throws Exception;
    }

    // Sends a request without waiting; its answer is handled on the task thread, through the mailbox.
    private void perform(Request request, String what, Handler<byte[]> onResponse, Handler<Exception> onFailure) {
        client.performRequestAsync(request, new ResponseListener() {
            @Override
            public void onSuccess(Response response) {
                byte[] body;
                try {
                    body = EntityUtils.toByteArray(response.getEntity());
                } catch (IOException e) {
                    onFailure(e);
                    return;
                }
                mailbox.execute(() -> onResponse.handle(body), "elasticsearch " + what + " response");
            }

            @Override
            public void onFailure(Exception error) {
                mailbox.execute(() -> onFailure.handle(error), "elasticsearch " + what + " failure");
            }
        });
    }

    private void completed(List<Pending> batch, List<BulkProtocol.Item> failedOrNull) throws IOException {
        inFlight--;
        List<Pending> again = null;
        for (int i = 0; i < batch.size(); i++) {
            Pending pending = batch.get(i);
            BulkProtocol.Item item = failedOrNull == null ? null : failedOrNull.get(i);
            BulkItemOutcome outcome = item == null ? BulkItemOutcome.WRITTEN
                    : BulkItemOutcome.of(item.status(), item.errorType());
            switch (outcome) {
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
                        LOG.warn("Elasticsearch could not take some actions now, retrying them; first: {} {}: {}",
                                item.status(), item.errorType(), item.errorReason());
                    }
                    again.add(pending);
                    break;
                case REJECTED:
                    deadLetter(pending, item);
                    break;
                default:
                    throw new IllegalStateException("Unknown outcome " + outcome);
            }
        }
        if (again != null) {
            retryLater(again);
        }
    }

    private void failed(List<Pending> batch, Exception error) {
        inFlight--;
        LOG.warn("A request of {} actions failed ({}); retrying it", batch.size(), error.toString());
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

    private void deadLetter(Pending pending, BulkProtocol.Item item) throws IOException {
        ChangeEvent change = pending.change;
        DeadLetter letter = new DeadLetter();
        letter.stage = DeadLetter.Stage.ELASTICSEARCH;
        letter.reason = "Elasticsearch refused the " + pending.request.opType().getLowercase() + " (" + item.status()
                + " " + item.errorType() + "): " + item.errorReason();
        letter.topic = change.topic;
        letter.partition = change.partition;
        letter.offset = change.offset;
        letter.key = change.key;
        letter.value = change.document;
        letter.index = pending.request.index();
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
