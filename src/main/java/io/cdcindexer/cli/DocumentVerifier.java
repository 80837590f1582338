package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.documents.ForeignKeys;
import io.cdcindexer.documents.JoinNode;
import io.cdcindexer.documents.JoinedDocuments;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Compares the index of a joined document with the documents the same declaration gives when built from the tables
 * by SQL joins, document by document: the root row's columns, then each child array (its rows in the order of their
 * ids) and each parent object, to any depth, value by value with the same rules as {@link TableVerifier}. It reads
 * one consistent snapshot of the database (one repeatable-read transaction) and streams every side sorted by the
 * document id, so memory holds one document's rows at a time.
 */
public final class DocumentVerifier {

    private static final int PAGE_SIZE = 5_000;
    private static final String ROW_ID = "cdc_row_id";
    private static final String HOLDER_ID = "cdc_holder_id";
    private static final String ROOT_ID = "cdc_root_id";

    private final Connection db;
    private final ElasticsearchHttp es;
    private final int maxExamples;

    /** A table of the document is not in the database (with a primary key). */
    public static final class MissingTable extends CliException {
        private static final long serialVersionUID = 1L;

        MissingTable(String message) {
            super(message);
        }
    }

    /** One row of a node's table in a document: its id, the id of the row it hangs from, and its column values. */
    private record NodeRow(String id, String holder, Object[] values) {}

    /** The rows of a node's table as they join up to the root, sorted by the root's id. */
    private static final class NodeRows {
        final JoinNode node;
        final ResultSet rs;
        final List<TableVerifier.Column> columns;
        NodeRow next;
        String nextRoot;

        NodeRows(JoinNode node, ResultSet rs) throws SQLException {
            this.node = node;
            this.rs = rs;
            this.columns = columns(rs.getMetaData(), 3);
            advance();
        }

        void advance() throws SQLException {
            if (rs.next()) {
                Object[] values = values(rs, columns);
                // The ids by position: a column of the table could have their names.
                next = new NodeRow(rs.getString(columns.size() + 1), rs.getString(columns.size() + 2), values);
                String root = rs.getString(columns.size() + 3);
                if (nextRoot != null && TableVerifier.compareCodePoints(nextRoot, root) > 0) {
                    throw new CliException("Ids are not in ascending order ('" + nextRoot + "' before '" + root + "') in "
                            + "the rows of " + node.path + ": the database's and the index's sort orders disagree, so "
                            + "verify cannot compare them");
                }
                nextRoot = root;
            } else {
                next = null;
                nextRoot = null;
            }
        }
    }

    public DocumentVerifier(Connection db, ElasticsearchHttp es, int maxExamples) {
        this.db = db;
        this.es = es;
        this.maxExamples = maxExamples;
    }

