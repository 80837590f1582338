package io.cdcindexer.elasticsearch;

import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.kafka.CollectingDeadLetterQueue;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.SimpleCounter;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.util.function.ThrowingRunnable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The writer's bookkeeping on a deterministic clock: a fake Elasticsearch that answers each bulk request with a scripted
 * status after a scripted (virtual) latency, a mailbox run by the test thread, and processing-time timers on the same
 * virtual clock. Every event (a timer, an answer) happens at its virtual time, earliest first, so a run is repeatable.
 * When the writer yields and nothing at all is pending (no mail, no timer, no request under way) it would wait for
 * ever: the harness fails the test instead.
 */
class ElasticsearchIndexWriterTest {

    /** One bulk request held by the fake Elasticsearch until its virtual answer time. */
    private static final class Held {
        final HttpExchange exchange;
        final CountDownLatch answered = new CountDownLatch(1);
        long answerAt;
        int status;
        int number;
        String body;

        Held(HttpExchange exchange) {
            this.exchange = exchange;
        }
    }

    private record Timer(long time, long seq, ProcessingTimeService.ProcessingTimeCallback callback) {}

    private HttpServer server;
    private final BlockingQueue<Held> arriving = new LinkedBlockingQueue<>();
    private final List<Held> held = new ArrayList<>();
    private final BlockingQueue<ThrowingRunnable<? extends Exception>> mail = new LinkedBlockingQueue<>();
    private final List<Timer> timers = new ArrayList<>();
    private final Map<String, Gauge<?>> gauges = new ConcurrentHashMap<>();
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    /** The bodies of the bulk requests answered 200. */
    private final List<String> written = new ArrayList<>();
    private long now;
    private long timerSeq;
    private int requests;
    /** Per bulk request (1 = first): its status and its latency (virtual ms). Unlisted requests: 200 after 10 ms. */
    private int[] statuses = {};
    private long[] latencies = {};
    /** Per bulk request answered 200: its body, when not {@code {"errors":false}}. */
    private String[] bodies = {};

    private void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            Held request = new Held(exchange);
            arriving.add(request);
            try {
                request.answered.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        server.start();
    }

    @AfterEach
    void stop() {
        for (Held request : held) {
            request.answered.countDown();
        }
        if (server != null) {
            server.stop(0);
        }
    }

    private int inFlight() {
        return ((Number) gauges.get("bulkRequestsInFlight").getValue()).intValue();
    }

    /** One step of the task's mailbox: the next mail, else the earliest event on the virtual clock. */
    private void step() throws Exception {
        ThrowingRunnable<? extends Exception> next = mail.poll();
        if (next != null) {
            next.run();
            return;
        }
        // Every request under way has reached the fake Elasticsearch (each is answered at send time + its latency).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (held.size() < inFlight()) {
            Held request = arriving.poll(100, TimeUnit.MILLISECONDS);
            if (request != null) {
                request.number = ++requests;
                request.status = request.number <= statuses.length ? statuses[request.number - 1] : 200;
                request.answerAt = now + (request.number <= latencies.length ? latencies[request.number - 1] : 10);
                request.body = new String(request.exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                held.add(request);
            } else if (System.nanoTime() > deadline) {
                throw new AssertionError("a request under way never reached the fake Elasticsearch");
            }
        }
        Timer timer = timers.stream().min(Comparator.comparingLong(Timer::time).thenComparingLong(Timer::seq)).orElse(null);
        Held answer = held.stream().min(Comparator.comparingLong(h -> h.answerAt)).orElse(null);
        if (timer == null && answer == null) {
            throw new AssertionError("The writer waits for ever: nothing is under way, no timer is set, and it still "
                    + "holds " + gauges.get("actionsBuffered").getValue() + " buffered actions");
        }
        if (answer == null || (timer != null && timer.time() <= answer.answerAt)) {
            timers.remove(timer);
            now = Math.max(now, timer.time());
            timer.callback().onProcessingTime(now);
            return;
        }
        held.remove(answer);
        if (answer.status == 200) {
            written.add(answer.body);
        }
        now = Math.max(now, answer.answerAt);
        String ok = answer.number <= bodies.length && bodies[answer.number - 1] != null ? bodies[answer.number - 1]
                : "{\"errors\":false}";
        byte[] body = (answer.status == 200 ? ok
                : "{\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"busy\"},\"status\":"
                        + answer.status + "}").getBytes(StandardCharsets.UTF_8);
        answer.exchange.getResponseHeaders().add("Content-Type", "application/json");
        answer.exchange.sendResponseHeaders(answer.status, body.length);
        answer.exchange.getResponseBody().write(body);
        answer.exchange.close();
        answer.answered.countDown();
        ThrowingRunnable<? extends Exception> response = mail.poll(10, TimeUnit.SECONDS);
        if (response == null) {
            throw new AssertionError("the answer never reached the mailbox");
        }
        response.run();
    }

