package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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

    /** The NDJSON body of a bulk request with index and delete actions. */
    static byte[] body(List<? extends DocWriteRequest<?>> requests) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256 * requests.size());
        JsonStringEncoder strings = JsonStringEncoder.getInstance();
        try {
            for (DocWriteRequest<?> request : requests) {
                boolean delete = request instanceof DeleteRequest;
                if (!delete && !(request instanceof IndexRequest)) {
                    throw new IllegalArgumentException("Only index and delete requests are sent, got " + request.opType());
                }
                out.write(delete ? DELETE : INDEX);
                out.write(strings.quoteAsUTF8(request.index()));
                out.write(ID);
                out.write(strings.quoteAsUTF8(request.id()));
                if (request.versionType() == VersionType.INTERNAL) {
                    out.write(END_QUOTED);
                } else {
                    out.write(VERSION);
                    out.write(ascii(Long.toString(request.version())));
                    out.write(VERSION_TYPE);
                    out.write(ascii(request.versionType().name().toLowerCase(Locale.ROOT)));
                    out.write(END_QUOTED);
                }
                if (!delete) {
                    ((IndexRequest) request).source().writeTo(out);
                    out.write('\n');
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
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
