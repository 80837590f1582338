package io.cdcindexer.job;

import io.cdcindexer.debezium.ChangeEvent;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/**
 * A collecting sink that applies changes the way Elasticsearch applies the job's writes ({@code external_gte}): a write
 * wins with a version at least the document's (or its delete's). Tests read the resulting documents and every write the
 * job sent. It can fail once, after a checkpoint, to test recovery. State is static, so every task in the MiniCluster
 * JVM shares it, under the sink's name.
 */
final class VersionedIndexSink implements Sink<ChangeEvent> {

    private static final long serialVersionUID = 1L;

    /** A document (null source when deleted) and its version. */
    record Doc(String source, long version) {}

    private static final Map<String, Map<String, Doc>> DOCS = new ConcurrentHashMap<>();
    private static final Map<String, List<ChangeEvent>> WRITES = new ConcurrentHashMap<>();
    private static final Map<String, AtomicInteger> WRITERS_OPENED = new ConcurrentHashMap<>();
    private static final Map<String, AtomicInteger> FAILURES_LEFT = new ConcurrentHashMap<>();

    private final String name;
    private final int failAfterWrites;

    /** @param failAfterWrites fail once when this many writes have arrived after a checkpoint; 0 never fails */
    VersionedIndexSink(String name, int failAfterWrites) {
        this.name = name;
        this.failAfterWrites = failAfterWrites;
        DOCS.put(name, new ConcurrentHashMap<>());
        WRITES.put(name, new CopyOnWriteArrayList<>());
        WRITERS_OPENED.put(name, new AtomicInteger());
        FAILURES_LEFT.put(name, new AtomicInteger(failAfterWrites > 0 ? 1 : 0));
    }

    /** Live documents as "index/id → source", sorted, for readable comparisons. */
    Map<String, String> documents() {
        Map<String, String> live = new TreeMap<>();
        DOCS.get(name).forEach((key, doc) -> {
            if (doc.source() != null) {
                live.put(key, doc.source());
            }
        });
        return live;
    }

    List<ChangeEvent> writes() {
        return WRITES.get(name);
    }

    int writersOpened() {
        return WRITERS_OPENED.get(name).get();
    }

    boolean failed() {
        return failAfterWrites > 0 && FAILURES_LEFT.get(name).get() == 0;
    }

    @Override
    @Deprecated
    public SinkWriter<ChangeEvent> createWriter(InitContext context) {
        throw new UnsupportedOperationException();
    }

    @Override
    public SinkWriter<ChangeEvent> createWriter(WriterInitContext context) {
        WRITERS_OPENED.get(name).incrementAndGet();
        Map<String, Doc> docs = DOCS.get(name);
        return new SinkWriter<>() {
            private boolean checkpointed;
            private int writesSinceCheckpoint;

            @Override
            public void write(ChangeEvent change, Context ignored) {
                WRITES.get(name).add(change);
                String source = change.action == ChangeEvent.Action.DELETE ? null
                        : new String(change.document, StandardCharsets.UTF_8);
                docs.compute(change.documentKey(), (key, current) -> {
                    if (current != null && current.version() > change.version) { // external_gte: an equal version wins
                        return current;
                    }
                    return new Doc(source, change.version);
                });
                if (checkpointed && ++writesSinceCheckpoint >= failAfterWrites
                        && FAILURES_LEFT.get(name).getAndUpdate(left -> Math.max(0, left - 1)) > 0) {
                    throw new IllegalStateException("Injected failure after a checkpoint");
                }
            }

            @Override
            public void flush(boolean endOfInput) {
                checkpointed = true;
            }

            @Override
            public void close() {}
        };
    }
}
