package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The explicit Elasticsearch mapping of a table's index, derived from the Debezium schema of its rows: for each column
 * the field type that takes exactly what the job writes for it ({@code debezium/ColumnConversions}) and keeps it exact
 * where Elasticsearch can. docs/mappings.md has the table of types and the reasons. The same schema and overrides
 * always give the same JSON.
 */
public final class IndexMapping {

    /** The normalizer of char(n) columns: PostgreSQL pads them with spaces and ignores the padding when comparing. */
    private static final String CHAR_NORMALIZER = "cdc_char";
    /** Set by the connector's {@code datatype.propagate.source.type} for the types the schema alone does not tell. */
    private static final String SOURCE_TYPE = "__debezium.source.column.type";
    /** The most digits a decimal may have for {@code scaled_float} to hold it exactly: it is parsed as a double first. */
    private static final int MOST_EXACT_DIGITS = 15;
    /** The longest text whose {@code keyword} sub-field is indexed, as in Elasticsearch's dynamic mapping. */
    private static final int KEYWORD_IGNORE_ABOVE = 256;
    /** Lucene refuses a term over 32766 bytes; 8191 characters of up to 4 bytes stay below. */
    private static final int LONGEST_TERM_CHARS = 8191;

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final ObjectMapper JSON = new ObjectMapper();

    private IndexMapping() {}

    /** The schema of a change's row: the {@code after} field of the value schema of a Debezium change event. */
    public static JsonNode afterSchema(JsonNode valueSchema) {
        for (JsonNode field : valueSchema.path("fields")) {
            if (field.path("field").asText().equals("after")) {
                return field;
            }
        }
        throw new IllegalArgumentException("The value schema has no 'after' field: not a Debezium change event");
    }

    /**
     * The Elasticsearch {@code properties} of a row schema ({@code {"type":"struct","fields":[...]}}), with the table's
     * column overrides merged over them: an override of the derived type adds or replaces its parameters, one of another
     * type replaces the derived mapping. An override of a column the schema does not have is left out.
     */
    public static ObjectNode properties(JsonNode afterSchema, MappingOverrides.Table table) {
        if (!afterSchema.path("type").asText().equals("struct")) {
            throw new IllegalArgumentException("A row schema is a struct, got " + afterSchema.path("type"));
        }
        ObjectNode properties = structProperties(afterSchema);
        table.columns().forEach((column, override) -> {
            JsonNode derived = properties.get(column);
            if (derived != null) {
                properties.set(column, merged((ObjectNode) derived, override));
            }
        });
        return properties;
    }

    /**
     * The body of the request that creates the table's index:
     * {@code {"settings":{...},"mappings":{"dynamic":"strict","properties":{...}}}}. Strict: a field the schema does not
     * have is refused, not guessed. The settings are the analysis the derived mappings use, then the overrides'.
     */
    public static ObjectNode indexBody(JsonNode afterSchema, MappingOverrides.Table table) {
        ObjectNode body = NODES.objectNode();
        body.set("settings", settings(table));
        ObjectNode mappings = body.putObject("mappings");
        mappings.put("dynamic", "strict");
        mappings.set("properties", properties(afterSchema, table));
        return body;
    }

    /** The settings of an index the job creates: the analysis the derived mappings use, then the overrides'. */
    public static ObjectNode settings(MappingOverrides.Table table) {
        ObjectNode settings = NODES.objectNode();
        settings.put("index.analysis.char_filter.cdc_trailing_spaces.type", "pattern_replace");
        settings.put("index.analysis.char_filter.cdc_trailing_spaces.pattern", " +$");
        settings.put("index.analysis.char_filter.cdc_trailing_spaces.replacement", "");
        settings.put("index.analysis.normalizer." + CHAR_NORMALIZER + ".type", "custom");
        settings.putArray("index.analysis.normalizer." + CHAR_NORMALIZER + ".char_filter").add("cdc_trailing_spaces");
        settings.setAll(table.settings());
        return (ObjectNode) canonical(settings);
    }

