package io.cdcindexer.debezium;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Turns Kafka Connect and Debezium logical types into JSON that Elasticsearch maps well, driven by the schema that the
 * JSON converter sends along: decimals become exact numbers (never base64 bytes), dates and times become ISO-8601
 * strings, json/jsonb become objects. Built once per schema and cached by {@link DebeziumDecoder}.
 */
final class ColumnConversions {

    /** One column's conversion. */
    @FunctionalInterface
    interface Conversion {
        JsonNode apply(JsonNode raw) throws MalformedChangeException;
    }

    static final ColumnConversions NONE = new ColumnConversions(Map.of(), null, null);

    private static final DateTimeFormatter LOCAL_DATE_TIME = DateTimeFormatter.ISO_LOCAL_DATE_TIME;
    private static final DateTimeFormatter LOCAL_TIME = DateTimeFormatter.ISO_LOCAL_TIME;
    // Fixed width, as Debezium writes timestamptz: "07:30:00Z" would sort after "07:30:00.5Z" ('Z' > '.').
    private static final DateTimeFormatter UTC_TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSSX");

    private final Map<String, Conversion> byColumn;

    private final JsonNode rowSchema;
    /** The struct's columns in the schema's order, as {@link EnvelopeScanner} reads them. */
    private final Columns columns;

    private ColumnConversions(Map<String, Conversion> byColumn, JsonNode rowSchema, Columns columns) {
        this.byColumn = byColumn;
        this.rowSchema = rowSchema;
        this.columns = columns;
    }

    /**
     * The columns of a struct schema in its order: each one's name as written before its value ({@code "name":}), its
     * conversion (null for none) and, by name, its place. Debezium writes a row's columns in this order.
     */
    static final class Columns {
        /** Names longer than this are left to the tree: Jackson's limit for names is far above it. */
        private static final int MAX_NAME = 1000;

        final byte[][] names;
        final Conversion[] conversions;
        private final Map<String, Integer> indexes = new HashMap<>();

        /**
         * @throws IllegalArgumentException for a schema that names a column twice, or names one as the tree's writer
         *     would not write it as this class does (past Jackson's length for names, or with a character beyond
         *     U+FFFF, which Jackson 2.17 writes as two escapes and the encoder as UTF-8)
         */
        Columns(List<String> names, Map<String, Conversion> byColumn) {
            this.names = new byte[names.size()][];
            this.conversions = new Conversion[names.size()];
            for (int i = 0; i < names.size(); i++) {
                String column = names.get(i);
                if (column.length() > MAX_NAME || column.chars().anyMatch(c -> Character.isSurrogate((char) c))) {
                    throw new IllegalArgumentException("the column '" + column + "' is left to the tree");
                }
                byte[] quoted = JsonStringEncoder.getInstance().quoteAsUTF8(names.get(i));
                byte[] name = new byte[quoted.length + 3];
                name[0] = '"';
                System.arraycopy(quoted, 0, name, 1, quoted.length);
                name[quoted.length + 1] = '"';
                name[quoted.length + 2] = ':';
                this.names[i] = name;
                this.conversions[i] = byColumn.get(names.get(i));
                if (indexes.putIfAbsent(names.get(i), i) != null) {
                    throw new IllegalArgumentException("the column '" + names.get(i) + "' is named twice");
                }
            }
        }

        /** The column's place in the order, or -1. */
        int indexOf(String column) {
            Integer index = indexes.get(column);
            return index == null ? -1 : index;
        }
    }

    /** The struct's columns in order; null without a schema, or where the schema names a column twice. */
    Columns columns() {
        return columns;
    }

    /** The struct schema these conversions were built for (one instance per schema); null without a schema. */
    JsonNode rowSchema() {
        return rowSchema;
    }

    boolean isEmpty() {
        return byColumn.isEmpty();
    }

