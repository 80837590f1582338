package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Turns one Kafka record of the pipeline into the lines {@code ./cdc consume} prints: a data change as its operation,
 * table, key, transaction and what changed; a transaction's BEGIN and END; a tombstone; a dead-letter record with its
 * headers. Records are decoded with or without the JsonConverter schema envelope; anything unreadable is shown as text.
 */
public final class ChangeEventFormatter {

    /** One Kafka record, as far as printing it is concerned. */
    public record Event(String topic, int partition, long offset, byte[] key, byte[] value,
            List<Map.Entry<String, byte[]>> headers) {}

    private static final int MAX_TEXT = 2_000;

    private final String transactionTopic;
    private final String deadLetterTopic;

    public ChangeEventFormatter(String transactionTopic, String deadLetterTopic) {
        this.transactionTopic = transactionTopic;
        this.deadLetterTopic = deadLetterTopic;
    }

    /** The record as it travels: topic, key and value separated by tabs, for piping into jq or grep. */
    public static String raw(Event event) {
        return event.topic() + "\t" + text(event.key()) + "\t" + text(event.value());
    }

    /** The record for reading. */
    public String format(Event event) {
        if (event.topic().equals(deadLetterTopic)) {
            return deadLetter(event);
        }
        JsonNode key;
        JsonNode value;
        try {
            key = ConnectJson.payload(Json.parse(event.key(), "key"));
            value = ConnectJson.payload(Json.parse(event.value(), "value"));
        } catch (CliException e) {
            return "unreadable " + event.topic() + "[" + event.partition() + "@" + event.offset() + "]: "
                    + abbreviate(text(event.value()));
        }
        if (event.topic().equals(transactionTopic)) {
            return transaction(value);
        }
        if (value == null) {
            return "tombstone " + tableOfTopic(event.topic()) + " " + key(key)
                    + "  (null value after a delete: lets log compaction drop the key)";
        }
        return change(event.topic(), key, value);
    }

    private String change(String topic, JsonNode key, JsonNode value) {
        String op = value.path("op").asText("?");
        JsonNode source = value.path("source");
        String table = source.has("table") ? source.path("schema").asText() + "." + source.path("table").asText()
                : tableOfTopic(topic);
        JsonNode before = value.get("before");
        JsonNode after = value.get("after");
        String detail = switch (op) {
            case "c", "r" -> "after: " + compact(after);
            case "u" -> before == null || before.isNull()
                    ? "after: " + compact(after) + "  (no before image: the table's REPLICA IDENTITY is not FULL)"
                    : FieldDiff.describe(before, after);
            case "d" -> "before: " + compact(before);
            case "t" -> "(table truncated)";
            default -> abbreviate(Json.compact(value));
        };
        return "op=" + op + " " + table + " " + key(key) + " " + transactionOf(op, value) + "  " + detail;
    }

    private static String transactionOf(String op, JsonNode value) {
        JsonNode transaction = value.path("transaction");
        if (transaction.hasNonNull("id")) {
            return "tx=" + txId(transaction.path("id").asText());
        }
        if (op.equals("r")) {
            return "snapshot";
        }
        JsonNode txId = value.path("source").path("txId");
        return txId.isMissingNode() || txId.isNull() ? "tx=-" : "tx=" + txId.asText();
    }

    /**
     * Debezium's transaction id is {@code txId:lsn}; BEGIN and the data events share the LSN part but END does not, so
     * only the PostgreSQL transaction id is shown: it is the same on all of them.
     */
    static String txId(String debeziumId) {
        int colon = debeziumId.indexOf(':');
        return colon < 0 ? debeziumId : debeziumId.substring(0, colon);
    }

    private static String transaction(JsonNode value) {
        if (value == null) {
            return "tombstone on the transaction topic";
        }
        String status = value.path("status").asText("?");
        String id = txId(value.path("id").asText("?"));
        if (!status.equals("END")) {
            return status + " tx=" + id;
        }
        List<String> tables = new ArrayList<>();
        value.path("data_collections").forEach(collection -> tables.add(
                collection.path("data_collection").asText() + " " + collection.path("event_count").asText()));
        return "END   tx=" + id + "  events=" + value.path("event_count").asText("?")
                + (tables.isEmpty() ? "" : " (" + String.join(", ", tables) + ")");
    }

    private static String deadLetter(Event event) {
        StringBuilder text = new StringBuilder("DLQ " + event.topic() + "[" + event.partition() + "@" + event.offset()
                + "] key=" + abbreviate(text(event.key())));
        for (Map.Entry<String, byte[]> header : event.headers()) {
            text.append("\n    ").append(header.getKey()).append(": ").append(abbreviate(text(header.getValue())));
        }
        text.append("\n    value: ").append(abbreviate(text(event.value())));
        return text.toString();
    }

    /** The key's fields as {@code id=1} or {@code a=1,b=x}; the whole key if it is not an object. */
    static String key(JsonNode key) {
        if (key == null || key.isNull()) {
            return "key=null";
        }
        if (!key.isObject()) {
            return "key=" + Json.compact(key);
        }
        StringBuilder text = new StringBuilder();
        for (Iterator<Map.Entry<String, JsonNode>> it = key.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            text.append(field.getKey()).append('=')
                    .append(field.getValue().isTextual() ? field.getValue().asText() : Json.compact(field.getValue()));
            if (it.hasNext()) {
                text.append(',');
            }
        }
        return text.toString();
    }

    /** cdc.public.users becomes public.users: the topic prefix is the same for every table. */
    static String tableOfTopic(String topic) {
        int dot = topic.indexOf('.');
        return dot < 0 ? topic : topic.substring(dot + 1);
    }

    private static String compact(JsonNode node) {
        return node == null ? "null" : abbreviate(Json.compact(node));
    }

    private static String text(byte[] bytes) {
        return bytes == null ? "null" : new String(bytes, StandardCharsets.UTF_8);
    }

    private static String abbreviate(String text) {
        return ElasticsearchHttp.abbreviate(text, MAX_TEXT);
    }
}
