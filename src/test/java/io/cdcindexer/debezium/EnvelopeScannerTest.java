package io.cdcindexer.debezium;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.kafka.KafkaRecord;
import java.io.ByteArrayOutputStream;
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
    private static final String TOPIC = "cdc.public.users";
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
        } catch (RuntimeException e) {
            return new Outcome("escaped the decoder: " + e, null, null, 0, null, null, null, null, null, null, null,
                    null, null);
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

    // --- values, names, envelopes and keys of every form (most of them found by a review that tried to break it) ---

    @Test
    void rowValuesOfEveryFormDecodeAsTheTreeDoes() {
        List<byte[]> values = new ArrayList<>();
        for (String v : new String[] {"-0", "-5", "0", "7", "-0.0", "0.0", "1e400", "1E+3", "1e-9999", "1e-10000",
            "1e9999", "1e10000", "-0e-0", "0e0", "12345678901234567890", "-9223372036854775808", "9223372036854775807",
            "9223372036854775808", "2147483648", "-2147483649", "2147483647", "1.5", "1.50", "1.0E-7", "01", "-01",
            "1.", ".5", "+1", "1e", "1e+", "-", "NaN", "Infinity", "true", "false", "null", "nul", "tru",
            "\"x\"", "\"\u00e9\"", "\"\u007f\"", "\"\u2028\"", "\"\ud83d\ude00\"", "\"\\ud83d\\ude00\"", "\"\\u00e9\"",
            "\"\"", "\"2022-01-08\"", "\"10:15:30+02:00\"", "\"10:15:30.123456789-11:30\"", "\"AQI=\"", "\"AA==\"",
            "\"\"", "\"@@\"", "\"7\"", "\"1e400\"", "\"true\"", "\"null\"", "\" 7 \"", "\"1.50\"", "\"-0\"",
            "\"12345678901234567890\"", "\"[1]\"", "\"1 2\"", "\"" + PLACEHOLDER + "\"",
            "\"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==\"",
            "[\"" + PLACEHOLDER + "\"]", "{}", "[]", "1" + "0".repeat(999), "1" + "0".repeat(1000),
            "1." + "0".repeat(600), "-11000." + "0".repeat(600), "0." + "0".repeat(600) + "1",
            "1".repeat(300) + "." + "2".repeat(300) + "e-5", "9".repeat(499) + ".5", "0e" + "0".repeat(598) + "1",
            "1.5e" + "0".repeat(600) + "3", "1." + "0".repeat(10) + "1".repeat(700) + "E-9000",
            "-" + "3".repeat(450) + "." + "4".repeat(100) + "E+400", "0." + "0".repeat(520) + "E+9990",
            "123456789012345678", "-123456789012345678", "1234567890123456789", "-1234567890123456789",
            "86400000000", "86400000", "-86400000000000", "253402300800000000", "-62135596800000001",
            "99999999999", "2932896", "-719529", "1e2147483648", "1e-2147483648"}) {
            values.add(utf8(v));
        }
        values.add(bytes('"', 0xc0, 0x80, '"'));
        values.add(bytes('"', 0xed, 0xa0, 0x80, '"'));
        values.add(bytes('"', 0xe0, 0x80, 0x80, '"'));
        values.add(bytes('"', 0xf4, 0x90, 0x80, 0x80, '"'));
        values.add(bytes('"', 0xf8, 0x88, 0x80, 0x80, 0x80, '"'));
        values.add(bytes('"', 0x80, '"'));
        values.add(bytes('"', 0xc3, '"'));
        values.add(bytes('"', 0x01, '"'));
        values.add(bytes('"', 0x7f, '"'));
        values.add(bytes('"', 0xef, 0xbf, 0xbf, '"'));
        values.add(bytes('"', 0xef, 0xbb, 0xbf, '"'));

        List<String> mismatches = new ArrayList<>();
        for (String[] column : COLUMNS) {
            if (column[0].equals("id")) {
                continue;
            }
            for (byte[] value : values) {
                byte[] after = concat(utf8("{\"id\":1,\"" + column[0] + "\":"), value, utf8("}"));
                byte[] probe = value(ENVELOPE_SCHEMA, concat(utf8("{\"before\":null,\"after\":"), after,
                        utf8(",\"source\":" + SOURCE + ",\"transaction\":" + TX + ",\"op\":\"c\",\"ts_ms\":1}")));
                String mismatch = mismatch(column[0] + " = " + new String(value, StandardCharsets.ISO_8859_1), KEY,
                        List.of(normal()), probe);
                if (mismatch != null) {
                    mismatches.add(mismatch);
                }
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
    }

    @Test
    void envelopesSourcesAndKeysOfEveryFormDecodeAsTheTreeDoes() {
        List<String[]> cases = new ArrayList<>(); // label, payload, key payload (null: KEY)
        String[] snapshots = {"1e5", "-0", "true", "false", "null", "\"x\"", "{}", "[]", "0", "\"\u00e9\"",
            "\"\\u0078\"", "1.50", "12345678901234567890123"};
        for (String s : snapshots) {
            cases.add(new String[] {"snapshot " + s, payload(AFTER, SOURCE.replace("\"snapshot\":\"false\"",
                    "\"snapshot\":" + s), TX), null});
        }
        String[] numbers = {"-0", "1e3", "1.0", "\"5\"", "null", "9223372036854775807", "9223372036854775808",
            "-9223372036854775808", "-9223372036854775809", "01", "true", "{}", "5 "};
        for (String n : numbers) {
            cases.add(new String[] {"lsn " + n, payload(AFTER, SOURCE.replace("\"lsn\":24000000", "\"lsn\":" + n),
                    TX), null});
            cases.add(new String[] {"txId " + n, payload(AFTER, SOURCE.replace("\"txId\":777", "\"txId\":" + n),
                    TX), null});
            cases.add(new String[] {"source ts_ms " + n, payload(AFTER, SOURCE.replace("\"ts_ms\":1733400000000",
                    "\"ts_ms\":" + n), TX), null});
            cases.add(new String[] {"envelope ts_ms " + n, payload(AFTER, SOURCE, TX)
                    .replace("\"ts_ms\":1733400000123", "\"ts_ms\":" + n), null});
            cases.add(new String[] {"total_order " + n, payload(AFTER, SOURCE, TX.replace("\"total_order\":1",
                    "\"total_order\":" + n)), null});
        }
        String[] sources = {"{}", "null", "\"x\"", "{\"schema\":\"public\",\"table\":\"t\",\"lsn\":5}",
            "{\"lsn\":5,\"table\":\"t\",\"schema\":\"public\"}", SOURCE_HEAD + ",\"lsn\":6}",
            SOURCE_HEAD + ",\"extra\":{}}", SOURCE_HEAD + ",\"extra\":[1]}", SOURCE_HEAD + ",\"extra\":\"\\ud800\"}",
            SOURCE_HEAD + ",\"\\u0065xtra\":1}", SOURCE_HEAD + ",\"t\\u0061ble\":\"other\"}",
            SOURCE_HEAD + ",\"sn\\u0061pshot\":\"true\"}", SOURCE_HEAD + ",\"l\\u0073n\":6}",
            SOURCE_HEAD + ",\"l\\u0073n\":null}", SOURCE_HEAD + ",\"" + "x".repeat(50_001) + "\":1}",
            SOURCE.replace("\"db\":\"app\"", "\"db\":\"" + "d".repeat(20_000_001) + "\""), // past Jackson's limits
            SOURCE_HEAD + ",}", SOURCE_HEAD + ",\"db\":null}",
            SOURCE_HEAD + ",\"db\":\"a\\\"b\"}", SOURCE_HEAD + ",\"db\":\"\u00e9\"}",
            SOURCE_HEAD + ",\"db\":\"\ud83d\ude00\"}",
            SOURCE_HEAD + ",\"schema\":\"\\u0070ublic\"}", SOURCE_HEAD + " }", SOURCE_HEAD + ",\"x\":1.}",
            SOURCE_HEAD + ",\"x\":\"\\x\"}", SOURCE_HEAD + ",\"x\":\"\\u12g4\"}", SOURCE_HEAD + ",\"x\":\"\\u12\"}"};
        for (String s : sources) {
            cases.add(new String[] {"source " + s, payload(AFTER, s, TX), null});
        }
        String[] transactions = {"{}", "null", "\"x\"", "{\"id\":null}", "{\"id\":5}", "{\"id\":\"\"}",
            "{\"total_order\":1,\"id\":\"1:2\"}", TX_HEAD + ",\"id\":\"9:9\"}", TX_HEAD + ",\"x\":{}}",
            "{\"id\":\"\\u0031:2\"}", "[]", TX_HEAD + ",\"\\u0069d\":\"999:1\"}",
            TX_HEAD + ",\"d\\u0061ta_collection_order\":7}", TX_HEAD + ",\"" + "x".repeat(50_001) + "\":1}"};
        for (String t : transactions) {
            cases.add(new String[] {"transaction " + t, payload(AFTER, SOURCE, t), null});
        }
        String base = payload(AFTER, SOURCE, TX);
        cases.add(new String[] {"op first", "{\"op\":\"c\"," + base.substring(1).replace(",\"op\":\"c\"", ""), null});
        cases.add(new String[] {"no before", base.replace("\"before\":null,", ""), null});
        cases.add(new String[] {"op u", base.replace("\"op\":\"c\"", "\"op\":\"u\""), null});
        cases.add(new String[] {"op r", base.replace("\"op\":\"c\"", "\"op\":\"r\""), null});
        cases.add(new String[] {"op d", base.replace("\"op\":\"c\"", "\"op\":\"d\""), null});
        cases.add(new String[] {"op t", base.replace("\"op\":\"c\"", "\"op\":\"t\""), null});
        cases.add(new String[] {"op \\u0063", base.replace("\"op\":\"c\"", "\"op\":\"\\u0063\""), null});
        cases.add(new String[] {"op 1", base.replace("\"op\":\"c\"", "\"op\":1"), null});
        cases.add(new String[] {"no op", base.replace(",\"op\":\"c\"", ""), null});
        cases.add(new String[] {"before object", base.replace("\"before\":null", "\"before\":{\"id\":1}"), null});
        cases.add(new String[] {"after empty", base.replace(AFTER, "{}"), null});
        cases.add(new String[] {"after null", base.replace(AFTER, "null"), null});
        cases.add(new String[] {"after 1", base.replace(AFTER, "1"), null});
        cases.add(new String[] {"after dup", base.replace(AFTER, "{\"id\":1,\"id\":2}"), null});
        cases.add(new String[] {"after unknown", base.replace(AFTER, "{\"id\":1,\"zz\":2}"), null});
        cases.add(new String[] {"after reordered", base.replace(AFTER, "{\"name\":\"a\",\"id\":1}"), null});
        cases.add(new String[] {"after with space", base.replace(AFTER, "{\"id\":1 }"), null});
        cases.add(new String[] {"unknown envelope field", base.replace("\"ts_us\"", "\"ts_xx\""), null});
        cases.add(new String[] {"dup envelope field",
            base.replace(",\"op\":\"c\"", ",\"op\":\"c\",\"op\":\"u\""), null});
        cases.add(new String[] {"trailing comma", base.substring(0, base.length() - 1) + ",}", null});
        cases.add(new String[] {"payload then more", base + ",\"x\":1", null});
        cases.add(new String[] {"payload trailing space", base + " ", null});
        cases.add(new String[] {"payload twice", base + ",\"payload\":" + base, null});
        cases.add(new String[] {"payload extra brace", base + "}", null});
        String[] keys = {"{\"id\":-0}", "{\"id\":1.0}", "{\"id\":\"1\"}", "{\"id\":1,\"x\":2}", "{\"id\":2}",
            "{\"id\":1,\"id\":1}", "{\"name\":\"a\"}", "{\"name\":\"a\",\"id\":1}", "{\"id\":01}", "{}", "null",
            "{\"id\":1} ", "{\"id\": 1}", "{\"id\":1e0}", "{\"id\":null}"};
        for (String k : keys) {
            cases.add(new String[] {"key " + k, base, k});
        }
        cases.add(new String[] {"key name a/b", base.replace(AFTER, "{\"id\":1,\"name\":\"a/b\"}"),
            "{\"name\":\"a/b\"}"});
        cases.add(new String[] {"key name e-acute", base.replace(AFTER, "{\"id\":1,\"name\":\"\u00e9\"}"),
            "{\"name\":\"\u00e9\"}"});
        cases.add(new String[] {"key name escaped", base.replace(AFTER, "{\"id\":1,\"name\":\"\u00e9\"}"),
            "{\"name\":\"\\u00e9\"}"});
        cases.add(new String[] {"key score", base.replace(AFTER, "{\"id\":1,\"score\":1.50}"), "{\"score\":1.5}"});
        cases.add(new String[] {"key score2", base.replace(AFTER, "{\"id\":1,\"score\":1.50}"), "{\"score\":1.50}"});
        cases.add(new String[] {"key flag", base.replace(AFTER, "{\"id\":1,\"active\":true}"), "{\"active\":true}"});
        cases.add(new String[] {"key born int", base.replace(AFTER, "{\"id\":1,\"born\":19000}"), "{\"born\":19000}"});
        cases.add(new String[] {"key big", base.replace(AFTER, "{\"id\":12345678901234567890}"),
            "{\"id\":12345678901234567890}"});
        cases.add(new String[] {"key long", base.replace(AFTER, "{\"id\":2147483648}"), "{\"id\":2147483648}"});
        cases.add(new String[] {"key neg", base.replace(AFTER, "{\"id\":-1}"), "{\"id\":-1}"});
        cases.add(new String[] {"key -0 row 0", base.replace(AFTER, "{\"id\":0}"), "{\"id\":-0}"});

        List<String> mismatches = new ArrayList<>();
        for (String[] c : cases) {
            byte[] key = c[2] == null ? KEY : utf8(new String(KEY, StandardCharsets.UTF_8)
                    .replace("\"payload\":{\"id\":1}", "\"payload\":" + c[2]));
            // warm up with the same key bytes' schema and a normal record
            String mismatch = mismatch(c[0], key, List.of(normal()), value(ENVELOPE_SCHEMA, c[1]));
            if (mismatch != null) {
                mismatches.add(mismatch);
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
    }

    @Test
    void payloadsEditedAtRandomDecodeAsTheTreeDoes() {
        String[] afters = {AFTER,
            "{\"id\":1,\"name\":\"caf\u00e9\",\"score\":1.50,\"born\":19000,\"updated_at\":1733400000000000,"
            + "\"balance\":\"AQI=\",\"doc\":\"7\",\"at\":\"10:15:30+02:00\",\"ts\":1733400000000,\"active\":true}",
            "{\"id\":1,\"score\":-0.0,\"born\":-1,\"updated_at\":-1,\"doc\":null,\"active\":false}"};
        String[] pieces = {"\\u0061", "\\", "\"", "0", "-", ".", "e", "E+", "1", "9", ",", ":", "{", "}", "[", "]",
            " ", "null", "true", "\u00e9", "\ud83d\ude00", "\\n", "\\u00", "\"lsn\":", "\"id\":", "\"name\":",
            "\"after\":", "\"op\":\"u\",", "\"table\":\"x\",", PLACEHOLDER};
        Random random = new Random(11);
        List<String> mismatches = new ArrayList<>();
        for (int round = 0; round < 15_000 && mismatches.size() < 15; round++) {
            String base = payload(afters[random.nextInt(afters.length)], SOURCE, TX);
            StringBuilder mutated = new StringBuilder(base);
            int edits = 1 + random.nextInt(3);
            for (int e = 0; e < edits; e++) {
                int at = 1 + random.nextInt(mutated.length() - 1);
                switch (random.nextInt(3)) {
                    case 0 -> mutated.insert(at, pieces[random.nextInt(pieces.length)]);
                    case 1 -> mutated.deleteCharAt(at);
                    default -> mutated.replace(at, at + 1, pieces[random.nextInt(pieces.length)]);
                }
            }
            String mismatch = mismatch("fuzz " + mutated, KEY,
                    List.of(normal()), value(ENVELOPE_SCHEMA, mutated.toString()));
            if (mismatch != null) {
                mismatches.add(mismatch);
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
    }

    @Test
    void bytesAndKeysEditedAtRandomDecodeAsTheTreeDoes() {
        String[] afters = {"{\"id\":1,\"name\":\"caf\u00e9\",\"score\":1.50,\"born\":19000,\"updated_at\":1733400000000000,"
            + "\"balance\":\"AQI=\",\"doc\":\"7\",\"at\":\"10:15:30+02:00\",\"ts\":1733400000000,\"active\":true}",
            "{\"id\":1,\"name\":\"\u20ac\u00e9\",\"score\":12345678901234567890,\"doc\":\"1.5\",\"balance\":12.5}"};
        String[] keys = {"{\"id\":1}", "{\"id\":1,\"name\":\"caf\u00e9\"}", "{\"born\":19000}", "{\"balance\":\"AQI=\"}",
            "{\"score\":1.50}", "{\"active\":true}", "{\"doc\":7}", "{\"updated_at\":1733400000000000}", "{\"ts\":\"x\"}",
            "{\"name\":\"\u20ac\u00e9\"}", "{\"score\":12345678901234567890}", "{\"balance\":12.5}"};
        Random random = new Random(13);
        List<String> mismatches = new ArrayList<>();
        for (int round = 0; round < 15_000 && mismatches.size() < 15; round++) {
            byte[] value = utf8(payload(afters[random.nextInt(afters.length)], SOURCE, TX));
            int edits = random.nextInt(3);
            for (int e = 0; e < edits; e++) {
                int at = 1 + random.nextInt(value.length - 1);
                byte b = (byte) (random.nextBoolean() ? random.nextInt(256)
                        : "\\\"0-.eE9,:{} n\u007f".charAt(random.nextInt(15)));
                value = switch (random.nextInt(3)) {
                    case 0 -> concat(Arrays.copyOf(value, at), new byte[] {b},
                            Arrays.copyOfRange(value, at, value.length));
                    case 1 -> concat(Arrays.copyOf(value, at), Arrays.copyOfRange(value, at + 1,
                            value.length));
                    default -> {
                        value[at] = b;
                        yield value;
                    }
                };
            }
            String keyPayload = keys[random.nextInt(keys.length)];
            byte[] key = utf8(new String(KEY, StandardCharsets.UTF_8).replace("\"payload\":{\"id\":1}",
                    "\"payload\":" + keyPayload));
            String mismatch = mismatch("fuzz key " + keyPayload + " value "
                    + new String(value, StandardCharsets.ISO_8859_1), KEY, List.of(normal()), key,
                    value(ENVELOPE_SCHEMA, value));
            if (mismatch != null) {
                mismatches.add(mismatch);
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
    }

    @Test
    void columnsJacksonWouldNameOtherwiseAreTheTrees() {
        String emoji = "\ud83d\ude00"; // Jackson 2.17 writes it as two escapes
        String longName = "c".repeat(50_001); // past Jackson's limit for names
        List<String> mismatches = new ArrayList<>();
        for (String name : new String[] {emoji, "x" + emoji, longName}) {
            String schema = schema(new String[][] {{"id", "int32", ""}, {name, "int32", ""}});
            byte[] warm = value(schema, payload("{\"id\":1}", SOURCE, TX));
            byte[] probe = value(schema, payload("{\"id\":1,\"" + name + "\":1}", SOURCE, TX));
            String mismatch = mismatch("a column named " + shortly(name), KEY, List.of(warm), KEY, probe);
            if (mismatch != null) {
                mismatches.add(mismatch);
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
    }

    @Test
    void columnNamesOfEveryFormDecodeAsTheTreeDoes() throws Exception {
        List<String> mismatches = new ArrayList<>();
        for (String name : new String[] {"a\"b", "tab\tx", "\u001f", "\u0000", "\u00e9", "\u2028", "/", "\u007f",
            "a\\b", "", "null", "\uffff"}) {
            String schema = schema(new String[][] {{"id", "int32", ""}, {name, "string", ""}});
            byte[] warm = value(schema, payload("{\"id\":1}", SOURCE, TX));
            byte[] probe = value(schema, payload("{\"id\":1," + JSON.writeValueAsString(name) + ":\"v\"}", SOURCE,
                    TX));
            String mismatch = mismatch("a column named " + name, KEY, List.of(warm), KEY, probe);
            if (mismatch != null) {
                mismatches.add(mismatch);
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
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
        {"ts", "int64", "org.apache.kafka.connect.data.Timestamp"},
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
        return new KafkaRecord(TOPIC, 0, i, 0L, key, value);
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
            case "ts":
                return random.nextInt(20) == 0 ? "\"x\"" : Long.toString(1_733_400_000_000L + random.nextInt());
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

    private static final String ENVELOPE_SCHEMA = schema(COLUMNS);

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

    private static String shortly(Object o) {
        String s = String.valueOf(o);
        return s.length() > 700 ? s.substring(0, 700) + "...(" + s.length() + " chars)" : s;
    }

    /**
     * Decodes the warm-up records (which make the schema known), then the probe with its key, with both decoders;
     * null when alike, else a description.
     */
    private static String mismatch(String label, byte[] key, List<byte[]> warmUps, byte[] probe) {
        return mismatch(label, KEY, warmUps, key, probe);
    }

    private static String mismatch(String label, byte[] warmKey, List<byte[]> warmUps, byte[] key, byte[] probe) {
        DebeziumDecoder trees = new DebeziumDecoder(PLACEHOLDER);
        DebeziumDecoder documents = DebeziumDecoder.writingDocuments(PLACEHOLDER);
        for (byte[] warm : warmUps) {
            Outcome a = outcome(trees, TOPIC, warmKey, warm);
            Outcome b = outcome(documents, TOPIC, warmKey, warm);
            if (!a.equals(b)) {
                return label + " (warm-up differs)\n  tree:    " + shortly(a) + "\n  scanner: " + shortly(b);
            }
        }
        Outcome expected = outcome(trees, TOPIC, key, probe);
        Outcome actual = outcome(documents, TOPIC, key, probe);
        if (expected.equals(actual)) {
            return null;
        }
        return label + "\n  tree:    " + shortly(expected) + "\n  scanner: " + shortly(actual);
    }

    private static String schema(String[][] columns) {
        ObjectNode row = JSON.createObjectNode().put("type", "struct");
        ArrayNode fields = row.putArray("fields");
        for (String[] column : columns) {
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

    private static final String SOURCE_HEAD =
            "{\"version\":\"2.7.3.Final\",\"connector\":\"postgresql\",\"name\":\"cdc\","
            + "\"ts_ms\":1733400000000,\"snapshot\":\"false\",\"db\":\"app\",\"sequence\":\"[\\\"1\\\",\\\"2\\\"]\","
            + "\"ts_us\":1733400000000000,\"ts_ns\":1733400000000000000,\"schema\":\"public\",\"table\":\"t\","
            + "\"txId\":777,\"lsn\":24000000,\"xmin\":null";
    private static final String SOURCE = SOURCE_HEAD + "}";
    private static final String TX_HEAD = "{\"id\":\"777:24000000\",\"total_order\":1,\"data_collection_order\":1";
    private static final String TX = TX_HEAD + "}";
    private static final String AFTER = "{\"id\":1,\"name\":\"a\"}";

    private static final byte[] KEY = utf8("{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
            + "\"optional\":false,\"field\":\"id\"}],\"optional\":false,\"name\":\"cdc.public.t.Key\"},"
            + "\"payload\":{\"id\":1}}");

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    private static byte[] bytes(int... bytes) {
        byte[] result = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            result[i] = (byte) bytes[i];
        }
        return result;
    }

    private static String payload(String after, String source, String transaction) {
        return "{\"before\":null,\"after\":" + after + ",\"source\":" + source + ",\"transaction\":" + transaction
                + ",\"op\":\"c\",\"ts_ms\":1733400000123,\"ts_us\":1733400000123000,\"ts_ns\":1733400000123000000}";
    }

    private static byte[] value(String schema, byte[] payload) {
        return concat(utf8("{\"schema\":" + schema + ",\"payload\":"), payload, utf8("}"));
    }

    private static byte[] value(String schema, String payload) {
        return value(schema, utf8(payload));
    }

    private static byte[] normal() {
        return value(ENVELOPE_SCHEMA, payload(AFTER, SOURCE, TX));
    }
}
