package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
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

    /** The NDJSON body of a bulk request with index and delete actions. */
    static byte[] body(List<? extends DocWriteRequest<?>> requests) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256 * requests.size());
        try {
            for (DocWriteRequest<?> request : requests) {
                try (JsonGenerator action = JSON.createGenerator(out)) {
                    action.writeStartObject();
                    action.writeObjectFieldStart(request.opType() == DocWriteRequest.OpType.DELETE ? "delete" : "index");
                    action.writeStringField("_index", request.index());
                    action.writeStringField("_id", request.id());
                    if (request.versionType() != VersionType.INTERNAL) {
                        action.writeNumberField("version", request.version());
                        action.writeStringField("version_type", request.versionType().name().toLowerCase());
                    }
                    action.writeEndObject();
                    action.writeEndObject();
                }
                out.write('\n');
                if (request instanceof IndexRequest index) {
                    index.source().writeTo(out);
                    out.write('\n');
                } else if (!(request instanceof DeleteRequest)) {
                    throw new IllegalArgumentException("Only index and delete requests are sent, got " + request.opType());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
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
                        + new String(response, 0, Math.min(response.length, 500), java.nio.charset.StandardCharsets.UTF_8));
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
