package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.cli.TableVerifier.Column;
import io.cdcindexer.cli.TableVerifier.Difference;
import io.cdcindexer.cli.TableVerifier.Document;
import io.cdcindexer.cli.TableVerifier.Kind;
import io.cdcindexer.cli.TableVerifier.Row;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TableVerifierTest {

    private static final List<Column> COLUMNS = List.of(
            new Column("id", ColumnType.INTEGER), new Column("email", ColumnType.TEXT));

    private static Row row(int id, String email) {
        return new Row(Integer.toString(id), new Object[] {new BigDecimal(id), email});
    }

    private static Document doc(int id, String email) {
        return new Document(Integer.toString(id), Json.parse("{\"id\":" + id + ",\"email\":\"" + email + "\"}", "test"));
    }

    private static List<Difference> merge(List<Row> rows, List<Document> docs) {
        List<Difference> differences = new ArrayList<>();
        TableVerifier.merge(rows.iterator(), docs.iterator(), COLUMNS, Set.of(), differences::add);
        return differences;
    }

    @Test
    void identicalSidesHaveNoDifference() {
        assertThat(merge(List.of(row(1, "a"), row(10, "b"), row(2, "c")),
                List.of(doc(1, "a"), doc(10, "b"), doc(2, "c")))).isEmpty();
    }

    @Test
    void reportsMissingExtraAndStaleById() {
        List<Difference> differences = merge(
                List.of(row(1, "a"), row(2, "b"), row(4, "d"), row(5, "e")),
                List.of(doc(1, "a"), doc(2, "old"), doc(3, "c"), doc(5, "e"), doc(6, "f")));
        assertThat(differences).extracting(Difference::kind, Difference::id).containsExactly(
                org.assertj.core.groups.Tuple.tuple(Kind.STALE, "2"),
                org.assertj.core.groups.Tuple.tuple(Kind.EXTRA, "3"),
                org.assertj.core.groups.Tuple.tuple(Kind.MISSING, "4"),
                org.assertj.core.groups.Tuple.tuple(Kind.EXTRA, "6"));
        assertThat(differences.get(0).detail()).isEqualTo("email: database \"b\", index \"old\"");
    }

    @Test
    void emptyIndexMeansEveryRowIsMissing() {
        assertThat(merge(List.of(row(1, "a"), row(2, "b")), List.of()))
                .extracting(Difference::kind).containsExactly(Kind.MISSING, Kind.MISSING);
    }

    @Test
    void aDocumentLackingAColumnOrWithAnExtraFieldIsStale() {
        Object[] values = {new BigDecimal(1), "a"};
        assertThat(TableVerifier.compare(COLUMNS, values, Json.parse("{\"id\":1}", "t"), Set.of()))
                .containsExactly("lacks column email");
        assertThat(TableVerifier.compare(COLUMNS, values, Json.parse("{\"id\":1,\"email\":\"a\",\"x\":1}", "t"), Set.of()))
                .containsExactly("has field x, which is no column");
        assertThat(TableVerifier.compare(COLUMNS, values, Json.parse("{\"id\":1,\"email\":\"a\",\"x\":1}", "t"), Set.of("x")))
                .isEmpty();
    }

    @Test
    void aLongValueIsShownByItsEndsAndLength() {
        String body = "a".repeat(50) + "x".repeat(5_000) + "z".repeat(20);
        Object[] values = {new BigDecimal(1), body};
        assertThat(TableVerifier.compare(COLUMNS, values, Json.parse("{\"id\":1,\"email\":\"b\"}", "t"), Set.of()))
                .containsExactly("email: database \"" + "a".repeat(39) + "…" + "z".repeat(19) + "\" (5,072 chars), index \"b\"");
    }

    @Test
    void aMissingFieldMatchesANullColumnAddedLater() {
        Object[] values = {new BigDecimal(1), null};
        assertThat(TableVerifier.compare(COLUMNS, values, Json.parse("{\"id\":1}", "t"), Set.of())).isEmpty();
        assertThat(TableVerifier.compare(COLUMNS, values, Json.parse("{\"id\":1,\"email\":\"a\"}", "t"), Set.of()))
                .hasSize(1);
    }

    @Test
    void refusesSidesThatAreNotSortedAlike() {
        assertThatThrownBy(() -> merge(List.of(row(2, "a"), row(10, "b")), List.of()))
                .isInstanceOf(CliException.class)
                .hasMessageContaining("not in ascending order");
    }

    @Test
    void ordersByCodePointLikePostgresCollationC() {
        assertThat(TableVerifier.compareCodePoints("10", "2")).isNegative();
        assertThat(TableVerifier.compareCodePoints("Z", "a")).isNegative();
        assertThat(TableVerifier.compareCodePoints("a", "ab")).isNegative();
        // U+1F600 (a surrogate pair in UTF-16) sorts after U+FF5E by code point, although not by String.compareTo.
        assertThat(TableVerifier.compareCodePoints("\uD83D\uDE00", "\uFF5E")).isPositive();
        assertThat("\uD83D\uDE00".compareTo("\uFF5E")).isNegative();
    }

    @Test
    void summaryLineReadsLikeTheDocumentedExample() {
        TableVerifier.Report report = new TableVerifier.Report("users", "cdc.public.users", true, 1000, 1000, 0, 0, 0,
                List.of());
        assertThat(report.summary()).isEqualTo("verify: users 1000 rows, 1000 docs, 0 missing, 0 extra, 0 stale");
        assertThat(report.inStep()).isTrue();
    }
}
