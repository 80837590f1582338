package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.StreamSupport;

/**
 * What {@code configs/index-mappings.json} sets over the mappings derived from the Debezium schema: index settings for
 * every table, and per table ({@code schema.table}) settings and column mappings. The file is checked as a whole when
 * it is read; anything it cannot mean (an unknown key, a column without a valid field type, a settings key that is no
 * index setting, a table not named {@code schema.table}, malformed JSON) is refused with one message naming the file,
 * the table or column, and what is wrong. The format is described in docs/mappings.md.
 */
public final class MappingOverrides {

    /** No settings and no column mappings: every index gets its derived mapping as it is. */
    public static final MappingOverrides NONE = new MappingOverrides(JsonNodeFactory.instance.objectNode(), Map.of());

    /**
     * What one table's index gets over its derived mapping.
     *
     * @param settings index settings, flat ({@code index.number_of_replicas}) and sorted: the file's settings for every
     *     table, then the table's own
     * @param columns each overridden column's Elasticsearch field mapping
     */
    public record Table(ObjectNode settings, Map<String, ObjectNode> columns) {}

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final Pattern TABLE_NAME = Pattern.compile("[^.\\s]+\\.[^.\\s]+");

    /** The field types of Elasticsearch 7.10: the OSS server and its modules, then those of the default distribution. */
    private static final Set<String> FIELD_TYPES = Set.of(
            "binary", "boolean", "keyword", "text", "byte", "short", "integer", "long", "float", "half_float", "double",
            "scaled_float", "date", "date_nanos", "object", "nested", "ip", "integer_range", "long_range", "float_range",
            "double_range", "date_range", "ip_range", "geo_point", "geo_shape", "completion", "search_as_you_type",
            "token_count", "rank_feature", "rank_features", "alias", "join", "percolator",
            // x-pack, absent from the local stack's node (docs/mappings.md)
            "flattened", "wildcard", "constant_keyword", "unsigned_long", "version", "histogram", "dense_vector",
            "sparse_vector", "shape", "point", "aggregate_metric_double");

    /** Index settings by name (without {@code index.}), and the families of them by prefix. */
    private static final Set<String> INDEX_SETTINGS = Set.of(
            "number_of_shards", "number_of_replicas", "auto_expand_replicas", "refresh_interval", "codec",
            "number_of_routing_shards", "routing_partition_size", "max_result_window", "max_inner_result_window",
            "max_rescore_window", "max_docvalue_fields_search", "max_script_fields", "max_ngram_diff", "max_shingle_diff",
            "max_refresh_listeners", "max_terms_count", "max_regex_length", "max_analyzed_offset", "gc_deletes",
            "default_pipeline", "final_pipeline", "hidden", "priority", "query.default_field", "search.idle.after",
            "shard.check_on_startup", "load_fixed_bitset_filters_eagerly", "highlight.max_analyzed_offset",
            "mapping.total_fields.limit", "mapping.depth.limit", "mapping.nested_fields.limit",
            "mapping.nested_objects.limit", "mapping.field_name_length.limit", "write.wait_for_active_shards",
            "unassigned.node_left.delayed_timeout", "soft_deletes.retention_lease.period");
    private static final List<String> INDEX_SETTING_FAMILIES = List.of(
            "analysis.", "similarity.", "sort.", "translog.", "merge.", "blocks.", "routing.allocation.",
            "indexing.slowlog.", "search.slowlog.");

    private final ObjectNode settings;
    private final Map<String, TableEntry> tables;

    private record TableEntry(ObjectNode settings, Map<String, ObjectNode> columns) {}

    private MappingOverrides(ObjectNode settings, Map<String, TableEntry> tables) {
        this.settings = settings;
        this.tables = tables;
    }

    /** Reads and checks the file. */
    public static MappingOverrides load(Path file) throws IOException {
        return parse(Files.readString(file), file.toString());
    }