    /** Reads every table of the document and its whole index once, and reports every difference. */
    public TableVerifier.Report verify(JoinedDocuments plan, JoinNode root) throws SQLException {
        boolean indexExists = es.getIfExists("/" + ElasticsearchHttp.encode(root.index)).isPresent();
        boolean autoCommit = db.getAutoCommit();
        db.setAutoCommit(false);
        List<TableVerifier.Difference> examples = new ArrayList<>();
        long[] counts = new long[TableVerifier.Kind.values().length];
        long rowsSeen = 0;
        long documentsSeen = 0;
        List<PreparedStatement> statements = new ArrayList<>();
        try (var isolation = db.createStatement()) {
            // Every query of the document sees the same snapshot of the database.
            isolation.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
            Map<String, CapturedTable> tables = tables(plan, root);
            PreparedStatement rootQuery = db.prepareStatement(rootSql(plan, root, tables));
            statements.add(rootQuery);
            rootQuery.setFetchSize(PAGE_SIZE);
            ResultSet roots = rootQuery.executeQuery();
            List<TableVerifier.Column> rootColumns = columns(roots.getMetaData(), 1);
            List<NodeRows> below = new ArrayList<>();
            for (JoinNode node : plan.subtree(root)) {
                PreparedStatement query = db.prepareStatement(nodeSql(plan, node, tables));
                statements.add(query);
                query.setFetchSize(PAGE_SIZE);
                below.add(new NodeRows(node, query.executeQuery()));
            }
            ObjectNode search = Json.object();
            search.putArray("sort").add("_id");
            try (ElasticsearchHttp.Scroll documents = indexExists ? es.scroll(root.index, search, PAGE_SIZE) : null) {
                boolean hasRow = roots.next();
                JsonNode document = documents != null && documents.hasNext() ? documents.next() : null;
                String lastRow = null;
                String lastDocument = null;
                while (hasRow || document != null) {
                    String rowId = hasRow ? roots.getString(rootColumns.size() + 1) : null;
                    String documentId = document == null ? null : document.path("_id").asText();
                    lastRow = ascending(lastRow, rowId);
                    lastDocument = ascending(lastDocument, documentId);
                    int order = !hasRow ? 1 : document == null ? -1
                            : TableVerifier.compareCodePoints(rowId, documentId);
                    TableVerifier.Difference difference = null;
                    if (order < 0) {
                        rowsSeen++;
                        rowsOf(below, rowId);
                        difference = new TableVerifier.Difference(TableVerifier.Kind.MISSING, rowId, "no document");
                        hasRow = roots.next();
                    } else if (order > 0) {
                        documentsSeen++;
                        difference = new TableVerifier.Difference(TableVerifier.Kind.EXTRA, documentId, "no row");
                        document = documents.hasNext() ? documents.next() : null;
                    } else {
                        rowsSeen++;
                        documentsSeen++;
                        Map<Integer, Map<String, List<NodeRow>>> rows = rowsOf(below, rowId);
                        List<String> differences = new ArrayList<>();
                        compare(plan, root, rootColumns, values(roots, rootColumns), rowId, document.path("_source"),
                                rows, below, "", differences);
                        if (!differences.isEmpty()) {
                            difference = new TableVerifier.Difference(TableVerifier.Kind.STALE, rowId,
                                    String.join("; ", differences));
                        }
                        hasRow = roots.next();
                        document = documents.hasNext() ? documents.next() : null;
                    }
                    if (difference != null) {
                        counts[difference.kind().ordinal()]++;
                        if (examples.size() < maxExamples) {
                            examples.add(difference);
                        }
                    }
                }
            }
        } finally {
            for (PreparedStatement statement : statements) {
                statement.close();
            }
            db.rollback();
            db.setAutoCommit(autoCommit);
        }
        return new TableVerifier.Report(root.index, root.index, indexExists, rowsSeen, documentsSeen,
                counts[TableVerifier.Kind.MISSING.ordinal()], counts[TableVerifier.Kind.EXTRA.ordinal()],
                counts[TableVerifier.Kind.STALE.ordinal()], examples);
    }

    // The merge is only right if both sides come sorted alike: an id lower than the one before is an error.
    private static String ascending(String previous, String id) {
        if (id == null) {
            return previous;
        }
        if (previous != null && TableVerifier.compareCodePoints(previous, id) > 0) {
            throw new CliException("Ids are not in ascending order ('" + previous + "' before '" + id + "'): the "
                    + "database's and the index's sort orders disagree, so verify cannot compare them");
        }
        return id;
    }

    // The rows of every node below the root that belong to the root row, by node and by the row they hang from.
    private static Map<Integer, Map<String, List<NodeRow>>> rowsOf(List<NodeRows> below, String rootId)
            throws SQLException {
        Map<Integer, Map<String, List<NodeRow>>> rows = new HashMap<>();
        for (NodeRows stream : below) {
            // A root id with no root row cannot come: the query joins every row up to its root.
            while (stream.next != null && TableVerifier.compareCodePoints(stream.nextRoot, rootId) < 0) {
                stream.advance();
            }
            Set<String> seen = new HashSet<>();
            while (stream.next != null && stream.nextRoot.equals(rootId)) {
                // A row below a parent that several rows of the document point to joins up once per such row.
                if (seen.add(stream.next.holder() + "\u0000" + stream.next.id())) {
                    rows.computeIfAbsent(stream.node.id, id -> new HashMap<>())
                            .computeIfAbsent(stream.next.holder(), holder -> new ArrayList<>()).add(stream.next);
                }
                stream.advance();
            }
        }
        return rows;
    }

