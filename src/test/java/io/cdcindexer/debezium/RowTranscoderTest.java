package io.cdcindexer.debezium;

import static io.cdcindexer.debezium.DebeziumFixtures.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.kafka.KafkaRecord;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The decoder writes each row in one pass from parser to generator ({@link RowTranscoder}). Its documents must be, byte
 * for byte, those the way it replaced gives: read the row as a tree, leave out the placeholders, apply the
 * {@link ColumnConversions}, write the tree. Checked on every captured and hand-made fixture, and on random rows of
 * every kind of value the JSON converter writes.
 */
class RowTranscoderTest {

    private static final ObjectMapper MAPPER = DebeziumDecoder.mapper();
    private static final String PLACEHOLDER = "__debezium_unavailable_value";
    private static final String PLACEHOLDER_BASE64 =
            Base64.getEncoder().encodeToString(PLACEHOLDER.getBytes(StandardCharsets.UTF_8));

    @Test
    void everyFixturesRowsAreWrittenAsATreeWouldWriteThem() throws Exception {
        DebeziumDecoder decoder = new DebeziumDecoder(PLACEHOLDER);
        int rows = 0;
        for (String name : fixtures()) {
            KafkaRecord record = DebeziumFixtures.record(name);
            if (record.value == null) {
                continue; // tombstones
            }
            // Read as the decoder reads: decimals exact, as the record's bytes hold them.
            JsonNode value = MAPPER.readTree(record.value);
            JsonNode payload = value.has("payload") ? value.get("payload") : value;
            if (!payload.path("after").isObject() && !payload.path("before").isObject()) {
                continue; // transaction events
            }
            DebeziumEnvelope envelope;
            try {
                envelope = decoder.decode(record.topic, record.key, record.value);
            } catch (MalformedChangeException e) {
                continue; // the fixtures of refused records: DebeziumDecoderTest covers what they give
            }
            ColumnConversions conversions = conversionsOf(value);
            if (payload.path("after").isObject()) {
                assertThat(text(envelope.afterJson())).as(name + " after")
                        .isEqualTo(viaTree(payload.get("after"), conversions, true));
                rows++;
            }
            if (payload.path("before").isObject()) {
                assertThat(text(envelope.beforeJson())).as(name + " before")
                        .isEqualTo(viaTree(payload.get("before"), conversions, false));
                rows++;
            }
        }
        assertThat(rows).as("rows compared").isGreaterThan(100);
    }

    @Test
    void randomRowsOfEveryKindOfValueAreWrittenAsATreeWouldWriteThem() throws Exception {
        Random random = new Random(20261202);
        for (int i = 0; i < 3_000; i++) {
            ObjectNode schema = JsonNodeFactory.instance.objectNode().put("type", "struct");
            ArrayNode fields = schema.putArray("fields");
            ObjectNode row = JsonNodeFactory.instance.objectNode();
            row.put("id", i);
            fields.addObject().put("type", "int32").put("field", "id");
            int columns = 1 + random.nextInt(12);
            for (int c = 0; c < columns; c++) {
                column(random, "c" + c, fields, row);
            }
            String json = raw(row);
            ColumnConversions conversions = ColumnConversions.forStruct(schema, MAPPER);
            for (boolean removeUnavailable : new boolean[] {true, false}) {
                String expected;
                try {
                    expected = viaTree(MAPPER.readTree(json), conversions, removeUnavailable);
                } catch (MalformedChangeException e) {
                    assertThatThrownBy(() -> transcode(json, conversions, removeUnavailable)).as(json)
                            .isInstanceOf(MalformedChangeException.class).hasMessage(e.getMessage());
                    continue;
                }
                assertThat(text(transcode(json, conversions, removeUnavailable).json)).as(json).isEqualTo(expected);
            }
        }
    }

    @Test
    void theKeyColumnsValuesAreTakenConverted() throws Exception {
        ObjectNode schema = (ObjectNode) MAPPER.readTree("{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
                + "\"name\":\"io.debezium.time.Date\",\"field\":\"day\"},{\"type\":\"string\",\"field\":\"name\"}]}");
        byte[] json = bytes("{\"name\":\"a\",\"day\":19000,\"x\":1}");
        RowTranscoder.Row row = new RowTranscoder(MAPPER, PLACEHOLDER, PLACEHOLDER_BASE64).write(json, 0, json.length,
                "after", ColumnConversions.forStruct(schema, MAPPER), new String[] {"day", "missing"}, true);

        assertThat(row.keyValues[0].textValue()).isEqualTo("2022-01-08");
        assertThat(row.keyValues[1]).isNull();
        assertThat(text(row.json)).isEqualTo("{\"name\":\"a\",\"day\":\"2022-01-08\",\"x\":1}");
    }

