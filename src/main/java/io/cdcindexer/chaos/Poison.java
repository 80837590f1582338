package io.cdcindexer.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.documents.DocumentChange;
import io.cdcindexer.kafka.KafkaDeadLetterQueue;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Poison for a chaos run: records in the change topic of {@code users} that the job must send to its dead-letter topic
 * rather than index, and the check that the dead-letter topic holds exactly them.
 *
 * <p>Each record is a real Debezium envelope of {@code users} (the JSON converter's {@code schema} and {@code payload},
 * as captured from Debezium 3.6.1, {@code users-envelope.json} next to this class) with one defect: a value that is not
 * JSON; an unknown {@code op}; an update without {@code after}; a row whose {@code email} is a JSON object, which
 * Elasticsearch refuses because the index maps {@code email} as text. Their keys are negative ids, which PostgreSQL never
 * hands out, so none of them can leave a document that verify would count; and they carry no transaction block, so no
 * transaction waits for them. The last one needs the index {@code <prefix>.public.users} to exist with its mapping
 * (inject after the first users are indexed): on an index that does not exist yet, Elasticsearch would map the object.
 */
public final class Poison {

    /**
     * One injected record: what it is, where it went (topic, partition, offset), a fragment its DLQ reason must contain,
     * and its row's id.
     */
    public record Injected(String what, String topic, int partition, long offset, String expectedReason, long id) {
        /** {@code topic/partition@offset}, as the job's dead letters name their source. */
        public String coordinates() {
            return topic + "/" + partition + "@" + offset;
        }
    }

    /** A record produced and the reason the job will give. */
    record Recipe(String what, long id, byte[] value, String expectedReason) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ENVELOPE = "users-envelope.json";

    private Poison() {}

