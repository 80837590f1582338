package io.cdcindexer.job;

import static io.cdcindexer.job.DebeziumJson.change;
import static io.cdcindexer.job.DebeziumJson.end;
import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.ThreadStacks;
import io.cdcindexer.kafka.DeadLetterSink;
import io.cdcindexer.kafka.KafkaChangeSource;
import io.cdcindexer.kafka.KafkaDeadLetterQueue;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.kafka.TestProducers;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.KafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's Kafka adapter against a real broker: the topic pattern (including a topic created while the job runs), the
 * transaction topic, offsets committed on checkpoints, and the dead-letter topic with its headers.
 */
class CdcIndexerJobKafkaITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberSlotsPerTaskManager(2).build());

    @TempDir
    static Path dir;

    private static KafkaBroker kafka;

    @BeforeAll
    static void startKafka() {
        kafka = KafkaBroker.start(dir.resolve("kafka"), FreePorts.next());
    }

    @AfterAll
    static void stopKafka() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void readsTheDebeziumTopicsCommitsOffsetsAndWritesDeadLetters() throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
                KafkaProducer<byte[], byte[]> producer = producer()) {
            admin.createTopics(List.of(new NewTopic("cdc.public.users", 2, (short) 1),
                    new NewTopic("cdc.transaction", 1, (short) 1), new NewTopic("other.public.users", 1, (short) 1)))
                    .all().get();
            send(producer, change("users", "r", 2, 50, null, "email", "snapshot@example.com"));
            send(producer, change("users", "c", 1, 100, "900", "email", "a@example.com"));
            send(producer, change("users", "u", 1, 110, "900", "email", "b@example.com"));
            send(producer, end("900", 120, "users", 2));
            send(producer, DebeziumJson.raw("cdc.public.users", "{\"id\":3}", "garbage"));
            send(producer, DebeziumJson.raw("other.public.users", "{\"id\":9}", "not read: other prefix"));
            producer.flush();

            VersionedIndexSink index = new VersionedIndexSink("kafka-it", 0);
            JobOptions options = JobOptions.fromArgs("--kafka.bootstrap-servers", kafka.bootstrapServers(),
                    "--kafka.group-id", "it-group", "--kafka.partition-discovery-ms", "500",
                    "--checkpoint.interval-ms", "200", "--parallelism", "2");
            JobClient job = new CdcIndexerJob(options, KafkaChangeSource.create(options), index,
                    new DeadLetterSink(new KafkaDeadLetterQueue(kafka.bootstrapServers(), "cdc.dlq")))
                    .executeAsync(StreamExecutionEnvironment.getExecutionEnvironment());
            try {
                await("documents indexed", () -> index.documents().size() == 2);
                assertThat(index.documents())
                        .containsEntry("cdc.public.users/1", "{\"id\":1,\"email\":\"b@example.com\"}")
                        .containsEntry("cdc.public.users/2", "{\"id\":2,\"email\":\"snapshot@example.com\"}");

                List<ConsumerRecord<byte[], byte[]>> deadLetters = consume("cdc.dlq", 1);
                ConsumerRecord<byte[], byte[]> letter = deadLetters.get(0);
                assertThat(new String(letter.key(), StandardCharsets.UTF_8)).isEqualTo("{\"id\":3}");
                assertThat(new String(letter.value(), StandardCharsets.UTF_8)).isEqualTo("garbage");
                assertThat(header(letter, KafkaDeadLetterQueue.HEADER_TOPIC)).isEqualTo("cdc.public.users");
                assertThat(header(letter, KafkaDeadLetterQueue.HEADER_STAGE)).isEqualTo("decode");
                assertThat(header(letter, KafkaDeadLetterQueue.HEADER_REASON)).startsWith("the value is not valid JSON");
                assertThat(header(letter, KafkaDeadLetterQueue.HEADER_OFFSET)).matches("\\d+");

                await("offsets committed up to the end of every topic", () -> committedToTheEnd(admin));

                admin.createTopics(List.of(new NewTopic("cdc.public.created_later", 1, (short) 1))).all().get();
                send(producer, change("created_later", "c", 1, 200, null, "name", "new table"));
                producer.flush();
                await("a topic created while the job runs is read",
                        () -> index.documents().containsKey("cdc.public.created_later/1"));
                assertThat(index.documents()).doesNotContainKey("other.public.users/9");
            } finally {
                job.cancel().get();
            }
        }
    }

    /** What the pacing tests' function saw, in the order the source emitted it: each record's topic and Kafka time. */
    private static final Queue<Object[]> READ = new ConcurrentLinkedQueue<>();
    /** The most END events the pacing tests let run ahead of their changes. */
    private static final int MAX_AHEAD = 500;

    /**
     * A backlog of one table, one 4 KB change and one END event per transaction: read by bytes alone, the source read
     * nearly every END event before its change, and the collapse held nearly every transaction of the backlog.
     */
    @Test
    void onABacklogTheSourceReadsNoMoreEndEventsAheadOfTheirChangesThanItMayHold() throws Exception {
        int transactions = 6_000;
        long first = System.currentTimeMillis() - 3_600_000;
        List<Backlog> backlog = new ArrayList<>();
        for (int i = 0; i < transactions; i++) {
            backlog.add(new Backlog("rows", first + 50L * i, false));
            backlog.add(new Backlog("rows", first + 50L * i + 1, true));
        }
        List<Object[]> read = readBacklog("paced", backlog);

        // The transactions whose END event was read and whose change was not: what the collapse holds.
        long newestChange = Long.MIN_VALUE;
        List<Long> endsRead = new ArrayList<>();
        int held = 0;
        int heldMost = 0;
        for (Object[] record : read) {
            if ("paced.transaction".equals(record[0])) {
                endsRead.add((Long) record[1]);
            } else {
                newestChange = Math.max(newestChange, (Long) record[1]);
            }
            long upTo = newestChange;
            held = (int) endsRead.stream().filter(time -> time > upTo).count();
            heldMost = Math.max(heldMost, held);
            if (endsRead.size() > 2 * heldMost + 1_000) {
                endsRead.removeIf(time -> time <= upTo); // read past: keeps the count cheap
            }
        }
        // The most, plus what was read before a pause took hold: the records already fetched (up to 50 a poll, two
        // polls queued) and those emitted before the next look (256 polls or 100 ms). Read by bytes alone: over 5,000.
        assertThat(heldMost).as("the most END events read ahead of their changes").isLessThanOrEqualTo(MAX_AHEAD + 600);
    }

    /**
     * One table lags on a bulk UPDATE while another keeps being written: the END events of the other one are read as
     * they come, not held back until the lagging table catches up.
     */
    @Test
    void endEventsOfATableThatKeepsUpAreNotHeldBackByATableThatLags() throws Exception {
        long first = System.currentTimeMillis() - 3_600_000;
        List<Backlog> backlog = new ArrayList<>();
        for (int i = 0; i < 6_000; i++) {
            backlog.add(new Backlog("big", first + i / 10, false)); // one transaction of 6,000 rows in 600 ms
        }
        backlog.add(new Backlog("big", first + 600, true));
        for (int i = 0; i < 2_000; i++) { // then 2,000 small ones, over the next 2 s
            backlog.add(new Backlog("small", first + 1_000 + i, false));
            backlog.add(new Backlog("small", first + 1_000 + i, true));
        }
        List<Object[]> read = readBacklog("lagging", backlog);

        int endsBefore = endsBeforeTheLastOf("lagging.public.big", read);
        // 2,000 END events of small, each read with its change early on (small records come by the thousand a fetch),
        // while the 24 MB of big take a hundred fetches. Counted against the least-read table instead, every one of
        // them was ahead of big until its end, and the transaction topic was paused after 500 of them.
        assertThat(endsBefore).as("END events read before the lagging table's last change").isGreaterThan(1_900);
    }

    /**
     * One table lags (4 KB rows) while another keeps up (200-byte rows): once END events are held back for the lagging
     * one, the other is held back too, not read to its end with every change of it waiting for END events not read.
     */
    @Test
    void whileEndEventsAreHeldBackTheChangesOfATableThatKeepsUpDoNotRunAhead() throws Exception {
        long first = System.currentTimeMillis() - 3_600_000;
        List<Backlog> backlog = new ArrayList<>();
        for (int i = 0; i < 6_000; i++) {
            backlog.add(new Backlog("orders", first + 50L * i, false));
            backlog.add(new Backlog("orders", first + 50L * i + 1, true));
            for (int j = 0; j < 4; j++) {
                backlog.add(new Backlog("small", first + 50L * i + 12 * j + 2, false));
                backlog.add(new Backlog("small", first + 50L * i + 12 * j + 3, true));
            }
        }
        List<Object[]> read = readBacklog("keeping", backlog);

        // A change of small waits in the collapse until its END event (Kafka time one later) is read.
        long newestEnd = Long.MIN_VALUE;
        java.util.TreeMap<Long, Integer> waiting = new java.util.TreeMap<>();
        int waitingNow = 0;
        int waitingMost = 0;
        for (Object[] record : read) {
            long time = (Long) record[1];
            if ("keeping.transaction".equals(record[0])) {
                newestEnd = Math.max(newestEnd, time);
                for (Integer n : waiting.headMap(newestEnd - 1, true).values()) {
                    waitingNow -= n;
                }
                waiting.headMap(newestEnd - 1, true).clear();
            } else if ("keeping.public.small".equals(record[0]) && time + 1 > newestEnd) {
                waiting.merge(time, 1, Integer::sum);
                waitingNow++;
                waitingMost = Math.max(waitingMost, waitingNow);
            }
        }
        // The lead (10 s: 800 changes of small), and what was read before a pause took hold (a fetch of 256 KB: about
        // 1,000 changes of small, and the polls already made). Read by bytes alone, about 18,000 of them waited.
        assertThat(waitingMost).as("the most changes of small read ahead of their END events").isLessThan(3_000);
    }

    /** END events far ahead are read once their table is read to its end: pacing orders the reading, never stops it. */
    @Test
    void endEventsFarAheadAreReadOnceTheirTableIsReadToItsEnd() throws Exception {
        long first = System.currentTimeMillis() - 7_200_000;
        List<Backlog> backlog = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            backlog.add(new Backlog("rows", first + i, false));
            backlog.add(new Backlog("rows", first + 3_600_000 + i, true));
        }
        List<Object[]> read = readBacklog("far", backlog);
        assertThat(read).hasSize(4_000);
        int endsBefore = endsBeforeTheLastOf("far.public.rows", read);
        // Read by bytes alone, every END event came before the last change.
        assertThat(endsBefore).as("END events read before the last change").isLessThanOrEqualTo(MAX_AHEAD + 600);
    }

    /**
     * A backlog of one table of two partitions, each transaction's two changes one in each: Kafka's consumer hands
     * out one partition's fetch at a time (here 4,000 changes of 2 KB), and read so, the other half of each
     * transaction came a whole fetch later: the collapse held 4,000 transactions half read, none completed meanwhile.
     */
    @Test
    void onABacklogTheTablesPartitionsAreReadInStepByKafkaTime() throws Exception {
        int transactions = 6_000;
        long first = System.currentTimeMillis() - 3_600_000;
        List<Backlog> backlog = new ArrayList<>();
        for (int i = 0; i < transactions; i++) {
            backlog.add(new Backlog("halves", first + 10L * i, false, 0));
            backlog.add(new Backlog("halves", first + 10L * i, false, 1));
            backlog.add(new Backlog("halves", first + 10L * i + 1, true));
        }
        List<Object[]> read = readBacklog("turns", backlog, 8 * 1024 * 1024);

        // By Kafka time (a transaction's): how many of its changes were read; the most half read at once.
        Map<Long, Integer> changesRead = new HashMap<>();
        int halfRead = 0;
        int halfReadMost = 0;
        for (Object[] record : read) {
            if ("turns.public.halves".equals(record[0])) {
                halfRead += changesRead.merge((Long) record[1], 1, Integer::sum) == 1 ? 1 : -1;
                halfReadMost = Math.max(halfReadMost, halfRead);
            }
        }
        // The lead (100 ms: 10 transactions), what was read before a pause took hold (two polls of 50 queued, and
        // those emitted before the next look: 256 polls or 100 ms): 400 to 800 records a turn; then the last 1,000
        // offsets of a partition, not waited for (seen: 746–911 at most; 949 and 983 before the first fetch was
        // paced, and 4,143 once when a fast run read it all before the first look). Read by bytes alone: 4,161, a fetch.
        assertThat(halfReadMost).as("the most transactions read in one partition and not in the other")
                .isLessThan(2_000);
    }

    /** How many END events were read before the last record of the table topic. */
    private static int endsBeforeTheLastOf(String table, List<Object[]> read) {
        int last = 0;
        for (int i = 0; i < read.size(); i++) {
            last = table.equals(read.get(i)[0]) ? i : last;
        }
        int ends = 0;
        for (int i = 0; i < last; i++) {
            ends += ((String) read.get(i)[0]).endsWith(".transaction") ? 1 : 0;
        }
        return ends;
    }

    /** One record of a backlog: a change of {@code public.<table>} in a partition of it, or an END event naming it. */
    private record Backlog(String table, long time, boolean end, int partition) {
        Backlog(String table, long time, boolean end) {
            this(table, time, end, 0);
        }
    }

    /**
     * Writes the backlog to {@code prefix.public.<table>} (changes of 4 KB, of 200 bytes for {@code small}, of 2 KB for
     * {@code halves}) and
     * {@code prefix.transaction}, at the given Kafka times, then reads it with the job's source (at most
     * {@link #MAX_AHEAD} END events ahead, fetches of 256 KB a partition) and returns what it emitted, in order.
     */
    private static List<Object[]> readBacklog(String prefix, List<Backlog> backlog) throws Exception {
        return readBacklog(prefix, backlog, 262_144);
    }

    private static List<Object[]> readBacklog(String prefix, List<Backlog> backlog, int fetchBytes) throws Exception {
        String transactionTopic = prefix + ".transaction";
        List<NewTopic> topics = new ArrayList<>(List.of(new NewTopic(transactionTopic, 1, (short) 1)));
        backlog.stream().collect(java.util.stream.Collectors.toMap(Backlog::table, Backlog::partition, Math::max))
                .forEach((table, last) -> topics.add(new NewTopic(prefix + ".public." + table, last + 1, (short) 1)));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
                KafkaProducer<byte[], byte[]> producer = producer()) {
            admin.createTopics(topics).all().get();
            java.util.Random random = new java.util.Random(7);
            List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
            int tx = 0;
            for (Backlog record : backlog) {
                byte[] value;
                String topic;
                if (record.end()) {
                    topic = transactionTopic;
                    value = ("{\"status\":\"END\",\"id\":\"" + tx++ + ":1\",\"event_count\":1,\"data_collections\":"
                            + "[{\"data_collection\":\"public." + record.table() + "\",\"event_count\":1}],\"ts_ms\":"
                            + record.time() + "}").getBytes(StandardCharsets.UTF_8);
                } else {
                    topic = prefix + ".public." + record.table();
                    value = new byte[switch (record.table()) {
                        case "small" -> 200;
                        case "halves" -> 2_000;
                        default -> 4_000;
                    }];
                    random.nextBytes(value); // not compressible: a fetch holds as many as its bytes say
                }
                sent.add(producer.send(new ProducerRecord<>(topic, record.partition(), record.time(), null, value)));
            }
            producer.flush();
            for (java.util.concurrent.Future<?> one : sent) {
                one.get(); // a record not written would be waited for in vain below
            }
        }
        Path clientFile = Files.writeString(dir.resolve(prefix + "-client.properties"), "max.poll.records=50\n");
        JobOptions options = JobOptions.fromArgs("--kafka.bootstrap-servers", kafka.bootstrapServers(),
                "--kafka.group-id", prefix, "--kafka.topic-pattern", Pattern.quote(prefix + ".public.") + ".*",
                "--kafka.transaction-topic", transactionTopic,
                "--kafka.max-partition-fetch-bytes", String.valueOf(fetchBytes),
                "--kafka.properties-file", clientFile.toString(),
                "--transaction.max-ends-ahead", String.valueOf(MAX_AHEAD));
        READ.clear();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.fromSource(KafkaChangeSource.create(options), CdcIndexerJob.PARTITION_PROGRESS, "kafka")
                .process(new ProcessFunction<KafkaRecord, Void>() {
                    @Override
                    public void processElement(KafkaRecord record, Context ctx, Collector<Void> out) {
                        READ.add(new Object[] {record.topic, record.timestamp, record.partition});
                    }
                })
                .sinkTo(new DiscardingSink<>());
        JobClient job = env.executeAsync("backlog of " + prefix);
        try {
            // Seconds, but the lagging table's (45 s): read alone, a partition is fetched once every fetch.max.wait.ms
            // (FINDINGS 21).
            await("every record read", () -> READ.size() == backlog.size(), Duration.ofSeconds(120));
        } catch (AssertionError e) {
            // Seen in full runs (2026-12-03): say what was read and what the source's threads were doing.
            Map<Object, Long> byTopic = READ.stream().collect(java.util.stream.Collectors.groupingBy(
                    r -> r[0], java.util.TreeMap::new, java.util.stream.Collectors.counting()));
            throw new AssertionError(e.getMessage() + "; the job had read " + byTopic + " of " + backlog.size()
                    + ThreadStacks.of("Source", "Fetcher", "partition ends"), e);
        } finally {
            job.cancel().get();
        }
        return new ArrayList<>(READ);
    }

    /** What the watermark tests' function saw: each record's Kafka time and the watermark it came after. */
    private static final Queue<long[]> WATERMARKS = new ConcurrentLinkedQueue<>();

    /**
     * The watermark against a real broker ({@link io.cdcindexer.kafka.PartitionEnds}): a quiet partition counts as read
     * to its end only when Kafka's end says so. Partition 1 of the topic holds nothing, and the group has no committed
     * offset (its split starts at a marker the look resolves to the beginning); partition 0 holds two records. Quiet
     * for a few seconds after they were read, the watermark is at the newest record's time: partition 0 claims it,
     * partition 1, which read nothing and starts at its end, is idle. Had the look failed, partition 1 would hold the
     * watermark where nothing was claimed. (That the source hands its look to the watermark:
     * {@code KafkaChangeSourceTest}.)
     */
    @Test
    void theWatermarkReachesTheNewestRecordOnceKafkaSaysEveryPartitionIsReadToItsEnd() throws Exception {
        assertThat(watermarkAfterAQuietSpell("wm.public.items", 2, 1)).isEqualTo(watermarkFirst + 1);
    }

    /**
     * More source subtasks than partitions: the one given none has nothing to read and is idle, or the watermark after
     * the exchange (by key) would wait for it for good (review finding).
     */
    @Test
    void aSourceSubtaskWithoutPartitionsDoesNotHoldTheWatermark() throws Exception {
        assertThat(watermarkAfterAQuietSpell("wm.public.one", 1, 2)).isEqualTo(watermarkFirst + 1);
    }

    /**
     * A topic written with transactions (Connect's exactly-once source support) ends with a commit marker, which no
     * consumer hands on: read to its last record, the partition is a marker short of its end. The look reads on from
     * there and finds only the marker, so the partition counts as read to its end (review finding; before, it never
     * did, and the watermark waited for the holds' limits).
     */
    @Test
    void aPartitionEndingWithATransactionMarkerIsReadToItsEnd() throws Exception {
        assertThat(watermarkAfterAQuietSpell("wm.public.transactional", 1, 1, true)).isEqualTo(watermarkFirst + 1);
    }

    /**
     * A reader of committed records only (Connect's exactly-once source support writes with transactions): while a
     * transaction is open in the partition, its records come when it commits, with their older times, so the partition
     * is not read to its end. Asked at the last stable offset (where such a reader stops), its end was where the reader
     * was, and the watermark passed the open transaction's records (review finding).
     */
    @Test
    void aPartitionWithATransactionOpenIsNotReadToItsEndByAReaderOfCommittedRecords() throws Exception {
        Path properties = dir.resolve("read-committed.properties");
        Files.writeString(properties, "isolation.level=read_committed\n");
        String topic = "wm.public.open";
        try (KafkaProducer<byte[], byte[]> producer = transactionalProducer(topic)) {
            JobClient job = startWatermarkJob(topic, 1, 1, true, "--kafka.properties-file", properties.toString());
            try {
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(topic, 0, watermarkFirst + 2, null, new byte[] {2}));
                producer.flush(); // in the log, not committed
                Thread.sleep(7_000); // past the 5 s after which a partition read to its end is idle
                assertThat(FIRED).as("the watermark stays short of the records read while a transaction is open")
                        .isEmpty();

                producer.commitTransaction();
                await("the third record read", () -> WATERMARKS.size() == 3);
                assertThat(List.copyOf(WATERMARKS).get(2)[1]).isEqualTo(watermarkFirst);
            } finally {
                job.cancel().get();
            }
        }
    }

    private static long watermarkFirst;

    private static long watermarkAfterAQuietSpell(String topic, int partitions, int parallelism) throws Exception {
        return watermarkAfterAQuietSpell(topic, partitions, parallelism, false);
    }

    /**
     * Two records in partition 0 of a new topic, read by the job's source and watermark at the parallelism given; once
     * quiet, the watermark reaches the second's time (a timer there fires), and a third is sent: the watermark the third
     * came after, past an exchange by key.
     */
    private static long watermarkAfterAQuietSpell(String topic, int partitions, int parallelism, boolean transactions)
            throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = transactions ? transactionalProducer(topic) : producer()) {
            JobClient job = startWatermarkJob(topic, partitions, parallelism, transactions);
            try {
                // Within a few looks (a second apart) of the quiet second: not only some time
                await("the watermark reaches the second record's time", () -> !FIRED.isEmpty(),
                        Duration.ofSeconds(15));
                if (transactions) {
                    producer.beginTransaction();
                }
                producer.send(new ProducerRecord<>(topic, 0, watermarkFirst + 2, null, new byte[] {2}));
                if (transactions) {
                    producer.commitTransaction();
                }
                producer.flush();
                await("the third record read", () -> WATERMARKS.size() == 3);
                return List.copyOf(WATERMARKS).get(2)[1];
            } finally {
                job.cancel().get();
            }
        }
    }

    /** Timers fired at the second record's time: the watermark reached it. */
    private static final Queue<Long> FIRED = new ConcurrentLinkedQueue<>();

    /**
     * A new topic with two records in partition 0 (committed ones, when written with transactions; by a producer of
     * its own, so the test's producer keeps its transactional id), and a job reading it that notes each record's
     * watermark and fires a timer at the second record's time; back once it has read both.
     */
    private static JobClient startWatermarkJob(String topic, int partitions, int parallelism, boolean transactions,
            String... moreOptions) throws Exception {
        WATERMARKS.clear();
        FIRED.clear();
        watermarkFirst = System.currentTimeMillis() - 60_000;
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
                KafkaProducer<byte[], byte[]> producer =
                        transactions ? transactionalProducer(topic + "-first") : producer()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
            if (transactions) {
                producer.beginTransaction();
            }
            for (int i = 0; i < 2; i++) {
                producer.send(new ProducerRecord<>(topic, 0, watermarkFirst + i, null, new byte[] {(byte) i}));
            }
            if (transactions) {
                producer.commitTransaction();
            }
            producer.flush();
        }
        List<String> args = new ArrayList<>(List.of("--kafka.bootstrap-servers", kafka.bootstrapServers(),
                "--kafka.group-id", "watermark-" + topic, "--kafka.topic-pattern", Pattern.quote(topic),
                "--kafka.transaction-topic", ""));
        args.addAll(List.of(moreOptions));
        JobOptions options = JobOptions.fromArgs(args.toArray(String[]::new));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        long second = watermarkFirst + 1;
        env.fromSource(KafkaChangeSource.create(options), CdcIndexerJob.PARTITION_PROGRESS, "kafka")
                .keyBy(record -> record.partition)
                .process(new KeyedProcessFunction<Integer, KafkaRecord, Void>() {
                    @Override
                    public void processElement(KafkaRecord record, Context ctx, Collector<Void> out) {
                        WATERMARKS.add(new long[] {record.timestamp, ctx.timerService().currentWatermark()});
                        ctx.timerService().registerEventTimeTimer(second);
                    }

                    @Override
                    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Void> out) {
                        FIRED.add(timestamp);
                    }
                })
                .sinkTo(new DiscardingSink<>());
        JobClient job = env.executeAsync("watermark of " + topic);
        try {
            await("both records read", () -> WATERMARKS.size() == 2);
            return job;
        } catch (AssertionError e) {
            // Seen once in many runs (2026-12-03), with nothing logged: say what the job was doing.
            AssertionError said = new AssertionError(e.getMessage() + "; the job was " + job.getJobStatus().get()
                    + ", and had read " + WATERMARKS.size() + " records", e);
            job.cancel().get();
            throw said;
        } catch (InterruptedException e) {
            job.cancel().get();
            throw e;
        }
    }

    private static boolean committedToTheEnd(Admin admin) {
        try {
            Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets("it-group").partitionsToOffsetAndMetadata().get();
            List<TopicPartition> partitions = List.of(new TopicPartition("cdc.public.users", 0),
                    new TopicPartition("cdc.public.users", 1), new TopicPartition("cdc.transaction", 0));
            try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
                Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
                return partitions.stream().allMatch(p -> committed.get(p) != null
                        && committed.get(p).offset() == ends.get(p));
            }
        } catch (Exception e) {
            return false;
        }
    }

    /** With larger batches than Kafka's 16 KB, for the backlogs. */
    private static KafkaProducer<byte[], byte[]> producer() {
        return TestProducers.bytes(kafka.bootstrapServers(),
                Map.of(ProducerConfig.BATCH_SIZE_CONFIG, "262144", ProducerConfig.LINGER_MS_CONFIG, "5"));
    }

    private static KafkaProducer<byte[], byte[]> transactionalProducer(String id) {
        KafkaProducer<byte[], byte[]> producer =
                TestProducers.bytes(kafka.bootstrapServers(), Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id));
        producer.initTransactions();
        return producer;
    }

    private static KafkaConsumer<byte[], byte[]> consumer() {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, KafkaRecord record) {
        producer.send(new ProducerRecord<>(record.topic, record.key, record.value));
    }

    private static List<ConsumerRecord<byte[], byte[]>> consume(String topic, int count) {
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            consumer.assign(List.of(new TopicPartition(topic, 0)));
            Instant deadline = Instant.now().plusSeconds(60);
            while (records.size() < count && Instant.now().isBefore(deadline)) {
                consumer.poll(Duration.ofMillis(500)).forEach(records::add);
            }
        }
        assertThat(records).as("records on " + topic).hasSize(count);
        return records;
    }

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        await(what, condition, Duration.ofSeconds(90));
    }

    private static void await(String what, BooleanSupplier condition, Duration within) throws InterruptedException {
        Instant deadline = Instant.now().plus(within);
        while (!condition.getAsBoolean()) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("Timed out waiting for: " + what);
            }
            Thread.sleep(100);
        }
    }
}
