package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class DocumentIdsTest {

    @Test
    void aSingleColumnKeyIsItsValueAsText() {
        assertThat(DocumentIds.of(List.of("1"))).isEqualTo("1");
        assertThat(DocumentIds.of(List.of("a|b"))).isEqualTo("a|b");
        assertThat(DocumentIds.sqlExpression(List.of("\"id\""))).isEqualTo("\"id\"::text");
    }

    @Test
    void aCompositeKeyJoinsEscapedValues() {
        assertThat(DocumentIds.of(List.of("1", "a|b"))).isEqualTo("1|a\\|b");
        assertThat(DocumentIds.of(List.of("x\\", "y"))).isEqualTo("x\\\\|y");
        assertThat(DocumentIds.of(List.of("a|", "b"))).isNotEqualTo(DocumentIds.of(List.of("a", "|b")));
    }

    @Test
    void theSqlExpressionJoinsEveryKeyColumn() {
        String sql = DocumentIds.sqlExpression(List.of("\"a\"", "\"b\""));
        assertThat(sql).contains("\"a\"::text").contains("\"b\"::text").contains("|| '|' ||");
    }
}