    /** The conversions for the columns of a struct schema ({@code {"type":"struct","fields":[...]}}). */
    static ColumnConversions forStruct(JsonNode structSchema, ObjectMapper mapper) {
        Map<String, Conversion> byColumn = new LinkedHashMap<>();
        List<String> names = new ArrayList<>();
        for (JsonNode field : structSchema.path("fields")) {
            Conversion conversion = forField(field, mapper);
            names.add(field.path("field").asText());
            if (conversion != null) {
                byColumn.put(field.path("field").asText(), conversion);
            }
        }
        Columns columns;
        try {
            columns = new Columns(names, byColumn);
        } catch (IllegalArgumentException leftToTheTree) {
            columns = null; // a column named twice (which of the two a conversion is for is the tree's to say), or so
        }
        return new ColumnConversions(byColumn, structSchema, columns);
    }

    /** Converts the columns of a row in place; a value that cannot be converted makes the change malformed. */
    void apply(ObjectNode row) throws MalformedChangeException {
        apply(row, column -> true);
    }

    /**
     * Converts the columns of a {@code before} image in place. It decides nothing but, for a delete, through its key
     * columns: a value that cannot be converted stays as it came, unless its column is one of {@code decisive}.
     *
     * @param decisive the columns whose values must convert (a delete's key), or null for none
     */
    void applyToBefore(ObjectNode row, ObjectNode decisive) throws MalformedChangeException {
        apply(row, column -> decisive != null && decisive.has(column));
    }

    // Converts in place; a value of a strict column that cannot be converted makes the change malformed, one of
    // another column stays as it came (arrays and structs convert in place, so a copy of them is converted).
    private void apply(ObjectNode row, Predicate<String> strict) throws MalformedChangeException {
        for (Map.Entry<String, Conversion> entry : byColumn.entrySet()) {
            String column = entry.getKey();
            JsonNode raw = row.get(column);
            if (raw == null || raw.isNull()) {
                continue;
            }
            if (strict.test(column)) {
                try {
                    row.set(column, entry.getValue().apply(raw));
                } catch (MalformedChangeException | RuntimeException e) {
                    throw new MalformedChangeException("column '" + column + "' = " + raw + " could not be converted: "
                            + e.getMessage());
                }
            } else {
                try {
                    row.set(column, entry.getValue().apply(raw.isContainerNode() ? raw.deepCopy() : raw));
                } catch (MalformedChangeException | RuntimeException e) {
                    // kept as it came: the image is shown, not written
                }
            }
        }
    }

    private static Conversion forField(JsonNode schema, ObjectMapper mapper) {
        String name = schema.path("name").asText("");
        switch (name) {
            case "org.apache.kafka.connect.data.Decimal":
                return decimal(schema.path("parameters").path("scale").asInt(0));
            case "io.debezium.data.VariableScaleDecimal":
                return ColumnConversions::variableScaleDecimal;
            case "io.debezium.time.Date":
            case "org.apache.kafka.connect.data.Date":
                return raw -> text(LocalDate.ofEpochDay(number(raw)).toString());
            case "io.debezium.time.Time":
            case "org.apache.kafka.connect.data.Time":
                return raw -> timeOfDay(number(raw) * 1_000_000L);
            case "io.debezium.time.MicroTime":
                return raw -> timeOfDay(number(raw) * 1_000L);
            case "io.debezium.time.NanoTime":
                return raw -> timeOfDay(number(raw));
            case "io.debezium.time.ZonedTime":
                return ColumnConversions::utcTime;
            case "io.debezium.time.Timestamp":
            case "org.apache.kafka.connect.data.Timestamp":
                return raw -> localDateTime(Math.floorDiv(number(raw), 1_000L), Math.floorMod(number(raw), 1_000L) * 1_000_000L);
            case "io.debezium.time.MicroTimestamp":
                return raw -> localDateTime(Math.floorDiv(number(raw), 1_000_000L), Math.floorMod(number(raw), 1_000_000L) * 1_000L);
            case "io.debezium.time.NanoTimestamp":
                return raw -> localDateTime(Math.floorDiv(number(raw), 1_000_000_000L), Math.floorMod(number(raw), 1_000_000_000L));
            case "io.debezium.data.Json":
                return raw -> json(raw, mapper);
            default:
                break;
        }
        // ZonedTimestamp and the Iso* types already are ISO-8601 strings; other names need nothing.
        String type = schema.path("type").asText("");
        if (type.equals("array")) {
            Conversion items = forField(schema.path("items"), mapper);
            return items == null ? null : raw -> eachItem(raw, items);
        }
        if (type.equals("struct") && name.isEmpty()) {
            ColumnConversions nested = forStruct(schema, mapper);
            return nested.isEmpty() ? null : raw -> {
                if (raw.isObject()) {
                    nested.apply((ObjectNode) raw);
                }
                return raw;
            };
        }
        return null;
    }

