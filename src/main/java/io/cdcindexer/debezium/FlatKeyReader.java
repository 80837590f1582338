package io.cdcindexer.debezium;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.nio.charset.StandardCharsets;

/**
 * Reads a record key's payload when it is what the JSON converter writes for most tables: a compact, flat object of
 * integer and plain ASCII text columns ({@code {"id":42}}, {@code {"order_id":7,"line":"a"}}), of at most 4 KB. It
 * returns null for anything else (other types, escapes, text beyond ASCII, white space, a repeated name, broken JSON, a
 * longer key), which the decoder then leaves to Jackson to read or refuse: what it returns is the tree Jackson would
 * build, node for node. Without a Jackson parser and tree for these few bytes, the decoder takes 6 % less time on the
 * benchmark's inserts (docs/performance.md).
 */
final class FlatKeyReader {

    /** Longest integer read here: 18 digits always fit a long; longer ones are left to Jackson. */
    private static final int MAX_DIGITS = 18;
    /** Longest key read here: far under Jackson's limits on a name's or a text's length, which it enforces itself. */
    static final int MAX_BYTES = 4096;

    private FlatKeyReader() {}

    /** Reads {@code bytes[start, end)}, which must hold exactly one such object; null when it does not. */
    static ObjectNode read(byte[] bytes, int start, int end) {
        if (end - start <= 2 || end - start > MAX_BYTES || bytes[start] != '{' || bytes[end - 1] != '}') {
            return null; // {} too: Jackson reads it, and the decoder refuses a key without columns
        }
        ObjectNode key = JsonNodeFactory.instance.objectNode();
        int i = start + 1;
        while (true) {
            int nameEnd = endOfPlainText(bytes, i, end);
            if (nameEnd < 0) {
                return null;
            }
            String name = new String(bytes, i + 1, nameEnd - i - 1, StandardCharsets.US_ASCII);
            i = nameEnd + 1;
            if (i >= end || bytes[i] != ':' || ++i >= end) {
                return null;
            }
            JsonNode value;
            if (bytes[i] == '"') {
                int textEnd = endOfPlainText(bytes, i, end);
                if (textEnd < 0) {
                    return null;
                }
                value = TextNode.valueOf(new String(bytes, i + 1, textEnd - i - 1, StandardCharsets.US_ASCII));
                i = textEnd + 1;
            } else {
                boolean negative = bytes[i] == '-';
                int digits = negative ? i + 1 : i;
                long number = 0;
                for (i = digits; i < end && bytes[i] >= '0' && bytes[i] <= '9'; i++) {
                    if (i - digits == MAX_DIGITS) {
                        return null;
                    }
                    number = number * 10 + (bytes[i] - '0');
                }
                if (i == digits || (bytes[digits] == '0' && i - digits > 1)) {
                    return null; // no digit, or a leading zero
                }
                value = wholeNumber(negative ? -number : number);
            }
            if (key.has(name)) {
                return null;
            }
            key.set(name, value);
            if (i == end - 1) {
                return key; // at the closing brace
            }
            if (bytes[i] != ',' || ++i >= end) {
                return null; // a fraction, an exponent, white space, anything else
            }
        }
    }

    /** A whole number's node as Jackson reads one: an int where it fits, else a long. */
    static JsonNode wholeNumber(long number) {
        return number == (int) number ? IntNode.valueOf((int) number) : LongNode.valueOf(number);
    }

    /** Where the string starting at {@code bytes[quote]} ends (its closing quote), or -1 unless it is plain ASCII. */
    private static int endOfPlainText(byte[] bytes, int quote, int end) {
        if (quote >= end || bytes[quote] != '"') {
            return -1;
        }
        for (int i = quote + 1; i < end; i++) {
            byte b = bytes[i];
            if (b == '"') {
                return i;
            }
            if (b < 0x20 || b == '\\' || b == 0x7f) {
                return -1; // a control character (refused by JSON), an escape, DEL, or a byte beyond ASCII (< 0)
            }
        }
        return -1;
    }
}
