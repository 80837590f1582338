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
import java.util.regex.Pattern;

/**
 * Keeps one source subtask from reading the transaction topic far ahead of the changes its END events wait for, and
 * each table's partitions in step with each other.
 *
 * <p>The collapse holds a transaction whose END event has come until its changes come. Kafka's consumer fetches every
 * partition by bytes, and an END event is a few hundred bytes where a transaction's changes are kilobytes, so on a
 * backlog the transaction topic was read to its end while the table topics were still near their start: the collapse
 * held nearly every transaction of the backlog at once (286,338 of 300,000 in a catch-up of 3 M changes, about 450
 * bytes of heap each), and its heap grew with the backlog.
 *
 * <p>So each END event read is counted against the tables it names ({@code data_collections}; as the decoder maps them,
 * {@code public.users} is {@code cdc.public.users} for {@code cdc.transaction}): it is <em>ahead</em> while one of
 * that table's partitions that a fresh look at Kafka says has records waiting has read only records older (by Kafka
 * time) than the END event. Once {@code maxAhead} END events are ahead, the transaction topic's splits that hold END
 * events ahead are paused (not one behind: Kafka's consumer reads partitions in turns, and its END events may be what
 * changes read already wait for), and resumed once half as many are ahead, or none of their own. Only the END events
 * of a lagging table count: a bulk UPDATE or a slow broker on one table holds back no other table's transactions until
 * its own backlog of transactions is that large. A table the END event names that the job does not index, or that no
 * partition this subtask reads holds (at parallelism > 1, one read by another subtask), counts nowhere; nor does one
 * whose table topic is not {@code <prefix><schema>.<table>} (renamed by a routing transform). Where no fresh look can
 * say, nothing counts as ahead (what is ahead is kept until a look can): pacing never holds back what it cannot see;
 * until the first look answers, every partition has records waiting (and, for the turn rule below, a backlog).
 *
 * <p>A table partition read more than {@link #LEAD_MS} of Kafka time past the least-read transaction partition that is
 * paused or has records waiting is paused too, so that its changes do not pile up waiting for END events not read;
 * never a partition END events are ahead of. And a table partition with records waiting read more than
 * {@link #TURN_LEAD_MS} past another partition of the same table with at least {@link #TURN_BACKLOG} offsets waiting
 * waits for it, until within half of it (or until the other has fewer waiting): Kafka's consumer hands out one
 * partition's fetch at a time (8 MB: tens of thousands of changes), and a transaction's changes are spread over its
 * table's partitions, so while one partition was read a fetch ahead nothing completed and the writer waited. Not for
 * longer than {@link #TURN_HOLD_NANOS} while records are read, though (counted at the looks that saw records come,
 * over resumes of everything and looks that cannot say, until its turn is over): then it reads on until every
 * partition of its table with records waiting has read up to where it was. Before the first look answers (1–2 s after
 * a fresh start, at most {@code PartitionEnds.FIRST_LOOK_MS}), every partition counts as a backlog: a backlog is read
 * from a start, and its first fetches are paced too; the cost is that a partition read ahead of a quiet one waits for
 * that look too (live changes after a start). A partition paused for either reason is resumed once neither holds. A
 * table split with records waiting that has delivered nothing for {@link #STUCK_NANOS} while the others delivered is
 * not waited for (its fetches are failing; the END events flow as without pacing). A resume that brought no record in
 * {@link #RESEND_NANOS} while records wait is sent again (the consumer can lose one), and the reader resumes
 * everything after {@link #STARVED_NANOS} with nothing to emit: pacing only orders what is read, it never stops the
 * reading.
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

    /**
     * How far, in Kafka time, a table may be read past the END events held back before it is held back too (resumed
     * within half of it).
     */
    static final long LEAD_MS = 10_000;

    /**
     * How far, in Kafka time, a partition of a table may be read past another of the same table with a backlog
     * ({@link #TURN_BACKLOG}) before it waits for it (resumed within half of it): the changes of one transaction are
     * spread over a table's partitions, and the collapse holds those read of a partition ahead until the rest come.
     */
    static final long TURN_LEAD_MS = 100;
    /** How many offsets must wait in a partition before another of its table waits for it: fewer come in a poll. */
    static final long TURN_BACKLOG = 1_000;
    /**
     * How long a partition may wait for another of its table while records are read before it reads on regardless,
     * until the others have caught up with it: a Kafka time far in the future (a clock wrong, a record made by hand)
     * or a partition read very slowly holds it no longer. Longer than a turn takes (under a second here).
     */
    static final long TURN_HOLD_NANOS = 5_000_000_000L;
    /** The most of the time between two looks that counts towards {@link #TURN_HOLD_NANOS}: looks come every 100 ms. */
    static final long TURN_STEP_NANOS = 200_000_000L;

    private static final JsonFactory JSON = new JsonFactory();
    /** Of a table no table topic read by the job holds (compared as this very instance). */
    private static final String NONE = new String("none");

    /**
     * How many offsets a fresh look at Kafka says lie past an offset (-1: its start) of a split, at most as many
     * records (0: none waits; {@link Long#MAX_VALUE}: records wait, how many is not known yet); null: no look can say.
     */
    interface Waiting {
        Long offsetsWaiting(String splitId, long next);
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
        /** Of a table split: held for the END events still to be read; for its table's partition read least. */
        boolean forEnds;
        boolean forTurn;
        /**
         * How long it has been held for its table's partition read least while records were read (looks that saw a
         * record come since the one before, at most {@link #TURN_STEP_NANOS} each), over resumes of everything and
         * looks that could not say, until its turn is over.
         */
        long heldNanos;
        /** When a look last saw it held for its table; meaningful while {@link #forTurn}. */
        long heldLookAt;
        /**
         * Held for its table longer than {@link #TURN_HOLD_NANOS}: not again until every partition of its table with
         * records waiting has read up to where it was then ({@link #liftedAt}).
         */
        boolean turnLifted;
        long liftedAt;
        /** Of a table split: offsets waiting by the last look ({@link Waiting}); null: it could not say. */
        Long waitingAtLook;
        /** When the pacing last resumed it and no record has come since; 0 for not. */
        long resumedAt;
        /** Of a transaction split: by table topic, its END events naming it. */
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
     * The Kafka times of the END events that name one table, not yet known to be read past, oldest first: a ring of at
     * most its capacity (the oldest go first).
     */
    static final class Ahead {
        private long[] times = new long[64];
        private int head;
        private int size;
        private final int capacity;
        /** How far back a time may be from the one before it and still count at that one's (a second's jitter). */
        static final long JITTER_MS = 1_000;
        /** Whether every time is at least the one before it (Kafka times of one partition nearly always are). */
        private boolean rising = true;
        /** The newest time kept; meaningful while any is. */
        private long newest = Long.MIN_VALUE;

        Ahead(int capacity) {
            this.capacity = capacity;
        }

        void add(long time) {
            if (size > 0 && time < at(size - 1)) {
                if (at(size - 1) - time <= JITTER_MS) {
                    time = at(size - 1); // a clock's jitter: counted at the one before, kept rising
                } else {
                    rising = false; // counted one by one until emptied, so that one far in the future holds only itself
                }
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
            newest = Math.max(newest, time);
        }

        /** The newest time kept (none is forgotten while a newer one is kept); {@link Long#MIN_VALUE} for none. */
        long newest() {
            return size == 0 ? Long.MIN_VALUE : newest;
        }

        /** Forgets those at or before {@code time} from the oldest on (read past) and says how many are after it. */
        int after(long time) {
            int past = 0;
            if (rising) {
                int high = size;
                while (past < high) {
                    int mid = (past + high) >>> 1;
                    if (at(mid) <= time) {
                        past = mid + 1;
                    } else {
                        high = mid;
                    }
                }
            } else {
                while (past < size && at(past) <= time) {
                    past++;
                }
            }
            head = (head + past) % times.length;
            size -= past;
            if (size == 0) {
                rising = true;
                head = 0;
                newest = Long.MIN_VALUE;
            }
            if (rising) {
                return size;
            }
            int after = 0;
            for (int i = 0; i < size; i++) {
                after += at(i) > time ? 1 : 0;
            }
            return after;
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
    /**
     * The table topics' prefix ({@code cdc.} of {@code cdc.transaction}); null when the transaction topic's name does
     * not end in {@code .transaction}.
     */
    private final String prefix;
    private final Pattern tableTopics;
    private final Waiting waiting;
    private final Map<String, Split> splits = new LinkedHashMap<>();
    /** By table named: the table topic that holds its changes, or {@link #NONE}; made again with new splits. */
    private final Map<String, String> topicOf = new HashMap<>();
    private int paused;
    /** When any split last delivered a record (nanoseconds); meaningful once {@link #delivered}. */
    private long deliveredAt;
    private boolean delivered;
    /** END events ahead at the last look. */
    private int aheadAtLook;
    /** Whether a table split had records waiting at the last look: else no END event read is ahead, none is counted. */
    private boolean anyWaiting = true;

    /**
     * @param maxAhead how many END events may be ahead before the transaction topic is paused; 0 for never
     * @param transactionTopic the transaction topic, by whose name the table topics are found
     * @param tableTopics the table topics the job reads: END events count only against those
     * @param waiting whether a fresh look says records wait in a split
     */
    ReadPacing(int maxAhead, String transactionTopic, Pattern tableTopics, Waiting waiting) {
        this.maxAhead = maxAhead;
        String suffix = ".transaction";
        this.prefix = transactionTopic.endsWith(suffix)
                ? transactionTopic.substring(0, transactionTopic.length() - suffix.length() + 1) : null;
        this.tableTopics = tableTopics;
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
        delivered = true;
    }

    /** An END event read: counted against each table it names that the job reads here. */
    void ended(Split split, long offset, long timestamp, byte[] value, long now) {
        read(split, offset, timestamp, now);
        if (maxAhead <= 0 || !anyWaiting) {
            return; // every table read to its end at the last look: its changes are read (and no JSON is parsed)
        }
        for (String table : tablesNamed(value)) { // none for a BEGIN event, or one the decoder reports as malformed
            String topic = topicOf.computeIfAbsent(table, this::topicHolding);
            if (topic != NONE) {
                split.ahead.computeIfAbsent(topic, t -> new Ahead(maxAhead)).add(timestamp);
            }
        }
    }

    /** Looks at every split's reading at {@code now} (nanoseconds) and says which to pause and which to resume. */
    Decision look(long now) {
        if (maxAhead <= 0) {
            return Decision.NONE;
        }
        Map<String, Long> leastRead = new HashMap<>();
        Map<String, Long> leastBacklogged = new HashMap<>(); // by topic: of those with TURN_BACKLOG offsets waiting
        Set<String> unknown = new HashSet<>();
        for (Split split : splits.values()) {
            if (!split.transactions) {
                split.waitingAtLook = waiting.offsetsWaiting(split.id, split.next);
                Long waits = stuck(split, now) ? Long.valueOf(0) : split.waitingAtLook;
                if (waits == null) {
                    unknown.add(split.topic);
                } else if (waits > 0) {
                    leastRead.merge(split.topic, split.newest, Math::min);
                    if (waits >= TURN_BACKLOG) { // before the first look, Long.MAX_VALUE: a backlog read from a start
                        leastBacklogged.merge(split.topic, split.newest, Math::min);
                    }
                }
            }
        }
        anyWaiting = !leastRead.isEmpty() || !unknown.isEmpty();
        int count = 0;
        Map<String, Long> newestAhead = new HashMap<>(); // by topic: the newest END event counted ahead of it
        for (Split split : splits.values()) {
            if (split.transactions) {
                split.aheadAtLook = 0;
                for (Map.Entry<String, Ahead> table : split.ahead.entrySet()) {
                    Long least = leastRead.get(table.getKey());
                    if (least != null) {
                        int ahead = table.getValue().after(least);
                        split.aheadAtLook += ahead;
                        if (ahead > 0) {
                            newestAhead.merge(table.getKey(), table.getValue().newest(), Math::max);
                        }
                    } else if (!unknown.contains(table.getKey())) {
                        table.getValue().after(Long.MAX_VALUE); // read to its end (or not here): read past
                    } // else no look can say: kept, not counted
                }
                count += split.aheadAtLook;
            }
        }
        aheadAtLook = count;
        List<String> pause = new ArrayList<>();
        List<String> resume = new ArrayList<>();
        long endsAt = Long.MAX_VALUE; // the least read of the transaction splits still to be read on
        for (Split split : splits.values()) {
            if (!split.transactions) {
                continue;
            }
            // Only a split with END events ahead: Kafka's consumer reads partitions in turns, and one behind may hold
            // the END events that changes read already wait for.
            if (!split.paused && count >= maxAhead && split.aheadAtLook > 0) {
                pause(split, pause);
            } else if (split.paused && (count <= maxAhead / 2 || split.aheadAtLook == 0)) {
                resume(split, now, resume);
            } else {
                resendIfLost(split, now, resume);
            }
            if (split.newest != Long.MIN_VALUE && (split.paused
                    || (!stuck(split, now) && Boolean.TRUE.equals(recordsWaiting(split))))) {
                endsAt = Math.min(endsAt, split.newest);
            }
        }
        for (Split split : splits.values()) {
            if (split.transactions) {
                continue;
            }
            // Tables read past the END events still to be read (held back, or read in turns) by more than the lead wait
            // for them: their changes would wait for those END events in the collapse. Never a table END events are
            // ahead of (one behind its topic's newest END event counted ahead): it is what they wait for.
            boolean waitedFor = split.newest < newestAhead.getOrDefault(split.topic, Long.MIN_VALUE);
            if (endsAt != Long.MAX_VALUE && split.newest > saturatedAdd(endsAt, LEAD_MS) && !waitedFor) {
                split.forEnds = true;
            } else if (endsAt == Long.MAX_VALUE || split.newest <= saturatedAdd(endsAt, LEAD_MS / 2) || waitedFor) {
                split.forEnds = false;
            }
            // A partition read past another of its table that has a backlog waits for it, while records wait in it too
            // (Kafka's consumer hands out one partition's fetch at a time: tens of thousands of changes).
            Long behind = leastBacklogged.get(split.topic);
            Boolean waits = split.waitingAtLook == null ? null : split.waitingAtLook > 0; // asked once a look
            if (split.turnLifted && split.liftedAt <= saturatedAdd(
                    leastRead.getOrDefault(split.topic, Long.MAX_VALUE), TURN_LEAD_MS / 2)) {
                split.turnLifted = false; // every partition of its table with records waiting is past where it was
            }
            if (waits == null || unknown.contains(split.topic)) {
                split.forTurn = false; // no look can say: not held, and the time it was held is kept
            } else if (!waits || behind == null || split.newest <= saturatedAdd(behind, TURN_LEAD_MS / 2)) {
                split.forTurn = false; // its turn is over
                split.heldNanos = 0;
            } else if (split.forTurn) {
                if (delivered && deliveredAt > split.heldLookAt) { // records were read since the last look
                    split.heldNanos += Math.min(now - split.heldLookAt, TURN_STEP_NANOS);
                }
                split.heldLookAt = now;
                if (split.heldNanos >= TURN_HOLD_NANOS) { // and it was not caught up with: it reads on
                    split.forTurn = false;
                    split.turnLifted = true;
                    split.liftedAt = split.newest;
                    split.heldNanos = 0;
                }
            } else if (!split.turnLifted && split.newest > saturatedAdd(behind, TURN_LEAD_MS)) {
                split.forTurn = true;
                split.heldLookAt = now;
            }
            boolean hold = split.forEnds || split.forTurn;
            if (!split.paused && hold) {
                pause(split, pause);
            } else if (split.paused && !hold) {
                resume(split, now, resume);
            } else if (!split.paused) {
                resendIfLost(split, now, resume);
            }
        }
        return pause.isEmpty() && resume.isEmpty() ? Decision.NONE : new Decision(pause, resume);
    }

    private void pause(Split split, List<String> pause) {
        split.paused = true;
        split.resumedAt = 0;
        paused++;
        pause.add(split.id);
    }

    private void resume(Split split, long now, List<String> resume) {
        split.paused = false;
        split.lastAt = now; // its pause is no time it failed to deliver
        paused--;
        split.resumedAt = now == 0 ? 1 : now; // never 0
        resume.add(split.id);
    }

    /**
     * Sends a resume again that brought no record in {@link #RESEND_NANOS}: the consumer can lose one. Until a record
     * comes, or a fresh look says none waits (a resume of a split not paused changes nothing).
     */
    private void resendIfLost(Split split, long now, List<String> resume) {
        if (split.paused || split.resumedAt == 0) {
            return;
        }
        if (Boolean.FALSE.equals(recordsWaiting(split))) {
            split.resumedAt = 0;
        } else if (now - split.resumedAt >= RESEND_NANOS) {
            split.resumedAt = now == 0 ? 1 : now;
            resume.add(split.id);
        }
    }

    /** Whether a fresh look says records wait in the split; null: none can say. */
    private Boolean recordsWaiting(Split split) {
        Long waits = waiting.offsetsWaiting(split.id, split.next);
        return waits == null ? null : waits > 0;
    }

    /** Resumes every split paused: the reader has had nothing to emit. */
    Decision resumeAll(long now) {
        List<String> resume = new ArrayList<>();
        for (Split split : splits.values()) {
            if (split.paused || split.resumedAt != 0) {
                if (split.paused) {
                    split.lastAt = now;
                }
                split.paused = false;
                split.forEnds = false;
                split.forTurn = false;
                split.resumedAt = now == 0 ? 1 : now;
                resume.add(split.id);
            }
        }
        paused = 0;
        return resume.isEmpty() ? Decision.NONE : new Decision(List.of(), resume);
    }

    /** A table split with records waiting that delivers nothing while the others deliver: its fetches fail. */
    private boolean stuck(Split split, long now) {
        return !split.paused && delivered && now - split.lastAt >= STUCK_NANOS
                && deliveredAt - split.lastAt >= STUCK_NANOS;
    }

    /**
     * The table topic of a table, as the decoder finds it: {@code <prefix><schema>.<table>} when the job reads it (else
     * {@link #NONE}: a table not indexed holds no transaction back); with a transaction topic named otherwise, the
     * table topic read here whose name ends in {@code .<schema>.<table>}.
     */
    private String topicHolding(String table) {
        if (prefix != null) {
            String topic = prefix + table;
            return tableTopics.matcher(topic).matches() ? topic : NONE;
        }
        String suffix = "." + table;
        for (Split split : splits.values()) {
            if (!split.transactions && split.topic.endsWith(suffix)) {
                return split.topic;
            }
        }
        return NONE;
    }

    private static long saturatedAdd(long time, long duration) {
        return time > Long.MAX_VALUE - duration ? Long.MAX_VALUE : time + duration;
    }

    /**
     * The tables an END event names ({@code data_collections[].data_collection}, with or without the JSON converter's
     * schema envelope); empty for a BEGIN event and for what cannot be read as JSON.
     */
    static List<String> tablesNamed(byte[] value) {
        if (value == null) {
            return List.of();
        }
        try (JsonParser parser = JSON.createParser(value)) {
            JsonToken token;
            while ((token = parser.nextToken()) != null) {
                if (token != JsonToken.FIELD_NAME) {
                    continue;
                }
                String field = parser.currentName();
                token = parser.nextToken();
                if ("schema".equals(field)) {
                    parser.skipChildren(); // the converter's schema: most of the bytes
                } else if ("status".equals(field) && token == JsonToken.VALUE_STRING
                        && !"END".equals(parser.getText())) {
                    return List.of(); // a BEGIN event
                } else if ("data_collections".equals(field) && token == JsonToken.START_ARRAY) {
                    return tables(parser);
                }
            }
        } catch (IOException e) {
            return List.of();
        }
        return List.of();
    }

    /** The {@code data_collection} of each object of the array the parser is at the start of. */
    private static List<String> tables(JsonParser parser) throws IOException {
        List<String> tables = new ArrayList<>(2);
        int depth = 1;
        JsonToken token;
        while (depth > 0 && (token = parser.nextToken()) != null) {
            if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
                depth++;
            } else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) {
                depth--;
            } else if (token == JsonToken.FIELD_NAME && depth == 2 && "data_collection".equals(parser.currentName())
                    && parser.nextToken() == JsonToken.VALUE_STRING) {
                tables.add(parser.getText());
            }
        }
        return tables;
    }

}
