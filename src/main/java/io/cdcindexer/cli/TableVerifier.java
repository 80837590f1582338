package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Compares one table with its index, row by row, in a single pass: rows stream from PostgreSQL and documents from
 * Elasticsearch, both sorted by document id, and a merge pairs them up. Memory stays at one page of each side.
 */
public final class TableVerifier {

    /** What kind of difference a document shows. */
    public enum Kind { MISSING, EXTRA, STALE }

    /** One difference: its kind, the document id and, for stale documents, what differs. */
    public record Difference(Kind kind, String id, String detail) {}

    /** A column of the table: its name and how its value appears in a document. */
    public record Column(String name, ColumnType type) {}

    /** A row: its document id and its column values in column order. */
    public record Row(String id, Object[] values) {}

    /** A document: its id and its source. */
    public record Document(String id, JsonNode source) {}

    /** The outcome for one table: counts of everything, and the first differences as examples. */
    public record Report(String table, String index, boolean indexExists, long rows, long documents, long missing,
            long extra, long stale, List<Difference> examples) {

        public boolean inStep() {
            return missing == 0 && extra == 0 && stale == 0;
        }

        public long differences() {
            return missing + extra + stale;
        }

        /** The line verify prints for the table. */
        public String summary() {
            return String.format("verify: %s %s, %s, %d missing, %d extra, %d stale%s", table, Plural.of(rows, "row"),
                    Plural.of(documents, "doc"), missing, extra, stale,
                    indexExists ? "" : " (index " + index + " does not exist)");
        }
    }

    /** Receives each difference as the merge finds it. */
    interface DifferenceSink {
        void accept(Difference difference);
    }

    private static final int PAGE_SIZE = 5_000;
    private static final String ID_COLUMN = "cdc_document_id";

    private final Connection db;
    private final ElasticsearchHttp es;
    private final int maxExamples;
    private final Set<String> ignoredFields;

    /**
     * @param maxExamples how many differences per table to keep for printing (all are counted)
     * @param ignoredFields document fields that are not columns but expected (e.g. metadata the job adds)
     */
    public TableVerifier(Connection db, ElasticsearchHttp es, int maxExamples, Set<String> ignoredFields) {
        this.db = db;
        this.es = es;
        this.maxExamples = maxExamples;
        this.ignoredFields = Set.copyOf(ignoredFields);
    }

    /** Reads the whole table and the whole index once and reports every difference. */
    public Report verify(CapturedTable table) throws SQLException {
        boolean indexExists = es.getIfExists("/" + ElasticsearchHttp.encode(table.index())).isPresent();
        // Collation "C" sorts by UTF-8 bytes, i.e. by code point: the order Elasticsearch gives _id.
        String sql = "SELECT *, (" + DocumentIdSql.expression(db, table) + ") COLLATE \"C\" AS " + ID_COLUMN
                + " FROM " + table.quotedName() + " ORDER BY " + ID_COLUMN;
        boolean autoCommit = db.getAutoCommit();
        // A fetch size only streams inside a transaction; otherwise the driver reads the whole result at once.
        db.setAutoCommit(false);
        List<Difference> examples = new ArrayList<>();
        long[] counts = new long[Kind.values().length];
        long[] sides = new long[2];
        try (PreparedStatement query = db.prepareStatement(sql)) {
            query.setFetchSize(PAGE_SIZE);
            try (ResultSet rs = query.executeQuery()) {
                List<Column> columns = columns(rs.getMetaData());
                Iterator<Row> rows = rows(rs, columns, sides);
                try (IndexDocuments documents = new IndexDocuments(indexExists ? scroll(table.index()) : null, sides)) {
                    merge(rows, documents, columns, ignoredFields, difference -> {
                        counts[difference.kind().ordinal()]++;
                        if (examples.size() < maxExamples) {
                            examples.add(difference);
                        }
                    });
                }
            }
        } finally {
            db.rollback();
            db.setAutoCommit(autoCommit);
        }
        return new Report(table.displayName(), table.index(), indexExists, sides[0], sides[1], counts[Kind.MISSING.ordinal()],
                counts[Kind.EXTRA.ordinal()], counts[Kind.STALE.ordinal()], examples);
    }

    /**
     * Pairs rows and documents that both come sorted by id (in code point order) and reports each id found on one side
     * only, and each pair whose values differ.
     */
    static void merge(Iterator<Row> rows, Iterator<Document> documents, List<Column> columns, Set<String> ignoredFields,
            DifferenceSink sink) {
        Row row = next(rows, null);
        Document document = next(documents, null);
        while (row != null || document != null) {
            int order = row == null ? 1 : document == null ? -1 : compareCodePoints(row.id(), document.id());
            if (order < 0) {
                sink.accept(new Difference(Kind.MISSING, row.id(), "no document"));
                row = next(rows, row.id());
            } else if (order > 0) {
                sink.accept(new Difference(Kind.EXTRA, document.id(), "no row"));
                document = next(documents, document.id());
            } else {
                List<String> differences = compare(columns, row.values(), document.source(), ignoredFields);
                if (!differences.isEmpty()) {
                    sink.accept(new Difference(Kind.STALE, row.id(), String.join("; ", differences)));
                }
                row = next(rows, row.id());
                document = next(documents, document.id());
            }
        }
    }

