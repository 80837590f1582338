package io.cdcindexer.kafka;

import io.cdcindexer.job.JobOptions;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.KafkaSourceEnumState;
import org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.lineage.LineageVertex;
import org.apache.flink.streaming.api.lineage.LineageVertexProvider;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

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

    private KafkaChangeSource(KafkaSource<KafkaRecord> kafka, Properties lookup) {
        this.kafka = kafka;
        this.lookup = lookup;
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
                .build(), lookup);
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
            return new Reader(kafka.createReader(context), ends, own.getProperty("client.id"));
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

    /** The Kafka reader, telling {@link PartitionEnds} the splits it is given. */
    private static final class Reader implements SourceReader<KafkaRecord, KafkaPartitionSplit> {
        private final SourceReader<KafkaRecord, KafkaPartitionSplit> kafka;
        private final PartitionEnds ends;
        private final String name;

        Reader(SourceReader<KafkaRecord, KafkaPartitionSplit> kafka, PartitionEnds ends, String name) {
            this.kafka = kafka;
            this.ends = ends;
            this.name = name;
        }

        @Override
        public void start() {
            kafka.start();
            ends.start("partition ends of " + name);
        }

        @Override
        public InputStatus pollNext(ReaderOutput<KafkaRecord> output) throws Exception {
            return kafka.pollNext(output);
        }

        @Override
        public List<KafkaPartitionSplit> snapshotState(long checkpointId) {
            return kafka.snapshotState(checkpointId);
        }

        @Override
        public CompletableFuture<Void> isAvailable() {
            return kafka.isAvailable();
        }

        @Override
        public void addSplits(List<KafkaPartitionSplit> splits) {
            for (KafkaPartitionSplit split : splits) {
                ends.assigned(split.getTopicPartition(), split.getStartingOffset());
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
            kafka.pauseOrResumeSplits(toPause, toResume);
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
