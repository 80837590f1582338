package io.cdcindexer.cli;

import java.util.List;
import java.util.stream.Collectors;

/**
 * How a row's primary key becomes its Elasticsearch document id, in Java and in SQL (verify sorts rows by this id).
 *
 * <p>ALIGN WITH THE JOB: a single-column key is its value as text ({@code 1} becomes "1"), as agreed in the contract.
 * The rule for composite keys is provisional until the job's encoding is fixed: the columns' text values in key order,
 * joined by {@code |}, with {@code \} and {@code |} escaped by a backslash ({@code (1, 'a|b')} becomes "1|a\|b").
 */
public final class DocumentIds {

    private DocumentIds() {}

    /** The document id of a row, from the text of its key columns in key order. */
    public static String of(List<String> keyValues) {
        if (keyValues.size() == 1) {
            return keyValues.get(0);
        }
        return keyValues.stream().map(DocumentIds::escape).collect(Collectors.joining("|"));
    }

    /** The same rule as {@link #of} as an SQL expression over the (already quoted) key columns. */
    public static String sqlExpression(List<String> quotedKeyColumns) {
        if (quotedKeyColumns.size() == 1) {
            return quotedKeyColumns.get(0) + "::text";
        }
        return quotedKeyColumns.stream()
                .map(column -> "replace(replace(" + column + "::text, '\\', '\\\\'), '|', '\\|')")
                .collect(Collectors.joining(" || '|' || "));
    }

    private static String escape(String value) {
        return value.replace("\\", "\\\\").replace("|", "\\|");
    }
}
