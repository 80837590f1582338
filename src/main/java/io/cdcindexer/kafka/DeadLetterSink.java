package io.cdcindexer.kafka;

import java.io.IOException;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.metrics.Counter;

/** Writes the dead letters of the decoding stage; flushed on every checkpoint (at least once). */
public final class DeadLetterSink implements Sink<DeadLetter> {

    private static final long serialVersionUID = 1L;

    private final DeadLetterQueue queue;

    public DeadLetterSink(DeadLetterQueue queue) {
        this.queue = queue;
    }

    @Override
    @Deprecated
    public SinkWriter<DeadLetter> createWriter(InitContext context) throws IOException {
        throw new UnsupportedOperationException("Flink 1.20 calls createWriter(WriterInitContext)");
    }

    @Override
    public SinkWriter<DeadLetter> createWriter(WriterInitContext context) throws IOException {
        DeadLetterQueue.Writer writer = queue.open();
        Counter written = context.metricGroup().counter("deadLetters");
        return new SinkWriter<>() {
            @Override
            public void write(DeadLetter letter, Context ignored) throws IOException {
                writer.send(letter);
                written.inc();
            }

            @Override
            public void flush(boolean endOfInput) throws IOException {
                writer.flush();
            }

            @Override
            public void close() throws IOException {
                writer.close();
            }
        };
    }
}