    /**
     * Reads and checks the overrides.
     *
     * @param source what the messages call the file, e.g. {@code configs/index-mappings.json}
     * @throws IllegalArgumentException naming the source, the table or column and what is wrong
     */
    public static MappingOverrides parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            String at = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw new IllegalArgumentException(source + ": not valid JSON" + at + ": " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(source + ": must be a JSON object with \"settings\" and \"tables\"");
        }
        unknownKeys(root, Set.of("settings", "tables"), source, "");
        ObjectNode settings = settings(root.get("settings"), source, "");
        Map<String, TableEntry> tables = new LinkedHashMap<>();
        JsonNode tablesNode = root.get("tables");
        if (tablesNode != null) {
            if (!tablesNode.isObject()) {
                throw new IllegalArgumentException(source + ": \"tables\" must be an object of tables by schema.table");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = tablesNode.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> table = it.next();
                tables.put(table.getKey(), table(table.getKey(), table.getValue(), source));
            }
        }
        return new MappingOverrides(settings, tables);
    }

    /** What the table's index gets: the settings for every table with the table's own over them, and its columns. */
    public Table table(String schemaTable) {
        TableEntry entry = tables.get(schemaTable);
        ObjectNode merged = settings.deepCopy();
        Map<String, ObjectNode> columns = new LinkedHashMap<>();
        if (entry != null) {
            merged.setAll(entry.settings.deepCopy());
            entry.columns.forEach((column, mapping) -> columns.put(column, mapping.deepCopy()));
        }
        return new Table(sorted(merged), columns);
    }

    // --- checks ----------------------------------------------------------------------------------------------------

    private static TableEntry table(String name, JsonNode node, String source) {
        String where = "table '" + name + "'";
        if (!TABLE_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(source + ": " + where + ": name a table as schema.table, e.g. public.orders");
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException(source + ": " + where + ": must be an object with \"settings\" and/or \"columns\"");
        }
        unknownKeys(node, Set.of("settings", "columns"), source, where + ": ");
        ObjectNode settings = settings(node.get("settings"), source, where + ", ");
        Map<String, ObjectNode> columns = new LinkedHashMap<>();
        JsonNode columnsNode = node.get("columns");
        if (columnsNode != null) {
            if (!columnsNode.isObject()) {
                throw new IllegalArgumentException(source + ": " + where + ": \"columns\" must be an object of column mappings by column name");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = columnsNode.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> column = it.next();
                fieldMapping(column.getValue(), source, where + ", column '" + column.getKey() + "'");
                columns.put(column.getKey(), (ObjectNode) column.getValue());
            }
        }
        return new TableEntry(settings, columns);
    }

    /** A field mapping with a known type; its sub-fields ({@code fields}) and properties ({@code properties}) too. */
    private static void fieldMapping(JsonNode mapping, String source, String where) {
        if (!mapping.isObject()) {
            throw new IllegalArgumentException(source + ": " + where
                    + ": must be an Elasticsearch field mapping, an object such as {\"type\": \"keyword\"}");
        }
        JsonNode type = mapping.get("type");
        if (type == null) {
            throw new IllegalArgumentException(source + ": " + where
                    + ": has no \"type\"; give an Elasticsearch field type, e.g. {\"type\": \"keyword\"}");
        }
        if (!type.isTextual() || !FIELD_TYPES.contains(type.textValue())) {
            throw new IllegalArgumentException(source + ": " + where + ": " + type + " is not an Elasticsearch 7.10 field "
                    + "type, such as keyword, text, long, scaled_float, date or boolean (docs/mappings.md lists them)");
        }
        for (String nested : List.of("fields", "properties")) {
            JsonNode children = mapping.get(nested);
            if (children == null) {
                continue;
            }
            if (!children.isObject()) {
                throw new IllegalArgumentException(source + ": " + where + ": \"" + nested + "\" must be an object of field mappings");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = children.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> child = it.next();
                fieldMapping(child.getValue(), source, where + ", " + nested + " '" + child.getKey() + "'");
            }
        }
    }

    /**
     * Index settings as the create-index API takes them (nested or dotted, with or without {@code index.}), checked and
     * written flat: {@code {"index.number_of_replicas": 0}}.
     */
    private static ObjectNode settings(JsonNode node, String source, String where) {
        ObjectNode flat = JsonNodeFactory.instance.objectNode();
        if (node == null) {
            return flat;
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException(source + ": " + where + "settings: must be an object of index settings");
        }
        flatten(node, "", flat, source, where);
        return flat;
    }

    private static void flatten(JsonNode node, String prefix, ObjectNode flat, String source, String where) {
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            String key = prefix + entry.getKey();
            JsonNode value = entry.getValue();
            if (value.isObject()) {
                flatten(value, key + ".", flat, source, where);
                continue;
            }
            String name = key.startsWith("index.") ? key.substring("index.".length()) : key;
            if (!INDEX_SETTINGS.contains(name) && INDEX_SETTING_FAMILIES.stream().noneMatch(name::startsWith)) {
                throw new IllegalArgumentException(source + ": " + where + "settings: '" + key
                        + "' is not an index setting (docs/mappings.md lists those the file takes)");
            }
            boolean scalars = value.isValueNode() && !value.isNull()
                    || value.isArray() && StreamSupport.stream(value.spliterator(), false)
                            .allMatch(item -> item.isValueNode() && !item.isNull());
            if (!scalars) {
                throw new IllegalArgumentException(source + ": " + where + "settings: '" + key
                        + "' must be a string, number, boolean or a list of them, not " + value);
            }
            flat.set("index." + name, value);
        }
    }

    private static void unknownKeys(JsonNode node, Set<String> known, String source, String where) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!known.contains(key)) {
                throw new IllegalArgumentException(source + ": " + where + "unknown key '" + key + "' (known: "
                        + known.stream().sorted().toList() + ")");
            }
        }
    }

    private static ObjectNode sorted(ObjectNode node) {
        ObjectNode sorted = JsonNodeFactory.instance.objectNode();
        TreeSet<String> keys = new TreeSet<>();
        node.fieldNames().forEachRemaining(keys::add);
        keys.forEach(key -> sorted.set(key, node.get(key)));
        return sorted;
    }
}
