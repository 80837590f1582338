package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.cli.DocumentIdSql.KeyColumn;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The SQL form of the id rule; VerifyITCase runs it against PostgreSQL with documents the job made of real events. */
class DocumentIdSqlTest {

    @Test
    void aSingleColumnKeyIsItsValueWithPercentEscapedAndTheEmptyStringAsPercent00() {
        assertThat(DocumentIdSql.expression(List.of(KeyColumn.text("\"id\"")))).isEqualTo(
                "CASE WHEN \"id\"::text = '' THEN '%00' ELSE replace(\"id\"::text, '%', '%25') END");
    }

    @Test
    void aCompositeKeyJoinsEscapedValuesWithCommas() {
        assertThat(DocumentIdSql.expression(List.of(KeyColumn.text("\"a\""), KeyColumn.text("\"b\"")))).isEqualTo(
                "replace(replace(\"a\"::text, '%', '%25'), ',', '%2C') || ',' || "
                        + "replace(replace(\"b\"::text, '%', '%25'), ',', '%2C')");
    }

    @Test
    void eachTypeIsWrittenAsTheJobWritesItsValue() {
        assertThat(text("bool", -1)).isEqualTo("\"k\"::text"); // 'true', as the JSON true
        assertThat(text("int8", -1)).isEqualTo("\"k\"::text");
        assertThat(text("bpchar", 9)).isEqualTo("concat(\"k\")");
        assertThat(text("money", -1)).isEqualTo("\"k\"::numeric::text");
        assertThat(text("numeric", -1)).isEqualTo("trim_scale(\"k\")::text");
        assertThat(text("numeric", 655366)).isEqualTo("\"k\"::text"); // numeric(10,2)
        assertThat(text("date", -1)).isEqualTo("to_char(\"k\", 'YYYY-MM-DD')");
        assertThat(text("timestamp", -1)).isEqualTo("replace(\"k\"::text, ' ', 'T')");
        assertThat(text("timestamptz", -1)).isEqualTo("to_char(\"k\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.FF6\"Z\"')");
        assertThat(text("timestamptz", 3)).isEqualTo("to_char(\"k\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.FF3\"Z\"')");
        assertThat(text("timestamptz", 0)).isEqualTo("to_char(\"k\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
        assertThat(text("bytea", -1)).isEqualTo("translate(encode(\"k\", 'base64'), E'\\n', '')");
    }

    private static String text(String type, int typmod) {
        return DocumentIdSql.valueText(new KeyColumn("\"k\"", type, typmod));
    }
}
