package io.cdcindexer.debezium;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/**
 * Reads the payload of a change event with a streaming parser. Only {@code before} and {@code after} become JSON trees
 * (they are converted and written out again); the {@code source} and {@code transaction} blocks, which make up most of
 * the payload, are read field by field, and every other field is skipped.
 */
final class EnvelopeReader {

    /** What the payload holds, before any validation. */
    static final class Raw {
        String op;
        boolean opPresent;
        ObjectNode before;
        boolean beforeNotObject;
        ObjectNode after;
        boolean afterNotObject;
        boolean sourcePresent;
        String db;
        String schema;
        String table;
        String snapshot;
        Long lsn;
        Long txId;
        Long sourceTsMs;
        boolean transactionPresent;
        String transactionId;
        long totalOrder;
        long dataCollectionOrder;
        Long tsMs;
        /** Something follows the envelope's closing brace. */
        boolean trailing;
    }

    private EnvelopeReader() {}

    /** Reads {@code bytes[start, end)}, which holds one JSON object. */
    static Raw read(ObjectMapper mapper, byte[] bytes, int start, int end) throws IOException {
        Raw raw = new Raw();
        try (JsonParser parser = mapper.createParser(bytes, start, end - start)) {
            parser.nextToken(); // START_OBJECT, checked by the caller
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                JsonToken value = parser.nextToken();
                switch (field) {
                    case "before":
                        if (value == JsonToken.START_OBJECT) {
                            raw.before = mapper.readTree(parser);
                        } else if (value != JsonToken.VALUE_NULL) {
                            raw.beforeNotObject = true;
                            parser.skipChildren();
                        }
                        break;
                    case "after":
                        if (value == JsonToken.START_OBJECT) {
                            raw.after = mapper.readTree(parser);
                        } else if (value != JsonToken.VALUE_NULL) {
                            raw.afterNotObject = true;
                            parser.skipChildren();
                        }
                        break;
                    case "source":
                        if (value == JsonToken.START_OBJECT) {
                            raw.sourcePresent = true;
                            readSource(parser, raw);
                        } else {
                            parser.skipChildren();
                        }
                        break;
                    case "transaction":
                        if (value == JsonToken.START_OBJECT) {
                            raw.transactionPresent = true;
                            readTransaction(parser, raw);
                        } else {
                            parser.skipChildren();
                        }
                        break;
                    case "op":
                        raw.opPresent = value == JsonToken.VALUE_STRING;
                        raw.op = raw.opPresent ? parser.getText() : null;
                        parser.skipChildren();
                        break;
                    case "ts_ms":
                        raw.tsMs = longOrNull(parser, value);
                        break;
                    default:
                        parser.skipChildren();
                }
            }
            raw.trailing = parser.nextToken() != null;
        }
        return raw;
    }

    private static void readSource(JsonParser parser, Raw raw) throws IOException {
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            JsonToken value = parser.nextToken();
            switch (field) {
                case "db" -> raw.db = textOrNull(parser, value);
                case "schema" -> raw.schema = textOrNull(parser, value);
                case "table" -> raw.table = textOrNull(parser, value);
                case "lsn" -> raw.lsn = longOrNull(parser, value);
                case "txId" -> raw.txId = longOrNull(parser, value);
                case "ts_ms" -> raw.sourceTsMs = longOrNull(parser, value);
                // "true", "last", ... or, from older connectors, a boolean
                case "snapshot" -> raw.snapshot = value == JsonToken.VALUE_NULL || value.isStructStart() ? skip(parser)
                        : parser.getText();
                default -> parser.skipChildren();
            }
        }
    }

    private static void readTransaction(JsonParser parser, Raw raw) throws IOException {
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            JsonToken value = parser.nextToken();
            switch (field) {
                case "id" -> raw.transactionId = textOrNull(parser, value);
                case "total_order" -> raw.totalOrder = orZero(longOrNull(parser, value));
                case "data_collection_order" -> raw.dataCollectionOrder = orZero(longOrNull(parser, value));
                default -> parser.skipChildren();
            }
        }
    }

    private static String textOrNull(JsonParser parser, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_STRING) {
            return parser.getText();
        }
        parser.skipChildren();
        return null;
    }

    private static Long longOrNull(JsonParser parser, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_NUMBER_INT && parser.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
            return parser.getLongValue();
        }
        parser.skipChildren();
        return null;
    }

    private static String skip(JsonParser parser) throws IOException {
        parser.skipChildren();
        return null;
    }

    private static long orZero(Long value) {
        return value == null ? 0 : value;
    }
}
