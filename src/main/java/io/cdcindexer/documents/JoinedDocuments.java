package io.cdcindexer.documents;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The joined documents {@code configs/documents.json} declares: each an index of documents built from a root table and
 * the tables related to it, one-to-many ({@code children}: arrays of objects) and many-to-one ({@code parents}: one
 * object), to any depth. Read and checked when the job starts; every mistake is refused with the file, the place and
 * the fix. See docs/documents.md.
 *
 * <pre>
 * {"documents": [{"index": "cdc.documents.users", "table": "public.users",
 *                 "children": [{"field": "orders", "table": "public.orders", "foreignKey": ["user_id"]}]}]}
 * </pre>
 */
public final class JoinedDocuments implements Serializable {

    private static final long serialVersionUID = 1L;

    /** No joined documents: the job indexes one index per table only. */
    public static final JoinedDocuments NONE = new JoinedDocuments(List.of());

    private static final JsonMapper JSON = JsonMapper.builder().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final Pattern TABLE = Pattern.compile("[^.\\s]+\\.[^.\\s]+");
    /** Lower case, as Elasticsearch requires, and none of the characters it refuses in an index name. */
    private static final Pattern INDEX = Pattern.compile("[a-z0-9][a-z0-9._+-]*");
    /** Plain names: they are written into documents and mappings as they are. */
    private static final Pattern FIELD = Pattern.compile("[A-Za-z][A-Za-z0-9_]*");

    private final List<JoinNode> nodes;

    private JoinedDocuments(List<JoinNode> nodes) {
        this.nodes = List.copyOf(nodes);
    }