    private final MailboxExecutor mailbox = new MailboxExecutor() {
        @Override
        public void execute(MailOptions options, ThrowingRunnable<? extends Exception> command, String format,
                Object... args) {
            mail.add(command);
        }

        @Override
        public void yield() {
            try {
                step();
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }

        @Override
        public boolean tryYield() {
            ThrowingRunnable<? extends Exception> next = mail.poll();
            if (next == null) {
                return false;
            }
            try {
                next.run();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
            return true;
        }

        @Override
        public boolean shouldInterrupt() {
            return false;
        }
    };

    private final ProcessingTimeService time = new ProcessingTimeService() {
        @Override
        public long getCurrentProcessingTime() {
            return now;
        }

        @Override
        public ScheduledFuture<?> registerTimer(long timestamp, ProcessingTimeCallback callback) {
            timers.add(new Timer(timestamp, timerSeq++, callback));
            return null;
        }
    };

    private SinkWriterMetricGroup metrics() {
        SinkWriterMetricGroup unregistered = UnregisteredMetricsGroup.createSinkWriterMetricGroup();
        Counter sent = new SimpleCounter();
        return (SinkWriterMetricGroup) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {SinkWriterMetricGroup.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "counter":
                            return counters.computeIfAbsent((String) args[0], name -> new SimpleCounter());
                        case "gauge":
                            gauges.put((String) args[0], (Gauge<?>) args[1]);
                            return args[1];
                        case "getNumRecordsSendCounter":
                            return sent;
                        default:
                            return method.invoke(unregistered, args);
                    }
                });
    }

    /** A writer sending to the fake Elasticsearch: requests of at most {@code maxActions} or {@code maxBytes}. */
    private ElasticsearchIndexWriter writer(int maxActions, long maxBytes, long intervalMs, int maxInFlight,
            long backoffMs) throws Exception {
        startServer();
        BulkOptions options = new BulkOptions(List.of("http://127.0.0.1:" + server.getAddress().getPort()), maxActions,
                maxBytes, intervalMs, maxInFlight, backoffMs, backoffMs);
        return new ElasticsearchIndexWriter(new ChangeEventEmitter(new IndexNames("{table}")), options, mailbox, time,
                metrics(), new CollectingDeadLetterQueue("writer-test").open());
    }

    private static ChangeEvent row(int id, int bodyBytes) {
        return upsert("articles", Integer.toString(id), id, "{\"id\":" + id + ",\"body\":\"" + "x".repeat(bodyBytes)
                + "\"}", null);
    }

    @Test
    void theHarnessWritesEveryRowWhenElasticsearchTakesEveryRequest() throws Exception {
        ElasticsearchIndexWriter writer = writer(2, 1_000, 100, 1, 50);
        latencies = new long[] {10, 10, 10, 130, 260};

        writeEveryRowAndFlush(writer, 1_000, 10, 10, 10, 10, 1_000, 10);
    }

    // After an overload, write() waits at capacity: what is sendable must still have a request or a timer.

    @Test
    void aWriteWaitingAtCapacityGoesOnOnceElasticsearchTakesRequestsAgain() throws Exception {
        // Requests of at most 2 actions or 1,000 bytes, one under way, flush interval 100 ms, retries after 50 ms:
        // capacity 2 x (1 + 1) = 4 actions.
        ElasticsearchIndexWriter writer = writer(2, 1_000, 100, 1, 50);
        statuses = new int[] {429, 429, 429, 200, 200}; // a short overload: the first three requests are refused
        latencies = new long[] {10, 10, 10, 130, 260}; // then slow answers

        // Rows 1 and 6 are large (a request of their own), the others small.
        writeEveryRowAndFlush(writer, 1_000, 10, 10, 10, 10, 1_000, 10);
    }

    @Test
    void actionsElasticsearchPushesBackWith429AreCountedApartFromOtherRetries() throws Exception {
        ElasticsearchIndexWriter writer = writer(2, 1_000, 100, 1, 50);
        // Request 1 (rows 1, 2): 429 as a whole. Request 2 (rows 1, 2 again): row 1 is taken, row 2 refused with 429 on
        // its own. Request 3 (row 2): 503. Request 4 (row 2): taken.
        statuses = new int[] {429, 200, 503, 200};
        bodies = new String[] {null, "{\"errors\":true,\"items\":[{\"index\":{\"status\":201}},{\"index\":{\"status\":429,"
                + "\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"queue full\"}}}]}"};

        writeEveryRowAndFlush(writer, 10, 10);

        assertThat(requests).isEqualTo(4);
        assertThat(counters.get("actionsRetried").getCount()).as("every retried action").isEqualTo(2 + 1 + 1);
        assertThat(counters.get("rejectedTooManyRequests").getCount()).as("the 429s only").isEqualTo(2 + 1);
    }

    /** Writes rows 1, 2, ... of the given sizes, flushes, and checks that every row reached Elasticsearch. */
    private void writeEveryRowAndFlush(ElasticsearchIndexWriter writer, int... sizes) throws Exception {
        for (int id = 1; id <= sizes.length; id++) {
            writer.write(row(id, sizes[id - 1]), null);
        }
        writer.flush(false);

        String sent = String.join("", written);
        for (int id = 1; id <= sizes.length; id++) {
            assertThat(sent).as("row %d written", id).contains("\"_id\":\"" + id + "\"");
        }
        writer.close();
    }
}
