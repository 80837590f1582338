package io.cdcindexer.documents;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.elasticsearch.IndexMapping;
import io.cdcindexer.elasticsearch.MappingOverrides;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;

/**
 * The mappings of a joined document's index, derived like the plain indices' from the tables' schemas: strict, so a
 * field nobody mapped is refused rather than guessed; a one-to-many field {@code nested}, so that each child's fields
 * stay together (an order that is blue and from last week matches one order, not a blue one and another from last
 * week); a many-to-one field a plain object, since there is one. Each table's columns are put at their node's place
 * when the job first meets the table's schema, before any document that carries them.
 */
public final class JoinedMappings {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /** Marks the index as a joined document's, made by the job: {@code _meta.cdc-indexer.document}. */
    public static final String META_DOCUMENT = "document";

    private JoinedMappings() {}

    /**
     * The body that creates the document's index: the settings every index gets (the overrides' for all tables), the
     * analysis settings of each of its tables (their columns' mappings may name an analyzer), and the fields of every
     * node below. A table's other settings (index sorting, ...) are its own index's: they may not fit a document that
     * nests other tables.
     */
    public static ObjectNode indexBody(JoinedDocuments plan, JoinNode root, MappingOverrides overrides) {
        ObjectNode settings = IndexMapping.settings(overrides.table(root.index)); // no table is named like an index
        for (JoinNode node : plan.withSubtree(root)) {
            overrides.table(node.table).settings().fields().forEachRemaining(setting -> {
                if (setting.getKey().startsWith("index.analysis.")) {
                    settings.set(setting.getKey(), setting.getValue());
                }
            });
        }
        ObjectNode body = NODES.objectNode();
        body.set("settings", settings);
        ObjectNode mappings = body.putObject("mappings");
        mappings.put("dynamic", "strict");
        mappings.putObject("_meta").putObject("cdc-indexer").put(META_DOCUMENT, root.index);
        mappings.set("properties", fieldsBelow(plan, root));
        return body;
    }

    /**
     * The body of {@code PUT <index>/_mapping} that maps the node's columns at its place: the table's derived
     * properties, only the columns the node carries (and not one named like a field below it).
     */
    public static ObjectNode putMappingBody(JoinedDocuments plan, JoinNode node, ObjectNode tableProperties) {
        ObjectNode columns = NODES.objectNode();
        if (node.columns == null) {
            Set<String> fields = plan.fieldsBelow(node);
            tableProperties.fields().forEachRemaining(column -> {
                if (!fields.contains(column.getKey())) {
                    columns.set(column.getKey(), column.getValue());
                }
            });
        } else {
            for (String column : node.columns) {
                JsonNode mapping = tableProperties.get(column);
                if (mapping != null) {
                    columns.set(column, mapping);
                }
            }
        }
        Deque<JoinNode> path = new ArrayDeque<>();
        for (JoinNode at = node; at.relation != JoinNode.Relation.ROOT; at = plan.node(at.holder)) {
            path.push(at);
        }
        ObjectNode body = NODES.objectNode();
        ObjectNode properties = body.putObject("properties");
        for (JoinNode at : path) {
            ObjectNode field = properties.putObject(at.field);
            if (at.relation == JoinNode.Relation.CHILDREN) {
                field.put("type", "nested");
            }
            properties = field.putObject("properties");
        }
        properties.setAll(columns);
        return body;
    }

    private static ObjectNode fieldsBelow(JoinedDocuments plan, JoinNode node) {
        ObjectNode properties = NODES.objectNode();
        for (int id : node.below) {
            JoinNode next = plan.node(id);
            ObjectNode field = properties.putObject(next.field);
            if (next.relation == JoinNode.Relation.CHILDREN) {
                field.put("type", "nested");
            }
            field.set("properties", fieldsBelow(plan, next));
        }
        return properties;
    }
}