    @Test
    void aRowInTheMiddleOfTheRecordIsReadWhereItLies() throws Exception {
        String text = "{\"before\":null,\"after\":{\"id\":1,\"f\":1.5E3},\"op\":\"c\"}";
        int start = text.indexOf("{\"id\"");
        RowTranscoder.Row row = new RowTranscoder(MAPPER, PLACEHOLDER, PLACEHOLDER_BASE64).write(bytes(text), start,
                text.indexOf("},") + 1, "after", ColumnConversions.NONE, new String[] {"id"}, true);

        assertThat(text(row.json)).isEqualTo("{\"id\":1,\"f\":1500}");
        assertThat(row.keyValues[0].intValue()).isEqualTo(1);
    }

    /** A tree kept the last of two values under one name, silently; a document cannot hold both. */
    @Test
    void aColumnNamedTwiceIsMalformed() {
        assertThatThrownBy(() -> transcode("{\"id\":1,\"a\":1,\"a\":2}", ColumnConversions.NONE, true))
                .isInstanceOf(MalformedChangeException.class).hasMessage("'after' has the column 'a' twice");
    }

    @Test
    void theUnavailableColumnsAreNamedInTheirOrder() throws Exception {
        RowTranscoder.Row row = transcode("{\"id\":1,\"a\":\"" + PLACEHOLDER + "\",\"b\":[\"" + PLACEHOLDER + "\"],"
                + "\"c\":\"" + PLACEHOLDER_BASE64 + "\",\"d\":\"" + PLACEHOLDER + "x\"}", ColumnConversions.NONE, true);

        assertThat(row.unavailable).containsExactly("a", "b", "c");
        assertThat(text(row.json)).isEqualTo("{\"id\":1,\"d\":\"" + PLACEHOLDER + "x\"}");
    }

    // --- the way the transcoder replaced ---------------------------------------------------------------------------

    private static String viaTree(JsonNode source, ColumnConversions conversions, boolean removeUnavailable)
            throws MalformedChangeException {
        ObjectNode row = source.deepCopy();
        if (removeUnavailable) {
            for (Iterator<Map.Entry<String, JsonNode>> it = row.fields(); it.hasNext(); ) {
                if (isPlaceholder(it.next().getValue())) {
                    it.remove();
                }
            }
        }
        conversions.apply(row);
        return text(DebeziumDecoder.toJson(row));
    }

    private static boolean isPlaceholder(JsonNode value) {
        if (value.isTextual()) {
            return value.textValue().equals(PLACEHOLDER) || value.textValue().equals(PLACEHOLDER_BASE64);
        }
        return value.isArray() && value.size() == 1 && isPlaceholder(value.get(0));
    }

    // --- helpers ---------------------------------------------------------------------------------------------------

    private static RowTranscoder.Row transcode(String json, ColumnConversions conversions, boolean removeUnavailable)
            throws MalformedChangeException {
        byte[] bytes = bytes(json);
        return new RowTranscoder(MAPPER, PLACEHOLDER, PLACEHOLDER_BASE64)
                .write(bytes, 0, bytes.length, "after", conversions, new String[] {"id"}, removeUnavailable);
    }

    private static ColumnConversions conversionsOf(JsonNode value) {
        if (!value.has("schema")) {
            return ColumnConversions.NONE;
        }
        for (JsonNode field : value.get("schema").path("fields")) {
            if (field.path("field").asText().equals("after") || field.path("field").asText().equals("before")) {
                return ColumnConversions.forStruct(field, MAPPER);
            }
        }
        return ColumnConversions.NONE;
    }

