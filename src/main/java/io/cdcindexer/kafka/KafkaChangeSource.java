package io.cdcindexer.kafka;

import io.cdcindexer.job.JobOptions;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

/**
 * The Kafka source of the job: the Debezium table topics (a pattern, so tables created later are picked up) and the
 * transaction metadata topic. Without state it starts from the group's committed offsets (the earliest when there are
 * none), or from the earliest with {@code --kafka.starting-offsets earliest}; it commits offsets on every completed
 * checkpoint.
 */
public final class KafkaChangeSource {

    private KafkaChangeSource() {}

    /** Settings the source makes itself after the user's file, which would drop the file's value without a word. */
    private static final Map<String, String> OWN = Map.of(
            "max.partition.fetch.bytes", "--" + JobOptions.KAFKA_MAX_PARTITION_FETCH_BYTES.name(),
            "partition.discovery.interval.ms", "--" + JobOptions.KAFKA_PARTITION_DISCOVERY_MS.name(),
            "client.id.prefix", "--" + JobOptions.KAFKA_GROUP_ID.name(),
            "commit.offsets.on.checkpoint", "nothing: the job commits its offsets on every checkpoint");

    public static KafkaSource<KafkaRecord> create(JobOptions options) {
        Properties settings = new Properties();
        String file = options.get(JobOptions.KAFKA_PROPERTIES_FILE);
        settings.putAll(KafkaClientProperties.read(file));
        for (Map.Entry<String, String> own : OWN.entrySet()) {
            if (settings.containsKey(own.getKey())) {
                throw new IllegalArgumentException("The Kafka client properties file " + file + " sets "
                        + own.getKey() + ", which the job's source sets itself (use " + own.getValue() + ")");
            }
        }
        return KafkaSource.<KafkaRecord>builder()
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
                .build();
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
