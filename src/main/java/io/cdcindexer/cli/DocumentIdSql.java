package io.cdcindexer.cli;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The job's document id rule ({@link io.cdcindexer.debezium.DocumentIds}) as an SQL expression, so that verify can
 * read rows sorted by the id of their document.
 *
 * <p>Each key column is first written as the job writes its value in JSON ({@link #valueText}): {@code ::text} where
 * the two agree, and per type where they do not (bool {@code true}, timestamp with a {@code T}, timestamptz in UTC with
 * its precision's digits, money as a number, bytea as base64, char with its padding, numeric without scale without
 * trailing zeros). Then the rule: one key column: its value with {@code %} written as {@code %25}, and the empty string
 * as {@code %00}; several: the values in key order, joined by {@code ,}, with {@code %} written as {@code %25} and
 * {@code ,} as {@code %2C} inside each value.
 *
 * <p>Keep in step with DocumentIds: VerifyITCase indexes the documents the job made of captured events for keys of
 * every type, and checks that verify finds every one.
 */
public final class DocumentIdSql {

    /** A key column: its name, quoted for SQL, and its type as pg_type names it, with its modifier (-1 for none). */
    public record KeyColumn(String quotedName, String type, int typmod) {

        /** A column whose ::text is what the job writes (int, text, uuid, an enum ...). */
        public static KeyColumn text(String quotedName) {
            return new KeyColumn(quotedName, "text", -1);
        }
    }

    private DocumentIdSql() {}

    /** The document id of a row of {@code table}, over its key columns in key order, their types read from the catalog. */
    public static String expression(Connection db, CapturedTable table) throws SQLException {
        return expression(db, table, null);
    }

    /** The same, for the table under an alias in the query ({@code t0}); null for none. */
    public static String expression(Connection db, CapturedTable table, String alias) throws SQLException {
        return expression(db, table, table.keyColumns(), alias);
    }

    /**
     * The document id that these columns of a row make, as the key of another table would make it with the same values:
     * a foreign key, written with its own columns' types, as the job reads it from the row.
     */
    public static String expression(Connection db, CapturedTable table, List<String> columns, String alias)
            throws SQLException {
        String sql = """
                SELECT a.attname, t.typname, a.atttypmod
                FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped""";
        Map<String, KeyColumn> byName = new HashMap<>();
        try (PreparedStatement query = db.prepareStatement(sql)) {
            query.setString(1, table.quotedName());
            try (ResultSet rs = query.executeQuery()) {
                while (rs.next()) {
                    String quoted = CapturedTable.quote(rs.getString(1));
                    byName.put(rs.getString(1), new KeyColumn(alias == null ? quoted : alias + "." + quoted,
                            rs.getString(2), rs.getInt(3)));
                }
            }
        }
        List<KeyColumn> key = new ArrayList<>();
        for (String column : columns) {
            KeyColumn keyColumn = byName.get(column);
            if (keyColumn == null) {
                throw new CliException("Table " + table.quotedName() + " has no column " + column);
            }
            key.add(keyColumn);
        }
        return expression(key);
    }

    /** The document id of a row, over its key columns in key order. */
    public static String expression(List<KeyColumn> key) {
        if (key.size() == 1) {
            String value = valueText(key.get(0));
            return "CASE WHEN " + value + " = '' THEN '%00' ELSE replace(" + value + ", '%', '%25') END";
        }
        return key.stream()
                .map(column -> "replace(replace(" + valueText(column) + ", '%', '%25'), ',', '%2C')")
                .collect(Collectors.joining(" || ',' || "));
    }

    /**
     * A key column's value as text, as the job writes it in its JSON (see ColumnConversions): what DocumentIds then
     * escapes. Dates and times assume years 1 to 9999; timestamp and time rely on DateStyle ISO, which the JDBC driver
     * sets.
     */
    static String valueText(KeyColumn column) {
        String c = column.quotedName();
        return switch (column.type()) {
            case "bpchar" -> "concat(" + c + ")"; // ::text drops char(n)'s padding; Debezium keeps it
            case "money" -> c + "::numeric::text"; // '$12.34' in the database, 12.34 in the job's JSON
            case "numeric" -> column.typmod() < 0 ? "trim_scale(" + c + ")::text" : c + "::text"; // Debezium strips
            case "date" -> "to_char(" + c + ", 'YYYY-MM-DD')";
            case "timestamp" -> "replace(" + c + "::text, ' ', 'T')";
            case "timestamptz" -> "to_char(" + c + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS"
                    + fraction(column.typmod()) + "\"Z\"')";
            case "bytea" -> "translate(encode(" + c + ", 'base64'), E'\\n', '')"; // PostgreSQL breaks base64 lines
            default -> c + "::text"; // integers, text, varchar, uuid, bool (true/false), time, enums
        };
    }

    // Debezium writes a timestamptz with as many fraction digits as the column's precision, 6 by default.
    private static String fraction(int precision) {
        int digits = precision < 0 ? 6 : precision;
        return digits == 0 ? "" : ".FF" + digits;
    }
}