    private static List<String> fixtures() throws IOException, URISyntaxException {
        Path root = Path.of(DebeziumFixtures.class.getResource("/debezium").toURI());
        List<String> names = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            files.filter(file -> file.toString().endsWith(".json")).sorted().forEach(file -> {
                String relative = root.relativize(file).toString();
                names.add(relative.substring(0, relative.length() - ".json".length()));
            });
        }
        return names;
    }

    private static String text(byte[] json) {
        return new String(json, StandardCharsets.UTF_8);
    }

    // --- random rows -----------------------------------------------------------------------------------------------

    private static final String[] NUMBERS = {"0", "-0", "7", "-12", "2147483648", "-9223372036854775808",
        "9223372036854775808", "123456789012345678901234567890", "1.5", "1.50", "-0.0", "0.000001", "1e5", "1E+20",
        "1.5E-7", "-2.5e300", "3.141592653589793", "100.000", "1e-400"};
    private static final String[] TEXTS = {"", "plain", "quote \\\" in", "back\\\\slash", "tab\\tnew\\nline",
        "\\u0000\\u001f", "é ü ß", "\\u00e9", "日本語", "\\ud83d\\ude00 😀", "</script>", PLACEHOLDER, PLACEHOLDER_BASE64,
        PLACEHOLDER + " ", "2022-01-08", "{\\\"a\\\":1.50}", "[1,2.0e1]", "{oops"};
    // Logical types the conversions handle, with a raw value of the kind the converter writes and one it should not.
    private static final String[][] LOGICAL = {
        {"int32", "io.debezium.time.Date", "19000", "-719528", "\"x\""},
        {"int64", "io.debezium.time.MicroTimestamp", "1764240000123456", "-62135596800000000", "1.5"},
        {"int64", "io.debezium.time.Timestamp", "1764240000123", "0", "null"},
        {"int64", "io.debezium.time.NanoTime", "86400000000000", "1", "\"1\""},
        {"int64", "io.debezium.time.MicroTime", "34200123456", "0", "true"},
        {"string", "io.debezium.time.ZonedTime", "\"09:30:00+02\"", "\"23:59:59.999999-01\"", "\"nope\""},
        {"string", "io.debezium.time.ZonedTimestamp", "\"2025-11-27T10:00:00.123Z\"", "\"x\"", "1"},
        {"bytes", "org.apache.kafka.connect.data.Decimal", "\"BNI=\"", "\"AA==\"", "\"***\""},
        {"string", "io.debezium.data.Json", "\"{\\\"a\\\":[1,2.50,{\\\"b\\\":null}]}\"", "\"[1e3]\"", "\"{oops\""},
        {"struct", "io.debezium.data.VariableScaleDecimal", "{\"scale\":2,\"value\":\"BNI=\"}",
            "{\"scale\":0,\"value\":\"AQ==\"}", "{\"scale\":1}"},
    };

    private static void column(Random random, String name, ArrayNode fields, ObjectNode row) {
        int kind = random.nextInt(9);
        String value;
        switch (kind) {
            case 0 -> value = NUMBERS[random.nextInt(NUMBERS.length)];
            case 1 -> value = "\"" + TEXTS[random.nextInt(TEXTS.length)] + "\"";
            case 2 -> value = random.nextBoolean() ? "true" : random.nextBoolean() ? "false" : "null";
            case 3 -> value = "[" + NUMBERS[random.nextInt(NUMBERS.length)] + ","
                    + NUMBERS[random.nextInt(NUMBERS.length)] + "]";
            case 4 -> value = "[\"" + TEXTS[random.nextInt(TEXTS.length)] + "\"]";
            case 5 -> value = "{\"x\":" + NUMBERS[random.nextInt(NUMBERS.length)] + ",\"y\":[\""
                    + TEXTS[random.nextInt(TEXTS.length)] + "\"]}";
            case 6 -> value = "[]";
            default -> {
                String[] logical = LOGICAL[random.nextInt(LOGICAL.length)];
                ObjectNode field = fields.addObject().put("type", logical[0]).put("name", logical[1]).put("field", name);
                if (logical[1].endsWith("Decimal") && logical[0].equals("bytes")) {
                    field.putObject("parameters").put("scale", String.valueOf(random.nextInt(4)));
                }
                int pick = random.nextInt(10);
                value = pick < 6 ? logical[2] : pick < 9 ? logical[3] : logical[4];
                if (random.nextInt(20) == 0) {
                    value = "null";
                }
                if (kind == 8 && random.nextInt(10) == 0) {
                    // an array of the logical type: each item converted
                    fields.remove(fields.size() - 1);
                    fields.addObject().put("type", "array").put("field", name).set("items",
                            JsonNodeFactory.instance.objectNode().put("type", logical[0]).put("name", logical[1]));
                    value = "[" + value + ",null," + value + "]";
                }
            }
        }
        row.putRawValue(name, new com.fasterxml.jackson.databind.util.RawValue(value));
    }

    // The row with its raw values as written: numbers keep their notation ("1e5", "1.50"), text its escapes.
    private static String raw(ObjectNode row) throws IOException {
        return new ObjectMapper().writeValueAsString(row);
    }
}
