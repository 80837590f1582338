package io.cdcindexer.debezium;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * Derives the Elasticsearch document id from a row's primary key (the Kafka key).
 *
 * <ul>
 *   <li>One key column: its value as a plain string, so {@code GET cdc.public.users/_doc/1} works.
 *   <li>Several key columns: the values in key order, joined by {@code ,}, with {@code %} written as {@code %25} and
 *       {@code ,} as {@code %2C} inside each value. A table's key always has the same columns, so splitting on
 *       {@code ,} and unescaping gives the values back: two different keys can never share an id.
 * </ul>
 *
 * Snapshot and streaming events carry the same key, so a row gets the same id from both.
 */
public final class DocumentIds {

    /** Elasticsearch refuses longer ids. */
    static final int MAX_ID_BYTES = 512;

    private DocumentIds() {}

    public static String of(ObjectNode key) throws MalformedChangeException {
        int size = key.size();
        if (size == 0) {
            throw new MalformedChangeException("the key has no columns");
        }
        String id;
        if (size == 1) {
            id = text(key.fields().next());
        } else {
            StringBuilder joined = new StringBuilder();
            for (Iterator<Map.Entry<String, JsonNode>> it = key.fields(); it.hasNext(); ) {
                if (joined.length() > 0) {
                    joined.append(',');
                }
                escape(text(it.next()), joined);
            }
            id = joined.toString();
        }
        if (id.length() * 3 > MAX_ID_BYTES && id.getBytes(StandardCharsets.UTF_8).length > MAX_ID_BYTES) {
            throw new MalformedChangeException("the document id would be longer than " + MAX_ID_BYTES + " bytes");
        }
        return id;
    }

    private static String text(Map.Entry<String, JsonNode> column) throws MalformedChangeException {
        JsonNode value = column.getValue();
        if (value.isNull()) {
            throw new MalformedChangeException("key column '" + column.getKey() + "' is null");
        }
        if (value.isTextual()) {
            return value.textValue();
        }
        if (value.isBigDecimal()) {
            return value.decimalValue().toPlainString();
        }
        if (value.isValueNode()) {
            return value.asText();
        }
        return value.toString();
    }

    private static void escape(String value, StringBuilder out) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '%') {
                out.append("%25");
            } else if (c == ',') {
                out.append("%2C");
            } else {
                out.append(c);
            }
        }
    }
}
