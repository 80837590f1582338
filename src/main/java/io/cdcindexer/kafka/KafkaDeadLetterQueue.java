package io.cdcindexer.kafka;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The dead-letter topic. Each record keeps the original key and value bytes; where it came from and why it was given
 * up on travel in headers, the way Kafka Connect's own dead-letter queue does it.
 */
public final class KafkaDeadLetterQueue implements DeadLetterQueue {

    private static final long serialVersionUID = 1L;

    /** Header names, also read by {@code ./cdc consume}. */
    public static final String HEADER_REASON = "dlq.reason";
    public static final String HEADER_STAGE = "dlq.stage";
    public static final String HEADER_TOPIC = "dlq.source.topic";
    public static final String HEADER_PARTITION = "dlq.source.partition";
    public static final String HEADER_OFFSET = "dlq.source.offset";
    public static final String HEADER_INDEX = "dlq.index";
    public static final String HEADER_DOCUMENT_ID = "dlq.document.id";

    /**
     * The largest dead letter: a record the job read can be as large as the broker allows (16 MB,
     * {@code message.max.bytes}), and its dead letter carries it whole.
     */
    public static final int MAX_REQUEST_BYTES = 16 * 1024 * 1024;

    private final String bootstrapServers;
    private final String topic;
    /** The user's client settings (security), as {@link KafkaClientProperties} read them. */
    private final TreeMap<String, String> clientSettings;

    public KafkaDeadLetterQueue(String bootstrapServers, String topic) {
        this(bootstrapServers, topic, Map.of());
    }

    public KafkaDeadLetterQueue(String bootstrapServers, String topic, Map<String, String> clientSettings) {
        this.bootstrapServers = bootstrapServers;
        this.topic = topic;
        this.clientSettings = new TreeMap<>(clientSettings);
    }

    /** The Kafka record a dead letter becomes. */
    public static ProducerRecord<byte[], byte[]> toProducerRecord(String topic, DeadLetter letter) {
        RecordHeaders headers = new RecordHeaders();
        header(headers, HEADER_REASON, letter.reason);
        header(headers, HEADER_STAGE, letter.stage.name().toLowerCase());
        header(headers, HEADER_TOPIC, letter.topic);
        header(headers, HEADER_PARTITION, Integer.toString(letter.partition));
        header(headers, HEADER_OFFSET, Long.toString(letter.offset));
        header(headers, HEADER_INDEX, letter.index);
        header(headers, HEADER_DOCUMENT_ID, letter.documentId);
        return new ProducerRecord<>(topic, null, letter.key, letter.value, headers);
    }

    /** The dead letter without its value, with the reason saying why and where the record is. */
    static DeadLetter withoutValue(DeadLetter letter) {
        DeadLetter without = new DeadLetter();
        without.stage = letter.stage;
        without.topic = letter.topic;
        without.partition = letter.partition;
        without.offset = letter.offset;
        without.key = letter.key;
        without.index = letter.index;
        without.documentId = letter.documentId;
        without.reason = letter.reason + "; its value (" + letter.value.length + " bytes) is left out, too large for the "
                + "dead-letter topic (its max.message.bytes): " + (letter.stage == DeadLetter.Stage.ELASTICSEARCH
                        ? "the document " + letter.index + "/" + letter.documentId + " is its row's in PostgreSQL"
                        : "the record is " + letter.topic + "/" + letter.partition + "@" + letter.offset);
        return without;
    }

    private static void header(RecordHeaders headers, String name, String value) {
        if (value != null) {
            headers.add(name, value.getBytes(StandardCharsets.UTF_8));
        }
    }

    @Override
    public Writer open() {
        KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(producerSettings(), new ByteArraySerializer(), new ByteArraySerializer());
        return new ProducerWriter(producer, topic);
    }

    /**
     * The producer's settings: the user's client settings, then the queue's own. One request in flight: a partition
     * just made (the topic made by the first dead letter) refuses the first request until the broker has applied it and
     * may take the next; the first, sent again, is then refused as out of sequence until it expires after two minutes,
     * failing the checkpoint (KAFKA-15591). Batches stay Kafka's 16 KB: with batches of 1 MB and one request in flight,
     * two letters of 500 KB never reached a topic that takes 100 KB ({@code LargeRecordsITCase}; the producer splits
     * a batch larger than the topic takes and sends it again).
     */
    Properties producerSettings() {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "cdc-indexer-dlq");
        props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(MAX_REQUEST_BYTES));
        return KafkaClientProperties.with(clientSettings, props);
    }

    private static final class ProducerWriter implements Writer {
        private final KafkaProducer<byte[], byte[]> producer;
        private final String topic;
        private final AtomicReference<Exception> failure = new AtomicReference<>();
        /** Dead letters the topic refused as too large: sent again without their value, from the task's thread. */
        private final Queue<DeadLetter> tooLarge = new ConcurrentLinkedQueue<>();

        ProducerWriter(KafkaProducer<byte[], byte[]> producer, String topic) {
            this.producer = producer;
            this.topic = topic;
        }

        @Override
        public void send(DeadLetter letter) throws IOException {
            sendTooLargeWithoutValue();
            rethrow();
            producer.send(toProducerRecord(topic, letter), (metadata, error) -> {
                if (error instanceof RecordTooLargeException && letter.value != null) {
                    tooLarge.add(letter);
                } else {
                    failed(error);
                }
            });
        }

        @Override
        public void flush() throws IOException {
            producer.flush();
            if (!tooLarge.isEmpty()) {
                sendTooLargeWithoutValue();
                producer.flush();
            }
            rethrow();
        }

        /**
         * A dead letter larger than the topic takes (its {@code max.message.bytes}, 1 MB by a broker's default) goes
         * without its value, and says where the record is: failing the checkpoint instead would only meet the same
         * record again after the restart, and stop every table.
         */
        private void sendTooLargeWithoutValue() {
            for (DeadLetter letter = tooLarge.poll(); letter != null; letter = tooLarge.poll()) {
                producer.send(toProducerRecord(topic, withoutValue(letter)), (metadata, error) -> failed(error));
            }
        }

        // A send's outcome, from the producer's thread: the first failure is kept for rethrow().
        private void failed(Exception error) {
            if (error != null) {
                failure.compareAndSet(null, error);
            }
        }

        // A dead letter that could not be written must fail the checkpoint, or it would be lost.
        private void rethrow() throws IOException {
            Exception error = failure.get();
            if (error != null) {
                throw new IOException("Could not write to the dead-letter topic " + topic, error);
            }
        }

        @Override
        public void close() {
            producer.close(Duration.ofSeconds(10));
        }
    }
}