    /** The file the job's {@code --documents} option names; {@link #NONE} when it names none. */
    public static JoinedDocuments of(String file) {
        if (file == null || file.isBlank()) {
            return NONE;
        }
        try {
            return load(Path.of(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("Option --documents: cannot read " + file + ": " + e, e);
        }
    }

    /** Reads and checks the file. */
    public static JoinedDocuments load(Path file) throws IOException {
        return parse(Files.readString(file), file.toString());
    }

    /**
     * Reads and checks a declaration.
     *
     * @param source what the messages call it, e.g. {@code configs/documents.json}
     * @throws IllegalArgumentException naming the source, the place and what is wrong
     */
    public static JoinedDocuments parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            String at = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw new IllegalArgumentException(source + ": not valid JSON" + at + ": " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(source + ": must be a JSON object with \"documents\", a list");
        }
        unknownKeys(root, Set.of("documents"), source, "");
        JsonNode documents = root.get("documents");
        if (documents == null || !documents.isArray()) {
            throw new IllegalArgumentException(source + ": \"documents\" must be a list of documents, each with "
                    + "\"index\" and \"table\"");
        }
        List<JoinNode> nodes = new ArrayList<>();
        Set<String> indices = new HashSet<>();
        int n = 0;
        for (JsonNode document : documents) {
            n++;
            String where = "document " + n;
            if (!document.isObject()) {
                throw new IllegalArgumentException(source + ": " + where + ": must be an object with \"index\" and "
                        + "\"table\"");
            }
            unknownKeys(document, Set.of("index", "table", "columns", "children", "parents"), source, where + ": ");
            String index = text(document, "index", source, where);
            if (!INDEX.matcher(index).matches() || index.equals(".") || index.equals("..")) {
                throw new IllegalArgumentException(source + ": " + where + ": \"index\" '" + index + "' is not a name "
                        + "Elasticsearch takes: lower case letters, digits and . _ + -, not first . _ + or -");
            }
            if (!indices.add(index)) {
                throw new IllegalArgumentException(source + ": " + where + ": index '" + index + "' is declared twice");
            }
            add(document, index, null, JoinNode.Relation.ROOT, -1, index, nodes, source, "document '" + index + "'");
        }
        Map<String, JoinNode> byPath = new HashMap<>();
        for (JoinNode node : nodes) {
            JoinNode other = byPath.putIfAbsent(node.path, node);
            if (other != null) { // an index with dots can spell another document's field
                throw new IllegalArgumentException(source + ": '" + node.path + "' is the place of " + place(other)
                        + " and of " + place(node) + ": the job names the stages of each place by it, so one would "
                        + "take the other's state. Rename the index or the field");
            }
        }
        return new JoinedDocuments(nodes);
    }

    private static String place(JoinNode node) {
        return node.field == null ? "document '" + node.index + "'"
                : "field '" + node.field + "' of document '" + node.index + "'";
    }

    /** Every node of every document, each at the position of its id. */
    public List<JoinNode> nodes() {
        return nodes;
    }

    public JoinNode node(int id) {
        return nodes.get(id);
    }

    /** The documents' roots. */
    public List<JoinNode> roots() {
        return nodes.stream().filter(node -> node.relation == JoinNode.Relation.ROOT).toList();
    }

    public boolean isEmpty() {
        return nodes.isEmpty();
    }

    /** The root of the document the node belongs to. */
    public JoinNode root(JoinNode node) {
        JoinNode at = node;
        while (at.relation != JoinNode.Relation.ROOT) {
            at = node(at.holder);
        }
        return at;
    }

    /** The nodes below a node, to any depth, each after the node it hangs from. */
    public List<JoinNode> subtree(JoinNode node) {
        List<JoinNode> below = new ArrayList<>();
        for (int id : node.below) {
            below.add(node(id));
            below.addAll(subtree(node(id)));
        }
        return below;
    }

    /** The node and every node below it: for a root, every node of its document. */
    public List<JoinNode> withSubtree(JoinNode node) {
        List<JoinNode> nodes = new ArrayList<>(List.of(node));
        nodes.addAll(subtree(node));
        return nodes;
    }

    /** The names of the fields that hang from a node's object (a column of the same name is left out of it). */
    public Set<String> fieldsBelow(JoinNode node) {
        Set<String> fields = new HashSet<>();
        for (int id : node.below) {
            fields.add(node(id).field);
        }
        return Set.copyOf(fields);
    }

    // Adds the node and everything below it; returns its id.
    private static int add(JsonNode spec, String index, String field, JoinNode.Relation relation, int holder, String path,
            List<JoinNode> nodes, String source, String where) {
        String table = text(spec, "table", source, where);
        if (!TABLE.matcher(table).matches()) {
            throw new IllegalArgumentException(source + ": " + where + ": name the table as schema.table, e.g. "
                    + "public.orders, not '" + table + "'");
        }
        List<String> foreignKey = List.of();
        if (relation != JoinNode.Relation.ROOT) {
            foreignKey = names(spec.get("foreignKey"), source, where, "foreignKey");
            if (foreignKey == null) {
                throw new IllegalArgumentException(source + ": " + where + ": \"foreignKey\" is missing: the columns "
                        + (relation == JoinNode.Relation.CHILDREN ? "of " + table + " that hold its holder's primary key"
                                : "of its holder that hold the primary key of " + table)
                        + ", e.g. [\"user_id\"]");
            }
        }
        List<String> columns = names(spec.get("columns"), source, where, "columns");
        int id = nodes.size();
        nodes.add(null); // its place, so that the nodes below it come after it
        List<Integer> below = new ArrayList<>();
        Set<String> fields = new HashSet<>();
        for (String kind : List.of("children", "parents")) {
            JsonNode list = spec.get(kind);
            if (list == null) {
                continue;
            }
            if (!list.isArray()) {
                throw new IllegalArgumentException(source + ": " + where + ": \"" + kind + "\" must be a list of "
                        + "objects, each with \"field\", \"table\" and \"foreignKey\"");
            }
            JoinNode.Relation next = kind.equals("children") ? JoinNode.Relation.CHILDREN : JoinNode.Relation.PARENT;
            for (JsonNode child : list) {
                if (!child.isObject()) {
                    throw new IllegalArgumentException(source + ": " + where + ": each of \"" + kind + "\" must be an "
                            + "object with \"field\", \"table\" and \"foreignKey\"");
                }
                unknownKeys(child, Set.of("field", "table", "foreignKey", "columns", "children", "parents"), source,
                        where + ", " + kind + ": ");
                String name = text(child, "field", source, where + ", " + kind);
                String at = where + ", field '" + name + "'";
                if (!FIELD.matcher(name).matches()) {
                    throw new IllegalArgumentException(source + ": " + at + ": a field name is a letter, then letters, "
                            + "digits or _");
                }
                if (!fields.add(name)) {
                    throw new IllegalArgumentException(source + ": " + at + ": two fields of one object share the name");
                }
                if (columns != null && columns.contains(name)) {
                    throw new IllegalArgumentException(source + ": " + at + ": it is also one of the columns the object "
                            + "carries; name the field differently");
                }
                below.add(add(child, index, name, next, id, path + "." + name, nodes, source, at));
            }
        }
        nodes.set(id, new JoinNode(id, index, table, field, relation, foreignKey, columns, holder,
                below.stream().mapToInt(Integer::intValue).toArray(), path));
        return id;
    }

    private static String text(JsonNode spec, String key, String source, String where) {
        JsonNode value = spec.get(key);
        if (value == null || !value.isTextual() || value.textValue().isBlank()) {
            throw new IllegalArgumentException(source + ": " + where + ": \"" + key + "\" must be a non-empty string");
        }
        return value.textValue();
    }

    // A non-empty list of distinct names, or null when the key is absent.
    private static List<String> names(JsonNode list, String source, String where, String key) {
        if (list == null) {
            return null;
        }
        String what = source + ": " + where + ": \"" + key + "\" must be a non-empty list of column names";
        if (!list.isArray() || list.isEmpty()) {
            throw new IllegalArgumentException(what);
        }
        List<String> names = new ArrayList<>();
        for (JsonNode name : list) {
            if (!name.isTextual() || name.textValue().isEmpty()) {
                throw new IllegalArgumentException(what + ", got " + list);
            }
            if (names.contains(name.textValue())) {
                throw new IllegalArgumentException(what + ": '" + name.textValue() + "' is named twice");
            }
            names.add(name.textValue());
        }
        return names;
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
}