    // A value of several kilobytes (a TOASTed body) is shown by its first 40 and last 20 characters and its length.
    private static String shortened(String value) {
        return value.length() <= 100 ? value
                : value.substring(0, 40) + "…" + value.substring(value.length() - 20)
                        + String.format(Locale.ROOT, " (%,d chars)", value.length());
    }

    /** What differs between a row and its document, in words; empty if they agree. */
    static List<String> compare(List<Column> columns, Object[] values, JsonNode source, Set<String> ignoredFields) {
        List<String> differences = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            Column column = columns.get(i);
            JsonNode field = source.get(column.name());
            if (field == null && values[i] == null) {
                continue; // a column added later: rows not changed since have no field for it, which reads as null
            }
            if (field == null) {
                differences.add("lacks column " + column.name());
            } else if (!column.type().matchesValue(values[i], field)) {
                differences.add(column.name() + ": database " + shortened(column.type().describeValue(values[i]))
                        + ", index " + shortened(Json.compact(field)));
            }
        }
        Set<String> columnNames = columns.stream().map(Column::name).collect(Collectors.toSet());
        source.fieldNames().forEachRemaining(name -> {
            if (!columnNames.contains(name) && !ignoredFields.contains(name)) {
                differences.add("has field " + name + ", which is no column");
            }
        });
        return differences;
    }

    /** Orders strings by Unicode code point, as PostgreSQL's "C" collation (UTF-8 bytes) and Elasticsearch do. */
    static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /** The next element, checking that ids ascend: the merge is only right if both sides are sorted alike. */
    private static <T> T next(Iterator<T> iterator, String previousId) {
        if (!iterator.hasNext()) {
            return null;
        }
        T next = iterator.next();
        String id = next instanceof Row r ? r.id() : ((Document) next).id();
        if (previousId != null && compareCodePoints(previousId, id) >= 0) {
            throw new CliException("Ids are not in ascending order ('" + previousId + "' before '" + id
                    + "'): the database's and the index's sort orders disagree, so verify cannot compare them");
        }
        return next;
    }

    private static List<Column> columns(ResultSetMetaData meta) throws SQLException {
        List<Column> columns = new ArrayList<>();
        for (int i = 1; i < meta.getColumnCount(); i++) { // the last column is the document id
            columns.add(new Column(meta.getColumnName(i), ColumnType.of(meta.getColumnTypeName(i))));
        }
        return columns;
    }

    private static Iterator<Row> rows(ResultSet rs, List<Column> columns, long[] sides) {
        return new Iterator<>() {
            private Boolean hasNext;

            @Override
            public boolean hasNext() {
                if (hasNext == null) {
                    try {
                        hasNext = rs.next();
                    } catch (SQLException e) {
                        throw new CliException("Reading rows failed: " + e.getMessage(), e);
                    }
                }
                return hasNext;
            }

            @Override
            public Row next() {
                hasNext();
                hasNext = null;
                try {
                    Object[] values = new Object[columns.size()];
                    for (int i = 0; i < values.length; i++) {
                        values[i] = columns.get(i).type().readValue(rs, i + 1);
                    }
                    sides[0]++;
                    return new Row(rs.getString(columns.size() + 1), values);
                } catch (SQLException e) {
                    throw new CliException("Reading rows failed: " + e.getMessage(), e);
                }
            }
        };
    }

    private ElasticsearchHttp.Scroll scroll(String index) {
        ObjectNode search = Json.object();
        // Sorting on _id uses its field data, fine at these sizes; the scroll gives a consistent view of the index.
        search.putArray("sort").add("_id");
        return es.scroll(index, search, PAGE_SIZE);
    }

    /** The documents of an index in id order (none if the index does not exist). */
    private static final class IndexDocuments implements Iterator<Document>, AutoCloseable {
        private final ElasticsearchHttp.Scroll scroll;
        private final long[] sides;

        IndexDocuments(ElasticsearchHttp.Scroll scroll, long[] sides) {
            this.scroll = scroll;
            this.sides = sides;
        }

        @Override
        public boolean hasNext() {
            return scroll != null && scroll.hasNext();
        }

        @Override
        public Document next() {
            JsonNode hit = scroll.next();
            sides[1]++;
            return new Document(hit.path("_id").asText(), hit.path("_source"));
        }

        @Override
        public void close() {
            if (scroll != null) {
                scroll.close();
            }
        }
    }
}