    /** Compares one object of the document with its row and the rows below it, adding what differs. */
    private static void compare(JoinedDocuments plan, JoinNode node, List<TableVerifier.Column> columns,
            Object[] values, String rowId, JsonNode object, Map<Integer, Map<String, List<NodeRow>>> rows,
            List<NodeRows> below, String where, List<String> differences) {
        if (!object.isObject()) {
            differences.add(where + ": index " + Json.compact(object) + ", database an object");
            return;
        }
        Set<String> fields = plan.fieldsBelow(node);
        List<TableVerifier.Column> own = new ArrayList<>();
        List<Object> ownValues = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            if (!fields.contains(columns.get(i).name())) { // the job leaves a column named like a field out
                own.add(columns.get(i));
                ownValues.add(values[i]);
            }
        }
        for (String difference : TableVerifier.compare(own, ownValues.toArray(), object, fields)) {
            differences.add(where + difference);
        }
        for (int id : node.below) {
            JoinNode next = plan.node(id);
            List<TableVerifier.Column> nextColumns = below.stream().filter(stream -> stream.node.id == id).findFirst()
                    .orElseThrow().columns;
            List<NodeRow> mine = new ArrayList<>(rows.getOrDefault(id, Map.of()).getOrDefault(rowId, List.of()));
            JsonNode field = object.get(next.field);
            String at = where + next.field;
            if (next.relation == JoinNode.Relation.CHILDREN) {
                if (field == null || !field.isArray()) {
                    differences.add("lacks the array " + at);
                    continue;
                }
                mine.sort((a, b) -> ForeignKeys.ID_ORDER.compare(a.id(), b.id()));
                if (field.size() != mine.size()) {
                    differences.add(at + ": database " + mine.size() + " (ids " + mine.stream().map(NodeRow::id)
                            .collect(Collectors.joining(", ")) + "), index " + field.size());
                    continue;
                }
                for (int i = 0; i < mine.size(); i++) {
                    compare(plan, next, nextColumns, mine.get(i).values(), mine.get(i).id(), field.get(i), rows, below,
                            at + "[" + i + "].", differences);
                }
            } else if (mine.isEmpty()) {
                if (field != null && !field.isNull()) {
                    differences.add(at + ": database none, index " + Json.compact(field));
                }
            } else if (field == null || field.isNull()) {
                differences.add(at + ": database row " + mine.get(0).id() + ", index none");
            } else {
                compare(plan, next, nextColumns, mine.get(0).values(), mine.get(0).id(), field, rows, below, at + ".",
                        differences);
            }
        }
    }

    // --- SQL --------------------------------------------------------------------------------------------------------

    /** The root table's rows: its columns, then the document id, sorted by it as Elasticsearch sorts _id. */
    private String rootSql(JoinedDocuments plan, JoinNode root, Map<String, CapturedTable> tables) throws SQLException {
        return "SELECT " + selected(root, "t0", tables) + ", (" + DocumentIdSql.expression(db, tables.get(root.table), "t0")
                + ") COLLATE \"C\" AS cdc_document_id FROM " + tables.get(root.table).quotedName()
                + " t0 ORDER BY cdc_document_id";
    }

    /**
     * A node's rows joined up to the root along the foreign keys: its columns, its id, the id of the row it hangs from
     * and the root's id, sorted by the root's id. Rows that hang from nothing in the end (their holder is missing) are
     * in no document and are left out by the joins, as the job leaves them out.
     */
    private String nodeSql(JoinedDocuments plan, JoinNode node, Map<String, CapturedTable> tables)
            throws SQLException {
        StringBuilder from = new StringBuilder(tables.get(node.table).quotedName()).append(" t0");
        int depth = 0;
        for (JoinNode at = node; at.relation != JoinNode.Relation.ROOT; at = plan.node(at.holder)) {
            JoinNode holder = plan.node(at.holder);
            String lower = "t" + depth;
            String upper = "t" + (depth + 1);
            from.append(" JOIN ").append(tables.get(holder.table).quotedName()).append(' ').append(upper).append(" ON ");
            // As the job links them: the foreign key's values make the referenced row's document id, whatever the
            // columns' types (a text '7' finds the integer 7; a varchar 'ab' does not find the char(3) 'ab ').
            List<String> foreignKey = List.of(at.foreignKey);
            if (at.relation == JoinNode.Relation.CHILDREN) {
                from.append(DocumentIdSql.expression(db, tables.get(at.table), foreignKey, lower)).append(" = ")
                        .append(DocumentIdSql.expression(db, tables.get(holder.table), upper));
            } else {
                from.append(DocumentIdSql.expression(db, tables.get(holder.table), foreignKey, upper)).append(" = ")
                        .append(DocumentIdSql.expression(db, tables.get(at.table), lower));
            }
            depth++;
        }
        JoinNode root = plan.root(node);
        return "SELECT " + selected(node, "t0", tables) + ", (" + DocumentIdSql.expression(db, tables.get(node.table), "t0")
                + ") AS " + ROW_ID + ", (" + DocumentIdSql.expression(db, tables.get(plan.node(node.holder).table), "t1")
                + ") AS " + HOLDER_ID + ", (" + DocumentIdSql.expression(db, tables.get(root.table), "t" + depth)
                + ") COLLATE \"C\" AS " + ROOT_ID + " FROM " + from + " ORDER BY " + ROOT_ID;
    }

    // The node's columns, those named that the table has (the job leaves out one the row does not have).
    private String selected(JoinNode node, String alias, Map<String, CapturedTable> tables) throws SQLException {
        if (node.columns == null) {
            return alias + ".*";
        }
        Set<String> existing = new HashSet<>();
        try (PreparedStatement query = db.prepareStatement("SELECT attname FROM pg_attribute WHERE attrelid = "
                + "?::regclass AND attnum > 0 AND NOT attisdropped")) {
            query.setString(1, tables.get(node.table).quotedName());
            try (ResultSet rs = query.executeQuery()) {
                while (rs.next()) {
                    existing.add(rs.getString(1));
                }
            }
        }
        List<String> columns = new ArrayList<>();
        for (String column : node.columns) {
            if (existing.contains(column)) {
                columns.add(alias + "." + CapturedTable.quote(column));
            }
        }
        return columns.isEmpty() ? "NULL::text AS cdc_no_column" : String.join(", ", columns);
    }

    // Every table of the document with its primary key, checked to have one and, for a foreign key, as many columns.
    private Map<String, CapturedTable> tables(JoinedDocuments plan, JoinNode root) throws SQLException {
        Map<String, CapturedTable> tables = new HashMap<>();
        List<JoinNode> nodes = plan.withSubtree(root);
        for (JoinNode node : nodes) {
            if (!tables.containsKey(node.table)) {
                String[] schemaAndName = node.table.split("\\.", 2);
                CapturedTable table = CapturedTable.withPrimaryKey(db, schemaAndName[0]).stream()
                        .filter(t -> t.name().equals(schemaAndName[1])).findFirst().orElseThrow(() -> new MissingTable(
                                "no table " + node.table + " with a primary key"));
                tables.put(node.table, table);
            }
        }
        for (JoinNode node : nodes) {
            if (node.relation != JoinNode.Relation.ROOT) {
                String referenced = node.relation == JoinNode.Relation.CHILDREN ? plan.node(node.holder).table
                        : node.table;
                int keyColumns = tables.get(referenced).keyColumns().size();
                if (keyColumns != node.foreignKey.length) {
                    throw new CliException("Document " + root.index + ", " + node.path + ": the foreign key has "
                            + node.foreignKey.length + " columns, the primary key of " + referenced + " " + keyColumns);
                }
            }
        }
        return tables;
    }

    // The columns of a result, leaving out the last ones (ids).
    private static List<TableVerifier.Column> columns(ResultSetMetaData meta, int idColumns) throws SQLException {
        List<TableVerifier.Column> columns = new ArrayList<>();
        for (int i = 1; i <= meta.getColumnCount() - idColumns; i++) {
            columns.add(new TableVerifier.Column(meta.getColumnName(i), ColumnType.of(meta.getColumnTypeName(i))));
        }
        return columns;
    }

    private static Object[] values(ResultSet rs, List<TableVerifier.Column> columns) throws SQLException {
        Object[] values = new Object[columns.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = columns.get(i).type().readValue(rs, i + 1);
        }
        return values;
    }
}
