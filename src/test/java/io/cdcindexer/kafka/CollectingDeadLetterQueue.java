package io.cdcindexer.kafka;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** A dead-letter queue for tests: letters land in a list shared by every task in this JVM, under the queue's name. */
public final class CollectingDeadLetterQueue implements DeadLetterQueue {

    private static final long serialVersionUID = 1L;
    private static final Map<String, List<DeadLetter>> LETTERS = new ConcurrentHashMap<>();

    private final String name;

    public CollectingDeadLetterQueue(String name) {
        this.name = name;
        LETTERS.put(name, new CopyOnWriteArrayList<>());
    }

    public List<DeadLetter> letters() {
        return LETTERS.get(name);
    }

    @Override
    public Writer open() {
        List<DeadLetter> letters = LETTERS.get(name);
        return new Writer() {
            @Override
            public void send(DeadLetter letter) {
                letters.add(letter);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
    }
}
