package io.cdcindexer.debezium;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * Derives the Elasticsearch document id from a row's primary key (the Kafka key), after the decoder's type conversions
 * (a date key is {@code 2022-01-08}, a numeric(10,2) {@code 1234.50}, a bytea its base64).
 *
 * <ul>
 *   <li>One key column: its value with {@code %} written as {@code %25}, so plain values stay as they are and
 *       {@code GET cdc.public.users/_doc/1} works. The empty string, a valid key that Elasticsearch refuses as an id,
 *       is written {@code %00}: no escaped value can be {@code %00}, since every {@code %} in a value becomes
 *       {@code %25}.
 *   <li>Several key columns: the values in key order, joined by {@code ,}, with {@code %} written as {@code %25} and
 *       {@code ,} as {@code %2C} inside each value; an empty value is simply empty ({@code a,}). A table's key always
 *       has the same columns, so splitting on {@code ,} and unescaping gives the values back.
 * </ul>
 *
 * Two different keys of a table can never share an id. Snapshot and streaming events carry the same key, so a row gets
 * the same id from both. {@code cli/DocumentIdSql} is the same rule in SQL, for verify.
 */
public final class DocumentIds {

    /** Elasticsearch refuses longer ids. */
    static final int MAX_ID_BYTES = 512;

    /** The id of a one-column key whose value is the empty string. */
    static final String EMPTY = "%00";

    private DocumentIds() {}

    /** The document id of a key; refused when the key has no columns, a null column, or the id would be too long. */
    public static String of(ObjectNode key) throws MalformedChangeException {
        int size = key.size();
        if (size == 0) {
            throw new MalformedChangeException("the key has no columns");
        }
        String id;
        if (size == 1) {
            String value = text(key.fields().next());
            id = value.isEmpty() ? EMPTY : value.replace("%", "%25");
        } else {
            StringBuilder joined = new StringBuilder();
            boolean first = true;
            for (Iterator<Map.Entry<String, JsonNode>> it = key.fields(); it.hasNext(); ) {
                if (!first) {
                    joined.append(','); // also after an empty first value: ("", "x") is ",x", never "x"
                }
                first = false;
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
