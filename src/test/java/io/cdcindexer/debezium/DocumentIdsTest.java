package io.cdcindexer.debezium;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DocumentIdsTest {

    private static final ObjectMapper MAPPER = DebeziumDecoder.mapper();

    private static String id(String key) throws Exception {
        return DocumentIds.of((ObjectNode) MAPPER.readTree(key));
    }

    @Test
    void singleColumnKeyIsItsPlainValue() throws Exception {
        assertThat(id("{\"id\":1}")).isEqualTo("1");
        assertThat(id("{\"code\":\"a,b\"}")).isEqualTo("a,b");
        assertThat(id("{\"price\":10.50}")).isEqualTo("10.50");
        assertThat(id("{\"uuid\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"}")).isEqualTo("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assertThat(id("{\"name\":\"alice\"}")).isEqualTo("alice");
        assertThat(id("{\"ok\":true}")).isEqualTo("true");
    }

    @Test
    void singleColumnKeyEscapesPercentAndWritesTheEmptyStringAsPercent00() throws Exception {
        assertThat(id("{\"code\":\"\"}")).isEqualTo("%00");
        assertThat(id("{\"code\":\"50%\"}")).isEqualTo("50%25");
        // The value '%00' itself cannot take the empty string's id.
        assertThat(id("{\"code\":\"%00\"}")).isEqualTo("%2500");
    }

    @Test
    void singleColumnKeysNeverCollideEmptyStringIncluded() throws Exception {
        Random random = new Random(7);
        String alphabet = "%0025";
        Map<String, String> keyById = new HashMap<>();
        for (int i = 0; i < 20_000; i++) {
            ObjectNode key = MAPPER.createObjectNode();
            key.put("code", randomText(random, alphabet));
            String id = DocumentIds.of(key);
            assertThat(id).as("id of %s", key).isNotEmpty();
            String previous = keyById.putIfAbsent(id, key.toString());
            assertThat(previous).as("id %s of %s", id, key).isIn(null, key.toString());
        }
        assertThat(keyById).containsKey("%00").hasSize(1 + 4 + 16 + 64); // every value of up to 3 of % 0 2 5
    }

    @Test
    void anEmptyComponentOfACompositeKeyIsEmpty() throws Exception {
        assertThat(id("{\"a\":\"\",\"b\":\"\"}")).isEqualTo(",");
        assertThat(id("{\"a\":\"x\",\"b\":\"\"}")).isEqualTo("x,");
        assertThat(id("{\"a\":\"\",\"b\":1}")).isEqualTo(",1");
    }

    @Test
    void compositeKeyJoinsEscapedValuesInKeyOrder() throws Exception {
        assertThat(id("{\"order_id\":7,\"line\":3}")).isEqualTo("7,3");
        assertThat(id("{\"a\":\"x,y\",\"b\":\"50%\"}")).isEqualTo("x%2Cy,50%25");
    }

    @Test
    void compositeKeysNeverCollide() throws Exception {
        Random random = new Random(42);
        String alphabet = "ab,%2C5";
        // randomText gives empty values too: empty components must not collide either
        Map<String, String> keyById = new HashMap<>();
        for (int i = 0; i < 20_000; i++) {
            ObjectNode key = MAPPER.createObjectNode();
            key.put("a", randomText(random, alphabet));
            key.put("b", randomText(random, alphabet));
            String previous = keyById.putIfAbsent(DocumentIds.of(key), key.toString());
            assertThat(previous).as("id of %s", key).isIn(null, key.toString());
        }
        assertThat(keyById).hasSizeGreaterThan(1000);
    }

    private static String randomText(Random random, String alphabet) {
        StringBuilder text = new StringBuilder();
        for (int n = random.nextInt(4); n > 0; n--) {
            text.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return text.toString();
    }

    @Test
    void nullOrEmptyKeysAreRefused() {
        assertThatThrownBy(() -> id("{}")).hasMessage("the key has no columns");
        assertThatThrownBy(() -> id("{\"id\":null}")).hasMessage("key column 'id' is null");
    }

    @Test
    void idsLongerThanElasticsearchAllowsAreRefused() {
        assertThatThrownBy(() -> id("{\"id\":\"" + "x".repeat(513) + "\"}")).hasMessageContaining("longer than 512 bytes");
    }
}
