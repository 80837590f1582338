package io.cdcindexer.debezium;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.elasticsearch.action.DocWriteRequest;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.common.xcontent.XContentType;
import org.elasticsearch.index.VersionType;
import org.junit.jupiter.api.Test;

/** Tries to make the scanning decoder and the tree decoder disagree. */
class ScannerBreakerTest {

    private static final String PLACEHOLDER = "__debezium_unavailable_value";
    private static final String TOPIC = "cdc.public.t";
    private static final ObjectMapper JSON = new ObjectMapper();

    record Outcome(String error, String kind, String errorTransaction, long errorLsn, DebeziumEnvelope.Op op,
            JsonNode key, String document, DebeziumEnvelope.Source source, DebeziumEnvelope.Transaction transaction,
            Long tsMs, List<String> unavailable, JsonNode rowSchema, JsonNode before) {}

    private static Outcome outcome(DebeziumDecoder decoder, byte[] key, byte[] value) {
        try {
            DebeziumEnvelope envelope = decoder.decode(TOPIC, key, value);
            byte[] document;
            try {
                document = envelope.documentBytes();
            } catch (RuntimeException e) {
                document = ("documentBytes threw " + e).getBytes(StandardCharsets.UTF_8);
            }
            return new Outcome(null, null, null, 0, envelope.op(), envelope.key(),
                    document == null ? null : new String(document, StandardCharsets.UTF_8), envelope.source(),
                    envelope.transaction(), envelope.tsMs(), envelope.unavailableColumns(), envelope.rowSchema(),
                    envelope.before());
        } catch (MalformedChangeException e) {
            return new Outcome(e.getMessage(), e.kind(), e.transactionId(), e.lsn(), null, null, null, null, null,
                    null, null, null, null);
        } catch (RuntimeException e) {
            return new Outcome("RUNTIME " + e, null, null, 0, null, null, null, null, null, null, null, null, null);
        }
    }

    private static String shortly(Object o) {
        String s = String.valueOf(o);
        return s.length() > 700 ? s.substring(0, 700) + "...(" + s.length() + " chars)" : s;
    }

    /** Decodes warm-up records then the probe with both decoders; null when alike, else a description. */
    private static String mismatch(String label, byte[] key, List<byte[]> warmUps, byte[] probe) {
        return mismatch(label, KEY, warmUps, key, probe);
    }

    private static String mismatch(String label, byte[] warmKey, List<byte[]> warmUps, byte[] key, byte[] probe) {
        DebeziumDecoder trees = new DebeziumDecoder(PLACEHOLDER);
        DebeziumDecoder documents = DebeziumDecoder.writingDocuments(PLACEHOLDER);
        for (byte[] warm : warmUps) {
            Outcome a = outcome(trees, warmKey, warm);
            Outcome b = outcome(documents, warmKey, warm);
            if (!a.equals(b)) {
                return label + " (warm-up differs)\n  tree:    " + shortly(a) + "\n  scanner: " + shortly(b);
            }
        }
        Outcome expected = outcome(trees, key, probe);
        Outcome actual = outcome(documents, key, probe);
        if (expected.equals(actual)) {
            return null;
        }
        return label + "\n  tree:    " + shortly(expected) + "\n  scanner: " + shortly(actual);
    }

    private static void assertAlike(String label, byte[] key, List<byte[]> warmUps, byte[] probe) {
        String mismatch = mismatch(label, KEY, warmUps, key, probe);
        assertThat(mismatch).as("%s", mismatch).isNull();
    }

    // --- records ---------------------------------------------------------------------------------------------------

