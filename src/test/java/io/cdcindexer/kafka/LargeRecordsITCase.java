package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cdcindexer.job.JobOptions;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.KafkaBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A change record of 12 MB (a row with a large TOASTed column) on its way through Kafka, with the settings each part
 * of the pipeline really uses: the connector's producer overrides (configs/debezium-postgres-connector.json), the local
 * broker's server.properties, the job's consumer (max.partition.fetch.bytes, 8 MB by default: a fetch still returns a
 * first batch larger than that) and the job's dead-letter producer.
 */
class LargeRecordsITCase {

    static final int SIZE = 12 * 1024 * 1024;
    static final String TOPIC = "cdc.public.chaos_documents";

    @TempDir
    static Path dir;

    static KafkaBroker kafka;

    @BeforeAll
    static void startKafka() throws Exception {
        kafka = KafkaBroker.start(dir.resolve("kafka"), FreePorts.next());
        kafka.createTopic(TOPIC, 2);
    }

    @AfterAll
    static void stopKafka() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void aTwelveMegabyteChangeTravelsFromTheConnectorThroughTheJobToTheDeadLetterTopic() throws Exception {
        byte[] value = new byte[SIZE];
        new Random(1).nextBytes(value); // incompressible, like the TOASTed text it stands for
        byte[] key = "{\"id\":3000000001}".getBytes();

        RecordMetadata sent;
        try (KafkaProducer<byte[], byte[]> connector = producer(connectorProducerOverrides())) {
            sent = connector.send(new ProducerRecord<>(TOPIC, key, value)).get();
        }

        Properties job = new Properties();
        job.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, JobOptions.KAFKA_MAX_PARTITION_FETCH_BYTES.defaultValue());
        KafkaRecord read = readOne(TOPIC, sent.partition(), sent.offset(), job);
        assertThat(read.value).isEqualTo(value);

        try (DeadLetterQueue.Writer writer = new KafkaDeadLetterQueue(kafka.bootstrapServers(), "cdc.dlq").open()) {
            writer.send(DeadLetter.undecodable(read, "a reason"));
            writer.flush();
        }
        KafkaRecord letter = readOne("cdc.dlq", 0, 0, new Properties());
        assertThat(letter.value).isEqualTo(value);
    }

    // Review finding (2026-12-02): a dead-letter topic that takes smaller records than the job read (a broker's
    // default max.message.bytes is 1 MB) refused the dead letter, which failed the checkpoint; the restarted job met
    // the same record again, and every table stopped.
    @Test
    void aDeadLetterTooLargeForItsTopicGoesWithoutItsValueAndSaysWhereTheRecordIs() throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic("small.dlq", 1, (short) 1)
                    .configs(Map.of("max.message.bytes", "100000")))).all().get();
        }
        KafkaRecord read = new KafkaRecord(TOPIC, 1, 42, 0, "{\"id\":7}".getBytes(), new byte[500_000]);

        DeadLetter refused = new DeadLetter(); // Elasticsearch refused a document: its value is the document
        refused.stage = DeadLetter.Stage.ELASTICSEARCH;
        refused.reason = "refused";
        refused.topic = "joined:cdc.documents.users";
        refused.index = "cdc.documents.users_v1";
        refused.documentId = "7";
        refused.value = new byte[500_000];
        try (DeadLetterQueue.Writer writer = new KafkaDeadLetterQueue(kafka.bootstrapServers(), "small.dlq").open()) {
            writer.send(DeadLetter.undecodable(read, "a reason"));
            writer.send(refused);
            writer.flush();
        }

        ConsumerRecord<byte[], byte[]> letter = readOneRecord("small.dlq", 0, 0, new Properties());
        assertThat(letter.value()).isNull();
        assertThat(letter.key()).isEqualTo(read.key);
        assertThat(new String(letter.headers().lastHeader(KafkaDeadLetterQueue.HEADER_REASON).value()))
                .startsWith("a reason").contains("500000 bytes").contains(TOPIC + "/1@42");
        assertThat(new String(letter.headers().lastHeader(KafkaDeadLetterQueue.HEADER_OFFSET).value())).isEqualTo("42");
        ConsumerRecord<byte[], byte[]> document = readOneRecord("small.dlq", 0, 1, new Properties());
        assertThat(new String(document.headers().lastHeader(KafkaDeadLetterQueue.HEADER_REASON).value()))
                .as("a document's pointer is its index and id, not a record").startsWith("refused")
                .contains("the document cdc.documents.users_v1/7");
    }

    @Test
    void withoutTheConnectorsOverrideTheProducerRefusesIt() {
        try (KafkaProducer<byte[], byte[]> plain = producer(new Properties())) {
            assertThatThrownBy(() -> plain.send(new ProducerRecord<>(TOPIC, new byte[SIZE])).get())
                    .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(RecordTooLargeException.class);
        }
    }

    /** The producer.override.* settings of the connector, as Kafka Connect hands them to its producer. */
    private static Properties connectorProducerOverrides() throws Exception {
        JsonNode config = new ObjectMapper().readTree(Files.readString(Path.of("configs/debezium-postgres-connector.json")))
                .path("config");
        Properties overrides = new Properties();
        config.fields().forEachRemaining(field -> {
            if (field.getKey().startsWith("producer.override.")) {
                overrides.put(field.getKey().substring("producer.override.".length()), field.getValue().asText());
            }
        });
        assertThat(overrides).containsKey(ProducerConfig.MAX_REQUEST_SIZE_CONFIG);
        return overrides;
    }

    private static KafkaProducer<byte[], byte[]> producer(Properties settings) {
        return TestProducers.bytes(kafka.bootstrapServers(), settings);
    }

    private static ConsumerRecord<byte[], byte[]> readOneRecord(String topic, int partition, long offset,
            Properties settings) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.putAll(settings);
        TopicPartition assigned = new TopicPartition(topic, partition);
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.assign(List.of(assigned));
            consumer.seek(assigned, offset);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    return record;
                }
            }
        }
        throw new AssertionError("nothing read from " + topic + "/" + partition + "@" + offset);
    }

    private static KafkaRecord readOne(String topic, int partition, long offset, Properties settings) {
        ConsumerRecord<byte[], byte[]> record = readOneRecord(topic, partition, offset, settings);
        return new KafkaRecord(record.topic(), record.partition(), record.offset(), record.timestamp(), record.key(),
                record.value());
    }
}
