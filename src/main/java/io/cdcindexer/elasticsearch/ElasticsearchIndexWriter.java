package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.job.JobOptions;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.DeadLetterQueue;
import io.cdcindexer.metrics.Histograms;
import io.cdcindexer.metrics.LabeledMetric;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.connector.elasticsearch.sink.ElasticsearchEmitter;
import org.apache.flink.connector.elasticsearch.sink.RequestIndexer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.apache.flink.util.function.ThrowingRunnable;
import org.apache.http.entity.ByteArrayEntity;
import org.apache.http.entity.ContentType;
import org.apache.http.util.EntityUtils;
import org.elasticsearch.action.DocWriteRequest;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.action.update.UpdateRequest;
import org.elasticsearch.client.Request;
import org.elasticsearch.client.Response;
import org.elasticsearch.client.ResponseException;
import org.elasticsearch.client.ResponseListener;
import org.elasticsearch.client.RestClient;
import org.elasticsearch.common.xcontent.XContentType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends changes to Elasticsearch in bulk requests, without blocking on any single write, and in order per document.
 *
 * <p>A bulk request goes out when it is full (actions or bytes) or its oldest action has waited the flush interval; up to
 * {@code maxInFlight} are under way at once. Each item's answer is classified ({@link BulkItemOutcome}): written; stale
 * (409, counted); transient (retried with exponential backoff, forever, so nothing is dropped); refused for good (to the
 * dead-letter queue); or refused credentials (the job fails with a clear error). {@link #flush} (on every checkpoint)
 * returns only when every action so far is settled and the dead letters are durable: at-least-once, and with external
 * versions, an exactly-once effect.
 *
 * <p>Order per document: the writer never has two actions of one document under way (in a request, or waiting for a
 * retry). A newer change of a document whose action is under way waits in the buffer; a newer change of a document
 * already waiting in the buffer replaces it there; an action coming back for a retry gives way to a newer one buffered
 * meanwhile. So every document's writes reach Elasticsearch in the order the job produced them (newest last), and a
 * retry never lands after a newer write.
 *
 * <p>A change with unavailable (unchanged TOASTed) columns must not blank them out: they are taken from the stored
 * document, fetched by one multi-get right before its bulk request goes out, once every earlier action of its document
 * has settled, so that the stored document is the row's latest written state. Not from an earlier action waiting in the
 * buffer: changes of a live row reach the sink out of order, and the one waiting may be older than a write already
 * under way or done (the chaos run found bodies taken that way from a change two versions back). Such a change waits as
 * its document's successor ({@link Pending#successor}) until the action ahead of it has settled; successors count
 * towards the capacity.
 *
 * <p>Whole-request failures: a request too large (413) or refused as a whole (400) is split in halves until the action
 * at fault is alone, and that one goes to the dead-letter queue; 401 and 403 fail the job with the reason (credentials
 * are not something a retry fixes); anything else (connection refused, 429, 5xx) is retried. Actions waiting for a retry
 * count towards the buffer's capacity, in actions and in bytes, so during an outage {@link #write} blocks
 * (back-pressure) instead of piling up: large documents hold the memory of a few requests' worth, not of thousands.
 *
 * <p>Requests go out through Elasticsearch's low-level REST client, written and read by {@link BulkProtocol}, so each
 * document reaches Elasticsearch byte for byte. All state is touched only by the task thread: answers from the HTTP
 * client come back through the mailbox.
 */
final class ElasticsearchIndexWriter implements StatefulSinkWriter<ChangeEvent, AwaitingDocument>, RequestIndexer {

    private static final Logger LOG = LoggerFactory.getLogger(ElasticsearchIndexWriter.class);
    private static final ContentType NDJSON = ContentType.create("application/x-ndjson");
    /** How long a change lacking columns waits for its document to be written (see waitsForItsDocument). */
    static final long DOCUMENT_WAIT_MS = 60_000;
    /** How often such a change looks for its document again. */
    static final long DOCUMENT_WAIT_STEP_MS = 200;
    /**
     * How long the writes to a missing index wait for it to be made again, from Elasticsearch's first such answer (see
     * {@link #indexWaitRefused}): the mapping step makes it at the next change of its table, once its routes are
     * {@link IndexMappingFunction#ROUTES_MAX_AGE_MS} old.
     */
    static final long INDEX_WAIT_MS = 60_000;
    /** How often a write waiting for its index tries again. */
    static final long INDEX_RETRY_MS = 1_000;
    /** A name the job gives a physical index ({@code <alias>_v<n>}): Elasticsearch is set not to make one by a write. */
    private static final Pattern VERSIONED_INDEX = Pattern.compile(".*_v[0-9]+");
    /**
     * Errors of a multi-get item that mean there is no stored document to complete from: no index yet, or a closed one
     * (the write that follows is refused for good and dead-lettered).
     */
    private static final Set<String> NO_STORED_DOCUMENT = Set.of("index_not_found_exception", "index_closed_exception");
    /**
     * Errors of a multi-get item that no retry fixes (an alias over several indices, which may still take writes; a
     * bad index name): the change goes to the dead-letter queue. Any other error (a shard not started, a rejected
     * execution) is retried.
     */
    private static final Set<String> UNREADABLE_FOR_GOOD = Set.of("illegal_argument_exception",
            "invalid_index_name_exception", "action_request_validation_exception", "routing_missing_exception");

    // Dead-letter reasons (label reason of deadLetters).
    /** Elasticsearch refused the item for good (a mapping conflict, a document it cannot parse). */
    static final String DOCUMENT_REFUSED = "document_refused";
    /** The action alone was too large for a request (413). */
    static final String TOO_LARGE = "too_large";
    /** The action alone was refused as a request (400). */
    static final String REQUEST_REFUSED = "request_refused";
    /** The stored document, needed to complete unavailable (TOASTed) columns, cannot be read for good. */
    static final String UNREADABLE_DOCUMENT = "unreadable_document";
    /** Restored after a rescale away from its document's changes, whose document did not come (see restore). */
    static final String RESTORED_ELSEWHERE = "restored_elsewhere";
    /**
     * Its index is missing: not made again within {@link #INDEX_WAIT_MS}, or one the job does not make, or more writes
     * than a request's worth wait for missing indices.
     */
    static final String INDEX_MISSING = "index_missing";

    // Retry statuses (label status of actionsRetried) besides HTTP status codes.
    /** No HTTP answer: connection refused or lost, a timeout. */
    static final String CONNECTION = "connection";
    /** A multi-get could not read a document now (a shard not started, a rejected execution). */
    static final String READ_ERROR = "read_error";

    /** One action on its way, with the change it came from. */
    private static final class Pending {
        final String document;
        final DocWriteRequest<?> request;
        ChangeEvent change;
        final long bytes;
        int attempts;
        /** When it first found its document missing while it lacked columns (processing time). */
        long waitingSince = Long.MIN_VALUE;
        /** Counted in {@code unavailableColumnsAwaitingDocument} (once, however often it looks for its document). */
        boolean countedAwaiting;
        /**
         * Restored after a rescale on another subtask than its document's changes ({@link #restore}): never written
         * without its columns (at the end of its wait, or of the input, it is dead-lettered instead).
         */
        boolean restoredElsewhere;
        /**
         * A newer action of the same document with unavailable columns, waiting until this one has settled: it is then
         * completed from the stored document. It may have a successor of its own: one that lacks a column this one has
         * (two TOASTed columns, each left alone by one of them) must come after it, not replace it.
         */
        Pending successor;

        Pending(DocWriteRequest<?> request, ChangeEvent change, long bytes) {
            this.document = request.index() + '/' + request.id(); // an index name never contains '/'
            this.request = request;
            this.change = change;
            this.bytes = bytes;
        }
    }

    private final ElasticsearchEmitter<ChangeEvent> emitter;
    private final BulkOptions options;
    private final RestClient client;
    private final MailboxExecutor mailbox;
    private final ProcessingTimeService time;
    private final DeadLetterQueue.Writer deadLetters;
    /** Buffered actions, their successors and actions waiting for a retry, beyond which {@link #write} waits. */
    private final int capacity;
    /** The same in bytes: a request's worth for each slot, and one more. */
    private final long byteCapacity;

    /** Actions not yet sent, one per document (with its successors), in the order their documents first came. */
    private final LinkedHashMap<String, Pending> buffer = new LinkedHashMap<>();
    private long bufferBytes;
    /** The bytes of the actions waiting for a retry (or for their document), with their successors. */
    private long waitingForRetryBytes;
    /** Documents with an action in a request under way or waiting for a retry. */
    private final Set<String> busy = new HashSet<>();
    /** Buffered actions whose document is busy: they wait for it. */
    private int bufferedBehindBusy;
    /** Actions waiting as successors (buffered, under way or waiting for a retry behind their document's action). */
    private int successors;
    private boolean flushScheduled;
    /** In {@link #flush}: nothing more comes until it returns. */
    private boolean flushing;
    /** In {@link #flush} at the end of the input: a change lacking columns no longer waits for its document. */
    private boolean endOfInput;
    /**
     * By index Elasticsearch answered missing: when it first did (processing time). Forgotten at the first write the
     * index takes again.
     */
    private final Map<String, Long> indexMissingSince = new HashMap<>();
    /** Actions waiting for their missing index to be made again, and their bytes: at most a request's worth. */
    private int waitingForIndex;
    private long waitingForIndexBytes;
    /**
     * In a checkpoint's {@link #flush}: changes lacking columns still waiting for their document, and writes waiting
     * for their missing index (with the changes of the document behind them), for {@link #snapshotState}. Their
     * documents stay busy.
     */
    private final List<Pending> parked = new ArrayList<>();
    private int inFlight;
    private int waitingForRetry;
    private ChangeEvent current;
    /** In {@link #restore}: the changes being restored are another subtask's documents'. */
    private boolean restoringElsewhere;

    private final Counter indexed;
    private final Counter deleted;
    private final Counter stale;
    private final Counter retried;
    private final Counter tooManyRequests;
    private final Counter replaced;
    private final Counter split;
    private final Counter deadLettered;
    private final Counter bulkRequests;
    private final Counter recordsSend;
    private final Counter unavailableKept;
    private final Counter awaitingDocument;
    private final Counter retiredSkipped;
    private final Histogram bulkLatencyMs;
    private final Histogram bulkActions;
    private final Histogram bulkBytes;
    private final Histograms.Recent commitToAcknowledgedMs;
    private final LabeledMetric<Histograms.Recent> commitToAcknowledgedMsByTable;
    /** The delays (and tables) of the changes an answer acknowledged, until {@link #recordAcknowledged}. */
    private long[] acknowledgedDelays = new long[256];
    private String[] acknowledgedTables = new String[256];
    private int acknowledgedCount;
    private final LabeledMetric<Counter> retriedByStatus;
    private final LabeledMetric<Counter> deadLetteredByReason;

    /**
     * @param time its clock and timers; its flush waits for writes put back on them, so not timers Flink quiesces
     *     before a stop's savepoint ({@link MailboxTimers}, which the writer closes with itself)
     * @param restored the changes that were waiting for their documents at the checkpoint restored from
     * @param owned whether this subtask gets the later changes of a change's document (after a rescale, a restored
     *     change may not: see {@link #restore})
     */
    ElasticsearchIndexWriter(ElasticsearchEmitter<ChangeEvent> emitter, BulkOptions options, MailboxExecutor mailbox,
            ProcessingTimeService time, SinkWriterMetricGroup metrics, DeadLetterQueue.Writer deadLetters,
            Collection<AwaitingDocument> restored, Predicate<ChangeEvent> owned) throws Exception {
        this.emitter = emitter;
        this.options = options;
        this.mailbox = mailbox;
        this.time = time;
        this.deadLetters = deadLetters;
        // Saturated: a limit set very high stands for none.
        long requests = options.maxInFlight() + 1L;
        this.capacity = (int) Math.min(Integer.MAX_VALUE, options.maxActions() * requests);
        this.byteCapacity = options.maxBytes() > Long.MAX_VALUE / requests ? Long.MAX_VALUE
                : options.maxBytes() * requests;
        this.client = options.connection().open(120_000);
        this.indexed = metrics.counter("documentsIndexed");
        this.deleted = metrics.counter("documentsDeleted");
        this.stale = metrics.counter("staleWritesSkipped");
        this.retried = metrics.counter("actionsRetried");
        // Of those, the ones Elasticsearch pushed back with 429; the meter's rate (per second, over the last minute)
        // tells ./cdc status whether it is happening now.
        this.tooManyRequests = metrics.counter("rejectedTooManyRequests");
        metrics.meter("rejectedTooManyRequestsPerSecond", new MeterView(tooManyRequests));
        this.replaced = metrics.counter("actionsReplacedByNewer");
        this.split = metrics.counter("requestsSplit");
        this.deadLettered = metrics.counter("deadLetters");
        this.bulkRequests = metrics.counter("bulkRequests");
        this.recordsSend = metrics.getNumRecordsSendCounter();
        this.unavailableKept = metrics.counter("unavailableColumnsWithoutStoredValue");
        this.awaitingDocument = metrics.counter("unavailableColumnsAwaitingDocument");
        this.retiredSkipped = metrics.counter("writesToRetiredIndexSkipped");
        metrics.gauge("bulkRequestsInFlight", () -> inFlight);
        metrics.gauge("actionsWaitingForRetry", () -> waitingForRetry);
        metrics.gauge("actionsBuffered", buffer::size);
        // The histograms age their values out by processing time (Histograms.MAX_AGE_MS).
        LongSupplier clock = time::getCurrentProcessingTime;
        this.bulkLatencyMs = metrics.histogram("bulkRequestLatencyMs", Histograms.window(clock));
        this.bulkActions = metrics.histogram("bulkRequestActions", Histograms.window(clock));
        this.bulkBytes = metrics.histogram("bulkRequestBytes", Histograms.window(clock));
        // From the change's commit in PostgreSQL (source.ts_ms) to Elasticsearch's answer to its write: how far behind
        // the index is, end to end.
        this.commitToAcknowledgedMs = metrics.histogram("commitToAcknowledgedMs", Histograms.window(clock));
        this.commitToAcknowledgedMsByTable = new LabeledMetric<>(metrics, "table",
                group -> group.histogram("commitToAcknowledgedMs", Histograms.window(clock)));
        // Served at 0 from the start (see LabeledMetric#withValues): every reason, and the usual causes of a retry.
        this.retriedByStatus = new LabeledMetric<>(metrics, "status", group -> group.counter("actionsRetried"))
                .withValues("429", "503", CONNECTION, READ_ERROR);
        this.deadLetteredByReason = new LabeledMetric<>(metrics, "reason", group -> group.counter("deadLetters"))
                .withValues(DOCUMENT_REFUSED, TOO_LARGE, REQUEST_REFUSED, UNREADABLE_DOCUMENT, RESTORED_ELSEWHERE,
                        INDEX_MISSING);
        emitter.open();
        try {
            restore(restored, owned);
        } catch (RuntimeException e) {
            try {
                close(); // the writer is nobody's yet: its client threads and producer would outlive every restart
            } catch (Exception closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
    }

    /**
     * The changes wait on for their documents, for what was left of their wait. After a rescale a change can land on
     * another subtask than its document's later changes ({@code owned}): it is then never written without its columns
     * (there it could land after the row's later changes, or bring a deleted row back once Elasticsearch forgot the
     * delete). It is completed from the document if that comes within the wait, else dead-lettered
     * ({@link Pending#restoredElsewhere}). A later change of the row completed from the insert before it still takes
     * the column from the insert: a review found that no choice here avoids that, and waiting loses it least often.
     */
    private void restore(Collection<AwaitingDocument> restored, Predicate<ChangeEvent> owned) {
        long now = time.getCurrentProcessingTime();
        for (AwaitingDocument awaiting : restored) {
            ChangeEvent first = awaiting.changes().get(0);
            restoringElsewhere = !owned.test(first);
            // Through the sink's emitter, keeping only the write to the index the change was waiting in.
            RequestIndexer toThatIndex = new RequestIndexer() {
                @Override
                public void add(DeleteRequest... requests) {
                    throw new IllegalStateException("A delete never waits for its document");
                }

                @Override
                public void add(IndexRequest... requests) {
                    for (IndexRequest request : requests) {
                        if (request.index().equals(awaiting.index())) {
                            ElasticsearchIndexWriter.this.add(request);
                        }
                    }
                }

                @Override
                public void add(UpdateRequest... requests) {
                    ElasticsearchIndexWriter.this.add(requests);
                }
            };
            for (ChangeEvent change : awaiting.changes()) {
                current = change;
                emitter.emit(change, null, toThatIndex);
            }
            Pending head = buffer.get(awaiting.index() + '/' + first.documentId);
            if (head == null) {
                // The job no longer writes the table to that index (its index pattern changed): the changes go where
                // it writes now, and wait there afresh.
                LOG.warn("{}/{}: restored waiting for its document, but the job no longer writes it to that index; "
                        + "it goes to the job's index for it now", awaiting.index(), first.documentId);
                for (ChangeEvent change : awaiting.changes()) {
                    current = change;
                    emitter.emit(change, null, this);
                }
            } else {
                head.waitingSince = now - awaiting.waitedMs();
                if (restoringElsewhere) {
                    LOG.warn("{}/{}: restored on another subtask than its document's changes (a rescale) while it "
                            + "waited for the document: completed from it if it comes, else dead-lettered",
                            awaiting.index(), first.documentId);
                }
            }
            current = null;
        }
        restoringElsewhere = false;
        flushLater();
    }

    @Override
    public void write(ChangeEvent change, Context context) throws IOException, InterruptedException {
        while (buffer.size() + successors + waitingForRetry >= capacity
                || bufferBytes + waitingForRetryBytes >= byteCapacity) {
            // Back-pressure: Elasticsearch is slow or away, and retries are piling up. Send what can go meanwhile.
            if (!(inFlight < options.maxInFlight() && send())) {
                mailbox.yield();
            }
        }
        current = change;
        emitter.emit(change, context, this);
        current = null;
        // With every slot busy the task reads ahead until a full request waits for each of them; then it waits for an
        // answer. So under load a freed slot gets a full request even when the answers come close together: reading
        // ahead one request only, the second slot to free got what the task had read since the first (a scrap).
        while (inFlight >= options.maxInFlight() && fullRequestsWaiting(options.maxInFlight())) {
            mailbox.yield();
        }
        if (inFlight < options.maxInFlight() && fullRequestsWaiting(1)) {
            send();
        }
        flushLater();
    }

    // At least this many full requests' worth (divided, not multiplied: a limit set very high stands for none).
    private boolean fullRequestsWaiting(int requests) {
        return sendable() / requests >= options.maxActions() || bufferBytes / requests >= options.maxBytes();
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        flushing = true;
        this.endOfInput = endOfInput;
        try {
            while (!buffer.isEmpty() || inFlight > 0 || waitingForRetry > 0) {
                if (!(inFlight < options.maxInFlight() && send())) {
                    mailbox.yield();
                }
            }
        } finally {
            flushing = false;
            this.endOfInput = false;
        }
        deadLetters.flush();
    }

    /**
     * The changes a checkpoint's {@link #flush} found waiting for their documents, or for their index to be made again,
     * which then wait on. Called right after that flush, in the same step of the task (nothing comes in between).
     */
    @Override
    public List<AwaitingDocument> snapshotState(long checkpointId) {
        if (parked.isEmpty()) {
            return List.of();
        }
        long now = time.getCurrentProcessingTime();
        List<AwaitingDocument> state = new ArrayList<>(parked.size());
        for (Pending first : parked) {
            List<ChangeEvent> changes = new ArrayList<>();
            for (Pending next = first; next != null; next = next.successor) {
                changes.add(next.change);
            }
            // A write waiting for its index has waited for no document: restored, it is sent again.
            state.add(new AwaitingDocument(checkpointId, first.request.index(),
                    first.waitingSince == Long.MIN_VALUE ? 0 : now - first.waitingSince, changes));
        }
        List<Pending> waiting = new ArrayList<>(parked);
        parked.clear();
        putBackAfter(waiting, DOCUMENT_WAIT_STEP_MS);
        return state;
    }

    @Override
    public void add(DeleteRequest... requests) {
        for (DeleteRequest request : requests) {
            buffer(new Pending(request, current, 64));
        }
    }

    @Override
    public void add(IndexRequest... requests) {
        for (IndexRequest request : requests) {
            Pending pending = new Pending(request, current, 64 + request.source().length());
            pending.restoredElsewhere = restoringElsewhere;
            buffer(pending);
        }
    }

    @Override
    public void add(UpdateRequest... requests) {
        throw new UnsupportedOperationException("Changes become index and delete requests only: every write carries an "
                + "external version, which the update API does not take");
    }

    private int sendable() {
        return buffer.size() - bufferedBehindBusy;
    }

    // One action per document in the buffer, with its successors (see kept).
    private void buffer(Pending action) {
        Pending earlier = buffer.get(action.document);
        if (earlier != null) {
            bufferBytes -= bytesOf(earlier);
            action = kept(earlier, action);
        } else if (busy.contains(action.document)) {
            bufferedBehindBusy++;
        }
        buffer.put(action.document, action);
        bufferBytes += bytesOf(action);
    }

    private static long bytesOf(Pending action) {
        long bytes = 0;
        for (Pending next = action; next != null; next = next.successor) {
            bytes += next.bytes;
        }
        return bytes;
    }

    private static int successorsOf(Pending action) {
        int count = 0;
        for (Pending next = action.successor; next != null; next = next.successor) {
            count++;
        }
        return count;
    }

    private static boolean incomplete(Pending action) {
        return action.change.hasUnavailableColumns() && action.request instanceof IndexRequest;
    }

    // Whether every column that later lacks, earlier lacks too: later needs nothing of earlier.
    private static boolean covers(Pending earlier, Pending later) {
        return Arrays.asList(earlier.change.unavailableColumns)
                .containsAll(Arrays.asList(later.change.unavailableColumns));
    }

    /**
     * What stays of a document's buffered action (with its successors) when a later one comes. An older change than
     * the newest of them can still come (Elasticsearch would refuse it; the job lets such writes to a live document
     * through): it is dropped. A newer full image, or a delete, replaces them. A newer change with unavailable columns
     * becomes the last successor: the actions before it go first, and its columns are taken from Elasticsearch after
     * them, since the earlier ones may themselves be older than what is written already. It replaces the last one only
     * when that one lacks every column it lacks too: then it needs no value that one would have written.
     */
    private Pending kept(Pending earlier, Pending later) {
        replaced.inc();
        Pending beforeNewest = null;
        Pending newest = earlier;
        while (newest.successor != null) {
            beforeNewest = newest;
            newest = newest.successor;
        }
        if (!later.change.isNewerThan(newest.change.version, newest.change.lsn)) {
            if (incomplete(earlier) && earlier.change.isNewerThan(later.change.version, later.change.lsn)) {
                // Older than all, while the first still lacks columns: its predecessor came late. It goes first, and
                // the first is completed from what is written after it.
                later.successor = earlier;
                successors++; // the first becomes one; its own successors were counted already
                return later;
            }
            stale.inc();
            return earlier;
        }
        if (!incomplete(later)) {
            successors -= successorsOf(earlier);
            later.attempts = Math.max(later.attempts, earlier.attempts);
            return later;
        }
        if (!incomplete(newest) || !covers(newest, later)) {
            newest.successor = later;
            successors++;
            return earlier;
        }
        if (beforeNewest == null) {
            later.attempts = Math.max(later.attempts, earlier.attempts);
            return later;
        }
        beforeNewest.successor = later;
        return earlier;
    }

    /** {@link #kept} for a later action that may have successors of its own: each comes after earlier's, in order. */
    private Pending folded(Pending earlier, Pending later) {
        Pending head = earlier;
        for (Pending next = later; next != null; ) {
            Pending after = next.successor;
            if (after != null) {
                next.successor = null;
                successors--;
            }
            head = kept(head, next);
            next = after;
        }
        return head;
    }

    private void scheduleFlush() {
        flushScheduled = true;
        time.registerTimer(time.getCurrentProcessingTime() + options.intervalMs(), timestamp -> {
            flushScheduled = false;
            sendWhatCanGo();
        });
    }

    // Sends as many requests as may be under way (a flush or retry timer: what is buffered is due); what is left waits
    // for the next answer or interval.
    private void sendWhatCanGo() {
        fillFreeSlots();
        flushLater();
    }

    private void fillFreeSlots() {
        while (inFlight < options.maxInFlight() && send()) {
            // one more request
        }
    }

    // Every path that frees a request slot or a document ends here: nothing sendable is ever left without a request
    // slot, an answer to come or a timer to send it (write() may be waiting at capacity for it). With no interval, what
    // is sendable goes at once while a slot is free; with every slot busy, the next answer comes back here and sends
    // what gathered meanwhile, so requests grow with the load by themselves.
    private void flushLater() {
        if (sendable() == 0) {
            return;
        }
        if (options.intervalMs() == 0) {
            fillFreeSlots();
        } else if (!flushScheduled) {
            scheduleFlush();
        }
    }

    // Takes up to a request's worth of actions whose documents are not busy, in buffer order, and sends them; false
    // when there was none.
    private boolean send() {
        List<Pending> batch = new ArrayList<>(Math.min(sendable(), options.maxActions()));
        long bytes = 0;
        for (Iterator<Pending> it = buffer.values().iterator(); it.hasNext() && batch.size() < options.maxActions()
                && bytes < options.maxBytes(); ) {
            Pending action = it.next();
            if (busy.add(action.document)) {
                it.remove();
                batch.add(action);
                bytes += action.bytes;
                bufferBytes -= bytesOf(action);
            }
        }
        if (batch.isEmpty()) {
            return false;
        }
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
        return true;
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
                String type = found.path(i).path("error").path("type").asText(null);
                if (type == null || NO_STORED_DOCUMENT.contains(type) || UNREADABLE_FOR_GOOD.contains(type)) {
                    continue;
                }
                // The document could not be read now (a shard not started yet, a rejected execution): taken as "not
                // found", its columns were blanked out for good.
                inFlight--;
                String reason = found.path(i).path("error").path("reason").asText();
                if (type.equals("security_exception")) {
                    throw refusedCredentials("the multi-get that completes unavailable (TOASTed) columns: " + reason
                            + "; the job's role must be allowed to read the indices too");
                }
                LOG.warn("A multi-get could not read {}/{} ({}: {}); retrying", incomplete.get(i).request.index(),
                        incomplete.get(i).request.id(), type, reason);
                retriedByStatus.of(READ_ERROR).inc(batch.size());
                retryLater(batch);
                flushLater();
                return;
            }
            List<Pending> rest = new ArrayList<>(batch);
            List<Pending> followed = new ArrayList<>();
            List<Pending> waiting = new ArrayList<>();
            long now = time.getCurrentProcessingTime();
            for (int i = 0; i < incomplete.size(); i++) {
                Pending pending = incomplete.get(i);
                JsonNode error = found.path(i).path("error");
                boolean missing = !found.path(i).path("found").asBoolean();
                if (UNREADABLE_FOR_GOOD.contains(error.path("type").asText())) {
                    deadLetter(pending, UNREADABLE_DOCUMENT, "Elasticsearch could not read the stored document to complete the unavailable "
                            + "(TOASTed) columns " + String.join(", ", pending.change.unavailableColumns) + " ("
                            + error.path("type").asText() + "): " + error.path("reason").asText());
                    settled(pending);
                    rest.remove(pending);
                } else if (missing && completes(buffer.get(pending.document))) {
                    // Its document is not there, but a change of it that came meanwhile gives it whole (the insert):
                    // back to the buffer at once, to go with it.
                    followed.add(pending);
                    rest.remove(pending);
                } else if (missing && flushing && !endOfInput && waitsForItsDocument(pending, now)) {
                    // A checkpoint's flush: nothing more comes before it. It waits in the checkpoint, not written
                    // without its columns.
                    park(pending);
                    rest.remove(pending);
                } else if (missing && (buffer.containsKey(pending.document) || waitsForItsDocument(pending, now))) {
                    // Its document is not there: a change of it that came meanwhile and lacks columns too goes with
                    // it after a while, else it waits a while for one.
                    waiting.add(pending);
                    rest.remove(pending);
                } else if (missing && pending.restoredElsewhere) {
                    deadLetterRestoredElsewhere(pending);
                    rest.remove(pending);
                } else {
                    complete(pending, found.path(i));
                }
            }
            if (!followed.isEmpty()) {
                countAwaiting(followed);
                putBackAfter(followed, 0);
            }
            if (!waiting.isEmpty()) {
                countAwaiting(waiting);
                putBackAfter(waiting, DOCUMENT_WAIT_STEP_MS);
            }
            if (rest.isEmpty()) {
                inFlight--;
            } else {
                sendBulk(rest);
            }
            flushLater();
        }, error -> {
            inFlight--;
            int status = statusOf(error);
            if ((status == 401 || status == 403) && !blocked(error)) {
                throw refusedCredentials("the multi-get that completes unavailable (TOASTed) columns: "
                        + reasonOf(error) + "; the job's role must be allowed to read the indices too");
            }
            failIfTlsRefused(error);
            if (status == 429) {
                tooManyRequests.inc(batch.size());
            }
            LOG.warn("A multi-get for {} documents failed ({}); retrying", incomplete.size(), error.toString());
            retriedByStatus.of(statusLabel(status)).inc(batch.size());
            retryLater(batch);
            flushLater();
        });
    }

    private void countAwaiting(List<Pending> found) {
        for (Pending pending : found) {
            if (!pending.countedAwaiting) {
                pending.countedAwaiting = true;
                awaitingDocument.inc();
            }
        }
    }

    // A change restored away from its document's changes whose wait is over, the document never there: written
    // without its columns it could land after the row's later changes (or bring a deleted row back), so it goes to the
    // dead-letter queue, and so does each change of its document waiting behind it (completed from a document that
    // came meanwhile, it would take the columns the first one was to set from the row before it).
    private void deadLetterRestoredElsewhere(Pending first) throws IOException {
        for (Pending next = first; next != null; next = next.successor) {
            deadLetter(next, RESTORED_ELSEWHERE, "Restored after a rescale on another subtask than the changes of its "
                    + "row, while it waited for the row's first write to complete its unavailable (TOASTed) columns "
                    + String.join(", ", next.change.unavailableColumns) + " from it; the document never came, and "
                    + "written without them the change could land after the row's later changes");
            if (next != first) {
                successors--;
            }
        }
        first.successor = null;
        settled(first);
    }

    // A buffered change that writes its document whole (a full row, or a delete): the change waiting for the document
    // can go with it at once. One that lacks columns too would only send another multi-get.
    private static boolean completes(Pending queued) {
        return queued != null && !(queued.request instanceof IndexRequest && queued.change.hasUnavailableColumns());
    }

    /**
     * Whether a write whose index Elasticsearch says is missing waits for it (null), or why not: the index was deleted
     * while the job ran (Elasticsearch is set not to make a job's versioned physical index by a write,
     * {@link IndexMappingFunction#AUTO_CREATE_INDEX}), and the mapping step makes it again, with its mapping and alias,
     * at the next change of its table. Dead-lettered at once, the writes of that moment would be missing from the index
     * made again. Only a versioned name the job makes, for up to {@link #INDEX_WAIT_MS} from the first answer that
     * said the index is missing (then the index's writes are dead-lettered at once, until it takes one again), never at
     * the end of the input (nothing comes to make it), and at most a request's worth of actions and bytes at once: a
     * table written faster than that would fill the writer with waiting actions and hold back every other table, and
     * the source with them, and with it the change that makes the index again. In a checkpoint's flush it waits in
     * the checkpoint ({@link #park}), as a change waiting for its document does.
     *
     * @param alsoWaiting how many of the same answer's actions wait for their index already
     * @param alsoWaitingBytes their bytes
     */
    private String indexWaitRefused(Pending pending, long now, int alsoWaiting, long alsoWaitingBytes) {
        if (!VERSIONED_INDEX.matcher(pending.request.index()).matches()) {
            return ""; // not an index the job makes
        }
        if (endOfInput) {
            return ", at the end of the input: nothing comes to make it again";
        }
        long since = indexMissingSince.computeIfAbsent(pending.request.index(), index -> {
            LOG.warn("Elasticsearch has no index {} (deleted while the job ran?): its writes wait up to {} s for the "
                    + "job to make it again at the next change of its table", index, INDEX_WAIT_MS / 1000);
            return now;
        });
        if (now - since >= INDEX_WAIT_MS) {
            return ", and it was not made again within " + INDEX_WAIT_MS / 1000 + " s. With --"
                    + JobOptions.ELASTICSEARCH_MAPPINGS.name() + " derived the job makes a deleted index again at the "
                    + "next change of its table; ./cdc snapshot --table (or ./cdc reindex) fills it again";
        }
        if (waitingForIndex + alsoWaiting >= options.maxActions()
                || waitingForIndexBytes + alsoWaitingBytes + bytesOf(pending) > options.maxBytes()) {
            return ", and a request's worth of writes wait for missing indices already";
        }
        return null;
    }

    // The writes waiting for their index try again every second, and not after their index's wait is over.
    private void retryForIndex(List<Pending> actions, long now) {
        long delay = INDEX_RETRY_MS;
        for (Pending pending : actions) {
            delay = Math.min(delay, indexMissingSince.getOrDefault(pending.request.index(), now) + INDEX_WAIT_MS - now);
        }
        retried.inc(actions.size());
        putBackAfter(actions, Math.max(0, delay), true);
    }

    /**
     * Whether a change that lacks columns, whose document is not there, waits for it: an update of a row whose insert
     * has not been written yet (its transaction completed later on another subtask, or is still held in the collapse).
     * Up to {@link #DOCUMENT_WAIT_MS} of the time the job runs: through a checkpoint in its state ({@link #park}), not
     * through the end of the input, after which nothing comes. After that it is written without those columns (a row
     * Elasticsearch never had, as when the job started without the snapshot).
     */
    private boolean waitsForItsDocument(Pending pending, long now) {
        if (pending.waitingSince == Long.MIN_VALUE) {
            pending.waitingSince = now;
        }
        return !endOfInput && now - pending.waitingSince < DOCUMENT_WAIT_MS;
    }

    // In a checkpoint's flush, a change waiting for its document waits in the checkpoint (snapshotState): the task
    // must not stall, and written without its columns it would blank them out for good (the older insert bringing
    // them is refused after it). A change of the document buffered meanwhile (lacking columns too) waits behind it. A
    // write waiting for its missing index waits there too (only with no change of its document buffered).
    private void park(Pending pending) {
        Pending later = buffer.remove(pending.document);
        if (later != null) {
            bufferBytes -= bytesOf(later);
            bufferedBehindBusy--;
            long since = pending.waitingSince;
            pending = folded(pending, later);
            pending.waitingSince = Math.max(pending.waitingSince, since);
        }
        parked.add(pending);
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
        pending.change = completed; // a retry sends it as completed, without fetching again
    }

    private void sendBulk(List<Pending> batch) {
        List<DocWriteRequest<?>> requests = new ArrayList<>(batch.size());
        for (Pending pending : batch) {
            requests.add(pending.request);
        }
        Request request = new Request("POST", "/_bulk");
        request.addParameter("filter_path", BulkProtocol.FILTER_PATH);
        byte[] body = BulkProtocol.body(requests);
        request.setEntity(new ByteArrayEntity(body, NDJSON));
        bulkRequests.inc();
        bulkActions.update(batch.size());
        bulkBytes.update(body.length);
        long sentAt = time.getCurrentProcessingTime();
        perform(request, "bulk", response -> {
            long now = time.getCurrentProcessingTime();
            bulkLatencyMs.update(now - sentAt);
            completed(batch, BulkProtocol.failedOrNull(response, batch.size()), now);
        }, error -> {
            bulkLatencyMs.update(time.getCurrentProcessingTime() - sentAt);
            failed(batch, error);
        });
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
                toTask(() -> onResponse.handle(body), what + " response");
            }

            @Override
            public void onFailure(Exception error) {
                toTask(() -> onFailure.handle(error), what + " failure");
            }

            // An answer after the task has ended (a stop's savepoint taken, a cancel) finds the mailbox closed: nobody
            // waits for it, and the client's thread (or close(), for a request it cancels) must not get the refusal.
            private void toTask(ThrowingRunnable<? extends Exception> handling, String name) {
                try {
                    mailbox.execute(handling, "elasticsearch " + name);
                } catch (RejectedExecutionException e) {
                    LOG.debug("The task has ended: the Elasticsearch {} is dropped", name);
                }
            }
        });
    }

    /** @param now when the answer came (processing time, epoch ms) */
    private void completed(List<Pending> batch, List<BulkProtocol.Item> failedOrNull, long now) throws IOException {
        inFlight--;
        List<Pending> again = null;
        List<Pending> forIndex = null;
        long forIndexBytes = 0;
        for (int i = 0; i < batch.size(); i++) {
            Pending pending = batch.get(i);
            BulkProtocol.Item item = failedOrNull == null ? null : failedOrNull.get(i);
            BulkItemOutcome outcome = item == null ? BulkItemOutcome.WRITTEN
                    : BulkItemOutcome.of(item.status(), item.errorType());
            switch (outcome) {
                case WRITTEN:
                    indexIsThere(pending);
                    (pending.request.opType() == DocWriteRequest.OpType.DELETE ? deleted : indexed).inc();
                    recordsSend.inc();
                    acknowledged(pending.change, now);
                    settled(pending);
                    break;
                case STALE:
                    indexIsThere(pending);
                    stale.inc();
                    settled(pending);
                    break;
                case RETRY:
                    if (item.status() == 429) {
                        tooManyRequests.inc();
                    }
                    retriedByStatus.of(statusLabel(item.status())).inc();
                    if (again == null) {
                        again = new ArrayList<>();
                        LOG.warn("Elasticsearch could not take some actions now, retrying them; first: {} {}: {}",
                                item.status(), item.errorType(), item.errorReason());
                    }
                    again.add(pending);
                    break;
                case INDEX_MISSING:
                    String refusal;
                    if (toOneOfTwoIndices(pending)) {
                        retiredSkipped.inc();
                        settled(pending);
                    } else if (pending.request.opType() == DocWriteRequest.OpType.DELETE) {
                        // The index went with its documents: nothing is left to delete.
                        settled(pending);
                    } else if ((refusal = indexWaitRefused(pending, now, forIndex == null ? 0 : forIndex.size(),
                            forIndexBytes)) == null) {
                        retriedByStatus.of(statusLabel(item.status())).inc();
                        if (flushing && !endOfInput && !buffer.containsKey(pending.document)) {
                            // A checkpoint's flush: it waits in the checkpoint, and on after it, not in the flush.
                            park(pending);
                        } else {
                            if (forIndex == null) {
                                forIndex = new ArrayList<>();
                            }
                            forIndex.add(pending); // in a flush, a newer change of its document buffered goes with it
                            forIndexBytes += bytesOf(pending);
                        }
                    } else {
                        deadLetter(pending, INDEX_MISSING, "Elasticsearch has no index " + pending.request.index()
                                + " (" + item.errorType() + ": " + item.errorReason() + ")" + refusal);
                        settled(pending);
                    }
                    break;
                case REJECTED:
                    deadLetter(pending, DOCUMENT_REFUSED, "Elasticsearch refused the "
                            + pending.request.opType().getLowercase() + " ("
                            + item.status() + " " + item.errorType() + "): " + item.errorReason());
                    settled(pending);
                    break;
                case REFUSED_CREDENTIALS:
                    throw refusedCredentials(item.status() + " " + item.errorType() + ": " + item.errorReason());
                default:
                    throw new IllegalStateException("Unknown outcome " + outcome);
            }
        }
        recordAcknowledged(now);
        if (again != null) {
            retryLater(again);
        }
        if (forIndex != null) {
            retryForIndex(forIndex, now);
        }
        flushLater();
    }

    /** Its index took a write: it waits for no missing index any more. */
    private void indexIsThere(Pending pending) {
        if (!indexMissingSince.isEmpty()) {
            indexMissingSince.remove(pending.request.index());
        }
    }

    /**
     * A write to one of the two indices of a reindex (the change was routed to both) that is gone: the old one, which
     * the reindex deleted once the alias had moved, or the next one, which {@code ./cdc reindex --abort} deleted (and
     * Elasticsearch is set not to make a {@code cdc.*_v<digit>*} index by itself). The change's write to the other
     * index is the one that counts.
     */
    private static boolean toOneOfTwoIndices(Pending pending) {
        String[] indices = pending.change.indices;
        return indices != null && indices.length > 1;
    }

    private void failed(List<Pending> batch, Exception error) throws IOException {
        inFlight--;
        int status = statusOf(error);
        if ((status == 401 || status == 403) && !blocked(error)) {
            throw refusedCredentials(reasonOf(error));
        }
        failIfTlsRefused(error);
        if (status == 413 || status == 400) {
            // The request as a whole was refused: find the action at fault by halving, and send the rest.
            if (batch.size() == 1) {
                Pending alone = batch.get(0);
                deadLetter(alone, status == 413 ? TOO_LARGE : REQUEST_REFUSED, "Elasticsearch refused the "
                        + alone.request.opType().getLowercase()
                        + " as a request of its own (" + status + "): " + reasonOf(error));
                settled(alone);
                flushLater();
            } else {
                split.inc();
                int half = batch.size() / 2;
                LOG.warn("Elasticsearch refused a request of {} actions ({}: {}); sending it in two halves",
                        batch.size(), status, reasonOf(error));
                inFlight += 2;
                sendBulk(new ArrayList<>(batch.subList(0, half)));
                sendBulk(new ArrayList<>(batch.subList(half, batch.size())));
            }
            return;
        }
        if (status == 429) {
            tooManyRequests.inc(batch.size());
        }
        LOG.warn("A request of {} actions failed ({}); retrying it", batch.size(), error.toString());
        retriedByStatus.of(statusLabel(status)).inc(batch.size());
        retryLater(batch);
        flushLater();
    }

    // The status label of a retry: the HTTP status, or "connection" when there was no answer.
    private static String statusLabel(int status) {
        return status > 0 ? Integer.toString(status) : CONNECTION;
    }

    /**
     * Notes how long after its commit a change was acknowledged, for {@link #recordAcknowledged}. Changes without a
     * commit time (none in the event) are left out; a negative delay (the clocks of PostgreSQL's host and this one
     * disagree) counts as 0.
     */
    private void acknowledged(ChangeEvent change, long now) {
        if (change.commitTime <= 0) {
            return;
        }
        if (acknowledgedCount == acknowledgedDelays.length) {
            acknowledgedDelays = Arrays.copyOf(acknowledgedDelays, 2 * acknowledgedCount);
            acknowledgedTables = Arrays.copyOf(acknowledgedTables, 2 * acknowledgedCount);
        }
        acknowledgedDelays[acknowledgedCount] = Math.max(0, now - change.commitTime);
        acknowledgedTables[acknowledgedCount++] = change.table;
    }

    // The delays an answer acknowledged into the histograms: one update of each per run of changes of one table.
    private void recordAcknowledged(long now) {
        commitToAcknowledgedMs.update(acknowledgedDelays, 0, acknowledgedCount, now);
        for (int from = 0, to; from < acknowledgedCount; from = to) {
            String table = acknowledgedTables[from];
            to = from + 1;
            while (to < acknowledgedCount && acknowledgedTables[to].equals(table)) {
                to++;
            }
            commitToAcknowledgedMsByTable.of(table).update(acknowledgedDelays, from, to, now);
        }
        Arrays.fill(acknowledgedTables, 0, acknowledgedCount, null);
        acknowledgedCount = 0;
    }

    private static int statusOf(Exception error) {
        return error instanceof ResponseException response ? response.getResponse().getStatusLine().getStatusCode() : 0;
    }

    /**
     * A cluster-wide block (read-only, disk flood stage) refuses a whole request with 403 cluster_block_exception: it
     * clears by itself, as the same error on one item does ({@link BulkItemOutcome}), so it is retried, not taken for
     * refused credentials.
     */
    private static boolean blocked(Exception error) {
        String message = String.valueOf(error.getMessage());
        int newline = message.indexOf('\n');
        try {
            return "cluster_block_exception".equals(DebeziumDecoder.mapper()
                    .readTree(newline < 0 ? message : message.substring(newline + 1).trim())
                    .path("error").path("type").asText());
        } catch (IOException notJson) {
            return false;
        }
    }

    /** A certificate nobody trusts, or one for another host, is no outage to wait out: the job fails, saying why. */
    private void failIfTlsRefused(Exception error) throws IOException {
        var problem = ElasticsearchConnection.tlsProblem(options.connection().where(), error,
                "--" + JobOptions.ELASTICSEARCH_CA_FILE.name(), "--" + JobOptions.ELASTICSEARCH_VERIFY_HOSTNAME.name() + " false");
        if (problem.isPresent()) {
            throw new IOException(problem.get() + "; the job restarts and tries again.", error);
        }
    }

    private IOException refusedCredentials(String reason) {
        return new IOException("Elasticsearch at " + options.connection().where() + " refused the job's request "
                + "(authentication or authorization): " + reason + ". Check the credentials and the role's privileges "
                + "on the indices; the job restarts and tries again.");
    }

    // Elasticsearch's own reason from the response body ({"error":{"type":..,"reason":..}}), else the message.
    private static String reasonOf(Exception error) {
        String message = String.valueOf(error.getMessage());
        int newline = message.indexOf('\n');
        String body = newline < 0 ? message : message.substring(newline + 1).trim();
        try {
            JsonNode json = DebeziumDecoder.mapper().readTree(body);
            JsonNode reason = json.path("error").path("reason");
            if (reason.isTextual()) {
                return reason.textValue();
            }
            if (json.path("error").isTextual()) {
                return json.path("error").textValue();
            }
        } catch (IOException notJson) {
            // fall through: the body as it is
        }
        return body.length() > 500 ? body.substring(0, 500) + "..." : body;
    }

    // The document's action is settled: its successor, and a newer action waiting behind it, may go.
    private void settled(Pending action) {
        busy.remove(action.document);
        Pending successor = action.successor;
        Pending later = buffer.get(action.document);
        if (later != null) {
            bufferedBehindBusy--;
        }
        if (successor != null) {
            action.successor = null;
            successors--;
            requeue(successor, later);
        }
    }

    // Puts an action back in the buffer as the earliest of its document, ahead of what came for it meanwhile.
    private void requeue(Pending action, Pending later) {
        if (later != null) {
            bufferBytes -= bytesOf(later);
            action = folded(action, later);
        }
        buffer.put(action.document, action);
        bufferBytes += bytesOf(action);
    }

    private void retryLater(List<Pending> actions) {
        int attempts = 0;
        for (Pending pending : actions) {
            attempts = Math.max(attempts, ++pending.attempts);
        }
        retried.inc(actions.size());
        putBackAfter(actions, options.backoffMs(attempts));
    }

    // The actions go back to the buffer after the delay, ahead of what came for their documents meanwhile; their
    // documents stay busy until then.
    private void putBackAfter(List<Pending> actions, long delayMs) {
        putBackAfter(actions, delayMs, false);
    }

    /** @param forIndex they wait for their index ({@link #waitingForIndex}) */
    private void putBackAfter(List<Pending> actions, long delayMs, boolean forIndex) {
        long waitingBytes = actions.stream().mapToLong(ElasticsearchIndexWriter::bytesOf).sum();
        waitingForRetry += actions.size();
        waitingForRetryBytes += waitingBytes;
        if (forIndex) {
            waitingForIndex += actions.size();
            waitingForIndexBytes += waitingBytes;
        }
        time.registerTimer(time.getCurrentProcessingTime() + delayMs, timestamp -> {
            waitingForRetry -= actions.size();
            waitingForRetryBytes -= waitingBytes;
            if (forIndex) {
                waitingForIndex -= actions.size();
                waitingForIndexBytes -= waitingBytes;
            }
            for (Pending action : actions) {
                busy.remove(action.document);
                Pending later = buffer.get(action.document);
                if (later != null) {
                    bufferedBehindBusy--;
                }
                requeue(action, later);
            }
            sendWhatCanGo();
        });
    }

    /** @param kind the reason's kind, the {@code reason} label of {@code deadLetters} */
    private void deadLetter(Pending pending, String kind, String reason) throws IOException {
        DeadLetter letter = IndexMappingFunction.deadLetter(pending.change, pending.request.index(), reason);
        LOG.warn("Sending {}/{} to the dead-letter queue: {}", letter.index, letter.documentId, letter.reason);
        deadLetters.send(letter);
        deadLettered.inc();
        deadLetteredByReason.of(kind).inc();
    }

    @Override
    public void close() throws Exception {
        try {
            emitter.close();
        } finally {
            try {
                client.close();
            } finally {
                try {
                    deadLetters.close();
                } finally {
                    if (time instanceof MailboxTimers timers) {
                        timers.close(); // the writer's own thread (a test's virtual clock is the test's)
                    }
                }
            }
        }
    }
}
