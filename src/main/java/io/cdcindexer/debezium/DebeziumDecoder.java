package io.cdcindexer.debezium;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamWriteFeature;
import io.cdcindexer.debezium.DebeziumEnvelope.Op;
import io.cdcindexer.debezium.DebeziumEnvelope.Source;
import io.cdcindexer.debezium.DebeziumEnvelope.Transaction;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Decodes Debezium's JSON: change events with or without the JSON converter's {@code schema}/{@code payload} wrapper,
 * their keys, and the BEGIN/END events of the transaction topic.
 *
 * <p>The schema drives type conversion ({@link ColumnConversions}). Every record repeats its schema, so the decoder keeps
 * the last schema seen per topic as raw bytes and rebuilds conversions only when the bytes differ: a byte comparison
 * instead of building a tree of the (large) schema for every record. One decoder per task; not thread-safe.
 */
public final class DebeziumDecoder {

    /**
     * The longest number read, in characters: more than PostgreSQL's longest numeric (131,072 digits before the point,
     * 16,383 after), which a numeric or jsonb column can hold. Jackson's default (1,000) refused such values.
     */
    static final int MAX_NUMBER_LENGTH = 200_000;
    /** How deeply a record's JSON (and a json column's value in it) may nest: Jackson's default. */
    static final int MAX_RECORD_DEPTH = 1_000;
    /**
     * How deeply a document read back may nest: deeper than any record the decoder takes, since a document holds a json
     * column's value a level down, and a joined document holds rows further down.
     */
    static final int MAX_DOCUMENT_DEPTH = 2 * MAX_RECORD_DEPTH;

    private static final ObjectMapper MAPPER = mapper(MAX_RECORD_DEPTH);
    private static final ObjectMapper DOCUMENTS = mapper(MAX_DOCUMENT_DEPTH);

    private final String placeholder;
    private final String placeholderBase64;
    private final Map<String, CachedConversions> valueConversions = new HashMap<>();
    private final Map<String, CachedConversions> keyConversions = new HashMap<>();
    /** Reads the records it can without a tree; null in a decoder that gives every row as its tree. */
    private final EnvelopeScanner scanner;

    /**
     * A decoder that gives every row as its tree ({@link DebeziumEnvelope#after()}).
     *
     * @param unavailableValuePlaceholder Debezium's {@code unavailable.value.placeholder}
     */
    public DebeziumDecoder(String unavailableValuePlaceholder) {
        this(unavailableValuePlaceholder, false);
    }

    private DebeziumDecoder(String unavailableValuePlaceholder, boolean writingDocuments) {
        this.placeholder = unavailableValuePlaceholder;
        this.placeholderBase64 =
                Base64.getEncoder().encodeToString(unavailableValuePlaceholder.getBytes(StandardCharsets.UTF_8));
        this.scanner = writingDocuments ? new EnvelopeScanner(placeholder, placeholderBase64,
                MAPPER.getFactory().streamReadConstraints().getMaxStringLength()) : null;
    }

    /**
     * A decoder for the job, which needs a row only as its document: where {@link EnvelopeScanner} can read a record
     * (an insert, update or snapshot read as the connector writes them), the row comes as {@link
     * DebeziumEnvelope#document()}, written straight from the record, and {@code after} is null; every other record
     * decodes as {@link #DebeziumDecoder(String)}'s do. Documents, keys and errors are the same either way.
     */
    public static DebeziumDecoder writingDocuments(String unavailableValuePlaceholder) {
        return new DebeziumDecoder(unavailableValuePlaceholder, true);
    }

    /**
     * The mapper the job reads documents back and writes JSON with: exact decimals, never in exponent notation; it reads
     * whatever the decoder wrote (a change completed from an earlier image of its row, the document Elasticsearch
     * stores), where a read that failed would fail the task on the same records after every restart.
     */
    public static ObjectMapper mapper() {
        return DOCUMENTS;
    }

