package io.cdcindexer.kafka;

import io.cdcindexer.job.JobOptions;
import java.util.Collection;
import java.util.HashSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.KafkaSourceEnumState;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.lineage.LineageVertex;
import org.apache.flink.streaming.api.lineage.LineageVertexProvider;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.common.TopicPartition;

/**
 * The Kafka source of the job: the Debezium table topics (a pattern, so tables created later are picked up) and the
 * transaction metadata topic. Without state it starts from the group's committed offsets (the earliest when there are
 * none), or from the earliest with {@code --kafka.starting-offsets earliest}; it commits offsets on every completed
 * checkpoint.
 *
 * <p>Flink's {@link KafkaSource}, whose reader also keeps {@link PartitionEnds} for the watermark: the splits it is
 * given, and a look at the partitions' ends every second. Splits, state and offsets are the Kafka source's own, so a
 * checkpoint or savepoint of either restores in the other.
 */
public final class KafkaChangeSource implements Source<KafkaRecord, KafkaPartitionSplit, KafkaSourceEnumState>,
        ResultTypeQueryable<KafkaRecord>, LineageVertexProvider {

    private static final long serialVersionUID = 1L;

    private final KafkaSource<KafkaRecord> kafka;
    /** The consumer settings of the look at the partitions' ends (the client's file, the servers, the group). */
    private final Properties lookup;
    /** Paced against the table topics ({@link ReadPacing}); empty for none. */
    private final String transactionTopic;
    /** The table topics' pattern: END events count only against those. */
    private final String tableTopics;
    /** How many of its END events may run ahead of their changes before it is paused; 0 for never. */
    private final int maxEndsAhead;

    private KafkaChangeSource(KafkaSource<KafkaRecord> kafka, Properties lookup, String transactionTopic,
            String tableTopics, int maxEndsAhead) {
        this.kafka = kafka;
        this.lookup = lookup;
        this.transactionTopic = transactionTopic;
        this.tableTopics = tableTopics;
        this.maxEndsAhead = maxEndsAhead;
    }

    /** Settings the source makes itself after the user's file, which would drop the file's value without a word. */
    private static final Map<String, String> OWN = Map.of(
            "max.partition.fetch.bytes", "--" + JobOptions.KAFKA_MAX_PARTITION_FETCH_BYTES.name(),
            "partition.discovery.interval.ms", "--" + JobOptions.KAFKA_PARTITION_DISCOVERY_MS.name(),
            "client.id.prefix", "--" + JobOptions.KAFKA_GROUP_ID.name(),
            "commit.offsets.on.checkpoint", "nothing: the job commits its offsets on every checkpoint");

    public static KafkaChangeSource create(JobOptions options) {
        Properties settings = new Properties();
        String file = options.get(JobOptions.KAFKA_PROPERTIES_FILE);
        settings.putAll(KafkaClientProperties.read(file));
        for (Map.Entry<String, String> own : OWN.entrySet()) {
            if (settings.containsKey(own.getKey())) {
                throw new IllegalArgumentException("The Kafka client properties file " + file + " sets "
                        + own.getKey() + ", which the job's source sets itself (use " + own.getValue() + ")");
            }
        }
        Properties lookup = new Properties();
        lookup.putAll(settings);
        lookup.put("bootstrap.servers", options.get(JobOptions.KAFKA_BOOTSTRAP_SERVERS));
        lookup.put("group.id", options.get(JobOptions.KAFKA_GROUP_ID)); // its committed offsets, where a split starts
        lookup.put("client.id", options.get(JobOptions.KAFKA_GROUP_ID) + "-ends");
        return new KafkaChangeSource(KafkaSource.<KafkaRecord>builder()
                .setProperties(settings) // first: the settings below are the job's own
                .setBootstrapServers(options.get(JobOptions.KAFKA_BOOTSTRAP_SERVERS))
                .setGroupId(options.get(JobOptions.KAFKA_GROUP_ID))
                .setTopicPattern(Pattern.compile(topicPattern(options)))
                .setStartingOffsets(startingOffsets(options))
                .setDeserializer(new KafkaRecordSchema())
                .setProperty("partition.discovery.interval.ms", options.get(JobOptions.KAFKA_PARTITION_DISCOVERY_MS))
                .setProperty("commit.offsets.on.checkpoint", "true")
                .setProperty("max.partition.fetch.bytes", options.get(JobOptions.KAFKA_MAX_PARTITION_FETCH_BYTES))
                .setProperty("client.id.prefix", options.get(JobOptions.KAFKA_GROUP_ID))
                .build(), lookup, options.get(JobOptions.KAFKA_TRANSACTION_TOPIC),
                options.get(JobOptions.KAFKA_TOPIC_PATTERN), options.getInt(JobOptions.TRANSACTION_MAX_ENDS_AHEAD));
    }

    @Override
    public Boundedness getBoundedness() {
        return kafka.getBoundedness();
    }

    @Override
    public SourceReader<KafkaRecord, KafkaPartitionSplit> createReader(SourceReaderContext context) throws Exception {
        Properties own = new Properties();
        own.putAll(lookup);
        // Its own per reader: a restart in the same process may make the next before the last is closed.
        own.put("client.id", lookup.getProperty("client.id") + "-" + context.getIndexOfSubtask() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffL));
        // Before the Kafka reader: made on the task thread, where the watermark generators find it.
        PartitionEnds ends = PartitionEnds.forThisTask(() -> new PartitionEnds.FromKafka(own));
        try {
            return new Reader(kafka.createReader(context), ends, own.getProperty("client.id"), transactionTopic,
                    tableTopics, maxEndsAhead, context.metricGroup());
        } catch (Exception | Error e) {
            ends.close();
            throw e;
        }
    }

    @Override
    public SplitEnumerator<KafkaPartitionSplit, KafkaSourceEnumState> createEnumerator(
            SplitEnumeratorContext<KafkaPartitionSplit> context) {
        return kafka.createEnumerator(context);
    }

    @Override
    public SplitEnumerator<KafkaPartitionSplit, KafkaSourceEnumState> restoreEnumerator(
            SplitEnumeratorContext<KafkaPartitionSplit> context, KafkaSourceEnumState checkpoint) throws Exception {
        return kafka.restoreEnumerator(context, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<KafkaPartitionSplit> getSplitSerializer() {
        return kafka.getSplitSerializer();
    }

    @Override
    public SimpleVersionedSerializer<KafkaSourceEnumState> getEnumeratorCheckpointSerializer() {
        return kafka.getEnumeratorCheckpointSerializer();
    }

    @Override
    public TypeInformation<KafkaRecord> getProducedType() {
        return kafka.getProducedType();
    }

    /** The Kafka source's topics, for lineage listeners. */
    @Override
    public LineageVertex getLineageVertex() {
        return kafka.getLineageVertex();
    }

    /**
     * The Kafka reader, telling {@link PartitionEnds} the splits it is given, and pausing the transaction topic while
     * its END events run too far ahead of their changes ({@link ReadPacing}).
     */
    private static final class Reader implements SourceReader<KafkaRecord, KafkaPartitionSplit> {
        /** How often the pacing looks while records come. */
        private static final long LOOK_NANOS = 100_000_000L;
        /** Or after this many polls, whichever comes first: small END events come by the hundred thousand a second. */
        private static final int LOOK_EVERY = 256;

        private final SourceReader<KafkaRecord, KafkaPartitionSplit> kafka;
        private final PartitionEnds ends;
        private final String name;
        private final String transactionTopic;
        private final Map<String, TopicPartition> partitions = new HashMap<>();
        private final ReadPacing pacing;
        private final Counter pauses;
        /** The splits Flink's own watermark alignment paused, should a job configure it: never resumed by the pacing. */
        private final Set<String> alignmentPaused = new HashSet<>();
        private PacedOutput paced;
        private long lookedAt;
        private int sinceLook;
        /** Since when the reader has had nothing to emit while the pacing held splits; 0 for not. */
        private long starvedSince;

        Reader(SourceReader<KafkaRecord, KafkaPartitionSplit> kafka, PartitionEnds ends, String name,
                String transactionTopic, String tableTopics, int maxAhead, MetricGroup metrics) {
            this.kafka = kafka;
            this.ends = ends;
            this.name = name;
            this.transactionTopic = transactionTopic;
            this.pacing = new ReadPacing(transactionTopic.isEmpty() ? 0 : maxAhead, transactionTopic,
                    Pattern.compile(tableTopics), (id, next) -> {
                        TopicPartition partition = partitions.get(id);
                        return partition == null ? null : ends.offsetsWaiting(partition, next);
                    });
            this.pauses = metrics.counter("readPacingPauses");
            metrics.gauge("transactionEndsAhead", pacing::ahead);
        }

        @Override
        public void start() {
            kafka.start();
            ends.start("partition ends of " + name);
        }

        @Override
        public InputStatus pollNext(ReaderOutput<KafkaRecord> output) throws Exception {
            if (paced == null) {
                paced = new PacedOutput(output, pacing);
            }
            paced.output = output; // the same one every time, as Flink's reader goes
            long now = System.nanoTime();
            paced.now = now;
            InputStatus status = kafka.pollNext(paced);
            if (++sinceLook >= LOOK_EVERY || now - lookedAt >= LOOK_NANOS) {
                sinceLook = 0;
                lookedAt = now;
                apply(pacing.look(now));
            }
            if (status != InputStatus.NOTHING_AVAILABLE || !pacing.holding()) {
                starvedSince = 0;
            } else if (starvedSince == 0) {
                starvedSince = now | 1; // never 0
            } else if (now - starvedSince >= ReadPacing.STARVED_NANOS) {
                starvedSince = 0;
                apply(pacing.resumeAll(now));
            }
            return status;
        }

        private void apply(ReadPacing.Decision decision) {
            if (decision.isEmpty()) {
                return;
            }
            pauses.inc(decision.pause().size());
            kafka.pauseOrResumeSplits(decision.pause(),
                    decision.resume().stream().filter(id -> !alignmentPaused.contains(id)).toList());
        }

        @Override
        public List<KafkaPartitionSplit> snapshotState(long checkpointId) {
            return kafka.snapshotState(checkpointId);
        }

        @Override
        public CompletableFuture<Void> isAvailable() {
            CompletableFuture<Void> available = kafka.isAvailable();
            if (!pacing.holding() || available.isDone()) {
                return available;
            }
            // The pacing holds splits (paused, or resumed with nothing come yet) and nothing is there to emit: look
            // again in a while, to resume them should nothing come.
            return CompletableFuture.anyOf(available,
                    new CompletableFuture<Void>().completeOnTimeout(null, ReadPacing.STARVED_NANOS, TimeUnit.NANOSECONDS))
                    .thenApply(any -> null);
        }

        @Override
        public void addSplits(List<KafkaPartitionSplit> splits) {
            for (KafkaPartitionSplit split : splits) {
                ends.assigned(split.getTopicPartition(), split.getStartingOffset());
                partitions.put(split.splitId(), split.getTopicPartition());
                pacing.add(split.splitId(), split.getTopic(),
                        !transactionTopic.isEmpty() && split.getTopic().equals(transactionTopic), System.nanoTime());
            }
            kafka.addSplits(splits);
        }

        @Override
        public void notifyNoMoreSplits() {
            kafka.notifyNoMoreSplits();
        }

        @Override
        public void handleSourceEvents(SourceEvent event) {
            kafka.handleSourceEvents(event);
        }

        @Override
        public void pauseOrResumeSplits(Collection<String> toPause, Collection<String> toResume) {
            alignmentPaused.addAll(toPause);
            alignmentPaused.removeAll(toResume);
            kafka.pauseOrResumeSplits(toPause, toResume.stream().filter(id -> !pacing.isPaused(id)).toList());
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) throws Exception {
            kafka.notifyCheckpointComplete(checkpointId); // commits the offsets
        }

        @Override
        public void notifyCheckpointAborted(long checkpointId) throws Exception {
            kafka.notifyCheckpointAborted(checkpointId);
        }

        @Override
        public void close() throws Exception {
            try {
                kafka.close();
            } finally {
                ends.close();
            }
        }
    }

    /** The reader's output, noting each split's records for the pacing. */
    private static final class PacedOutput implements ReaderOutput<KafkaRecord> {
        ReaderOutput<KafkaRecord> output;
        private final ReadPacing pacing;
        /** When the record being emitted was polled (nanoseconds): set by the reader before each poll. */
        long now;

        PacedOutput(ReaderOutput<KafkaRecord> output, ReadPacing pacing) {
            this.output = output;
            this.pacing = pacing;
        }

        @Override
        public void collect(KafkaRecord record) {
            output.collect(record);
        }

        @Override
        public void collect(KafkaRecord record, long timestamp) {
            output.collect(record, timestamp);
        }

        @Override
        public void emitWatermark(Watermark watermark) {
            output.emitWatermark(watermark);
        }

        @Override
        public void markIdle() {
            output.markIdle();
        }

        @Override
        public void markActive() {
            output.markActive();
        }

        @Override
        public SourceOutput<KafkaRecord> createOutputForSplit(String splitId) {
            SourceOutput<KafkaRecord> split = output.createOutputForSplit(splitId);
            ReadPacing.Split reading = pacing.split(splitId);
            return new SourceOutput<>() {
                @Override
                public void collect(KafkaRecord record) {
                    note(record);
                    split.collect(record);
                }

                @Override
                public void collect(KafkaRecord record, long timestamp) {
                    note(record);
                    split.collect(record, timestamp);
                }

                private void note(KafkaRecord record) {
                    if (reading.transactions) {
                        pacing.ended(reading, record.offset, record.timestamp, record.value, now);
                    } else {
                        pacing.read(reading, record.offset, record.timestamp, now);
                    }
                }

                @Override
                public void emitWatermark(Watermark watermark) {
                    split.emitWatermark(watermark);
                }

                @Override
                public void markIdle() {
                    split.markIdle();
                }

                @Override
                public void markActive() {
                    split.markActive();
                }
            };
        }

        @Override
        public void releaseOutputForSplit(String splitId) {
            pacing.remove(splitId);
            output.releaseOutputForSplit(splitId);
        }
    }

    /**
     * Where a job without state starts: the group's committed offsets (the earliest where none), or the earliest
     * offsets. A restored job takes its offsets from its state instead.
     */
    static OffsetsInitializer startingOffsets(JobOptions options) {
        return "earliest".equals(options.get(JobOptions.KAFKA_STARTING_OFFSETS))
                ? OffsetsInitializer.earliest()
                : OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
    }

    /** The table topic pattern, extended by the transaction topic when there is one. */
    public static String topicPattern(JobOptions options) {
        String tables = options.get(JobOptions.KAFKA_TOPIC_PATTERN);
        String transactions = options.get(JobOptions.KAFKA_TRANSACTION_TOPIC);
        return transactions.isEmpty() ? tables : "(?:" + tables + ")|" + Pattern.quote(transactions);
    }
}