    /**
     * A short fingerprint of a mapping or index body (16 hex digits of its SHA-256), the same for the same content
     * whatever the order of its keys: what the job can cache created indices by.
     */
    public static String fingerprint(JsonNode json) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(JSON.writeValueAsBytes(canonical(json)));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException | JsonProcessingException e) {
            throw new IllegalStateException("SHA-256 of a JSON tree failed", e);
        }
    }

    // --- from the schema -------------------------------------------------------------------------------------------

    private static ObjectNode structProperties(JsonNode structSchema) {
        ObjectNode properties = NODES.objectNode();
        for (JsonNode field : structSchema.path("fields")) {
            properties.set(field.path("field").asText(), field(field, sourceType(field)));
        }
        return properties;
    }

    private static String sourceType(JsonNode schema) {
        return schema.path("parameters").path(SOURCE_TYPE).asText("");
    }

    /** One column (or array item) as the job writes it. */
    private static ObjectNode field(JsonNode schema, String sourceType) {
        String name = schema.path("name").asText("");
        switch (name) {
            case "org.apache.kafka.connect.data.Decimal":
                return decimal(schema.path("parameters"));
            case "io.debezium.data.VariableScaleDecimal":
                return exactText(number("double")); // any scale: no scaling_factor fits every value
            case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date", "io.debezium.time.Timestamp",
                    "io.debezium.time.MicroTimestamp", "io.debezium.time.NanoTimestamp",
                    "org.apache.kafka.connect.data.Timestamp":
                return date();
            case "io.debezium.time.ZonedTimestamp":
                return date().put("ignore_malformed", true); // 'infinity' and '-infinity' arrive as those words
            case "io.debezium.time.Time", "org.apache.kafka.connect.data.Time", "io.debezium.time.MicroTime",
                    "io.debezium.time.NanoTime", "io.debezium.time.ZonedTime", "io.debezium.data.Uuid",
                    "io.debezium.data.Enum":
                return type("keyword");
            case "io.debezium.data.Json":
                return type("object").put("enabled", false);
            default:
                break;
        }
        String connectType = schema.path("type").asText("");
        if (connectType.equals("array")) {
            // The connector puts the source type of an array (_BPCHAR) on the array, not on its items.
            String arrayType = sourceType(schema);
            return field(schema.path("items"), arrayType.startsWith("_") ? arrayType.substring(1) : "");
        }
        switch (sourceType) {
            case "BPCHAR":
                return type("keyword").put("normalizer", CHAR_NORMALIZER).put("ignore_above", LONGEST_TERM_CHARS);
            case "INET": {
                ObjectNode inet = type("keyword");
                inet.putObject("fields").set("ip", type("ip").put("ignore_malformed", true)); // 10.1.2.3/8 is no ip
                return inet;
            }
            default:
                break;
        }
        switch (connectType) {
            case "int8":
                return number("byte");
            case "int16":
                return number("short");
            case "int32":
                return number("integer");
            case "int64":
                return number("long");
            case "float":
                return number("float").put("ignore_malformed", true); // NaN and Infinity arrive as strings
            case "double":
                return number("double").put("ignore_malformed", true);
            case "boolean":
                return type("boolean");
            case "string":
                return exactText(type("text"));
            case "bytes":
                return type("binary");
            case "struct": {
                ObjectNode object = type("object");
                object.set("properties", structProperties(schema));
                return object;
            }
            case "map":
                return type("object").put("enabled", false);
            default:
                throw new IllegalArgumentException("Unknown Kafka Connect type '" + connectType + "' in the schema " + schema);
        }
    }

    private static ObjectNode decimal(JsonNode parameters) {
        int scale = parameters.path("scale").asInt(0);
        JsonNode precision = parameters.get("connect.decimal.precision");
        // money has no precision: its scale is 2 and amounts below 10^13 have at most 15 digits.
        if (precision == null || precision.asInt() <= MOST_EXACT_DIGITS) {
            return number("scaled_float").put("scaling_factor", Math.pow(10, scale));
        }
        return exactText(number("double"));
    }

    private static ObjectNode date() {
        // Not epoch_millis: the job writes every date as ISO-8601, so a number here is a value written without schema.
        return type("date").put("format", "strict_date_optional_time");
    }

    private static ObjectNode number(String type) {
        return type(type).put("coerce", false); // 3.75 in an integer is refused, not truncated
    }

    /** Adds a {@code keyword} sub-field: the value as written, for exact match, sorting and terms aggregations. */
    private static ObjectNode exactText(ObjectNode mapping) {
        mapping.putObject("fields").set("keyword", type("keyword").put("ignore_above", KEYWORD_IGNORE_ABOVE));
        return mapping;
    }

    private static ObjectNode type(String type) {
        return NODES.objectNode().put("type", type);
    }

    private static ObjectNode merged(ObjectNode derived, ObjectNode override) {
        if (!derived.path("type").equals(override.path("type"))) {
            return override.deepCopy();
        }
        ObjectNode merged = derived.deepCopy();
        override.fields().forEachRemaining(entry -> {
            JsonNode mine = merged.get(entry.getKey());
            boolean children = entry.getKey().equals("fields") || entry.getKey().equals("properties");
            merged.set(entry.getKey(), children && mine != null && mine.isObject()
                    ? mergedChildren((ObjectNode) mine, (ObjectNode) entry.getValue()) : entry.getValue().deepCopy());
        });
        return merged;
    }

    /** Sub-fields or properties: each merged like a column. */
    private static ObjectNode mergedChildren(ObjectNode derived, ObjectNode override) {
        ObjectNode merged = derived.deepCopy();
        override.fields().forEachRemaining(entry -> {
            JsonNode mine = merged.get(entry.getKey());
            merged.set(entry.getKey(), mine == null || !mine.isObject()
                    ? entry.getValue().deepCopy() : merged((ObjectNode) mine, (ObjectNode) entry.getValue()));
        });
        return merged;
    }

    // --- against the index -----------------------------------------------------------------------------------------

    /**
     * How an index's current mapping compares with the derived properties.
     *
     * @param newFields the derived mappings of columns the index does not have yet: {@link #putMappingBody} adds them
     * @param conflicts columns the index maps differently: Elasticsearch cannot change them in place
     */
    public record MappingDiff(ObjectNode newFields, List<Conflict> conflicts) {

        /** Nothing to add, nothing in conflict. */
        public boolean inStep() {
            return newFields.isEmpty() && conflicts.isEmpty();
        }

        /** The body of {@code PUT /<index>/_mapping} that adds the new fields. */
        public ObjectNode putMappingBody() {
            ObjectNode body = NODES.objectNode();
            body.set("properties", newFields.deepCopy());
            return body;
        }
    }

    /** A column whose mapping in the index is not the one its schema now needs. */
    public record Conflict(String column, JsonNode current, JsonNode derived, String message) {}

    /**
     * Compares an index's mapping with newly derived properties. A column the index has and the schema no longer has is
     * no concern: Elasticsearch cannot drop a field, and documents not changed since keep the value.
     *
     * @param table the table, {@code schema.table}, for the messages
     * @param currentMapping what {@code GET /<index>/_mapping} answers, or its {@code mappings} object
     */
    public static MappingDiff compare(String table, JsonNode currentMapping, ObjectNode properties) {
        JsonNode current = mappingsOf(currentMapping).path("properties");
        ObjectNode newFields = NODES.objectNode();
        List<Conflict> conflicts = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = properties.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> column = it.next();
            JsonNode mapped = current.get(column.getKey());
            if (mapped == null) {
                newFields.set(column.getKey(), column.getValue().deepCopy());
            } else if (!same(normalized(mapped), normalized(column.getValue()))) {
                conflicts.add(new Conflict(column.getKey(), mapped, column.getValue(),
                        conflictMessage(table, column.getKey(), normalized(mapped), normalized(column.getValue()))));
            }
        }
        return new MappingDiff(newFields, conflicts);
    }

    /** The {@code mappings} of a mapping, of an index body, or of a get-mapping answer of one index. */
    static JsonNode mappingsOf(JsonNode answer) {
        if (answer.has("mappings")) {
            return answer.get("mappings");
        }
        if (answer.size() == 1 && answer.elements().next().has("mappings")) {
            return answer.elements().next().get("mappings"); // {"<index>":{"mappings":{...}}}
        }
        return answer;
    }

    private static String conflictMessage(String table, String column, JsonNode mapped, JsonNode derived) {
        String was = mapped.path("type").asText();
        String now = derived.path("type").asText();
        if (was.equals(now)) {
            was += " " + parameters(mapped);
            now += " " + parameters(derived);
        }
        return "column '" + column + "' of " + table + ": the index maps it as " + was + ", its schema now needs " + now
                + "; Elasticsearch cannot change the mapping of an existing field: run ./cdc reindex " + table;
    }

    private static JsonNode parameters(JsonNode mapping) {
        ObjectNode parameters = ((ObjectNode) mapping).deepCopy();
        parameters.remove("type");
        return canonical(parameters);
    }

    /** Elasticsearch answers an object with properties without its type. */
    private static JsonNode normalized(JsonNode mapping) {
        if (!mapping.isObject()) {
            return mapping;
        }
        ObjectNode copy = ((ObjectNode) mapping).deepCopy();
        if (!copy.has("type")) {
            copy.put("type", "object");
        }
        JsonNode properties = copy.get("properties");
        if (properties != null && properties.isObject()) {
            ObjectNode each = NODES.objectNode();
            properties.fields().forEachRemaining(entry -> each.set(entry.getKey(), normalized(entry.getValue())));
            copy.set("properties", each);
        }
        return copy;
    }

    /** Equal as Elasticsearch reads them: {@code 100}, {@code 100.0} and {@code "100"} are the same value. */
    private static boolean same(JsonNode a, JsonNode b) {
        if (a.isObject() && b.isObject()) {
            if (a.size() != b.size()) {
                return false;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = a.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                JsonNode other = b.get(entry.getKey());
                if (other == null || !same(entry.getValue(), other)) {
                    return false;
                }
            }
            return true;
        }
        if (a.isArray() && b.isArray()) {
            if (a.size() != b.size()) {
                return false;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!same(a.get(i), b.get(i))) {
                    return false;
                }
            }
            return true;
        }
        return !a.isContainerNode() && !b.isContainerNode() && scalar(a).equals(scalar(b));
    }

    private static String scalar(JsonNode value) {
        if (value.isNumber()) {
            return value.decimalValue().stripTrailingZeros().toPlainString();
        }
        if (value.isTextual()) {
            try {
                return new BigDecimal(value.textValue()).stripTrailingZeros().toPlainString();
            } catch (NumberFormatException e) {
                return value.textValue();
            }
        }
        return value.asText();
    }

    /** The same tree with the keys of every object sorted. */
    private static JsonNode canonical(JsonNode json) {
        if (json.isObject()) {
            ObjectNode sorted = NODES.objectNode();
            TreeSet<String> keys = new TreeSet<>();
            json.fieldNames().forEachRemaining(keys::add);
            keys.forEach(key -> sorted.set(key, canonical(json.get(key))));
            return sorted;
        }
        if (json.isArray()) {
            ArrayNode array = NODES.arrayNode();
            json.forEach(item -> array.add(canonical(item)));
            return array;
        }
        return json;
    }
}
