package io.cdcindexer.debezium;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.kafka.KafkaRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The job's decoder ({@link DebeziumDecoder#writingDocuments}, whose {@link EnvelopeScanner} writes a row's document
 * straight from the record) against the decoder that reads every row as a tree: the same outcome for every record,
 * errors included, on every fixture and on records made at random, some of them broken on purpose.
 */
class EnvelopeScannerTest {

    private static final String PLACEHOLDER = "__debezium_unavailable_value";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a decoder made of a record: everything the job reads of a decoded change, or the error. */
    record Outcome(String error, String kind, String errorTransaction, long errorLsn, DebeziumEnvelope.Op op,
            JsonNode key, String document, DebeziumEnvelope.Source source, DebeziumEnvelope.Transaction transaction,
            Long tsMs, List<String> unavailable, JsonNode rowSchema, JsonNode before) {}

    private static Outcome outcome(DebeziumDecoder decoder, String topic, byte[] key, byte[] value) {
        try {
            DebeziumEnvelope envelope = decoder.decode(topic, key, value);
            byte[] document = envelope.documentBytes();
            return new Outcome(null, null, null, 0, envelope.op(), envelope.key(),
                    document == null ? null : new String(document, StandardCharsets.UTF_8), envelope.source(),
                    envelope.transaction(), envelope.tsMs(), envelope.unavailableColumns(), envelope.rowSchema(),
                    envelope.before());
        } catch (MalformedChangeException e) {
            return new Outcome(e.getMessage(), e.kind(), e.transactionId(), e.lsn(), null, null, null, null, null,
                    null, null, null, null);
        }
    }

    /** Decodes the records in order with both decoders; returns how many the scanner read (no tree of the row). */
    private static int assertDecodedAlike(List<KafkaRecord> records) {
        DebeziumDecoder trees = new DebeziumDecoder(PLACEHOLDER);
        DebeziumDecoder documents = DebeziumDecoder.writingDocuments(PLACEHOLDER);
        int scanned = 0;
        for (KafkaRecord record : records) {
            Outcome expected = outcome(trees, record.topic, record.key, record.value);
            Outcome actual = outcome(documents, record.topic, record.key, record.value);
            assertThat(actual).as("%s", record.value == null ? "a tombstone"
                    : new String(record.value, StandardCharsets.UTF_8)).isEqualTo(expected);
            try {
                DebeziumEnvelope envelope = documents.decode(record.topic, record.key, record.value);
                if (envelope.document() != null && envelope.after() == null) {
                    scanned++;
                }
            } catch (MalformedChangeException e) {
                // compared above
            }
        }
        return scanned;
    }

