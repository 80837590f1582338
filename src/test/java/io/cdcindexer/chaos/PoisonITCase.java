package io.cdcindexer.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.documents.DocumentChange;
import io.cdcindexer.debezium.DebeziumEnvelope;
import io.cdcindexer.debezium.MalformedChangeException;
import io.cdcindexer.job.JobOptions;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.DeadLetterQueue;
import io.cdcindexer.kafka.KafkaDeadLetterQueue;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.KafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Poison against a real Kafka broker: the records land where {@link Poison#inject} says, the job's own decoder refuses
 * each for the expected reason (and only for it), and {@link Poison#checkDeadLetters} matches dead letters written by the
 * job's own {@link KafkaDeadLetterQueue}.
 */
class PoisonITCase {

    static final String TOPIC = "cdc.public.users";

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
    void injectsRecordsTheJobRefusesEachForItsOwnReason() throws Exception {
        List<Poison.Injected> injected = Poison.inject(kafka.bootstrapServers(), "cdc");

        assertThat(injected).hasSize(4).allSatisfy(poison -> {
            assertThat(poison.topic()).isEqualTo(TOPIC);
            assertThat(poison.partition()).isBetween(0, 1);
            assertThat(poison.offset()).isNotNegative();
        });
        assertThat(injected).extracting(Poison.Injected::what).doesNotHaveDuplicates();
        DebeziumDecoder decoder = decoder();
        for (Poison.Injected poison : injected.subList(0, 3)) {
            KafkaRecord record = read(poison);
            MalformedChangeException refused = catchThrowableOfType(
                    () -> decoder.decode(record.topic, record.key, record.value), MalformedChangeException.class);
            assertThat(refused).as(poison.what()).isNotNull();
            assertThat(refused.getMessage()).as(poison.what()).contains(poison.expectedReason());
        }
        // The last one is a good change event: only Elasticsearch can refuse it.
        KafkaRecord objectEmail = read(injected.get(3));
        DebeziumEnvelope envelope = decoder.decode(objectEmail.topic, objectEmail.key, objectEmail.value);
        assertThat(envelope.op()).isEqualTo(DebeziumEnvelope.Op.CREATE);
        assertThat(envelope.key().toString()).isEqualTo("{\"id\":-4}");
        assertThat(envelope.after().get("email").isObject()).isTrue();
        assertThat(envelope.transaction()).as("no transaction waits for poison").isNull();
        assertThat(envelope.source().lsn()).isPositive();
        // The envelope they are made of, without a defect, is a change event like any other.
        assertThat(decoder.decode(TOPIC, Poison.key(-5, "cdc"), bytes(Poison.envelope(-5, "cdc"))).after().toString())
                .contains("\"id\":-5", "\"email\":\"poison-5@example.org\"");
    }

    @Test
    void theDeadLettersOfTheJobMatchThePoisonBySource() throws Exception {
        List<Poison.Injected> injected = Poison.inject(kafka.bootstrapServers(), "cdc");
        List<DeadLetter> letters = deadLettersAsTheJobWritesThem(injected);
        letters.add(letters.get(0)); // at-least-once: a restored job dead-letters a record again
        letters.add(joinedDocument(letters.get(3), "-4")); // the poisoned row's joined document is refused too
        write("cdc.dlq.match", letters);

        assertThat(Poison.checkDeadLetters(kafka.bootstrapServers(), "cdc.dlq.match", injected, Duration.ofSeconds(30)))
                .isEmpty();
    }

    @Test
    void reportsMissingPoisonOtherReasonsAndStrangers() throws Exception {
        List<Poison.Injected> injected = Poison.inject(kafka.bootstrapServers(), "cdc");
        List<DeadLetter> letters = deadLettersAsTheJobWritesThem(injected);
        letters.get(1).reason = "something else went wrong";
        letters.remove(2);
        letters.add(DeadLetter.undecodable(new KafkaRecord("cdc.public.orders", 0, 7, 0, null, new byte[] {'x'}),
                "the value is not valid JSON: Unrecognized token 'x'"));
        letters.add(joinedDocument(letters.get(2), "3")); // a joined document of a row that is no poison
        write("cdc.dlq.mismatch", letters);

        List<String> problems =
                Poison.checkDeadLetters(kafka.bootstrapServers(), "cdc.dlq.mismatch", injected, Duration.ofSeconds(5));

        assertThat(problems).hasSize(4);
        assertThat(problems.get(0)).startsWith("wrong reason: " + injected.get(1).what() + " (" + injected.get(1)
                .coordinates() + ") was dead-lettered with reason 'something else went wrong', expected it to contain '"
                + injected.get(1).expectedReason() + "'");
        assertThat(problems.get(1)).isEqualTo("missing: " + injected.get(2).what() + " ("
                + injected.get(2).coordinates() + ") has no dead letter after 5 s");
        assertThat(problems.get(2)).isEqualTo("unexpected dead letter: decode cdc.public.orders/0@7: "
                + "the value is not valid JSON: Unrecognized token 'x'");
        assertThat(problems.get(3)).startsWith("unexpected dead letter: elasticsearch joined:cdc.documents.users/0@0: "
                + "Elasticsearch refused the index");
    }

    @Test
    void aDeadLetterTopicThatIsNotThereIsFineOnlyWithoutPoison() {
        assertThat(Poison.checkDeadLetters(kafka.bootstrapServers(), "cdc.dlq.none", List.of(), Duration.ofSeconds(5)))
                .isEmpty();
        Poison.Injected poison = new Poison.Injected("a value that is not JSON", TOPIC, 0, 3, "not valid JSON", -1);
        assertThat(Poison.checkDeadLetters(kafka.bootstrapServers(), "cdc.dlq.none", List.of(poison),
                Duration.ofSeconds(2))).containsExactly("missing: a value that is not JSON (" + TOPIC + "/0@3) has no "
                        + "dead letter after 2 s");
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    /**
     * The dead letters the job writes for the poison: the decoder's refusals as DecodeFunction wraps them, and the
     * writer's for the document Elasticsearch refuses (its reason as Elasticsearch 7.10 words a text field given an
     * object).
     */
    private static List<DeadLetter> deadLettersAsTheJobWritesThem(List<Poison.Injected> injected) throws Exception {
        List<DeadLetter> letters = new ArrayList<>();
        DebeziumDecoder decoder = decoder();
        for (Poison.Injected poison : injected.subList(0, 3)) {
            KafkaRecord record = read(poison);
            MalformedChangeException refused = catchThrowableOfType(
                    () -> decoder.decode(record.topic, record.key, record.value), MalformedChangeException.class);
            letters.add(DeadLetter.undecodable(record, refused.getMessage()));
        }
        KafkaRecord record = read(injected.get(3));
        DebeziumEnvelope envelope = decoder.decode(record.topic, record.key, record.value);
        DeadLetter refused = new DeadLetter();
        refused.stage = DeadLetter.Stage.ELASTICSEARCH;
        refused.reason = "Elasticsearch refused the index (400 mapper_parsing_exception): failed to parse field [email] "
                + "of type [text] in document with id '-4'. Preview of field's value: '{domain=example.org, local=poison}'";
        refused.topic = record.topic;
        refused.partition = record.partition;
        refused.offset = record.offset;
        refused.key = record.key;
        refused.value = DebeziumDecoder.toJson(envelope.after());
        refused.index = TOPIC;
        refused.documentId = "-4";
        letters.add(refused);
        return letters;
    }

    /** The writer's dead letter for a joined document built from the row {@code id}, refused as {@code refused} was. */
    private static DeadLetter joinedDocument(DeadLetter refused, String id) {
        DeadLetter letter = new DeadLetter();
        letter.stage = DeadLetter.Stage.ELASTICSEARCH;
        letter.reason = refused.reason;
        letter.topic = DocumentChange.TOPIC_PREFIX + "cdc.documents.users";
        letter.index = "cdc.documents.users";
        letter.documentId = id;
        return letter;
    }

    private static void write(String dlqTopic, List<DeadLetter> letters) throws Exception {
        try (DeadLetterQueue.Writer writer = new KafkaDeadLetterQueue(kafka.bootstrapServers(), dlqTopic).open()) {
            for (DeadLetter letter : letters) {
                writer.send(letter);
            }
            writer.flush();
        }
    }

    private static KafkaRecord read(Poison.Injected poison) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        TopicPartition partition = new TopicPartition(poison.topic(), poison.partition());
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.assign(List.of(partition));
            consumer.seek(partition, poison.offset());
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    assertThat(record.offset()).as("the record at %s", poison.coordinates()).isEqualTo(poison.offset());
                    return new KafkaRecord(record.topic(), record.partition(), record.offset(), record.timestamp(),
                            record.key(), record.value());
                }
            }
        }
        throw new AssertionError("nothing read at " + poison.coordinates());
    }

    private static DebeziumDecoder decoder() {
        return new DebeziumDecoder(JobOptions.UNAVAILABLE_VALUE_PLACEHOLDER.defaultValue());
    }

    private static byte[] bytes(Object json) throws Exception {
        return DebeziumDecoder.mapper().writeValueAsString(json).getBytes(StandardCharsets.UTF_8);
    }
}
