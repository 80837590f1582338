package io.cdcindexer.kafka;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Keeps one source subtask from reading the transaction topic far ahead of the changes its END events wait for.
 *
 * <p>The collapse holds a transaction whose END event has come until its changes come. Kafka's consumer fetches every
 * partition by bytes, and an END event is a few hundred bytes where a transaction's changes are kilobytes, so on a
 * backlog the transaction topic was read to its end while the table topics were still near their start: the collapse
 * held nearly every transaction of the backlog at once (286,338 of 300,000 in a catch-up of 3 M changes, about 450 bytes
 * of heap each), and its heap grew with the backlog.
 *
 * <p>So each END event read is counted against the tables it names ({@code data_collections}; Debezium's topic of
 * {@code public.users} is the table topic whose name ends in {@code .public.users}): it is <em>ahead</em> while one of
 * that table's partitions that a fresh look at Kafka says has records waiting has read only records older (by Kafka
 * time) than the END event. Once {@code maxAhead} END events are ahead, the transaction topic's splits that hold END
 * events ahead are paused (not one behind: Kafka's consumer reads partitions in turns, and its END events may be what
 * changes read already wait for), and resumed once half as many are ahead, or none of their own. Changes never wait for
 * pacing. Only the END events of a lagging table count: a bulk UPDATE or a slow broker on one
 * table holds back no other table's transactions until its own backlog of transactions is that large. A table the END
 * event names that this subtask does not read (a topic renamed by a routing transform, one not discovered yet, or read
 * by another subtask) counts against the least-read of the tables it reads. Where no fresh look can say, nothing is
 * ahead: pacing never holds back what it cannot see.
 *
 * <p>Table splits are never paused. A table split with records waiting that has delivered nothing for
 * {@link #STUCK_NANOS} while the others delivered is not waited for (its fetches are failing; the END events flow as
 * without pacing). A resume that brought no record in {@link #RESEND_NANOS} while records wait is sent again (the
 * consumer can lose one), and the reader resumes everything after {@link #STARVED_NANOS} with nothing to emit: pacing
 * only orders what is read, it never stops the reading.
 *
 * <p>Per source subtask: at parallelism 1 (as shipped) it bounds what the collapse holds; at higher parallelism only
 * what one subtask reads of both. Called by the source's task thread only.
 */
public final class ReadPacing {

    /** How long a resume may bring no record, while records wait, before it is sent again. */
    static final long RESEND_NANOS = 1_000_000_000L;
    /** How long the reader may have nothing to emit before it resumes every split: longer than a fetch takes. */
    static final long STARVED_NANOS = 1_000_000_000L;
    /** How long a table split with records waiting may deliver nothing, while the others deliver, and be waited for. */
    static final long STUCK_NANOS = 30_000_000_000L;

    private static final JsonFactory JSON = new JsonFactory();
    /** The table names of END events that name none this subtask reads: counted against the least-read table. */
    private static final String ANY_TABLE = "";

    /** Whether a fresh look at Kafka says records wait in a split past an offset (-1: its start); null: it cannot say. */
    interface Waiting {
        Boolean recordsWaiting(String splitId, long next);
    }

    /** One split's reading. */
    static final class Split {
        final String id;
        final String topic;
        final boolean transactions;
        /** The newest Kafka time read; {@link Long#MIN_VALUE} before the first record. */
        long newest = Long.MIN_VALUE;
        /** The offset after the last record read; -1 before the first. */
        long next = -1;
        /** When it last delivered a record, or was added (nanoseconds). */
        long lastAt;
        boolean paused;
        /** When the pacing last resumed it and no record has come since; 0 for not. */
        long resumedAt;
        /** Of a transaction split: by table topic ({@link #ANY_TABLE} for none here), its END events naming it. */
        final Map<String, Ahead> ahead = new HashMap<>();
        /** Of a transaction split: its END events ahead at the last look. */
        int aheadAtLook;

        Split(String id, String topic, boolean transactions, long now) {
            this.id = id;
            this.topic = topic;
            this.transactions = transactions;
            this.lastAt = now;
        }
    }

    /**
     * The Kafka times of the END events that name one table, not yet known to be read past, oldest first: a ring,
     * kept rising (an END event older than one before it counts at that one's time).
     */
    static final class Ahead {
        private long[] times = new long[64];
        private int head;
        private int size;
        private final int capacity;

        Ahead(int capacity) {
            this.capacity = capacity;
        }

        void add(long time) {
            if (size > 0) {
                time = Math.max(time, at(size - 1));
            }
            if (size == times.length && size < capacity) {
                long[] grown = new long[Math.min(capacity, times.length * 2)];
                for (int i = 0; i < size; i++) {
                    grown[i] = at(i);
                }
                times = grown;
                head = 0;
            }
            if (size == times.length) { // full: the oldest goes
                head = (head + 1) % times.length;
                size--;
            }
            times[(head + size) % times.length] = time;
            size++;
        }

        /** Forgets those at or before {@code time} (read past) and says how many are left. */
        int after(long time) {
            int low = 0;
            int high = size;
            while (low < high) {
                int mid = (low + high) >>> 1;
                if (at(mid) <= time) {
                    low = mid + 1;
                } else {
                    high = mid;
                }
            }
            head = (head + low) % times.length;
            size -= low;
            return size;
        }

        int size() {
            return size;
        }

        private long at(int i) {
            return times[(head + i) % times.length];
        }
    }

    /** What a look decided: the splits to pause and to resume. */
    record Decision(List<String> pause, List<String> resume) {
        static final Decision NONE = new Decision(List.of(), List.of());

        boolean isEmpty() {
            return pause.isEmpty() && resume.isEmpty();
        }
    }

    private final int maxAhead;
    private final Waiting waiting;
    private final Map<String, Split> splits = new LinkedHashMap<>();
    /** By table named: the table topic that holds its changes, or {@link #ANY_TABLE}; made again with new splits. */
    private final Map<String, String> topicOf = new HashMap<>();
    private int paused;
    /** When any split last delivered a record (nanoseconds). */
    private long deliveredAt;
    /** END events ahead at the last look. */
    private int aheadAtLook;

    /**
     * @param maxAhead how many END events may be ahead before the transaction topic is paused; 0 for never
     * @param waiting whether a fresh look says records wait in a split
     */
    ReadPacing(int maxAhead, Waiting waiting) {
        this.maxAhead = maxAhead;
        this.waiting = waiting;
    }

    /** A split given to the reader: of the transaction topic or of a table topic. */
    void add(String splitId, String topic, boolean transactions, long now) {
        if (splits.putIfAbsent(splitId, new Split(splitId, topic, transactions, now)) == null && !transactions) {
            topicOf.clear(); // a table read here from now on: names resolved again
        }
    }

    /** The split with this id: one added before. */
    Split split(String splitId) {
        Split split = splits.get(splitId);
        if (split == null) {
            throw new IllegalStateException("A record of split " + splitId + ", which the reader was not given");
        }
        return split;
    }

    /** The split is no longer read here. */
    void remove(String splitId) {
        Split split = splits.remove(splitId);
        if (split != null && split.paused) {
            paused--;
        }
    }

    boolean anyPaused() {
        return paused > 0;
    }

    /** Whether it holds a split: paused, or resumed with no record come since. */
    boolean holding() {
        if (paused > 0) {
            return true;
        }
        for (Split split : splits.values()) {
            if (split.resumedAt != 0) {
                return true;
            }
        }
        return false;
    }

    boolean isPaused(String splitId) {
        Split split = splits.get(splitId);
        return split != null && split.paused;
    }

    /** END events counted ahead at the last look. */
    int ahead() {
        return aheadAtLook;
    }

    /** A record of a table split read at {@code now} (nanoseconds). */
    void read(Split split, long offset, long timestamp, long now) {
        split.newest = Math.max(split.newest, timestamp);
        split.next = offset + 1;
        split.lastAt = now;
        split.resumedAt = 0;
        deliveredAt = now;
    }

    /** An END event read: counted against each table its value names. */
    void ended(Split split, long offset, long timestamp, byte[] value, long now) {
        read(split, offset, timestamp, now);
        if (maxAhead <= 0) {
            return;
        }
        List<String> tables = tablesNamed(value);
        if (tables.isEmpty()) {
            return; // not an END event (a BEGIN, or something malformed the decoder reports)
        }
        String any = null;
        for (String table : tables) {
            String topic = topicOf.computeIfAbsent(table, this::topicHolding);
            if (topic.equals(ANY_TABLE)) {
                any = ANY_TABLE; // once per END event
            } else {
                split.ahead.computeIfAbsent(topic, t -> new Ahead(maxAhead)).add(timestamp);
            }
        }
        if (any != null) {
            split.ahead.computeIfAbsent(ANY_TABLE, t -> new Ahead(maxAhead)).add(timestamp);
        }
    }

    /** Looks at every split's reading at {@code now} (nanoseconds) and says which to pause and which to resume. */
    Decision look(long now) {
        if (maxAhead <= 0) {
            return Decision.NONE;
        }
        Map<String, Long> leastRead = new HashMap<>();
        Set<String> unknown = new HashSet<>();
        long anyLeastRead = Long.MAX_VALUE;
        for (Split split : splits.values()) {
            if (split.transactions) {
                continue;
            }
            Boolean waits = stuck(split, now) ? Boolean.FALSE : waiting.recordsWaiting(split.id, split.next);
            if (waits == null) {
                unknown.add(split.topic);
            } else if (waits) {
                leastRead.merge(split.topic, split.newest, Math::min);
                anyLeastRead = Math.min(anyLeastRead, split.newest);
            }
        }
        int count = 0;
        for (Split split : splits.values()) {
            if (split.transactions) {
                split.aheadAtLook = 0;
                for (Map.Entry<String, Ahead> table : split.ahead.entrySet()) {
                    boolean any = table.getKey().equals(ANY_TABLE);
                    Long least = any ? (anyLeastRead == Long.MAX_VALUE ? null : anyLeastRead)
                            : leastRead.get(table.getKey());
                    if (least != null) {
                        split.aheadAtLook += table.getValue().after(least);
                    } else if (!(any ? !unknown.isEmpty() : unknown.contains(table.getKey()))) {
                        table.getValue().after(Long.MAX_VALUE); // read to its end: every one of them read past
                    } // else no look can say: kept, not counted
                }
                count += split.aheadAtLook;
            }
        }
        aheadAtLook = count;
        List<String> pause = new ArrayList<>();
        List<String> resume = new ArrayList<>();
        for (Split split : splits.values()) {
            if (!split.transactions) {
                continue;
            }
            // Only a split with END events ahead: Kafka's consumer reads partitions in turns, and one behind may hold
            // the END events that changes read already wait for.
            if (!split.paused && count >= maxAhead && split.aheadAtLook > 0) {
                split.paused = true;
                paused++;
                pause.add(split.id);
            } else if (split.paused && (count <= maxAhead / 2 || split.aheadAtLook == 0)) {
                split.paused = false;
                paused--;
                split.resumedAt = now == 0 ? 1 : now; // never 0
                resume.add(split.id);
            } else if (!split.paused && split.resumedAt != 0) {
                if (!Boolean.TRUE.equals(waiting.recordsWaiting(split.id, split.next))) {
                    split.resumedAt = 0; // nothing waits (or no look can say): nothing a lost resume would hold
                } else if (now - split.resumedAt >= RESEND_NANOS) {
                    split.resumedAt = now == 0 ? 1 : now; // nothing came of it while records wait: lost
                    resume.add(split.id);
                }
            }
        }
        return pause.isEmpty() && resume.isEmpty() ? Decision.NONE : new Decision(pause, resume);
    }

    /** Resumes every split paused: the reader has had nothing to emit. */
    Decision resumeAll(long now) {
        List<String> resume = new ArrayList<>();
        for (Split split : splits.values()) {
            if (split.paused || split.resumedAt != 0) {
                split.paused = false;
                split.resumedAt = now == 0 ? 1 : now;
                resume.add(split.id);
            }
        }
        paused = 0;
        return resume.isEmpty() ? Decision.NONE : new Decision(List.of(), resume);
    }

    /** A table split with records waiting that delivers nothing while the others deliver: its fetches fail. */
    private boolean stuck(Split split, long now) {
        return now - split.lastAt >= STUCK_NANOS && deliveredAt - split.lastAt >= STUCK_NANOS;
    }

    /** The table topic read here whose name is the table's or ends in {@code .} and it; else {@link #ANY_TABLE}. */
    private String topicHolding(String table) {
        String suffix = "." + table;
        for (Split split : splits.values()) {
            if (!split.transactions && (split.topic.equals(table) || split.topic.endsWith(suffix))) {
                return split.topic;
            }
        }
        return ANY_TABLE;
    }

    /**
     * The tables an END event names ({@code data_collections[].data_collection}, with or without the JSON converter's
     * schema envelope); empty for a BEGIN event and for what cannot be read as JSON.
     */
    static List<String> tablesNamed(byte[] value) {
        if (value == null) {
            return List.of();
        }
        List<String> tables = new ArrayList<>(2);
        try (JsonParser parser = JSON.createParser(value)) {
            JsonToken token;
            while ((token = parser.nextToken()) != null) {
                if (token == JsonToken.FIELD_NAME && "data_collection".equals(parser.currentName())
                        && parser.nextToken() == JsonToken.VALUE_STRING) {
                    tables.add(parser.getText());
                }
            }
        } catch (IOException e) {
            return List.of();
        }
        return tables;
    }
}
