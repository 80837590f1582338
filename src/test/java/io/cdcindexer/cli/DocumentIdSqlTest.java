package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class DocumentIdSqlTest {

    @Test
    void aSingleColumnKeyIsItsValueAsText() {
        assertThat(DocumentIdSql.expression(List.of("\"id\""))).isEqualTo("\"id\"::text");
    }

    @Test
    void aCompositeKeyJoinsEscapedValuesWithCommas() {
        assertThat(DocumentIdSql.expression(List.of("\"a\"", "\"b\""))).isEqualTo(
                "replace(replace(\"a\"::text, '%', '%25'), ',', '%2C') || ',' || "
                        + "replace(replace(\"b\"::text, '%', '%25'), ',', '%2C')");
    }
}