    /** name, Connect type, logical name ("" for none). */
    private static final String[][] COLUMNS = {
        {"id", "int32", ""},
        {"name", "string", ""},
        {"score", "double", ""},
        {"born", "int32", "io.debezium.time.Date"},
        {"upd", "int64", "io.debezium.time.MicroTimestamp"},
        {"bal", "bytes", "org.apache.kafka.connect.data.Decimal"},
        {"doc", "string", "io.debezium.data.Json"},
        {"at", "string", "io.debezium.time.ZonedTime"},
        {"ts", "int64", "org.apache.kafka.connect.data.Timestamp"},
        {"flag", "boolean", ""},
    };

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
            field.put("field", column[0]);
        }
        row.put("optional", true).put("name", "cdc.public.t.Value");
        ObjectNode envelope = JSON.createObjectNode().put("type", "struct");
        ArrayNode envelopeFields = envelope.putArray("fields");
        envelopeFields.add(row.deepCopy().put("field", "before"));
        envelopeFields.add(row.deepCopy().put("field", "after"));
        envelope.put("optional", false).put("name", "cdc.public.t.Envelope");
        try {
            return JSON.writeValueAsString(envelope);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final String SCHEMA = schema(COLUMNS);

    static final String SOURCE_HEAD = "{\"version\":\"2.7.3.Final\",\"connector\":\"postgresql\",\"name\":\"cdc\","
            + "\"ts_ms\":1733400000000,\"snapshot\":\"false\",\"db\":\"app\",\"sequence\":\"[\\\"1\\\",\\\"2\\\"]\","
            + "\"ts_us\":1733400000000000,\"ts_ns\":1733400000000000000,\"schema\":\"public\",\"table\":\"t\","
            + "\"txId\":777,\"lsn\":24000000,\"xmin\":null";
    static final String SOURCE = SOURCE_HEAD + "}";
    static final String TX_HEAD = "{\"id\":\"777:24000000\",\"total_order\":1,\"data_collection_order\":1";
    static final String TX = TX_HEAD + "}";
    static final String AFTER = "{\"id\":1,\"name\":\"a\"}";

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

    private static byte[] raw(int... bytes) {
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

    private static byte[] record(String schema, byte[] payload) {
        return concat(utf8("{\"schema\":" + schema + ",\"payload\":"), payload, utf8("}"));
    }

    private static byte[] record(String schema, String payload) {
        return record(schema, utf8(payload));
    }

    private static byte[] normal() {
        return record(SCHEMA, payload(AFTER, SOURCE, TX));
    }

    // --- the breaks --------------------------------------------------------------------------------------------------

    /** A column named with a character beyond U+FFFF: Jackson 2.17 writes the name as two escapes, the scanner raw. */
    @Test
    void aColumnNameBeyondTheBmp() {
        String emoji = "\ud83d\ude00";
        String schema = schema(new String[][] {{"id", "int32", ""}, {emoji, "int32", ""}});
        byte[] insert = record(schema, payload("{\"id\":1,\"" + emoji + "\":1}", SOURCE, TX));
        assertAlike("column named " + emoji, KEY, List.of(insert), insert);
    }

    /** An escaped field name in source is source's lsn to Jackson, an unknown field to the scanner. */
    @Test
    void anEscapedLsnNameInSource() {
        byte[] probe = record(SCHEMA, payload(AFTER, SOURCE_HEAD + ",\"l\\u0073n\":99}", TX));
        assertAlike("source with \"l\\u0073n\":99", KEY, List.of(normal()), probe);
    }

    @Test
    void anEscapedLsnNameInSourceThatMakesTheTreeRefuse() {
        byte[] probe = record(SCHEMA, payload(AFTER, SOURCE_HEAD + ",\"l\\u0073n\":null}", TX));
        assertAlike("source with \"l\\u0073n\":null", KEY, List.of(normal()), probe);
    }

    @Test
    void anEscapedTransactionIdName() {
        byte[] probe = record(SCHEMA, payload(AFTER, SOURCE, TX_HEAD + ",\"\\u0069d\":\"999:1\"}"));
        assertAlike("transaction with \"\\u0069d\"", KEY, List.of(normal()), probe);
    }

    /** Jackson's maxNameLength (50,000 bytes) holds for the tree's source block, not for the scanner's skipName. */
    @Test
    void aLongUnknownNameInSource() {
        byte[] probe = record(SCHEMA, payload(AFTER, SOURCE_HEAD + ",\"" + "x".repeat(50_001) + "\":1}", TX));
        assertAlike("source with a name of 50,001 chars", KEY, List.of(normal()), probe);
    }

    @Test
    void aLongUnknownNameInTransaction() {
        byte[] probe = record(SCHEMA, payload(AFTER, SOURCE, TX_HEAD + ",\"" + "x".repeat(50_001) + "\":1}"));
        assertAlike("transaction with a name of 50,001 chars", KEY, List.of(normal()), probe);
    }

    @Test
    void aLongColumnName() {
        String longName = "c".repeat(50_001);
        String schema = schema(new String[][] {{"id", "int32", ""}, {longName, "int32", ""}});
        byte[] warm = record(schema, payload("{\"id\":1}", SOURCE, TX));
        byte[] probe = record(schema, payload("{\"id\":1,\"" + longName + "\":1}", SOURCE, TX));
        assertAlike("column named with 50,001 chars", KEY, List.of(warm), probe);
    }

    /** Jackson's maxStringLength (20,000,000 chars) holds for source.db in the tree, not in the scanner's text(). */
    @Test
    void aDbNameLongerThanJacksonReads() {
        String source = SOURCE.replace("\"db\":\"app\"", "\"db\":\"" + "d".repeat(20_000_001) + "\"");
        byte[] probe = record(SCHEMA, payload(AFTER, source, TX));
        assertAlike("source.db of 20,000,001 chars", KEY, List.of(normal()), probe);
    }

    // --- probes expected to hold -------------------------------------------------------------------------------------

    @Test
    void columnNamesOfEveryForm() throws Exception {
        List<String> mismatches = new ArrayList<>();
        for (String name : new String[] {"a\"b", "tab\tx", "\u001f", "\u001b", "\u0000", "\u00e9", "\u2028", "/",
            "\u007f", "a\\b", "", "null", "\ud83d\ude00", "x\ud83d\ude00y", "\uffff", "\ud800"}) {
            String schema = schema(new String[][] {{"id", "int32", ""}, {name, "string", ""}});
            String escaped = JSON.writeValueAsString(name); // as Kafka's JsonConverter writes it
            String rawQuoted = "\"" + new String(JsonStringEncoder.getInstance().quoteAsUTF8(name.replace("\ud800", "")),
                    StandardCharsets.UTF_8) + "\"";
            for (String quoted : new String[] {escaped, rawQuoted}) {
                byte[] warm = record(schema, payload("{\"id\":1}", SOURCE, TX));
                byte[] probe = record(schema, payload("{\"id\":1," + quoted + ":\"v\"}", SOURCE, TX));
                String mismatch = mismatch("column name " + quoted, KEY, List.of(warm), KEY, probe);
                if (mismatch != null) {
                    mismatches.add(mismatch);
                }
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
    }

    @Test
    void rowValuesOfEveryForm() {
        List<byte[]> values = new ArrayList<>();
        for (String v : new String[] {"-0", "-5", "0", "7", "-0.0", "0.0", "1e400", "1E+3", "1e-9999", "1e-10000",
            "1e9999", "1e10000", "-0e-0", "0e0", "12345678901234567890", "-9223372036854775808", "9223372036854775807",
            "9223372036854775808", "2147483648", "-2147483649", "2147483647", "1.5", "1.50", "1.0E-7", "01", "-01",
            "1.", ".5", "+1", "1e", "1e+", "-", "NaN", "Infinity", "true", "false", "null", "nul", "tru",
            "\"x\"", "\"\u00e9\"", "\"\u007f\"", "\"\u2028\"", "\"\ud83d\ude00\"", "\"\\ud83d\\ude00\"", "\"\\u00e9\"",
            "\"\"", "\"2022-01-08\"", "\"10:15:30+02:00\"", "\"10:15:30.123456789-11:30\"", "\"AQI=\"", "\"AA==\"",
            "\"\"", "\"@@\"", "\"7\"", "\"1e400\"", "\"true\"", "\"null\"", "\" 7 \"", "\"1.50\"", "\"-0\"",
            "\"12345678901234567890\"", "\"[1]\"", "\"1 2\"", "\"" + PLACEHOLDER + "\"", "\"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==\"",
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
        values.add(raw('"', 0xc0, 0x80, '"'));
        values.add(raw('"', 0xed, 0xa0, 0x80, '"'));
        values.add(raw('"', 0xe0, 0x80, 0x80, '"'));
        values.add(raw('"', 0xf4, 0x90, 0x80, 0x80, '"'));
        values.add(raw('"', 0xf8, 0x88, 0x80, 0x80, 0x80, '"'));
        values.add(raw('"', 0x80, '"'));
        values.add(raw('"', 0xc3, '"'));
        values.add(raw('"', 0x01, '"'));
        values.add(raw('"', 0x7f, '"'));
        values.add(raw('"', 0xef, 0xbf, 0xbf, '"'));
        values.add(raw('"', 0xef, 0xbb, 0xbf, '"'));

        List<String> mismatches = new ArrayList<>();
        for (String[] column : COLUMNS) {
            if (column[0].equals("id")) {
                continue;
            }
            for (byte[] value : values) {
                byte[] after = concat(utf8("{\"id\":1,\"" + column[0] + "\":"), value, utf8("}"));
                byte[] probe = record(SCHEMA, concat(utf8("{\"before\":null,\"after\":"), after,
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
    void envelopesSourcesAndKeysOfEveryForm() {
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
            SOURCE_HEAD + ",\"sn\\u0061pshot\":\"true\"}", SOURCE_HEAD + ",}", SOURCE_HEAD + ",\"db\":null}",
            SOURCE_HEAD + ",\"db\":\"a\\\"b\"}", SOURCE_HEAD + ",\"db\":\"\u00e9\"}", SOURCE_HEAD + ",\"db\":\"\ud83d\ude00\"}",
            SOURCE_HEAD + ",\"schema\":\"\\u0070ublic\"}", SOURCE_HEAD + " }", SOURCE_HEAD + ",\"x\":1.}",
            SOURCE_HEAD + ",\"x\":\"\\x\"}", SOURCE_HEAD + ",\"x\":\"\\u12g4\"}", SOURCE_HEAD + ",\"x\":\"\\u12\"}"};
        for (String s : sources) {
            cases.add(new String[] {"source " + s, payload(AFTER, s, TX), null});
        }
        String[] transactions = {"{}", "null", "\"x\"", "{\"id\":null}", "{\"id\":5}", "{\"id\":\"\"}",
            "{\"total_order\":1,\"id\":\"1:2\"}", TX_HEAD + ",\"id\":\"9:9\"}", TX_HEAD + ",\"x\":{}}",
            "{\"id\":\"\\u0031:2\"}", "[]"};
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
        cases.add(new String[] {"dup envelope field", base.replace(",\"op\":\"c\"", ",\"op\":\"c\",\"op\":\"u\""), null});
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
        cases.add(new String[] {"key flag", base.replace(AFTER, "{\"id\":1,\"flag\":true}"), "{\"flag\":true}"});
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
            String mismatch = mismatch(c[0], key, List.of(normal()), record(SCHEMA, c[1]));
            if (mismatch != null) {
                mismatches.add(mismatch);
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
    }

    // --- BulkProtocol against its previous body --------------------------------------------------------------------

    private static byte[] oldBody(List<? extends DocWriteRequest<?>> requests) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256 * requests.size());
        JsonStringEncoder strings = JsonStringEncoder.getInstance();
        for (DocWriteRequest<?> request : requests) {
            boolean delete = request instanceof DeleteRequest;
            out.write(utf8(delete ? "{\"delete\":{\"_index\":\"" : "{\"index\":{\"_index\":\""));
            out.write(strings.quoteAsUTF8(request.index()));
            out.write(utf8("\",\"_id\":\""));
            out.write(strings.quoteAsUTF8(request.id()));
            if (request.versionType() == VersionType.INTERNAL) {
                out.write(utf8("\"}}\n"));
            } else {
                out.write(utf8("\",\"version\":"));
                out.write(utf8(Long.toString(request.version())));
                out.write(utf8(",\"version_type\":\""));
                out.write(utf8(request.versionType().name().toLowerCase(Locale.ROOT)));
                out.write(utf8("\"}}\n"));
            }
            if (!delete) {
                ((IndexRequest) request).source().writeTo(out);
                out.write('\n');
            }
        }
        return out.toByteArray();
    }

    private static String randomText(Random random) {
        StringBuilder text = new StringBuilder();
        int length = random.nextInt(12);
        for (int i = 0; i < length; i++) {
            switch (random.nextInt(8)) {
                case 0 -> text.append((char) random.nextInt(0x20));
                case 1 -> text.append(new String[] {"\"", "\\", "/", "\u007f", "\u0080", "\u2028", "\ud83d\ude00",
                    "\u0000", "\n", "\u001f"}[random.nextInt(10)]);
                case 2 -> text.append((char) (0x80 + random.nextInt(0x800)));
                case 3 -> text.append((char) random.nextInt(0x10000));
                default -> text.append((char) (0x20 + random.nextInt(0x60)));
            }
        }
        return text.toString();
    }

    @Test
    void bulkBodiesAsBefore() throws Exception {
        Class<?> protocol = Class.forName("io.cdcindexer.elasticsearch.BulkProtocol");
        Method body = protocol.getDeclaredMethod("body", List.class);
        body.setAccessible(true);
        Random random = new Random(5);
        List<String> mismatches = new ArrayList<>();
        for (int round = 0; round < 3000; round++) {
            List<DocWriteRequest<?>> requests = new ArrayList<>();
            int n = 1 + random.nextInt(5);
            String index = randomText(random);
            for (int i = 0; i < n; i++) {
                if (random.nextInt(3) == 0) {
                    index = randomText(random);
                }
                VersionType type = VersionType.values()[random.nextInt(VersionType.values().length)];
                long version = random.nextInt(4) == 0 ? random.nextLong() : random.nextInt(1000) + 1;
                if (random.nextBoolean()) {
                    DeleteRequest delete = new DeleteRequest(index, randomText(random));
                    delete.versionType(type);
                    delete.version(version);
                    requests.add(delete);
                } else {
                    IndexRequest insert = new IndexRequest(index).id(randomText(random))
                            .source(utf8("{\"a\":\"" + "x".repeat(random.nextInt(300)) + "\"}"), XContentType.JSON);
                    insert.versionType(type);
                    insert.version(version);
                    requests.add(insert);
                }
            }
            String expected;
            try {
                expected = new String(oldBody(requests), StandardCharsets.ISO_8859_1);
            } catch (RuntimeException e) {
                expected = "threw " + e.getClass().getName();
            }
            String actual;
            try {
                actual = new String((byte[]) body.invoke(null, requests), StandardCharsets.ISO_8859_1);
            } catch (InvocationTargetException e) {
                actual = "threw " + e.getCause().getClass().getName();
            }
            if (!expected.equals(actual)) {
                mismatches.add("round " + round + "\n  old: " + shortly(expected) + "\n  new: " + shortly(actual));
            }
        }
        assertThat(mismatches).as(String.join("\n", mismatches)).isEmpty();
    }
}
