package io.cdcindexer.documents;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.debezium.DocumentIds;
import io.cdcindexer.debezium.MalformedChangeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Comparator;

/**
 * Reads the row a foreign key points to: the referenced row's document id, made from the key columns' values exactly as
 * {@link DocumentIds} makes it from that row's own key (both converted by the decoder alike, so {@code user_id 7} and
 * {@code users.id 7} give the same id).
 */
final class ForeignKeys {

    /** Child objects in the order of their rows' ids: numerically where both are whole numbers. */
    static final Comparator<String> ID_ORDER = (a, b) -> {
        Long x = number(a);
        Long y = number(b);
        return x != null && y != null ? Long.compare(x, y) : a.compareTo(b);
    };

    private ForeignKeys() {}

    /** The id of the row the columns point to; null when one of them is null or missing (the row points nowhere). */
    static String of(JsonNode row, String[] columns) {
        if (row == null) {
            return null;
        }
        ObjectNode key = JsonNodeFactory.instance.objectNode();
        for (String column : columns) {
            JsonNode value = row.get(column);
            if (value == null || value.isNull()) {
                return null;
            }
            key.set(column, value);
        }
        try {
            return DocumentIds.of(key);
        } catch (MalformedChangeException e) {
            return null; // too long for an id: no row of the referenced table can have it either
        }
    }

    static JsonNode read(byte[] json) {
        try {
            return json == null ? null : DebeziumDecoder.mapper().readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException("A stored row could not be read back", e);
        }
    }

    private static Long number(String id) {
        int length = id.length();
        if (length == 0 || length > 18) {
            return null;
        }
        for (int i = id.charAt(0) == '-' && length > 1 ? 1 : 0; i < length; i++) {
            if (id.charAt(i) < '0' || id.charAt(i) > '9') {
                return null;
            }
        }
        return Long.parseLong(id);
    }
}
