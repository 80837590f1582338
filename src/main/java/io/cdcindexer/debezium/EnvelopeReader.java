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
        /**
         * The row written as its document by {@link EnvelopeScanner}, its values converted; {@code after} is then
         * null. {@code columnSpans} holds, by the schema's column index, where each value is in the record's bytes
         * (start, end), -1 for a column the row lacks.
         */
        byte[] document;
        int[] columnSpans;
    }

    private EnvelopeReader() {}

    // The fields, in the order Debezium's PostgreSQL connector writes them, and the indexes of those read; the others
    // are skipped. EnvelopeScanner reads the same.
    static final String[] ENVELOPE_FIELDS =
        {"before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"};
    static final int BEFORE = 0;
    static final int AFTER = 1;
    static final int SOURCE = 2;
    static final int TRANSACTION = 3;
    static final int OP = 4;
    static final int TS_MS = 5;
    private static final FieldOrder ENVELOPE = new FieldOrder(ENVELOPE_FIELDS);

    static final String[] SOURCE_FIELDS = {"version", "connector", "name", "ts_ms", "snapshot", "db", "sequence",
        "ts_us", "ts_ns", "schema", "table", "txId", "lsn", "xmin", "origin", "origin_lsn"};
    static final int SOURCE_TS_MS = 3;
    static final int SOURCE_SNAPSHOT = 4;
    static final int SOURCE_DB = 5;
    static final int SOURCE_SCHEMA = 9;
    static final int SOURCE_TABLE = 10;
    static final int SOURCE_TX_ID = 11;
    static final int SOURCE_LSN = 12;
    private static final FieldOrder SOURCE_BLOCK = new FieldOrder(SOURCE_FIELDS);

    static final String[] TRANSACTION_FIELDS = {"id", "total_order", "data_collection_order"};
    static final int TRANSACTION_ID = 0;
    static final int TRANSACTION_TOTAL_ORDER = 1;
    static final int TRANSACTION_DATA_COLLECTION_ORDER = 2;
    private static final FieldOrder TRANSACTION_BLOCK = new FieldOrder(TRANSACTION_FIELDS);

    /** Reads {@code bytes[start, end)}, which holds one JSON object. */
    static Raw read(ObjectMapper mapper, byte[] bytes, int start, int end) throws IOException {
        Raw raw = new Raw();
        try (JsonParser parser = mapper.createParser(bytes, start, end - start)) {
            parser.nextToken(); // START_OBJECT, checked by the caller
            FieldOrder.Cursor fields = ENVELOPE.cursor();
            for (int field; (field = fields.next(parser)) != FieldOrder.END; ) {
                JsonToken value = parser.nextToken();
                switch (field) {
                    case BEFORE:
                        if (value == JsonToken.START_OBJECT) {
                            raw.before = mapper.readTree(parser);
                        } else if (value != JsonToken.VALUE_NULL) {
                            raw.beforeNotObject = true;
                            parser.skipChildren();
                        }
                        break;
                    case AFTER:
                        if (value == JsonToken.START_OBJECT) {
                            raw.after = mapper.readTree(parser);
                        } else if (value != JsonToken.VALUE_NULL) {
                            raw.afterNotObject = true;
                            parser.skipChildren();
                        }
                        break;
                    case SOURCE:
                        if (value == JsonToken.START_OBJECT) {
                            raw.sourcePresent = true;
                            readSource(parser, raw);
                        } else {
                            parser.skipChildren();
                        }
                        break;
                    case TRANSACTION:
                        if (value == JsonToken.START_OBJECT) {
                            raw.transactionPresent = true;
                            readTransaction(parser, raw);
                        } else {
                            parser.skipChildren();
                        }
                        break;
                    case OP:
                        raw.opPresent = value == JsonToken.VALUE_STRING;
                        raw.op = raw.opPresent ? parser.getText() : null;
                        parser.skipChildren();
                        break;
                    case TS_MS:
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
        FieldOrder.Cursor fields = SOURCE_BLOCK.cursor();
        for (int field; (field = fields.next(parser)) != FieldOrder.END; ) {
            JsonToken value = parser.nextToken();
            switch (field) {
                case SOURCE_DB -> raw.db = textOrNull(parser, value);
                case SOURCE_SCHEMA -> raw.schema = textOrNull(parser, value);
                case SOURCE_TABLE -> raw.table = textOrNull(parser, value);
                case SOURCE_LSN -> raw.lsn = longOrNull(parser, value);
                case SOURCE_TX_ID -> raw.txId = longOrNull(parser, value);
                case SOURCE_TS_MS -> raw.sourceTsMs = longOrNull(parser, value);
                // "true", "last", ... or, from older connectors, a boolean
                case SOURCE_SNAPSHOT -> raw.snapshot = value == JsonToken.VALUE_NULL || value.isStructStart()
                        ? skip(parser) : parser.getText();
                default -> parser.skipChildren();
            }
        }
    }

    private static void readTransaction(JsonParser parser, Raw raw) throws IOException {
        FieldOrder.Cursor fields = TRANSACTION_BLOCK.cursor();
        for (int field; (field = fields.next(parser)) != FieldOrder.END; ) {
            JsonToken value = parser.nextToken();
            switch (field) {
                case TRANSACTION_ID -> raw.transactionId = textOrNull(parser, value);
                case TRANSACTION_TOTAL_ORDER -> raw.totalOrder = orZero(longOrNull(parser, value));
                case TRANSACTION_DATA_COLLECTION_ORDER -> raw.dataCollectionOrder = orZero(longOrNull(parser, value));
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
