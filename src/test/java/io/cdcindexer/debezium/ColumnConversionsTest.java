package io.cdcindexer.debezium;

import static io.cdcindexer.debezium.DebeziumFixtures.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.kafka.KafkaRecord;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Each Debezium type, as the schema declares it, becomes JSON that Elasticsearch maps well. */
class ColumnConversionsTest {

    private static JsonNode row;
    private static String document;

    @BeforeAll
    static void decodeTheTypesFixture() throws Exception {
        KafkaRecord record = record("types-insert");
        row = new DebeziumDecoder("__debezium_unavailable_value").decode(record.topic, record.key, record.value).after();
        document = new String(DebeziumDecoder.toJson((com.fasterxml.jackson.databind.node.ObjectNode) row),
                StandardCharsets.UTF_8);
    }

    @Test
    void decimalBecomesAnExactNumber() {
        assertThat(row.get("price").isBigDecimal()).isTrue();
        assertThat(document).contains("\"price\":-12.345");
    }

    @Test
    void variableScaleDecimalBecomesAnExactNumber() {
        assertThat(document).contains("\"ratio\":3.1416");
    }

    @Test
    void decimalKeepsItsScale() throws Exception {
        KafkaRecord record = record("orders-insert");
        DebeziumEnvelope order = new DebeziumDecoder("x").decode(record.topic, record.key, record.value);

        assertThat(new String(DebeziumDecoder.toJson(order.after()), StandardCharsets.UTF_8)).contains("\"amount\":1234.50");
    }

    @Test
    void dateBecomesAnIsoDate() {
        assertThat(row.get("born").asText()).isEqualTo("2022-01-08");
    }

    @Test
    void timeBecomesAnIsoTime() {
        assertThat(row.get("alarm").asText()).isEqualTo("09:30:00.123456");
    }

    /**
     * Debezium writes timetz in UTC with as few fraction digits as it needs ("07:30:00Z", "09:30:00.5Z"); as text,
     * "07:30:00Z" then sorts after "07:30:00.5Z". Written with six digits, as Debezium writes timestamptz, text order is
     * time order, which the keyword mapping of the column relies on (docs/mappings.md).
     */
    @Test
    void timeWithTimeZoneBecomesAFixedWidthUtcTimeWhoseTextOrderIsTimeOrder() throws Exception {
        List<String> times = new ArrayList<>();
        for (int id = 1; id <= 3; id++) {
            KafkaRecord record = record("captured/mapping-types-" + id);
            times.add(new DebeziumDecoder("x").decode(record.topic, record.key, record.value).after().get("alarm_tz").asText());
        }

        assertThat(times).containsExactly("07:30:00.000000Z", "04:59:59.999999Z", "09:30:00.500000Z");
        assertThat(times.stream().sorted()).containsExactly("04:59:59.999999Z", "07:30:00.000000Z", "09:30:00.500000Z");
    }

    /**
     * A time without zone keeps ISO_LOCAL_TIME's shortest fraction ("09:30:00.5"): seconds are always written, so its
     * text order is time order already, 24:00:00 included.
     */
    @Test
    void timeTextOrderIsTimeOrder() throws Exception {
        Map<String, Long> microsByText = new TreeMap<>();
        for (int id : new int[] {1, 2, 3, 5}) {
            KafkaRecord record = record("captured/mapping-types-" + id);
            long micros = DebeziumFixtures.json("captured/mapping-types-" + id).at("/value/payload/after/alarm").asLong();
            microsByText.put(new DebeziumDecoder("x").decode(record.topic, record.key, record.value).after().get("alarm")
                    .asText(), micros);
        }

        assertThat(microsByText.keySet()).containsExactly("00:00:00", "09:30:00.123456", "09:30:00.5", "24:00:00");
        assertThat(new ArrayList<>(microsByText.values())).isSorted();
    }

    @Test
    void timestampsBecomeIsoLocalDateTimes() {
        assertThat(row.get("seen_at").asText()).isEqualTo("2025-11-27T10:00:00.123456");
        assertThat(row.get("seen_at_ms").asText()).isEqualTo("2025-11-27T10:00:00.123");
    }

    @Test
    void zonedTimestampStaysAsDebeziumWroteIt() {
        assertThat(row.get("paid_at").asText()).isEqualTo("2026-11-27T10:00:00.5+01:00");
    }

    @Test
    void jsonBecomesAnObjectOrArray() {
        assertThat(row.get("attrs")).hasToString("{\"size\":\"L\",\"tags\":[\"a\",\"b\"]}");
        assertThat(row.get("doc")).hasToString("[1,2.50,{\"x\":null}]");
    }

    @Test
    void arraysAreConvertedItemByItem() {
        assertThat(row.get("docs")).hasToString("[{\"a\":1},null]");
        assertThat(row.get("holidays")).hasToString("[\"1970-01-01\",\"2022-01-08\"]");
    }

    @Test
    void otherTypesStayAsTheyAre() {
        assertThat(row.get("blob").asText()).isEqualTo("AAFiaW5hcnk=");
        assertThat(row.get("id_uuid").asText()).isEqualTo("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assertThat(row.get("active").booleanValue()).isTrue();
        assertThat(document).contains("\"score\":0.1");
    }

    @Test
    void invalidJsonInAJsonColumnIsMalformed() {
        String value = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"field\":\"after\",\"fields\":"
                + "[{\"type\":\"int32\",\"field\":\"id\"},{\"type\":\"string\",\"name\":\"io.debezium.data.Json\",\"field\":\"j\"}]}]},"
                + "\"payload\":{\"op\":\"c\",\"after\":{\"id\":1,\"j\":\"{oops\"},"
                + "\"source\":{\"schema\":\"public\",\"table\":\"t\",\"lsn\":1}}}";
        assertThatThrownBy(() -> new DebeziumDecoder("x").decode("cdc.public.t", "{\"id\":1}".getBytes(), value.getBytes()))
                .isInstanceOf(MalformedChangeException.class)
                .hasMessageContaining("a json column holds invalid JSON");
    }
}
