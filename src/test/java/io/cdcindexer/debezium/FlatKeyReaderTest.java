package io.cdcindexer.debezium;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FlatKeyReaderTest {

    /** How the decoder reads a payload otherwise: one JSON value, nothing after it. */
    private static final ObjectReader JACKSON = DebeziumDecoder.mapper().readerFor(JsonNode.class)
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static ObjectNode read(String payload) {
        return readInRecord(payload.getBytes(StandardCharsets.UTF_8));
    }

    /** Reads the payload inside a record, as the decoder does (the schema before it, the wrapper's brace after). */
    private static ObjectNode readInRecord(byte[] payload) {
        byte[] record = new byte[payload.length + 12];
        System.arraycopy(payload, 0, record, 11, payload.length);
        record[record.length - 1] = '}';
        return FlatKeyReader.read(record, 11, 11 + payload.length);
    }

    /** Jackson's tree of the payload, or null where Jackson refuses it. */
    private static JsonNode jackson(byte[] payload) {
        try {
            return JACKSON.readTree(payload);
        } catch (IOException e) {
            return null;
        }
    }

    /** The same tree, node for node, down to the classes (an int column's value is an IntNode in both). */
    private static void assertSameTree(ObjectNode fast, JsonNode jackson, String payload) {
        assertThat(jackson).as("Jackson reads what the fast path read: %s", payload).isNotNull();
        assertThat(fast).as(payload).isEqualTo(jackson);
        assertThat(fast.toString()).as(payload).isEqualTo(jackson.toString());
        Iterator<JsonNode> expected = jackson.elements();
        for (JsonNode value : fast) {
            assertThat(value.getClass()).as(payload).isEqualTo(expected.next().getClass());
        }
    }

    @Test
    void readsTheKeysDebeziumWritesForIntegerAndTextColumnsAsJacksonDoes() {
        for (String payload : List.of("{\"id\":42}", "{\"id\":0}", "{\"id\":-0}", "{\"order_id\":7,\"line\":\"a,b%c\"}",
                "{\"id\":2147483647}", "{\"id\":-2147483648}", "{\"id\":2147483648}", "{\"id\":-2147483649}",
                "{\"id\":999999999999999999}", "{\"id\":-999999999999999999}", "{\"code\":\"\"}", "{\"\":1}",
                "{\"a\":1,\"b\":\"x y:{}[],\",\"c\":-3}", "{\"name\":\"~!@#$%^&*()_+`-=<>?/|'\"}")) {
            ObjectNode fast = read(payload);
            assertThat(fast).as("read by the fast path: %s", payload).isNotNull();
            assertSameTree(fast, jackson(payload.getBytes(StandardCharsets.UTF_8)), payload);
        }
    }

    @Test
    void leavesEveryOtherShapeToJackson() {
        for (String payload : List.of("{}", "{\"id\":1.5}", "{\"id\":1e3}", "{\"id\":1E3}", "{\"id\":\"é\"}",
                "{\"id\":\"a\\\"b\"}", "{\"id\":\"a\\u0041\"}", "{\"id\":1 }", "{ \"id\":1}", "{\"id\": 1}",
                "{\"id\":true}", "{\"id\":null}", "{\"a\":{\"b\":1}}", "{\"a\":[1]}", "{\"id\":1,\"id\":2}",
                "{\"id\":0123}", "{\"id\":1234567890123456789}", "{\"id\":-1234567890123456789}", "{\"id\":}",
                "{\"id\":1,}", "{\"id\":1", "{\"id\"1}", "{\"id\":\"x}", "{\"id\":-}", "{\"id\":--1}", "{id:1}",
                "{\"id\":1}}", "[1]", "{\"id\":\"tab\there\"}", "{\"id\":+1}", "{\"é\":1}",
                "{\"id\":\"" + "x".repeat(FlatKeyReader.MAX_BYTES) + "\"}")) {
            assertThat(read(payload)).as("left to Jackson: %s", payload).isNull();
        }
        String longest = "{\"id\":\"" + "x".repeat(FlatKeyReader.MAX_BYTES - 10) + "\"}";
        assertThat(read(longest)).as("a key of %d bytes", longest.length()).isNotNull();
    }

    // Whatever bytes it meets, the fast path reads the tree Jackson reads, or leaves them to Jackson: it never takes
    // what Jackson refuses, and never reads a key otherwise.
    @Test
    void onRandomKeysAndTheirCorruptionsItReadsWhatJacksonReadsOrNothing() {
        Random random = new Random(20261204);
        byte[] alphabet = "{}[]\",:-+.0123456789eEabcxyz \\\t\u007f".getBytes(StandardCharsets.ISO_8859_1);
        int readFast = 0;
        for (int n = 0; n < 200_000; n++) {
            List<Byte> bytes = new ArrayList<>();
            for (byte b : flatKey(random).getBytes(StandardCharsets.UTF_8)) {
                bytes.add(b);
            }
            for (int mutations = random.nextInt(3); mutations > 0 && !bytes.isEmpty(); mutations--) {
                int at = random.nextInt(bytes.size());
                byte b = random.nextInt(10) == 0 ? (byte) (0x80 + random.nextInt(0x80))
                        : alphabet[random.nextInt(alphabet.length)];
                switch (random.nextInt(3)) {
                    case 0 -> bytes.add(at, b);
                    case 1 -> bytes.remove(at);
                    default -> bytes.set(at, b);
                }
            }
            byte[] payload = new byte[bytes.size()];
            for (int i = 0; i < payload.length; i++) {
                payload[i] = bytes.get(i);
            }
            ObjectNode fast = readInRecord(payload);
            if (fast != null) {
                readFast++;
                assertSameTree(fast, jackson(payload), new String(payload, StandardCharsets.ISO_8859_1));
            }
        }
        assertThat(readFast).as("the fast path read most of them (the unmutated third and more)").isGreaterThan(60_000);
    }

    private static String flatKey(Random random) {
        StringBuilder key = new StringBuilder("{");
        for (int field = random.nextInt(3); field >= 0; field--) {
            key.append('"').append("c").append(random.nextInt(5)).append("\":");
            switch (random.nextInt(4)) {
                case 0 -> key.append(random.nextInt());
                case 1 -> key.append(random.nextLong() / (1L << random.nextInt(8)));
                case 2 -> key.append(random.nextInt(100) - 50);
                default -> key.append('"').append(Long.toString(random.nextLong(), 36)).append('"');
            }
            key.append(field == 0 ? "" : ",");
        }
        return key.append('}').toString();
    }
}
