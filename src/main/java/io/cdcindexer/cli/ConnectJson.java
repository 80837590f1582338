package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;

/**
 * Reads Kafka Connect's JsonConverter output for display: unwraps the {@code {"schema":..,"payload":..}} envelope when
 * schemas are enabled and, with the schema at hand, turns Connect and Debezium logical types (Decimal as base64 bytes,
 * dates as day numbers, timestamps as epoch micros, ...) back into readable values. Without a schema, values stay as
 * they were sent.
 */
public final class ConnectJson {

    private static final JsonNodeFactory NODES = JsonNodeFactory.withExactBigDecimals(true);

    private ConnectJson() {}

    /** Whether a message carries the schema envelope. */
    public static boolean hasSchema(JsonNode message) {
        return message != null && message.isObject() && message.size() == 2 && message.has("schema")
                && message.has("payload");
    }

    /** The payload of a message, with logical types decoded when the message carries its schema. */
    public static JsonNode payload(JsonNode message) {
        if (!hasSchema(message)) {
            return message;
        }
        return decode(message.get("payload"), message.get("schema"));
    }

    /** Decodes one value according to its Connect schema. */
    static JsonNode decode(JsonNode value, JsonNode schema) {
        if (value == null || value.isNull() || schema == null || schema.isNull()) {
            return value;
        }
        String name = schema.path("name").asText("");
        try {
            switch (name) {
                case "org.apache.kafka.connect.data.Decimal":
                    return NODES.numberNode(new BigDecimal(new BigInteger(Base64.getDecoder().decode(value.asText())),
                            schema.path("parameters").path("scale").asInt()));
                case "io.debezium.data.VariableScaleDecimal":
                    return NODES.numberNode(new BigDecimal(
                            new BigInteger(Base64.getDecoder().decode(value.path("value").asText())),
                            value.path("scale").asInt()));
                case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date":
                    return NODES.textNode(LocalDate.ofEpochDay(value.asLong()).toString());
                case "io.debezium.time.Timestamp":
                    return NODES.textNode(localDateTime(value.asLong(), 1_000_000).toString());
                case "io.debezium.time.MicroTimestamp":
                    return NODES.textNode(localDateTime(value.asLong(), 1_000).toString());
                case "io.debezium.time.NanoTimestamp":
                    return NODES.textNode(localDateTime(value.asLong(), 1).toString());
                case "org.apache.kafka.connect.data.Timestamp":
                    return NODES.textNode(Instant.ofEpochMilli(value.asLong()).toString());
                case "io.debezium.time.Time", "org.apache.kafka.connect.data.Time":
                    return NODES.textNode(LocalTime.ofNanoOfDay(value.asLong() * 1_000_000).toString());
                case "io.debezium.time.MicroTime":
                    return NODES.textNode(LocalTime.ofNanoOfDay(value.asLong() * 1_000).toString());
                case "io.debezium.time.NanoTime":
                    return NODES.textNode(LocalTime.ofNanoOfDay(value.asLong()).toString());
                case "io.debezium.data.Json":
                    return value.isTextual() ? Json.parse(value.asText(), "a json column") : value;
                default:
                    break;
            }
        } catch (RuntimeException e) {
            return value; // shown as sent rather than not at all
        }
        String type = schema.path("type").asText("");
        if (type.equals("struct") && value.isObject()) {
            ObjectNode decoded = NODES.objectNode();
            Map<String, JsonNode> fieldSchemas = new java.util.HashMap<>();
            schema.path("fields").forEach(field -> fieldSchemas.put(field.path("field").asText(), field));
            for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                decoded.set(field.getKey(), decode(field.getValue(), fieldSchemas.get(field.getKey())));
            }
            return decoded;
        }
        if (type.equals("array") && value.isArray()) {
            ArrayNode decoded = NODES.arrayNode();
            value.forEach(element -> decoded.add(decode(element, schema.get("items"))));
            return decoded;
        }
        return value;
    }

    private static LocalDateTime localDateTime(long amount, long nanosPerUnit) {
        long nanos = Math.multiplyExact(amount, nanosPerUnit);
        return LocalDateTime.ofEpochSecond(Math.floorDiv(nanos, 1_000_000_000L), (int) Math.floorMod(nanos, 1_000_000_000L),
                ZoneOffset.UTC);
    }
}