    /** Produces the poison records into the change topics (prefix e.g. "cdc") and returns them. */
    public static List<Injected> inject(String bootstrapServers, String topicPrefix) {
        String topic = topicPrefix + ".public.users";
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "cdc-chaos-poison");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        List<Injected> injected = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (Recipe recipe : recipes(topicPrefix)) {
                RecordMetadata sent = producer.send(new ProducerRecord<>(topic, key(recipe.id(), topicPrefix), recipe.value())).get();
                injected.add(new Injected(recipe.what(), sent.topic(), sent.partition(), sent.offset(),
                        recipe.expectedReason(), recipe.id()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while producing poison into " + topic, e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("Could not produce poison into " + topic + ": " + e.getCause(), e.getCause());
        }
        return injected;
    }

    /** The records {@link #inject} produces, in order, with their keys' ids. */
    static List<Recipe> recipes(String topicPrefix) {
        List<Recipe> recipes = new ArrayList<>();
        recipes.add(new Recipe("a value that is not JSON", -1,
                "chaos poison: {this is not JSON".getBytes(StandardCharsets.UTF_8), "the value is not valid JSON"));

        ObjectNode unknownOp = envelope(-2, topicPrefix);
        payload(unknownOp).put("op", "x");
        recipes.add(new Recipe("an envelope with the unknown op 'x'", -2, bytes(unknownOp), "unknown or unsupported op 'x'"));

        ObjectNode noAfter = envelope(-3, topicPrefix);
        payload(noAfter).set("before", payload(noAfter).get("after"));
        payload(noAfter).putNull("after");
        payload(noAfter).put("op", "u");
        recipes.add(new Recipe("an update without after", -3, bytes(noAfter), "op 'u' has no after image"));

        ObjectNode objectEmail = envelope(-4, topicPrefix);
        ObjectNode email = ((ObjectNode) payload(objectEmail).get("after")).putObject("email");
        email.put("local", "poison");
        email.put("domain", "example.org");
        recipes.add(new Recipe("a row whose email is a JSON object (the index maps email as text)", -4,
                bytes(objectEmail), "failed to parse field [email]"));
        return recipes;
    }

    /**
     * Reads the whole DLQ topic (from the beginning) and compares: returns the problems (missing poison, poison without
     * the expected reason, any dead letter that is not injected poison); empty = exactly the poison.
     *
     * <p>Dead letters are matched to the injected records by their source topic, partition and offset. It reads until
     * every injected record has its dead letter and the end of the topic is reached, or until {@code timeout}. The same
     * poison dead-lettered more than once is no problem (a job restored from a checkpoint reads records again: the
     * topic is at-least-once); each copy must give the expected reason, though.
     */
    public static List<String> checkDeadLetters(String bootstrapServers, String dlqTopic, List<Injected> injected,
            Duration timeout) {
        return checkDeadLetters(bootstrapServers, dlqTopic, injected, timeout, letter -> false);
    }

    /**
     * The same, where letters that {@code expected} accepts are no strangers (the changes of a retyped column, refused
     * until the reindex fault's reindex wrote them).
     */
    static List<String> checkDeadLetters(String bootstrapServers, String dlqTopic, List<Injected> injected,
            Duration timeout, java.util.function.Predicate<Letter> expected) {
        List<Letter> letters = readAll(bootstrapServers, dlqTopic, injected, timeout);
        return compare(injected, letters.stream().filter(expected.negate()).toList(), timeout);
    }

    /** A dead letter as the job writes it (see {@link KafkaDeadLetterQueue}): its source, stage and reason. */
    record Letter(String topic, int partition, long offset, String stage, String reason, long dlqOffset,
            String documentId) {
        String coordinates() {
            return topic + "/" + partition + "@" + offset;
        }

        static Letter of(ConsumerRecord<byte[], byte[]> record) {
            String partition = header(record, KafkaDeadLetterQueue.HEADER_PARTITION);
            String offset = header(record, KafkaDeadLetterQueue.HEADER_OFFSET);
            return new Letter(header(record, KafkaDeadLetterQueue.HEADER_TOPIC),
                    partition == null ? -1 : Integer.parseInt(partition), offset == null ? -1 : Long.parseLong(offset),
                    header(record, KafkaDeadLetterQueue.HEADER_STAGE), header(record, KafkaDeadLetterQueue.HEADER_REASON),
                    record.offset(), header(record, KafkaDeadLetterQueue.HEADER_DOCUMENT_ID));
        }

        private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
            Header header = record.headers().lastHeader(name);
            return header == null || header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8);
        }
    }

    /** The problems, one line each: every injected record without a dead letter or with another reason, every stranger. */
    static List<String> compare(List<Injected> injected, List<Letter> letters, Duration timeout) {
        Map<String, List<Letter>> bySource = new HashMap<>();
        for (Letter letter : letters) {
            bySource.computeIfAbsent(letter.coordinates(), c -> new ArrayList<>()).add(letter);
        }
        List<String> problems = new ArrayList<>();
        for (Injected poison : injected) {
            List<Letter> found = bySource.remove(poison.coordinates());
            if (found == null) {
                problems.add("missing: " + poison.what() + " (" + poison.coordinates() + ") has no dead letter after "
                        + timeout.toSeconds() + " s");
                continue;
            }
            for (Letter letter : found) {
                if (letter.reason() == null || !letter.reason().contains(poison.expectedReason())) {
                    problems.add("wrong reason: " + poison.what() + " (" + poison.coordinates() + ") was dead-lettered"
                            + " with reason '" + letter.reason() + "', expected it to contain '" + poison.expectedReason()
                            + "'");
                }
            }
        }
        bySource.values().stream().flatMap(List::stream)
                .filter(letter -> !ofAJoinedDocumentOfPoison(letter, injected))
                .sorted(java.util.Comparator.comparingLong(Letter::dlqOffset))
                .forEach(letter -> problems.add("unexpected dead letter: " + letter.stage() + " "
                        + letter.coordinates() + ": " + letter.reason()));
        return problems;
    }

    /**
     * Whether the letter is a joined document that carries a poisoned row and was refused for the same reason: a row
     * Elasticsearch refuses is refused in every document built from it too (docs/documents.md).
     */
    private static boolean ofAJoinedDocumentOfPoison(Letter letter, List<Injected> injected) {
        return letter.topic() != null && letter.topic().startsWith(DocumentChange.TOPIC_PREFIX) && injected.stream()
                .anyMatch(poison -> Long.toString(poison.id()).equals(letter.documentId()) && letter.reason() != null
                        && letter.reason().contains(poison.expectedReason()));
    }

    private static List<Letter> readAll(String bootstrapServers, String dlqTopic, List<Injected> injected,
            Duration timeout) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "cdc-chaos-dlq-check");
        props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Letter> letters = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = List.of();
            while (true) {
                if (partitions.isEmpty()) {
                    partitions = partitions(consumer, dlqTopic);
                    if (!partitions.isEmpty()) {
                        consumer.assign(partitions);
                        consumer.seekToBeginning(partitions);
                    }
                }
                if (!partitions.isEmpty()) {
                    for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                        letters.add(Letter.of(record));
                    }
                    if (allFound(injected, letters) && atEnd(consumer, partitions)) {
                        return letters;
                    }
                } else if (injected.isEmpty()) {
                    return letters; // no dead-letter topic, and none expected
                }
                if (System.nanoTime() >= deadline) {
                    return letters;
                }
                if (partitions.isEmpty()) {
                    sleep(200);
                }
            }
        }
    }

    private static List<TopicPartition> partitions(KafkaConsumer<byte[], byte[]> consumer, String topic) {
        Map<String, List<PartitionInfo>> topics = consumer.listTopics(Duration.ofSeconds(5));
        List<TopicPartition> partitions = new ArrayList<>();
        for (PartitionInfo info : topics.getOrDefault(topic, List.of())) {
            partitions.add(new TopicPartition(topic, info.partition()));
        }
        return partitions;
    }

    private static boolean allFound(List<Injected> injected, List<Letter> letters) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        letters.forEach(letter -> seen.add(letter.coordinates()));
        return injected.stream().allMatch(poison -> seen.contains(poison.coordinates()));
    }

    private static boolean atEnd(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions) {
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
        return partitions.stream().allMatch(partition -> consumer.position(partition) >= ends.get(partition));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while reading the dead-letter topic", e);
        }
    }

    // ---- The envelope ----------------------------------------------------------------------------------------------

    /** A users insert as Debezium writes it, for the row with the given id, outside any transaction. */
    static ObjectNode envelope(long id, String topicPrefix) {
        ObjectNode template = template();
        ObjectNode value = (ObjectNode) template.get("value");
        rename(value.path("schema"), topicPrefix);
        ObjectNode payload = (ObjectNode) value.get("payload");
        ObjectNode after = (ObjectNode) payload.get("after");
        after.put("id", id);
        after.put("username", "chaos-poison" + id);
        after.put("email", "poison" + id + "@example.org");
        ObjectNode source = (ObjectNode) payload.get("source");
        source.put("name", topicPrefix);
        source.put("snapshot", "false");
        long now = System.currentTimeMillis();
        source.put("ts_ms", now);
        source.put("ts_us", now * 1_000);
        source.put("ts_ns", now * 1_000_000);
        payload.putNull("transaction");
        payload.put("ts_ms", now);
        payload.put("ts_us", now * 1_000);
        payload.put("ts_ns", now * 1_000_000);
        return value;
    }

    /** The record key of a users row: the JSON converter's schema and payload. */
    static byte[] key(long id, String topicPrefix) {
        ObjectNode key = (ObjectNode) template().get("key");
        rename(key.path("schema"), topicPrefix);
        ((ObjectNode) key.get("payload")).put("id", id);
        return bytes(key);
    }

    private static ObjectNode payload(ObjectNode envelope) {
        return (ObjectNode) envelope.get("payload");
    }

    // The captured schema names the topic prefix "cdc" (cdc.public.users.Value): another prefix renames it, as Debezium would.
    private static void rename(JsonNode schema, String prefix) {
        if (schema instanceof ObjectNode object) {
            var name = object.get("name");
            if (name != null && name.isTextual() && name.textValue().startsWith("cdc.public.")) {
                object.put("name", prefix + name.textValue().substring(3));
            }
            object.forEach(child -> rename(child, prefix));
        } else if (schema != null && schema.isArray()) {
            schema.forEach(child -> rename(child, prefix));
        }
    }

    private static ObjectNode template() {
        try (InputStream in = Poison.class.getResourceAsStream(ENVELOPE)) {
            if (in == null) {
                throw new IllegalStateException("Missing resource " + ENVELOPE + " next to " + Poison.class.getName());
            }
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] bytes(ObjectNode node) {
        try {
            return JSON.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
