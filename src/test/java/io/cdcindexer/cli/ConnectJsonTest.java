package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

class ConnectJsonTest {

    private static JsonNode decode(String fieldSchema, String value) {
        return ConnectJson.decode(Json.parse(value, "v"), Json.parse(fieldSchema, "s"));
    }

    @Test
    void decodesLogicalTypes() {
        assertThat(decode("{\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\","
                + "\"parameters\":{\"scale\":\"2\"}}", "\"B88=\"").decimalValue()).isEqualByComparingTo("19.99");
        assertThat(decode("{\"type\":\"int32\",\"name\":\"io.debezium.time.Date\"}", "19724").asText())
                .isEqualTo("2024-01-02");
        assertThat(decode("{\"type\":\"int64\",\"name\":\"io.debezium.time.MicroTimestamp\"}", "1704164645123456")
                .asText()).isEqualTo("2024-01-02T03:04:05.123456");
        assertThat(decode("{\"type\":\"int64\",\"name\":\"io.debezium.time.MicroTime\"}", "3723000000").asText())
                .isEqualTo("01:02:03");
        assertThat(decode("{\"type\":\"string\",\"name\":\"io.debezium.data.Json\"}", "\"{\\\"a\\\":1}\"")
                .path("a").asInt()).isEqualTo(1);
        assertThat(decode("{\"type\":\"struct\",\"name\":\"io.debezium.data.VariableScaleDecimal\"}",
                "{\"scale\":1,\"value\":\"AQ==\"}").decimalValue()).isEqualByComparingTo("0.1");
    }

    @Test
    void leavesMessagesWithoutSchemaAsTheyAre() {
        JsonNode plain = Json.parse("{\"before\":null,\"after\":{\"amount\":\"B9A=\"}}", "t");
        assertThat(ConnectJson.hasSchema(plain)).isFalse();
        assertThat(ConnectJson.payload(plain)).isSameAs(plain);
    }

    @Test
    void unwrapsTheEnvelopeAndDecodesNestedStructs() {
        JsonNode message = Json.parse(DebeziumEvents.change("c", null, new DebeziumEvents.Order(1, 2, "5.50", "paid"),
                1, true), "t");
        assertThat(ConnectJson.hasSchema(message)).isTrue();
        assertThat(ConnectJson.payload(message).path("after").path("amount").decimalValue()).isEqualByComparingTo("5.50");
    }
}
