package io.cdcindexer.debezium;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.util.JsonParserDelegate;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FieldOrderTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final FieldOrder ORDER = new FieldOrder("a", "bb", "ccc");

    /** Each field's index (or OTHER) with its value's text, until the object ends. */
    private static List<String> read(String json) throws IOException {
        List<String> fields = new ArrayList<>();
        // From bytes, as the job reads records: only the byte parser compares names without decoding them.
        try (JsonParser parser = MAPPER.createParser(json.getBytes(StandardCharsets.UTF_8))) {
            assertThat(parser.nextToken()).isEqualTo(JsonToken.START_OBJECT);
            FieldOrder.Cursor cursor = ORDER.cursor();
            for (int field; (field = cursor.next(parser)) != FieldOrder.END; ) {
                parser.nextToken();
                fields.add(field + "=" + parser.getText());
                parser.skipChildren();
            }
            assertThat(parser.currentToken()).as("the parser stays on the object's end").isEqualTo(JsonToken.END_OBJECT);
            assertThat(parser.nextToken()).as("after it, the rest of the input").isEqualTo(JsonToken.VALUE_NUMBER_INT);
        }
        return fields;
    }

    @Test
    void namesInTheirOrderAreRecognised() throws IOException {
        assertThat(read("{\"a\":1,\"bb\":2,\"ccc\":3} 0")).containsExactly("0=1", "1=2", "2=3");
    }

    @Test
    void namesInAnotherOrderRepeatedEscapedOrUnknownAreReadAllTheSame() throws IOException {
        assertThat(read("{\"ccc\":3,\"x\":{\"a\":9},\"a\":1,\"b\\u0062\":2,\"a\":4,\"bb\":5,\"ccc\":6,\"cc\":7} 0"))
                .containsExactly("2=3", "-1={", "0=1", "1=2", "0=4", "1=5", "2=6", "-1=7");
    }

    @Test
    void anEscapedOrUnknownNameInTheOrdersPlaceLeavesTheNextOneRecognised() throws IOException {
        assertThat(read("{\"a\":1,\"x\":0,\"b\\u0062\":2,\"ccc\":3} 0"))
                .containsExactly("0=1", "-1=0", "1=2", "2=3");
        assertThat(read("{\"a\":1,\"bbb\":0,\"b\":0,\"bb\":2,\"ccc\":3} 0"))
                .containsExactly("0=1", "-1=0", "-1=0", "1=2", "2=3");
    }

    @Test
    void namesInTheirOrderAreNotDecoded() throws IOException {
        assertThat(namesDecoded("{\"a\":1,\"bb\":2,\"ccc\":3}")).as("in order: compared as bytes").isZero();
        assertThat(namesDecoded("{\"bb\":2,\"a\":1,\"ccc\":3}")).as("out of order: decoded").isPositive();
    }

    /** How often the cursor asked for a decoded name while it read the object. */
    private static int namesDecoded(String json) throws IOException {
        int[] decoded = {0};
        try (JsonParser parser = new JsonParserDelegate(MAPPER.createParser(json.getBytes(StandardCharsets.UTF_8))) {
            @Override
            public boolean nextFieldName(SerializableString name) throws IOException {
                return delegate.nextFieldName(name); // JsonParser's own would decode the name
            }

            @Override
            public String currentName() throws IOException {
                decoded[0]++;
                return super.currentName();
            }
        }) {
            parser.nextToken();
            FieldOrder.Cursor cursor = ORDER.cursor();
            while (cursor.next(parser) != FieldOrder.END) {
                parser.nextToken();
            }
        }
        return decoded[0];
    }

    @Test
    void anEmptyObjectEndsAtOnce() throws IOException {
        assertThat(read("{} 0")).isEmpty();
    }

    @Test
    void aNameGivenTwiceIsRefused() {
        assertThatThrownBy(() -> new FieldOrder("a", "b", "a")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'a'");
    }
}
