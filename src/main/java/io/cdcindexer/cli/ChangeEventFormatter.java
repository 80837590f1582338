package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.debezium.DebeziumEnvelope;
import io.cdcindexer.debezium.MalformedChangeException;
import io.cdcindexer.job.JobOptions;
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
    /** The job's own decoder: consume shows each change exactly as the job reads it. */
    private final DebeziumDecoder decoder =
            new DebeziumDecoder(JobOptions.UNAVAILABLE_VALUE_PLACEHOLDER.defaultValue());

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
        if (event.topic().equals(transactionTopic)) {
            return transaction(event);
        }
        DebeziumEnvelope change;
        try {
            change = decoder.decode(event.topic(), event.key(), event.value());
        } catch (MalformedChangeException e) {
            return "unreadable " + event.topic() + "[" + event.partition() + "@" + event.offset() + "]: "
                    + e.getMessage() + ": " + abbreviate(text(event.value()));
        }
        if (change.isTombstone()) {
            return "tombstone " + tableOfTopic(event.topic()) + " " + key(change.key())
                    + "  (null value after a delete: lets log compaction drop the key)";
        }
        String detail = switch (change.op()) {
            case CREATE, READ -> "after: " + compact(change.after());
            case UPDATE -> change.before() == null
                    ? "after: " + compact(change.after()) + "  (no before image: the table's REPLICA IDENTITY is not FULL)"
                    : FieldDiff.describe(change.before(), change.after());
            case DELETE -> "before: " + compact(change.before());
            case TOMBSTONE -> throw new IllegalStateException();
        };
        String table = change.source() != null && change.source().table() != null
                ? change.source().dataCollection() : tableOfTopic(event.topic());
        return "op=" + change.op().code + " " + table + " " + key(change.key()) + " " + transactionOf(change) + "  "
                + detail;
    }

    private static String transactionOf(DebeziumEnvelope change) {
        if (change.transaction() != null && change.transaction().id() != null) {
            return "tx=" + change.transaction().transactionId();
        }
        if (change.op() == DebeziumEnvelope.Op.READ) {
            return "snapshot";
        }
        Long txId = change.source() == null ? null : change.source().txId();
        return txId == null ? "tx=-" : "tx=" + txId;
    }

    /**
     * Debezium's transaction id is {@code txId:lsn}; BEGIN and the data events share the LSN part but END does not, so
     * only the PostgreSQL transaction id is shown: it is the same on all of them.
     */
    static String txId(String debeziumId) {
        return DebeziumDecoder.transactionIdOf(debeziumId);
    }

    private static String transaction(Event event) {
        JsonNode value;
        try {
            value = payload(Json.parse(event.value(), "value"));
        } catch (CliException e) {
            return "unreadable " + event.topic() + "[" + event.partition() + "@" + event.offset() + "]: "
                    + abbreviate(text(event.value()));
        }
        if (value == null || value.isNull()) {
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

    /** The payload of a JsonConverter message, with or without the {@code {"schema":..,"payload":..}} envelope. */
    static JsonNode payload(JsonNode message) {
        boolean wrapped = message != null && message.isObject() && message.size() == 2 && message.has("schema")
                && message.has("payload");
        return wrapped ? message.get("payload") : message;
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