    private static ObjectMapper mapper(int maxDepth) {
        JsonFactory factory = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxNumberLength(MAX_NUMBER_LENGTH)
                        .maxNestingDepth(maxDepth).build())
                .build();
        return JsonMapper.builder(factory)
                .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .configure(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES, false)
                .enable(StreamWriteFeature.WRITE_BIGDECIMAL_AS_PLAIN)
                .build();
    }

    /**
     * Decodes one record of a table topic.
     *
     * @throws MalformedChangeException with the reason when the record is not a change event the job can index
     */
    public DebeziumEnvelope decode(String topic, byte[] key, byte[] value) throws MalformedChangeException {
        if (value == null) {
            return tombstone(topic, key);
        }
        Unwrapped unwrapped = unwrap(value, "value", valueConversions, topic);
        if (unwrapped.kind == Payload.NULL) {
            return tombstone(topic, key);
        }
        if (unwrapped.kind == Payload.NOT_OBJECT) {
            throw new MalformedChangeException("the value is not a JSON object");
        }
        if (scanner != null && unwrapped.known != null) {
            EnvelopeReader.Raw scanned = scanner.scan(value, unwrapped.payloadStart, unwrapped.payloadEnd,
                    unwrapped.known.columns());
            DebeziumEnvelope envelope = scanned == null ? null : scanned(topic, key, value, scanned, unwrapped.known);
            if (envelope != null) {
                return envelope;
            }
        }
        EnvelopeReader.Raw raw;
        try {
            raw = EnvelopeReader.read(MAPPER, value, unwrapped.payloadStart, unwrapped.payloadEnd);
        } catch (JsonProcessingException e) {
            throw new MalformedChangeException("the value is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedChangeException("the value could not be read: " + e.getMessage());
        }
        if (raw.trailing) {
            throw new MalformedChangeException("the value is not one JSON document");
        }
        if (!raw.opPresent) {
            throw new MalformedChangeException("the value has no op field: not a Debezium change event");
        }
        Source source = source(raw);
        Transaction transaction = transaction(raw);
        try {
            return decode(topic, key, value, unwrapped, raw, source, transaction);
        } catch (MalformedChangeException e) {
            throw e.within(transaction, source);
        } catch (RuntimeException e) {
            // A bug of ours: the record still belongs to its transaction, which must not wait for it.
            throw new MalformedChangeException(MalformedChangeException.DECODER_ERROR,
                    "unexpected error while decoding: " + e).within(transaction, source);
        }
    }

    private DebeziumEnvelope decode(String topic, byte[] key, byte[] value, Unwrapped unwrapped, EnvelopeReader.Raw raw,
            Source source, Transaction transaction) throws MalformedChangeException {
        Op op = Op.of(raw.op);
        if (op == null) {
            throw new MalformedChangeException(MalformedChangeException.UNSUPPORTED_OP, "unknown or unsupported op '" + raw.op + "'"
                    + (raw.op.equals("t") ? " (truncate: re-snapshot the table to reindex it)" : ""));
        }
        if (raw.beforeNotObject || raw.afterNotObject) {
            throw new MalformedChangeException("'" + (raw.beforeNotObject ? "before" : "after") + "' is not a JSON object");
        }
        ObjectNode before = raw.before;
        ObjectNode after = raw.after;
        if (op != Op.DELETE && after == null) {
            throw new MalformedChangeException("op '" + op.code + "' has no after image");
        }

        ObjectNode keyNode = key(topic, key);

        List<String> unavailable = after == null ? List.of() : removeUnavailable(after);
        ColumnConversions conversions =
                conversions(valueConversions, topic, value, unwrapped, DebeziumDecoder::rowSchemaOfEnvelope);
        if (before != null) {
            // Only a delete's key columns decide anything in before (the key check below); the rest is only shown.
            conversions.applyToBefore(before, op == Op.DELETE ? keyNode : null);
        }
        if (after != null) {
            conversions.apply(after);
        }
        // Both sides converted alike: a date key is "2022-01-08" in the key and in the row, not 19000 in one of them.
        checkKeyMatches(keyNode, op == Op.DELETE ? before : after);
        return new DebeziumEnvelope(op, keyNode, before, after, source, transaction, raw.tsMs, unavailable,
                conversions.rowSchema(), null);
    }

    /**
     * The envelope of a record {@link EnvelopeScanner} read, after decode's checks; null for anything those checks
     * would refuse, and where the key does not match the row: the tree's path then says why.
     */
    private DebeziumEnvelope scanned(String topic, byte[] key, byte[] value, EnvelopeReader.Raw raw,
            ColumnConversions conversions) {
        Op op = raw.opPresent ? Op.of(raw.op) : null;
        if (op == null || op == Op.DELETE || !raw.sourcePresent || raw.schema == null || raw.table == null
                || raw.lsn == null || (raw.transactionPresent && raw.transactionId == null)) {
            return null;
        }
        ObjectNode keyNode;
        try {
            keyNode = key(topic, key);
        } catch (MalformedChangeException | RuntimeException e) {
            return null; // the tree's path reads it again and says why, within its transaction
        }
        if (!keyMatches(keyNode, value, raw.columnSpans, conversions.columns())) {
            return null;
        }
        try {
            return new DebeziumEnvelope(op, keyNode, null, null, source(raw), transaction(raw), raw.tsMs, List.of(),
                    conversions.rowSchema(), raw.document);
        } catch (MalformedChangeException cannotBe) {
            return null; // checked above
        }
    }

    /**
     * {@link #checkKeyMatches} on a row the scanner read: each key column's value in the row, read and converted as
     * the tree's would be, equals the key's. A whole number or a plain string is compared as it stands.
     */
    private static boolean keyMatches(ObjectNode key, byte[] value, int[] spans, ColumnConversions.Columns columns) {
        for (Iterator<Map.Entry<String, JsonNode>> it = key.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> column = it.next();
            int index = columns.indexOf(column.getKey());
            if (index < 0 || spans[2 * index] < 0) {
                return false;
            }
            int start = spans[2 * index];
            int end = spans[2 * index + 1];
            JsonNode expected = column.getValue();
            ColumnConversions.Conversion conversion = columns.conversions[index];
            if (conversion == null && expected.isTextual() && value[start] == '"') {
                // the scanner read it: no escapes, valid UTF-8
                String actual = new String(value, start + 1, end - start - 2, StandardCharsets.UTF_8);
                if (!actual.equals(expected.textValue())) {
                    return false;
                }
                continue;
            }
            if (conversion == null && (expected.isInt() || expected.isLong()) && isWholeNumber(value, start, end)) {
                long actual = Long.parseLong(new String(value, start, end - start, StandardCharsets.ISO_8859_1));
                if (!FlatKeyReader.wholeNumber(actual).equals(expected)) {
                    return false;
                }
                continue;
            }
            try {
                JsonNode actual = MAPPER.readTree(value, start, end - start);
                if (conversion != null && !actual.isNull()) {
                    actual = conversion.apply(actual);
                }
                if (!actual.equals(expected)) {
                    return false;
                }
            } catch (IOException | MalformedChangeException | RuntimeException e) {
                return false;
            }
        }
        return true;
    }

    // Digits, perhaps after a minus, few enough for a long.
    private static boolean isWholeNumber(byte[] bytes, int start, int end) {
        int first = start < end && bytes[start] == '-' ? start + 1 : start;
        if (first == end || end - first > 18) {
            return false;
        }
        for (int i = first; i < end; i++) {
            if (bytes[i] < '0' || bytes[i] > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * Decodes one record of the transaction topic. Returns the END event's per-table counts, or null for BEGIN.
     *
     * @throws MalformedChangeException when the record is not a BEGIN or END event
     */
    public TransactionEnd decodeTransaction(byte[] value) throws MalformedChangeException {
        if (value == null) {
            throw new MalformedChangeException("a transaction event without value");
        }
        Unwrapped unwrapped = unwrap(value, "value", null, null);
        if (unwrapped.kind != Payload.OBJECT) {
            throw new MalformedChangeException("the transaction event is not a JSON object");
        }
        JsonNode event = tree(value, unwrapped, "value");
        String status = event.path("status").asText("");
        String id = event.path("id").textValue();
        if (id == null || id.isEmpty()) {
            throw new MalformedChangeException("the transaction event has no id");
        }
        if (status.equals("BEGIN")) {
            return null;
        }
        if (!status.equals("END")) {
            throw new MalformedChangeException("unknown transaction status '" + status + "'");
        }
        JsonNode collections = event.get("data_collections");
        if (collections == null || !collections.isArray()) {
            throw new MalformedChangeException("the END event has no data_collections");
        }
        String[] tables = new String[collections.size()];
        long[] counts = new long[collections.size()];
        for (int i = 0; i < tables.length; i++) {
            JsonNode collection = collections.get(i);
            tables[i] = collection.path("data_collection").textValue();
            JsonNode count = collection.get("event_count");
            if (tables[i] == null || count == null || !count.canConvertToLong()) {
                throw new MalformedChangeException("the END event has a data collection without name or event_count");
            }
            counts[i] = count.longValue();
        }
        return new TransactionEnd(transactionIdOf(id), lsnOf(id), tables, counts);
    }

    /** The LSN part of a Debezium transaction id ({@code txId:lsn}); 0 when there is none. */
    static long lsnOf(String id) {
        int colon = id.indexOf(':');
        try {
            return colon < 0 ? 0 : Long.parseLong(id.substring(colon + 1));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /**
     * The txId part of a Debezium transaction id ({@code txId:lsn}). BEGIN, END and data events agree on it, while
     * END's LSN part differs.
     */
    public static String transactionIdOf(String id) {
        int colon = id.indexOf(':');
        return colon < 0 ? id : id.substring(0, colon);
    }

    /** A row as the document Elasticsearch receives. */
    public static byte[] toJson(ObjectNode row) {
        try {
            return MAPPER.writeValueAsBytes(row);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("A JSON tree could not be written", e);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    private DebeziumEnvelope tombstone(String topic, byte[] key) {
        ObjectNode keyNode;
        try {
            keyNode = key == null ? null : key(topic, key);
        } catch (MalformedChangeException e) {
            keyNode = null; // a tombstone only confirms a delete: nothing is written for it, so its key needs no check
        }
        return new DebeziumEnvelope(Op.TOMBSTONE, keyNode, null, null, null, null, null, List.of(), null, null);
    }

    private ObjectNode key(String topic, byte[] key) throws MalformedChangeException {
        if (key == null) {
            throw new MalformedChangeException(MalformedChangeException.NO_KEY, "the record has no key (a table without primary key? "
                    + "give it one, or set the connector's message.key.columns)");
        }
        Unwrapped unwrapped = unwrap(key, "key", keyConversions, topic);
        JsonNode payload = unwrapped.kind != Payload.OBJECT ? null
                : FlatKeyReader.read(key, unwrapped.payloadStart, unwrapped.payloadEnd);
        if (payload == null && unwrapped.kind == Payload.OBJECT) {
            payload = tree(key, unwrapped, "key");
        }
        if (payload == null || payload.isEmpty()) {
            throw new MalformedChangeException("the key is not a JSON object of key columns");
        }
        ObjectNode keyNode = (ObjectNode) payload;
        conversions(keyConversions, topic, key, unwrapped, schema -> schema).apply(keyNode);
        return keyNode;
    }

    private static void checkKeyMatches(ObjectNode key, ObjectNode row) throws MalformedChangeException {
        if (row == null) {
            return; // a delete without before image (REPLICA IDENTITY NOTHING): the key is all there is
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = key.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> column = it.next();
            JsonNode value = row.get(column.getKey());
            if (value == null) {
                throw new MalformedChangeException("the key " + key + " does not match the row: it has no column '"
                        + column.getKey() + "'");
            }
            if (!value.equals(column.getValue())) {
                throw new MalformedChangeException("the key " + key + " does not match the row: " + column.getKey()
                        + "=" + value);
            }
        }
    }

    // Debezium writes the placeholder as text, as base64 bytes (bytea) or as a one-element array.
    private List<String> removeUnavailable(ObjectNode after) {
        List<String> unavailable = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = after.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> column = it.next();
            if (isPlaceholder(column.getValue())) {
                if (unavailable == null) {
                    unavailable = new ArrayList<>(2);
                }
                unavailable.add(column.getKey());
                it.remove();
            }
        }
        return unavailable == null ? List.of() : unavailable;
    }

    private boolean isPlaceholder(JsonNode value) {
        if (value.isTextual()) {
            String text = value.textValue();
            return text.equals(placeholder) || text.equals(placeholderBase64);
        }
        return value.isArray() && value.size() == 1 && value.get(0).isTextual() && isPlaceholder(value.get(0));
    }

    private static Source source(EnvelopeReader.Raw raw) throws MalformedChangeException {
        if (!raw.sourcePresent) {
            throw new MalformedChangeException("the value has no source block");
        }
        if (raw.schema == null || raw.table == null) {
            throw new MalformedChangeException("the source block names no schema and table");
        }
        if (raw.lsn == null) {
            throw new MalformedChangeException("the source block has no lsn: the write could not be versioned");
        }
        return new Source(raw.db, raw.schema, raw.table, raw.lsn, raw.txId, raw.sourceTsMs, raw.snapshot);
    }

    private static Transaction transaction(EnvelopeReader.Raw raw) throws MalformedChangeException {
        if (!raw.transactionPresent) {
            return null;
        }
        if (raw.transactionId == null) {
            throw new MalformedChangeException("the transaction block has no id");
        }
        return new Transaction(raw.transactionId, raw.totalOrder, raw.dataCollectionOrder);
    }

    // --- the schema/payload wrapper --------------------------------------------------------------------------------

    /** What a record's payload is. */
    private enum Payload { NULL, OBJECT, NOT_OBJECT }

    /**
     * A record split into the byte range of its payload and, when present, of its schema; {@code known} when the schema
     * is the one cached for the topic.
     */
    private static final class Unwrapped {
        Payload kind = Payload.OBJECT;
        int payloadStart;
        int payloadEnd;
        int schemaStart = -1;
        int schemaEnd = -1;
        ColumnConversions known;
    }

    private static final byte[] SCHEMA_PREFIX = "{\"schema\":".getBytes(StandardCharsets.UTF_8);
    private static final byte[] PAYLOAD_FIELD = ",\"payload\":".getBytes(StandardCharsets.UTF_8);

    /**
     * Splits a record into schema and payload. The JSON converter writes {@code {"schema":...,"payload":...}} compactly
     * and repeats the same schema in every record of a topic: when the bytes after {@code {"schema":} are the topic's
     * cached schema, the payload starts right after them and the schema is not even tokenized.
     */
    private static Unwrapped unwrap(byte[] bytes, String what, Map<String, CachedConversions> cache, String topic)
            throws MalformedChangeException {
        CachedConversions cached = cache == null ? null : cache.get(topic);
        if (cached != null) {
            int schemaEnd = SCHEMA_PREFIX.length + cached.schema.length;
            int payloadStart = schemaEnd + PAYLOAD_FIELD.length;
            if (bytes.length > payloadStart + 1 && bytes[bytes.length - 1] == '}' && bytes[payloadStart] == '{'
                    && Arrays.equals(SCHEMA_PREFIX, 0, SCHEMA_PREFIX.length, bytes, 0, SCHEMA_PREFIX.length)
                    && Arrays.equals(cached.schema, 0, cached.schema.length, bytes, SCHEMA_PREFIX.length, schemaEnd)
                    && Arrays.equals(PAYLOAD_FIELD, 0, PAYLOAD_FIELD.length, bytes, schemaEnd, payloadStart)) {
                Unwrapped result = new Unwrapped();
                result.payloadStart = payloadStart;
                result.payloadEnd = bytes.length - 1; // the readers check that the payload ends right there
                result.known = cached.conversions;
                return result;
            }
        }
        return unwrap(bytes, what);
    }

    private static Unwrapped unwrap(byte[] bytes, String what) throws MalformedChangeException {
        Unwrapped result = new Unwrapped();
        try (JsonParser parser = MAPPER.createParser(bytes)) {
            JsonToken first = parser.nextToken();
            if (first != JsonToken.START_OBJECT) {
                result.kind = first == null || first == JsonToken.VALUE_NULL ? Payload.NULL : Payload.NOT_OBJECT;
                parser.skipChildren();
                if (first != null && parser.nextToken() != null) {
                    throw new MalformedChangeException("the " + what + " is not one JSON document");
                }
                return result;
            }
            boolean sawSchema = false;
            boolean sawPayload = false;
            boolean sawOther = false;
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken token = parser.nextToken();
                if (name.equals("schema") && (token == JsonToken.START_OBJECT || token == JsonToken.VALUE_NULL)) {
                    sawSchema = true;
                    if (token == JsonToken.START_OBJECT) {
                        result.schemaStart = (int) parser.currentTokenLocation().getByteOffset();
                        parser.skipChildren();
                        result.schemaEnd = (int) parser.currentLocation().getByteOffset();
                    }
                } else if (name.equals("payload")) {
                    sawPayload = true;
                    result.kind = token == JsonToken.START_OBJECT ? Payload.OBJECT
                            : token == JsonToken.VALUE_NULL ? Payload.NULL : Payload.NOT_OBJECT;
                    result.payloadStart = (int) parser.currentTokenLocation().getByteOffset();
                    parser.skipChildren();
                    result.payloadEnd = (int) parser.currentLocation().getByteOffset();
                } else {
                    sawOther = true;
                    parser.skipChildren();
                }
            }
            if (parser.nextToken() != null) {
                throw new MalformedChangeException("the " + what + " is not one JSON document");
            }
            if (!(sawSchema && sawPayload && !sawOther)) {
                // No wrapper (schemas.enable=false): the whole record is the payload.
                result.kind = Payload.OBJECT;
                result.payloadStart = 0;
                result.payloadEnd = bytes.length;
                result.schemaStart = -1;
            }
            return result;
        } catch (MalformedChangeException e) {
            throw e;
        } catch (JsonProcessingException e) {
            throw new MalformedChangeException("the " + what + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedChangeException("the " + what + " could not be read: " + e.getMessage());
        }
    }

    /** The payload as a tree; a payload that does not end where the record does is read again in full. */
    private static JsonNode tree(byte[] bytes, Unwrapped unwrapped, String what) throws MalformedChangeException {
        try {
            return PAYLOAD_ONLY.readTree(bytes, unwrapped.payloadStart, unwrapped.payloadEnd - unwrapped.payloadStart);
        } catch (JsonProcessingException e) {
            if (unwrapped.known != null) {
                Unwrapped full = unwrap(bytes, what);
                return full.kind == Payload.OBJECT ? tree(bytes, full, what) : null;
            }
            throw new MalformedChangeException("the " + what + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedChangeException("the " + what + " could not be read: " + e.getMessage());
        }
    }

    /** Reads a region holding one JSON value; anything after it is an error. */
    private static final ObjectReader PAYLOAD_ONLY =
            MAPPER.readerFor(JsonNode.class).with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    // --- conversions cached by schema bytes ------------------------------------------------------------------------

    /** The conversions built from a schema, and the schema's bytes to recognise it again. */
    private static final class CachedConversions {
        final byte[] schema;
        final ColumnConversions conversions;

        CachedConversions(byte[] schema, ColumnConversions conversions) {
            this.schema = schema;
            this.conversions = conversions;
        }
    }

    private interface RowSchema {
        JsonNode of(JsonNode schema) throws MalformedChangeException;
    }

    private static ColumnConversions conversions(Map<String, CachedConversions> cache, String topic, byte[] bytes,
            Unwrapped unwrapped, RowSchema rowSchema) throws MalformedChangeException {
        if (unwrapped.known != null) {
            return unwrapped.known;
        }
        if (unwrapped.schemaStart < 0) {
            return ColumnConversions.NONE;
        }
        CachedConversions cached = cache.get(topic);
        if (cached != null && Arrays.equals(cached.schema, 0, cached.schema.length, bytes, unwrapped.schemaStart,
                unwrapped.schemaEnd)) {
            return cached.conversions;
        }
        JsonNode schema;
        try {
            schema = MAPPER.readTree(bytes, unwrapped.schemaStart, unwrapped.schemaEnd - unwrapped.schemaStart);
        } catch (IOException e) {
            throw new MalformedChangeException("the schema is not valid JSON: " + e.getMessage());
        }
        ColumnConversions conversions = ColumnConversions.forStruct(rowSchema.of(schema), MAPPER);
        cache.put(topic, new CachedConversions(
                Arrays.copyOfRange(bytes, unwrapped.schemaStart, unwrapped.schemaEnd), conversions));
        return conversions;
    }

    // The envelope's schema is a struct whose before/after fields hold the row schema.
    private static JsonNode rowSchemaOfEnvelope(JsonNode envelopeSchema) {
        for (JsonNode field : envelopeSchema.path("fields")) {
            String name = field.path("field").asText();
            if (name.equals("after") || name.equals("before")) {
                return field;
            }
        }
        return MAPPER.createObjectNode();
    }
}
