package io.cdcindexer.kafka;

import java.io.IOException;
import java.io.Serializable;

/**
 * Where dead letters go. The job uses {@link KafkaDeadLetterQueue}; tests plug in their own. Serializable, so a sink can
 * carry it to the task that opens the writer.
 */
public interface DeadLetterQueue extends Serializable {

    /** Opens a writer; called once per task. */
    Writer open() throws IOException;

    /** Sends dead letters; {@link #flush()} returns only once every letter sent so far is durable. */
    interface Writer extends AutoCloseable {
        void send(DeadLetter letter) throws IOException;

        void flush() throws IOException;

        @Override
        void close() throws IOException;
    }
}