    private static Conversion decimal(int scale) {
        return raw -> {
            if (raw.isNumber()) {
                return raw; // the converter already wrote a number (decimal.format=NUMERIC)
            }
            return DecimalNode.valueOf(new BigDecimal(new BigInteger(bytes(raw)), scale));
        };
    }

    private static JsonNode variableScaleDecimal(JsonNode raw) throws MalformedChangeException {
        if (!raw.isObject() || !raw.has("value")) {
            throw new MalformedChangeException("a VariableScaleDecimal needs scale and value, got " + raw);
        }
        return DecimalNode.valueOf(new BigDecimal(new BigInteger(bytes(raw.get("value"))), raw.path("scale").asInt(0)));
    }

    private static byte[] bytes(JsonNode raw) throws MalformedChangeException {
        if (!raw.isTextual()) {
            throw new MalformedChangeException("expected base64 bytes, got " + raw);
        }
        try {
            return Base64.getDecoder().decode(raw.textValue());
        } catch (IllegalArgumentException e) {
            throw new MalformedChangeException("invalid base64 bytes '" + raw.textValue() + "'");
        }
    }

    private static long number(JsonNode raw) throws MalformedChangeException {
        if (!raw.isIntegralNumber()) {
            throw new MalformedChangeException("expected a whole number for a temporal column, got " + raw);
        }
        return raw.longValue();
    }

    private static final long DAY_NANOS = 86_400_000_000_000L;

    // PostgreSQL allows time '24:00:00', one past the last LocalTime: written the way PostgreSQL writes it.
    private static JsonNode timeOfDay(long nanos) {
        return text(nanos == DAY_NANOS ? "24:00:00" : LOCAL_TIME.format(LocalTime.ofNanoOfDay(nanos)));
    }

    private static JsonNode utcTime(JsonNode raw) throws MalformedChangeException {
        if (!raw.isTextual()) {
            throw new MalformedChangeException("expected an ISO-8601 time with offset, got " + raw);
        }
        return text(UTC_TIME.format(OffsetTime.parse(raw.textValue()).withOffsetSameInstant(ZoneOffset.UTC)));
    }

    private static JsonNode localDateTime(long epochSecond, long nanos) {
        return text(LOCAL_DATE_TIME.format(LocalDateTime.ofInstant(Instant.ofEpochSecond(epochSecond, nanos), ZoneOffset.UTC)));
    }

    private static JsonNode json(JsonNode raw, ObjectMapper mapper) throws MalformedChangeException {
        if (!raw.isTextual()) {
            return raw;
        }
        try {
            return mapper.readTree(raw.textValue());
        } catch (JsonProcessingException e) {
            throw new MalformedChangeException("a json column holds invalid JSON: " + e.getOriginalMessage());
        }
    }

    private static JsonNode eachItem(JsonNode raw, Conversion items) throws MalformedChangeException {
        if (!raw.isArray()) {
            return raw;
        }
        ArrayNode array = (ArrayNode) raw;
        for (int i = 0; i < array.size(); i++) {
            JsonNode item = array.get(i);
            if (!item.isNull()) {
                array.set(i, items.apply(item));
            }
        }
        return array;
    }

    private static JsonNode text(String value) {
        return TextNode.valueOf(value);
    }
}
