package io.cdcindexer.kafka;

import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The producers every test and benchmark writes to Kafka with: one request in flight at a time. Tests write to topics
 * just made, and with Kafka's five in flight the broker (4.3) can refuse a new partition's first request as not yet its
 * leader, take the next, and then refuse the first, sent again, as out of sequence until it expires after 120 s
 * (KAFKA-15591, FINDINGS 21): records a test then waits for in vain. With one at a time the first is sent again until
 * taken before any later one goes. Idempotence stays on, so a retried request is not written twice.
 */
public final class TestProducers {

    private TestProducers() {}

    /** A producer of string keys and values. */
    public static KafkaProducer<String, String> strings(String bootstrapServers) {
        return create(bootstrapServers, Map.of(), new StringSerializer(), new StringSerializer());
    }

    /** A producer of byte keys and values. */
    public static KafkaProducer<byte[], byte[]> bytes(String bootstrapServers) {
        return bytes(bootstrapServers, Map.of());
    }

    /** A producer of byte keys and values with further settings (security, batches, a transactional id). */
    public static KafkaProducer<byte[], byte[]> bytes(String bootstrapServers, Map<?, ?> settings) {
        return create(bootstrapServers, settings, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static <K, V> KafkaProducer<K, V> create(String bootstrapServers, Map<?, ?> settings, Serializer<K> keys,
            Serializer<V> values) {
        return new KafkaProducer<>(settings(bootstrapServers, settings), keys, values);
    }

    /** The settings of {@link #create}: these, then one request in flight, which they may not change. */
    static Properties settings(String bootstrapServers, Map<?, ?> settings) {
        Object inFlight = settings.get(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION);
        if (inFlight != null && !inFlight.toString().equals("1")) {
            throw new IllegalArgumentException("A test producer sends one request at a time (KAFKA-15591), not "
                    + inFlight);
        }
        Properties properties = new Properties();
        properties.putAll(settings);
        properties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        properties.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        return properties;
    }
}
