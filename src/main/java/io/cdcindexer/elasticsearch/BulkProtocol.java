package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.lucene.util.BytesRef;
import org.elasticsearch.action.DocWriteRequest;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.index.VersionType;

/**
 * The bulk API's wire format, written and read directly: an NDJSON body with each document's bytes copied as they are,
 * and a streaming read of the response that stops at {@code "errors":false} when every item succeeded.
 *
 * <p>Why not the high-level client's own: it parses and re-writes every document source while building the request,
 * which turns an exact decimal such as {@code 1234.50} into the double {@code 1234.5} and costs a second parse per
 * document.
 */
final class BulkProtocol {

    /** Only what the writer reads of each item: the response stays small. */
    static final String FILTER_PATH = "errors,items.*.status,items.*.error.type,items.*.error.reason";

    private static final JsonFactory JSON = new JsonFactory();

    /** The answer for one item of a bulk request. */
    record Item(int status, String errorType, String errorReason) {}

    private BulkProtocol() {}

    private static final byte[] INDEX = ascii("{\"index\":{\"_index\":\"");
    private static final byte[] DELETE = ascii("{\"delete\":{\"_index\":\"");
    private static final byte[] ID = ascii("\",\"_id\":\"");
    private static final byte[] VERSION = ascii("\",\"version\":");
    private static final byte[] VERSION_TYPE = ascii(",\"version_type\":\"");
    private static final byte[] END_QUOTED = ascii("\"}}\n");

    /** Each version type's name as the bulk API spells it, by ordinal. */
    private static final byte[][] VERSION_TYPES = new byte[VersionType.values().length][];

    static {
        for (VersionType type : VersionType.values()) {
            VERSION_TYPES[type.ordinal()] = ascii(type.name().toLowerCase(Locale.ROOT));
        }
    }

    /**
     * The NDJSON body of a bulk request with index and delete actions. Written into one array sized for it: an index
     * name is quoted once for the actions that follow it, and an id of plain ASCII is copied as it is (Jackson's
     * quoting of two short strings per action, with its buffers, was a twentieth of the task's samples on inserts).
     */
    static byte[] body(List<? extends DocWriteRequest<?>> requests) {
        long estimate = 0;
        for (DocWriteRequest<?> request : requests) {
            if (!(request instanceof DeleteRequest) && !(request instanceof IndexRequest)) {
                throw new IllegalArgumentException("Only index and delete requests are sent, got " + request.opType());
            }
            estimate += 96 + request.index().length() + request.id().length()
                    + (request instanceof IndexRequest index ? index.source().length() : 0);
        }
        Body out = new Body((int) Math.min(estimate, Integer.MAX_VALUE - 16));
        String index = null;
        byte[] quotedIndex = null;
        for (DocWriteRequest<?> request : requests) {
            boolean delete = request instanceof DeleteRequest;
            if (!request.index().equals(index)) {
                index = request.index();
                quotedIndex = quoted(index);
            }
            out.put(delete ? DELETE : INDEX);
            out.put(quotedIndex);
            out.put(ID);
            out.putQuoted(request.id());
            if (request.versionType() == VersionType.INTERNAL) {
                out.put(END_QUOTED);
            } else {
                out.put(VERSION);
                out.putNumber(request.version());
                out.put(VERSION_TYPE);
                out.put(VERSION_TYPES[request.versionType().ordinal()]);
                out.put(END_QUOTED);
            }
            if (!delete) {
                BytesRef source = ((IndexRequest) request).source().toBytesRef();
                out.put(source.bytes, source.offset, source.length);
                out.put((byte) '\n');
            }
        }
        return out.bytes();
    }

    /** A string's contents as a JSON string's, quotes left out: Jackson's escaping. */
    private static byte[] quoted(String text) {
        return JsonStringEncoder.getInstance().quoteAsUTF8(text);
    }

    /** A byte array that grows, unsynchronized. */
    private static final class Body {
        private byte[] bytes;
        private int length;

        Body(int capacity) {
            bytes = new byte[Math.max(capacity, 64)];
        }

        void put(byte[] more) {
            put(more, 0, more.length);
        }

        void put(byte[] more, int offset, int count) {
            room(count);
            System.arraycopy(more, offset, bytes, length, count);
            length += count;
        }

        void put(byte b) {
            room(1);
            bytes[length++] = b;
        }

        // Printable ASCII needs no escaping and is its own UTF-8: copied char by char; anything else as Jackson quotes.
        void putQuoted(String text) {
            int count = text.length();
            for (int i = 0; i < count; i++) {
                char c = text.charAt(i);
                if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
                    put(quoted(text));
                    return;
                }
            }
            room(count);
            for (int i = 0; i < count; i++) {
                bytes[length++] = (byte) text.charAt(i);
            }
        }

        void putNumber(long number) {
            put(ascii(Long.toString(number)));
        }

        private void room(int more) {
            if (length + more > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
            }
        }

        byte[] bytes() {
            return length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
        }
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The items of a bulk response (filtered by {@link #FILTER_PATH}), in request order; null when the response says no
     * item failed, so the caller need not look at them.
     */
    static List<Item> failedOrNull(byte[] response, int expectedItems) throws IOException {
        try (JsonParser parser = JSON.createParser(response)) {
            expect(parser.nextToken(), JsonToken.START_OBJECT, parser);
            List<Item> items = null;
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                JsonToken value = parser.nextToken();
                if (field.equals("errors")) {
                    if (value == JsonToken.VALUE_FALSE) {
                        return null; // "errors" comes before "items": every item succeeded
                    }
                } else if (field.equals("items")) {
                    items = items(parser, expectedItems);
                } else {
                    parser.skipChildren();
                }
            }
            if (items == null || items.size() != expectedItems) {
                throw new IOException("A bulk response without its " + expectedItems + " items: "
                        + new String(response, 0, Math.min(response.length, 500), StandardCharsets.UTF_8));
            }
            return items;
        }
    }

    private static List<Item> items(JsonParser parser, int expectedItems) throws IOException {
        expect(parser.currentToken(), JsonToken.START_ARRAY, parser);
        List<Item> items = new ArrayList<>(expectedItems);
        while (parser.nextToken() == JsonToken.START_OBJECT) {
            parser.nextToken(); // the action name: index, delete, ...
            expect(parser.nextToken(), JsonToken.START_OBJECT, parser);
            int status = 0;
            String type = null;
            String reason = null;
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                parser.nextToken();
                if (field.equals("status")) {
                    status = parser.getIntValue();
                } else if (field.equals("error") && parser.currentToken() == JsonToken.START_OBJECT) {
                    while (parser.nextToken() == JsonToken.FIELD_NAME) {
                        String errorField = parser.currentName();
                        parser.nextToken();
                        if (errorField.equals("type")) {
                            type = parser.getText();
                        } else if (errorField.equals("reason")) {
                            reason = parser.getText();
                        } else {
                            parser.skipChildren();
                        }
                    }
                } else {
                    parser.skipChildren();
                }
            }
            parser.nextToken(); // end of the item
            items.add(new Item(status, type, reason));
        }
        return items;
    }

    private static void expect(JsonToken actual, JsonToken expected, JsonParser parser) throws IOException {
        if (actual != expected) {
            throw new IOException("Unexpected bulk response: " + actual + " at " + parser.currentLocation());
        }
    }
}