    @Test
    void everyFixtureDecodesAsTheTreeDoesTwiceInARow() throws Exception {
        List<KafkaRecord> records = new ArrayList<>();
        Path root = Path.of(Objects.requireNonNull(getClass().getResource("/debezium")).toURI());
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
                String name = root.relativize(file).toString().replace(".json", "");
                KafkaRecord record = DebeziumFixtures.record(name);
                records.add(record);
                records.add(record); // the second time its schema is known: the scanner's turn
            }
        }

        int scanned = assertDecodedAlike(records);

        assertThat(records).hasSizeGreaterThan(200);
        assertThat(scanned).as("records the scanner read").isGreaterThan(20);
    }

    @Test
    void anInsertAsTheConnectorWritesItIsScannedNotReadAsATree() throws Exception {
        KafkaRecord insert = DebeziumFixtures.record("captured/users-insert");
        DebeziumDecoder decoder = DebeziumDecoder.writingDocuments(PLACEHOLDER);
        decoder.decode(insert.topic, insert.key, insert.value); // learns the schema

        DebeziumEnvelope envelope = decoder.decode(insert.topic, insert.key, insert.value);

        assertThat(envelope.after()).isNull();
        assertThat(JSON.readTree(envelope.document()))
                .isEqualTo(new DebeziumDecoder(PLACEHOLDER).decode(insert.topic, insert.key, insert.value).after());
    }

    @Test
    void recordsMadeAtRandomDecodeAsTheTreeDoes() {
        Random random = new Random(20261205);
        List<KafkaRecord> records = new ArrayList<>();
        for (int i = 0; i < 6_000; i++) {
            records.add(randomRecord(random, i));
        }

        int scanned = assertDecodedAlike(records);

        assertThat(scanned).as("records the scanner read").isGreaterThan(500);
    }

    @Test
    void recordsBrokenAtRandomFailOrDecodeAsTheTreeDoes() {
        Random random = new Random(7);
        List<KafkaRecord> records = new ArrayList<>();
        for (int i = 0; i < 6_000; i++) {
            KafkaRecord record = randomRecord(random, i);
            records.add(record);
            records.add(new KafkaRecord(record.topic, 0, i, 0L, record.key, broken(random, record.value)));
        }

        assertDecodedAlike(records);
    }

    // --- records made at random ------------------------------------------------------------------------------------

    private static final String[][] COLUMNS = {
        // name, Connect type, logical name (or "")
        {"id", "int32", ""},
        {"name", "string", ""},
        {"active", "boolean", ""},
        {"score", "double", ""},
        {"balance", "bytes", "org.apache.kafka.connect.data.Decimal"},
        {"born", "int32", "io.debezium.time.Date"},
        {"created_at", "string", "io.debezium.time.ZonedTimestamp"},
        {"updated_at", "int64", "io.debezium.time.MicroTimestamp"},
        {"at", "string", "io.debezium.time.ZonedTime"},
        {"doc", "string", "io.debezium.data.Json"},
        {"big", "int64", ""},
        {"tags", "array", ""},
    };

    private static final String[] STRINGS = {"plain", "caf\u00e9", "a\"b", "tab\tbed", "\u0001", "emoji \ud83d\ude00",
        PLACEHOLDER, Base64.getEncoder().encodeToString(PLACEHOLDER.getBytes(StandardCharsets.UTF_8)), "", "slash/",
        "line\u2028separator", "back\\slash", "\u00ff\u0100\u07ff\u0800\uffff", "x".repeat(300), "<b>&amp;</b>"};

    private static final String[] PLAIN_STRINGS = {"plain", "caf\u00e9", "", "slash/", "x".repeat(300),
        "\u00ff\u0100\u07ff\u0800\uffff", "<b>&amp;</b>"};

    private static final String[] DOUBLES = {"0.0", "-0.0", "1.5", "1.50", "1e2", "1.0E-7", "-3.25", "123456789.123",
        "1E+3", "2.5e-3", "0", "-0", "7", "-12", "1e400", "1.7976931348623157E308"};

    private static KafkaRecord randomRecord(Random random, int i) {
        odd = random.nextInt(3) == 0; // else a record as the connector writes them, with values of every kind
        int id = random.nextInt(5) == 0 ? -random.nextInt(1000) : random.nextInt(1_000_000);
        List<String> columns = new ArrayList<>();
        for (String[] column : COLUMNS) {
            if (edge(random, 30)) {
                continue; // a column the row lacks
            }
            columns.add(quote(column[0]) + ":" + value(random, column, id));
        }
        if (edge(random, 40) && columns.size() > 2) {
            columns.add(0, columns.remove(2)); // out of the schema's order
        }
        if (edge(random, 40)) {
            columns.add(columns.get(random.nextInt(columns.size()))); // a column twice
        }
        if (edge(random, 40)) {
            columns.add(quote("unknown") + ":1");
        }
        String after = "{" + String.join(",", columns) + "}";
        String op = odd ? pick(random, "c", "c", "c", "u", "u", "r", "d", "t", null) : pick(random, "c", "u", "r");
        String before = "null";
        if (op != null && op.equals("d")) {
            before = "{\"id\":" + id + "}";
            after = "null";
        } else if (edge(random, 10)) {
            before = "{\"id\":" + id + ",\"name\":\"old\"}";
        } else if (edge(random, 40)) {
            after = pick(random, "null", "1", "\"text\"", "[]");
        }
        String snapshot = !odd ? "\"false\"" : pick(random, "\"false\"", "\"true\"", "\"last\"", "\"first\"", "false",
                "true", "null", "\"incremental\"", "3");
        String lsn = edge(random, 50) ? pick(random, "null", "\"7\"", "1.5", "123456789012345678901234")
                : Long.toString(24_000_000L + 64L * i);
        String source = "{\"version\":\"2.7.3.Final\",\"connector\":\"postgresql\",\"name\":\"cdc\",\"ts_ms\":"
                + (1_733_400_000_000L + i) + ",\"snapshot\":" + snapshot + ",\"db\":\"app\",\"sequence\":"
                + "\"[\\\"24023928\\\",\\\"24023992\\\"]\",\"ts_us\":1733400000000000,\"ts_ns\":1733400000000000000,"
                + "\"schema\":" + (!odd ? "\"public\"" : pick(random, "\"sch\u00e9ma\"", "\"a\\\"b\"", "null"))
                + ",\"table\":\"users\",\"txId\":" + (!odd ? "777" : pick(random, "null", "99999999999999999999"))
                + ",\"lsn\":" + lsn + ",\"xmin\":null" + (edge(random, 20) ? ",\"extra\":\"x\"" : "") + "}";
        if (edge(random, 60)) {
            source = pick(random, "null", "{}", "{\"schema\":\"public\",\"table\":\"users\",\"lsn\":5}");
        }
        String transaction = edge(random, 8) ? "null"
                : edge(random, 60) ? "{\"total_order\":1}"
                : "{\"id\":\"" + (777 + i / 10) + ":" + (24_000_000L + 64L * i) + "\",\"total_order\":" + (i % 10 + 1)
                        + ",\"data_collection_order\":" + (i % 10 + 1) + "}";
        StringBuilder payload = new StringBuilder("{\"before\":" + before + ",\"after\":" + after + ",\"source\":"
                + source + ",\"transaction\":" + transaction);
        if (op != null) {
            payload.append(",\"op\":").append(edge(random, 80) ? "5" : quote(op));
        }
        payload.append(",\"ts_ms\":").append(!odd ? "1733400000123" : pick(random, "1733400000123", "null", "1.5"))
                .append(",\"ts_us\":1733400000123000,\"ts_ns\":1733400000123000000}");
        byte[] value = ("{\"schema\":" + ENVELOPE_SCHEMA + ",\"payload\":" + payload + "}")
                .getBytes(StandardCharsets.UTF_8);
        int keyId = edge(random, 30) ? id + 1 : id;
        String keyPayload = edge(random, 60) ? "{\"other\":1}" : "{\"id\":" + keyId + "}";
        byte[] key = ("{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":"
                + "\"id\"}],\"optional\":false,\"name\":\"cdc.public.users.Key\"},\"payload\":" + keyPayload + "}")
                .getBytes(StandardCharsets.UTF_8);
        return new KafkaRecord("cdc.public.users", 0, i, 0L, key, value);
    }

    private static String value(Random random, String[] column, int id) {
        if (!column[0].equals("id") && random.nextInt(8) == 0) {
            return "null";
        }
        switch (column[0]) {
            case "id":
                return edge(random, 200) ? "\"" + id + "\"" : Integer.toString(id);
            case "name":
                return edge(random, 100) ? "\"bad \\x escape\"" : quote(pick(random, STRINGS));
            case "active":
                return random.nextBoolean() ? "true" : "false";
            case "score":
                return odd ? pick(random, DOUBLES) : pick(random, "1.5", "-3.25", "0.0", "123456789.123");
            case "balance":
                if (edge(random, 20)) {
                    return pick(random, "\"@@not base64\"", "12.34", "true");
                }
                byte[] unscaled = BigInteger.valueOf(random.nextLong() % 100_000_000).toByteArray();
                return quote(Base64.getEncoder().encodeToString(unscaled));
            case "born":
                return edge(random, 20) ? pick(random, "\"2022-01-08\"", "1.5") : Integer.toString(
                        random.nextInt(40_000) - 20_000);
            case "created_at":
                return quote("2026-12-05T10:00:00." + String.format("%06d", random.nextInt(1_000_000)) + "Z");
            case "updated_at":
                return edge(random, 20) ? "1.0" : Long.toString(1_733_400_000_000_000L + random.nextInt());
            case "at":
                return edge(random, 20) ? "\"not a time\"" : quote("10:15:30.5+02:00");
            case "doc":
                return edge(random, 3) ? "null" : quote(pick(random, "{\"a\":1}", "[1,2]", "not json", "7"));
            case "big":
                return !odd ? Long.toString(random.nextLong()) : pick(random, "9223372036854775807",
                        "-9223372036854775808", "12345678901234567890123", Long.toString(random.nextLong()), "0");
            case "tags":
                return !odd ? "null" : pick(random, "[1,2]", "[]", "[\"" + PLACEHOLDER + "\"]");
            default:
                throw new IllegalArgumentException(column[0]);
        }
    }

    /** Whether the record being made may be odd: its rare cases happen only then. */
    private static boolean odd;

    private static boolean edge(Random random, int oneIn) {
        return odd && random.nextInt(Math.max(1, oneIn / 3)) == 0;
    }

    // A byte changed, dropped, doubled or a space put in, anywhere in the payload.
    private static byte[] broken(Random random, byte[] value) {
        int payload = new String(value, StandardCharsets.UTF_8).indexOf(",\"payload\":") + 11;
        int at = payload + random.nextInt(value.length - payload);
        byte[] changed;
        switch (random.nextInt(5)) {
            case 0 -> {
                changed = value.clone();
                changed[at] = (byte) " \"\\{}[],:0123456789-.eEnulltrfa\u00e9x".charAt(random.nextInt(33));
            }
            case 1 -> changed = concat(Arrays.copyOfRange(value, 0, at),
                    Arrays.copyOfRange(value, at + 1, value.length)); // dropped
            case 2 -> changed = concat(Arrays.copyOfRange(value, 0, at + 1),
                    Arrays.copyOfRange(value, at, value.length)); // doubled
            case 3 -> changed = concat(concat(Arrays.copyOfRange(value, 0, at), new byte[] {' '}),
                    Arrays.copyOfRange(value, at, value.length));
            default -> {
                changed = value.clone();
                changed[at] = (byte) (0x80 + random.nextInt(0x80)); // not UTF-8 on its own
            }
        }
        return changed;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] both = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        return both;
    }

    private static final String ENVELOPE_SCHEMA = envelopeSchema();

    private static String envelopeSchema() {
        ObjectNode row = JSON.createObjectNode().put("type", "struct");
        ArrayNode fields = row.putArray("fields");
        for (String[] column : COLUMNS) {
            ObjectNode field = fields.addObject().put("type", column[1]).put("optional", !column[0].equals("id"));
            if (!column[2].isEmpty()) {
                field.put("name", column[2]);
            }
            if (column[2].endsWith("Decimal")) {
                field.putObject("parameters").put("scale", "2");
            }
            if (column[1].equals("array")) {
                field.putObject("items").put("type", "int32").put("optional", true);
            }
            field.put("field", column[0]);
        }
        row.put("optional", true).put("name", "cdc.public.users.Value");
        ObjectNode envelope = JSON.createObjectNode().put("type", "struct");
        ArrayNode envelopeFields = envelope.putArray("fields");
        envelopeFields.add(row.deepCopy().put("field", "before"));
        envelopeFields.add(row.deepCopy().put("field", "after"));
        envelope.put("optional", false).put("name", "cdc.public.users.Envelope");
        try {
            return JSON.writeValueAsString(envelope);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String quote(String text) {
        try {
            return JSON.writeValueAsString(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SafeVarargs
    private static <T> T pick(Random random, T... choices) {
        return choices[random.nextInt(choices.length)];
    }
}
