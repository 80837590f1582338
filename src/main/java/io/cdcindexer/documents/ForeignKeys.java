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
public final class ForeignKeys {

    /**
     * Child objects in the order of their rows' ids: whole numbers first, by value (of any length), then every other id
     * as text. A total order, whatever mix of ids a table has.
     */
    public static final Comparator<String> ID_ORDER = (a, b) -> {
        boolean x = isWholeNumber(a);
        boolean y = isWholeNumber(b);
        if (x != y) {
            return x ? -1 : 1;
        }
        if (!x) {
            return a.compareTo(b);
        }
        int byValue = compareWholeNumbers(a, b);
        return byValue != 0 ? byValue : a.compareTo(b); // 007 and 7: equal values, told apart by their text
    };

    private ForeignKeys() {}

    /** The id of the row the columns point to; null when one of them is null or missing (the row points nowhere). */
    public static String of(JsonNode row, String[] columns) {
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

    private static boolean isWholeNumber(String id) {
        int start = id.startsWith("-") ? 1 : 0;
        if (id.length() == start) {
            return false;
        }
        for (int i = start; i < id.length(); i++) {
            if (id.charAt(i) < '0' || id.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private static int compareWholeNumbers(String a, String b) {
        boolean negativeA = a.startsWith("-");
        boolean negativeB = b.startsWith("-");
        if (negativeA != negativeB) {
            return negativeA ? -1 : 1;
        }
        String digitsA = withoutLeadingZeros(a.substring(negativeA ? 1 : 0));
        String digitsB = withoutLeadingZeros(b.substring(negativeB ? 1 : 0));
        int byMagnitude = digitsA.length() != digitsB.length() ? Integer.compare(digitsA.length(), digitsB.length())
                : digitsA.compareTo(digitsB);
        return negativeA ? -byMagnitude : byMagnitude;
    }

    private static String withoutLeadingZeros(String digits) {
        int i = 0;
        while (i < digits.length() - 1 && digits.charAt(i) == '0') {
            i++;
        }
        return digits.substring(i);
    }
}
