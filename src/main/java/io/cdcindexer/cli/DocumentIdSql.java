package io.cdcindexer.cli;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The job's document id rule ({@link io.cdcindexer.debezium.DocumentIds}) as an SQL expression, so that verify can
 * read rows sorted by the id of their document. One key column: its value as text. Several: the values in key order,
 * joined by {@code ,}, with {@code %} written as {@code %25} and {@code ,} as {@code %2C} inside each value.
 *
 * <p>Keep in step with DocumentIds: VerifyITCase indexes rows with the job's function and checks that verify finds
 * every document, composite keys included.
 */
public final class DocumentIdSql {

    private DocumentIdSql() {}

    /** The document id of a row, over its (already quoted) key columns in key order. */
    public static String expression(List<String> quotedKeyColumns) {
        if (quotedKeyColumns.size() == 1) {
            return quotedKeyColumns.get(0) + "::text";
        }
        return quotedKeyColumns.stream()
                .map(column -> "replace(replace(" + column + "::text, '%', '%25'), ',', '%2C')")
                .collect(Collectors.joining(" || ',' || "));
    }
}
