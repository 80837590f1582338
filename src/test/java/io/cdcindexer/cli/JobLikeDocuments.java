package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.DocumentIds;
import io.cdcindexer.debezium.MalformedChangeException;
import io.cdcindexer.documents.ForeignKeys;
import io.cdcindexer.documents.JoinNode;
import io.cdcindexer.documents.JoinedDocuments;
import java.sql.Array;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Test fixture: indexes a table's rows the way the job writes them, so that verify has something true to check. */
final class JobLikeDocuments {

    private JobLikeDocuments() {}

    /** Indexes every row of {@code table} into its index and refreshes it; returns the number of documents. */
    static int index(Connection db, ElasticsearchHttp es, CapturedTable table) throws SQLException {
        StringBuilder bulk = new StringBuilder();
        int count = 0;
        try (Statement statement = db.createStatement();
                ResultSet rs = statement.executeQuery("SELECT * FROM " + table.quotedName())) {
            ResultSetMetaData meta = rs.getMetaData();
            while (rs.next()) {
                ObjectNode key = Json.object();
                for (String column : table.keyColumns()) {
                    int i = rs.findColumn(column);
                    key.set(column, value(rs, i, meta.getColumnTypeName(i)));
                }
                ObjectNode doc = Json.object();
                for (int i = 1; i <= meta.getColumnCount(); i++) {
                    doc.set(meta.getColumnName(i), value(rs, i, meta.getColumnTypeName(i)));
                }
                ObjectNode action = Json.object();
                action.putObject("index").put("_index", table.index()).put("_id", documentId(key));
                bulk.append(Json.compact(action)).append('\n').append(Json.compact(doc)).append('\n');
                if (++count % 5_000 == 0) {
                    es.bulk(bulk.toString());
                    bulk.setLength(0);
                }
            }
        }
        if (bulk.length() > 0) {
            es.bulk(bulk.toString());
        }
        es.refresh(table.index());
        return count;
    }

    /** The job's own rule, so that verify is checked against what the job really writes. */
    private static String documentId(ObjectNode key) {
        try {
            return DocumentIds.of(key);
        } catch (MalformedChangeException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode value(ResultSet rs, int column, String type) throws SQLException {
        if (rs.getObject(column) == null) {
            return Json.MAPPER.nullNode();
        }
        return switch (type) {
            case "int2", "int4", "int8", "serial", "bigserial", "smallserial" -> Json.MAPPER.getNodeFactory().numberNode(rs.getLong(column));
            case "numeric" -> Json.MAPPER.getNodeFactory().numberNode(rs.getBigDecimal(column));
            case "float4", "float8" -> Json.MAPPER.getNodeFactory().numberNode(rs.getDouble(column));
            case "bool" -> Json.MAPPER.getNodeFactory().booleanNode(rs.getBoolean(column));
            // Debezium's ZonedTimestamp: UTC, 'Z', trailing zeros of the fraction dropped.
            case "timestamptz" -> Json.MAPPER.getNodeFactory().textNode(
                    rs.getObject(column, OffsetDateTime.class).toInstant().toString());
            case "timestamp" -> Json.MAPPER.getNodeFactory().textNode(
                    rs.getObject(column, LocalDateTime.class).format(DateTimeFormatter.ISO_LOCAL_DATE_TIME));
            case "date" -> Json.MAPPER.getNodeFactory().textNode(rs.getObject(column, LocalDate.class).toString());
            case "json", "jsonb" -> Json.parse(rs.getString(column), "json column");
            default -> {
                if (type.startsWith("_")) {
                    Array array = rs.getArray(column);
                    ArrayNode elements = Json.array();
                    for (Object element : (Object[]) array.getArray()) {
                        elements.add(element == null ? null : element.toString());
                    }
                    yield elements;
                }
                yield Json.MAPPER.getNodeFactory().textNode(rs.getString(column));
            }
        };
    }

    /**
     * Indexes the joined documents of {@code plan} as the job builds them, from the tables' documents already indexed:
     * each root document's columns (all, or those named), its children's objects in the order of their ids, its
     * parents' objects or null. Each document index is made anew.
     */
    static void indexJoined(ElasticsearchHttp es, JoinedDocuments plan) {
        Map<String, Map<String, JsonNode>> rows = new HashMap<>();
        for (JoinNode node : plan.nodes()) {
            rows.computeIfAbsent(node.table, table -> documents(es, "cdc." + table.toLowerCase(Locale.ROOT)));
        }
        for (JoinNode root : plan.roots()) {
            es.getIfExists("/" + root.index).ifPresent(index -> es.delete("/" + root.index));
            StringBuilder bulk = new StringBuilder();
            rows.get(root.table).forEach((id, row) -> {
                ObjectNode action = Json.object();
                action.putObject("index").put("_index", root.index).put("_id", id);
                bulk.append(Json.compact(action)).append('\n').append(Json.compact(build(plan, root, id, row, rows)))
                        .append('\n');
            });
            if (bulk.length() > 0) {
                es.bulk(bulk.toString());
            }
            es.refresh(root.index);
        }
    }

    private static ObjectNode build(JoinedDocuments plan, JoinNode node, String id, JsonNode row,
            Map<String, Map<String, JsonNode>> rows) {
        Set<String> fields = plan.fieldsBelow(node);
        ObjectNode object = Json.object();
        if (node.columns == null) {
            row.fields().forEachRemaining(column -> {
                if (!fields.contains(column.getKey())) {
                    object.set(column.getKey(), column.getValue());
                }
            });
        } else {
            for (String column : node.columns) {
                if (row.has(column)) {
                    object.set(column, row.get(column));
                }
            }
        }
        for (int below : node.below) {
            JoinNode next = plan.node(below);
            if (next.relation == JoinNode.Relation.CHILDREN) {
                ArrayNode children = object.putArray(next.field);
                rows.get(next.table).entrySet().stream()
                        .filter(child -> id.equals(ForeignKeys.of(child.getValue(), next.foreignKey)))
                        .sorted((a, b) -> ForeignKeys.ID_ORDER.compare(a.getKey(), b.getKey()))
                        .forEach(child -> children.add(build(plan, next, child.getKey(), child.getValue(), rows)));
            } else {
                String parent = ForeignKeys.of(row, next.foreignKey);
                JsonNode parentRow = parent == null ? null : rows.get(next.table).get(parent);
                object.set(next.field, parentRow == null ? NullNode.instance
                        : build(plan, next, parent, parentRow, rows));
            }
        }
        return object;
    }

    private static Map<String, JsonNode> documents(ElasticsearchHttp es, String index) {
        Map<String, JsonNode> documents = new HashMap<>();
        if (es.getIfExists("/" + index).isEmpty()) {
            return documents;
        }
        try (ElasticsearchHttp.Scroll scroll = es.scroll(index, Json.object(), 5_000)) {
            while (scroll.hasNext()) {
                JsonNode hit = scroll.next();
                documents.put(hit.path("_id").asText(), hit.path("_source"));
            }
        }
        return documents;
    }
}
