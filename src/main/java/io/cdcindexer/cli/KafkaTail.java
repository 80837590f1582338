package io.cdcindexer.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Follows every topic whose name matches a pattern, like {@code tail -f}: starts at the end of each partition (or at
 * its beginning), and picks up topics created later from their first record, since all they hold arrived after the
 * start. Partitions are assigned directly (no consumer group): nothing is committed, nothing is shared.
 */
public final class KafkaTail implements AutoCloseable {

    private static final Duration DISCOVERY_INTERVAL = Duration.ofSeconds(2);
    /** How long a look for topics waits for the broker: longer than that, and it counts as not answering. */
    private static final Duration DISCOVERY_TIMEOUT = Duration.ofSeconds(3);

    /** Kafka did not answer a look for topics in time: it is down, restarting or out of reach. */
    public static final class Unreachable extends CliException {
        private static final long serialVersionUID = 1L;

        Unreachable(String bootstrapServers, Throwable cause) {
            super("Kafka at " + bootstrapServers + " does not answer (" + ElasticsearchHttp.describe(cause) + ")", cause);
        }
    }

    private final KafkaConsumer<byte[], byte[]> consumer;

    private final Pattern topics;
    private final String bootstrapServers;
    private final Set<TopicPartition> assigned = new HashSet<>();
    private long nextDiscovery;
    private boolean answering = true;

    /**
     * @param fromBeginning start at the first record of each partition rather than at its end
     */
    public KafkaTail(String bootstrapServers, Pattern topics, boolean fromBeginning) {
        this(ConnectionOptions.kafkaClient(bootstrapServers), topics, fromBeginning);
    }

    /** @param client the client's properties, bootstrap servers and the user's settings (ConnectionOptions.kafkaClient) */
    public KafkaTail(Properties client, Pattern topics, boolean fromBeginning) {
        this.bootstrapServers = client.getProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG);
        this.topics = topics;
        Properties config = new Properties();
        config.putAll(client);
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, "cdc-consume");
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        config.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        this.consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        try {
            List<TopicPartition> initial = discover();
            consumer.assign(assigned);
            if (fromBeginning) {
                consumer.seekToBeginning(initial);
            } else {
                consumer.seekToEnd(initial);
            }
            // Resolves the lazy seeks now, so that a record sent after this constructor returns is seen.
            initial.forEach(consumer::position);
        } catch (KafkaException e) {
            consumer.close(Duration.ZERO);
            throw new CliException("Cannot read topics from Kafka at " + bootstrapServers + " ("
                    + ElasticsearchHttp.describe(e) + "). Is it running? (./cdc status)", e);
        }
        nextDiscovery = System.nanoTime() + DISCOVERY_INTERVAL.toNanos();
    }

    /** The topics followed so far. */
    public Set<String> topics() {
        Set<String> names = new java.util.TreeSet<>();
        assigned.forEach(partition -> names.add(partition.topic()));
        return names;
    }

    /**
     * Waits up to {@code timeout} for records, first picking up topics created since the last look (every 2 s). A
     * look that Kafka does not answer within 3 s throws {@link Unreachable}; after one, every poll looks again first,
     * so that a poll that returns means Kafka answers. The partitions keep their positions meanwhile.
     */
    public ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
        if (!answering || System.nanoTime() >= nextDiscovery) {
            List<TopicPartition> added;
            try {
                added = discover();
            } catch (RetriableException e) {
                answering = false;
                throw new Unreachable(bootstrapServers, e);
            }
            answering = true;
            if (!added.isEmpty()) {
                consumer.assign(assigned);
                consumer.seekToBeginning(added);
            }
            nextDiscovery = System.nanoTime() + DISCOVERY_INTERVAL.toNanos();
        }
        if (assigned.isEmpty()) {
            sleep(timeout); // nothing to read yet; waiting for a matching topic to appear
            return ConsumerRecords.empty();
        }
        return consumer.poll(timeout);
    }

    /** Adds the partitions of matching topics not followed yet, and returns them. */
    private List<TopicPartition> discover() {
        List<TopicPartition> added = new ArrayList<>();
        for (Map.Entry<String, List<PartitionInfo>> topic : consumer.listTopics(DISCOVERY_TIMEOUT).entrySet()) {
            if (!topics.matcher(topic.getKey()).matches()) {
                continue;
            }
            for (PartitionInfo partition : topic.getValue()) {
                TopicPartition tp = new TopicPartition(partition.topic(), partition.partition());
                if (assigned.add(tp)) {
                    added.add(tp);
                }
            }
        }
        return added;
    }

    private static void sleep(Duration timeout) {
        try {
            Thread.sleep(timeout.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(2));
    }

    @Override
    public String toString() {
        return "KafkaTail[" + bootstrapServers + " " + topics + "]";
    }
}
