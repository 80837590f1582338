package io.cdcindexer.debezium;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cdcindexer.kafka.KafkaRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Debezium events as the connector writes them, from {@code src/test/resources/debezium/<name>.json}: each file holds
 * the topic, the key and the value (null for a tombstone).
 */
public final class DebeziumFixtures {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final AtomicLong OFFSETS = new AtomicLong();

    private DebeziumFixtures() {}

    /** The fixture as the Kafka record the job reads. */
    public static KafkaRecord record(String name) {
        JsonNode fixture = json(name);
        return new KafkaRecord(fixture.get("topic").asText(), 0, OFFSETS.incrementAndGet(), 0L,
                bytes(fixture.get("key")), bytes(fixture.get("value")));
    }

    /** The fixture file as a JSON tree, to derive variants from. */
    public static JsonNode json(String name) {
        try (InputStream in = DebeziumFixtures.class.getResourceAsStream("/debezium/" + name + ".json")) {
            if (in == null) {
                throw new IllegalArgumentException("No fixture debezium/" + name + ".json");
            }
            return MAPPER.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] bytes(JsonNode node) {
        return node == null || node.isNull() ? null : node.toString().getBytes(StandardCharsets.UTF_8);
    }

    public static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
