package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import org.junit.jupiter.api.Test;

class ColumnTypeTest {

    private static JsonNode json(String text) {
        return Json.parse(text, "test");
    }

    @Test
    void mapsPostgresTypeNames() {
        assertThat(ColumnType.of("int4")).isEqualTo(ColumnType.INTEGER);
        assertThat(ColumnType.of("int8")).isEqualTo(ColumnType.INTEGER);
        assertThat(ColumnType.of("serial")).isEqualTo(ColumnType.INTEGER);
        assertThat(ColumnType.of("numeric")).isEqualTo(ColumnType.DECIMAL);
        assertThat(ColumnType.of("float8")).isEqualTo(ColumnType.FLOAT);
        assertThat(ColumnType.of("timestamptz")).isEqualTo(ColumnType.TIMESTAMPTZ);
        assertThat(ColumnType.of("timestamp")).isEqualTo(ColumnType.TIMESTAMP);
        assertThat(ColumnType.of("date")).isEqualTo(ColumnType.DATE);
        assertThat(ColumnType.of("jsonb")).isEqualTo(ColumnType.JSON);
        assertThat(ColumnType.of("_int4")).isEqualTo(ColumnType.ARRAY);
        assertThat(ColumnType.of("uuid")).isEqualTo(ColumnType.TEXT);
        assertThat(ColumnType.of("varchar")).isEqualTo(ColumnType.TEXT);
    }

    /** money and bytea as the job writes them: a number, and base64 (the key-types events of CapturedEventsTest). */
    @Test
    void moneyIsANumberAndByteaBase64InTheDocument() {
        assertThat(ColumnType.of("money")).isEqualTo(ColumnType.MONEY);
        assertThat(ColumnType.of("bytea")).isEqualTo(ColumnType.BYTES);
        assertThat(ColumnType.MONEY.matchesValue(new BigDecimal("12.34"), json("12.34"))).isTrue();
        assertThat(ColumnType.MONEY.matchesValue(new BigDecimal("12.34"), json("12.35"))).isFalse();
        assertThat(ColumnType.BYTES.matchesValue(new byte[] {0, 1, (byte) 0xff}, json("\"AAH/\""))).isTrue();
        assertThat(ColumnType.BYTES.matchesValue(new byte[] {0, 1, (byte) 0xfe}, json("\"AAH/\""))).isFalse();
        assertThat(ColumnType.BYTES.describeValue(new byte[] {0})).isEqualTo("AA==");
    }

    @Test
    void numbersCompareByExactValueNotByRepresentation() {
        assertThat(ColumnType.DECIMAL.matchesValue(new BigDecimal("10.50"), json("10.5"))).isTrue();
        assertThat(ColumnType.DECIMAL.matchesValue(new BigDecimal("10.50"), json("10.50"))).isTrue();
        assertThat(ColumnType.DECIMAL.matchesValue(new BigDecimal("10.50"), json("10.51"))).isFalse();
        assertThat(ColumnType.DECIMAL.matchesValue(new BigDecimal("0.10"), json("0.1000000000000000055511151231257827")))
                .isFalse();
        assertThat(ColumnType.INTEGER.matchesValue(new BigDecimal("12345678901234567"), json("12345678901234567")))
                .isTrue();
        assertThat(ColumnType.INTEGER.matchesValue(new BigDecimal("12345678901234567"), json("12345678901234568")))
                .isFalse();
    }

    @Test
    void aNumberWrittenAsTextIsStale() {
        assertThat(ColumnType.DECIMAL.matchesValue(new BigDecimal("10.50"), json("\"10.50\""))).isFalse();
        assertThat(ColumnType.INTEGER.matchesValue(new BigDecimal("1"), json("\"1\""))).isFalse();
    }

    @Test
    void timestamptzComparesInstantsWhateverTheFractionDigits() {
        Instant instant = Instant.parse("2024-01-02T03:04:05.120Z");
        assertThat(ColumnType.TIMESTAMPTZ.matchesValue(instant, json("\"2024-01-02T03:04:05.12Z\""))).isTrue();
        assertThat(ColumnType.TIMESTAMPTZ.matchesValue(instant, json("\"2024-01-02T04:04:05.12+01:00\""))).isTrue();
        assertThat(ColumnType.TIMESTAMPTZ.matchesValue(instant, json("\"2024-01-02T03:04:05.121Z\""))).isFalse();
        assertThat(ColumnType.TIMESTAMPTZ.matchesValue(instant, json("1704164645120"))).isFalse();
        assertThat(ColumnType.TIMESTAMPTZ.matchesValue(instant, json("\"yesterday\""))).isFalse();
    }

    @Test
    void localDateTimesDatesAndTimesAreIsoText() {
        assertThat(ColumnType.TIMESTAMP.matchesValue(LocalDateTime.parse("2024-01-02T03:04:05.123456"),
                json("\"2024-01-02T03:04:05.123456\""))).isTrue();
        assertThat(ColumnType.TIMESTAMP.matchesValue(LocalDateTime.parse("2024-01-02T03:04:05"),
                json("\"2024-01-02T03:04:05Z\""))).isFalse();
        assertThat(ColumnType.DATE.matchesValue(LocalDate.parse("2024-01-02"), json("\"2024-01-02\""))).isTrue();
        assertThat(ColumnType.DATE.matchesValue(LocalDate.parse("2024-01-02"), json("19724"))).isFalse();
        assertThat(ColumnType.TIME.matchesValue(LocalTime.parse("10:15:30"), json("\"10:15:30\""))).isTrue();
    }

    @Test
    void jsonColumnsCompareAsJsonWithNumbersByValue() {
        JsonNode row = json("{\"a\":[1,2.50],\"b\":{\"c\":null}}");
        assertThat(ColumnType.JSON.matchesValue(row, json("{\"b\":{\"c\":null},\"a\":[1.0,2.5]}"))).isTrue();
        assertThat(ColumnType.JSON.matchesValue(row, json("{\"a\":[1,2.5]}"))).isFalse();
        assertThat(ColumnType.JSON.matchesValue(row, json("\"{\\\"a\\\":[1,2.50],\\\"b\\\":{\\\"c\\\":null}}\"")))
                .isFalse();
    }

    @Test
    void nullMatchesOnlyNull() {
        assertThat(ColumnType.TEXT.matchesValue(null, json("null"))).isTrue();
        assertThat(ColumnType.TEXT.matchesValue(null, json("\"\""))).isFalse();
        assertThat(ColumnType.TEXT.matchesValue("", json("null"))).isFalse();
        assertThat(ColumnType.TEXT.matchesValue("a@x", json("\"a@x\""))).isTrue();
    }

    @Test
    void arraysCompareElementByElement() {
        assertThat(ColumnType.ARRAY.matchesValue(new Object[] {1, 2}, json("[1,2]"))).isTrue();
        assertThat(ColumnType.ARRAY.matchesValue(new Object[] {"a", null}, json("[\"a\",null]"))).isTrue();
        assertThat(ColumnType.ARRAY.matchesValue(new Object[] {1, 2}, json("[2,1]"))).isFalse();
    }

    @Test
    void describesValuesForTheReport() {
        assertThat(ColumnType.TEXT.describeValue("a")).isEqualTo("\"a\"");
        assertThat(ColumnType.DECIMAL.describeValue(new BigDecimal("1.50"))).isEqualTo("1.50");
        assertThat(ColumnType.TEXT.describeValue(null)).isEqualTo("null");
    }
}
