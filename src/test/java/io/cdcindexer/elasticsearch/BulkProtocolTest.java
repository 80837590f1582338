package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.cdcindexer.bench.IndexingBenchmark;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.elasticsearch.action.DocWriteRequest;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.action.update.UpdateRequest;
import org.elasticsearch.common.xcontent.XContentType;
import org.elasticsearch.index.VersionType;
import org.junit.jupiter.api.Test;

class BulkProtocolTest {

    @Test
    void theBenchmarksCeilingAsksForTheAnswersTheJobAsksFor() {
        assertThat(IndexingBenchmark.FILTER_PATH).isEqualTo(BulkProtocol.FILTER_PATH);
    }

    @Test
    void bodyCopiesDocumentsByteForByteWithTheirExternalVersions() {
        byte[] body = BulkProtocol.body(List.of(
                new IndexRequest("cdc.public.orders").id("7,a%2Cb").version(42).versionType(VersionType.EXTERNAL)
                        .source("{\"amount\":1234.50,\"big\":12345678901234567890.10}", XContentType.JSON),
                new DeleteRequest("cdc.public.orders", "8").version(43).versionType(VersionType.EXTERNAL)));

        assertThat(new String(body, StandardCharsets.UTF_8)).isEqualTo(
                "{\"index\":{\"_index\":\"cdc.public.orders\",\"_id\":\"7,a%2Cb\",\"version\":42,\"version_type\":\"external\"}}\n"
                        + "{\"amount\":1234.50,\"big\":12345678901234567890.10}\n"
                        + "{\"delete\":{\"_index\":\"cdc.public.orders\",\"_id\":\"8\",\"version\":43,\"version_type\":\"external\"}}\n");
    }

    @Test
    void idsAreEscapedAsJsonStrings() {
        byte[] body = BulkProtocol.body(List.of(new DeleteRequest("i", "a\"b\\c")));

        assertThat(new String(body, StandardCharsets.UTF_8)).isEqualTo("{\"delete\":{\"_index\":\"i\",\"_id\":\"a\\\"b\\\\c\"}}\n");
    }

    @Test
    void idsBeyondPlainAsciiAreEscapedAsJacksonEscapesThem() {
        String id = "caf\u00e9\u0001\t/\u20ac\ud83d\ude00";
        byte[] body = BulkProtocol.body(List.of(new DeleteRequest("i", id)));

        assertThat(new String(body, StandardCharsets.UTF_8)).isEqualTo("{\"delete\":{\"_index\":\"i\",\"_id\":\""
                + new String(JsonStringEncoder.getInstance().quoteAsUTF8(id), StandardCharsets.UTF_8) + "\"}}\n");
        assertThat(new String(body, StandardCharsets.UTF_8)).contains("caf\u00e9\\u0001\\t/\u20ac\ud83d\ude00");
    }

    @Test
    void eachActionNamesItsOwnIndex() {
        byte[] body = BulkProtocol.body(List.of(new DeleteRequest("a", "1"), new DeleteRequest("b\"c", "2"),
                new DeleteRequest("b\"c", "3"), new DeleteRequest("a", "4")));

        assertThat(new String(body, StandardCharsets.UTF_8)).isEqualTo("{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n"
                + "{\"delete\":{\"_index\":\"b\\\"c\",\"_id\":\"2\"}}\n"
                + "{\"delete\":{\"_index\":\"b\\\"c\",\"_id\":\"3\"}}\n"
                + "{\"delete\":{\"_index\":\"a\",\"_id\":\"4\"}}\n");
    }

    @Test
    void aBodyLargerThanItsEstimateGrows() {
        String source = "{\"text\":\"" + "x".repeat(10_000) + "\"}";
        String id = "\u0001".repeat(1_000); // six bytes a char once escaped, where the estimate counts one
        byte[] body = BulkProtocol.body(List.of(new IndexRequest("i").id(id).source(source, XContentType.JSON)));

        assertThat(new String(body, StandardCharsets.UTF_8)).isEqualTo("{\"index\":{\"_index\":\"i\",\"_id\":\""
                + "\\u0001".repeat(1_000) + "\"}}\n" + source + "\n");
    }

    @Test
    void randomIndexNamesIdsAndVersionsAreWrittenAsJacksonQuotesThem() {
        Random random = new Random(5);
        for (int round = 0; round < 3_000; round++) {
            List<DocWriteRequest<?>> requests = new ArrayList<>();
            StringBuilder expected = new StringBuilder();
            String index = randomText(random);
            for (int i = 1 + random.nextInt(5); i > 0; i--) {
                if (random.nextInt(3) == 0) {
                    index = randomText(random);
                }
                String id = randomText(random);
                VersionType type = VersionType.values()[random.nextInt(VersionType.values().length)];
                long version = random.nextInt(4) == 0 ? random.nextLong() : random.nextInt(1000) + 1;
                boolean delete = random.nextBoolean();
                String source = "{\"a\":\"" + "x".repeat(random.nextInt(300)) + "\"}";
                DocWriteRequest<?> request = delete ? new DeleteRequest(index, id)
                        : new IndexRequest(index).id(id).source(source, XContentType.JSON);
                request.versionType(type);
                request.version(version);
                requests.add(request);
                expected.append(delete ? "{\"delete\":{\"_index\":\"" : "{\"index\":{\"_index\":\"")
                        .append(quoted(index)).append("\",\"_id\":\"").append(quoted(id))
                        .append(type == VersionType.INTERNAL ? "" : "\",\"version\":" + version
                                + ",\"version_type\":\"" + type.name().toLowerCase(Locale.ROOT))
                        .append("\"}}\n").append(delete ? "" : source + "\n");
            }

            assertThat(new String(BulkProtocol.body(requests), StandardCharsets.UTF_8)).as("round %d", round)
                    .isEqualTo(expected.toString());
        }
    }

    private static String quoted(String text) {
        return new String(JsonStringEncoder.getInstance().quoteAsUTF8(text), StandardCharsets.UTF_8);
    }

    // Control characters, quotes, backslashes, DEL, U+2028, surrogate pairs and other characters beyond ASCII.
    private static String randomText(Random random) {
        StringBuilder text = new StringBuilder();
        for (int i = random.nextInt(12); i > 0; i--) {
            switch (random.nextInt(8)) {
                case 0 -> text.append((char) random.nextInt(0x20));
                case 1 -> text.append(new String[] {"\"", "\\", "/", "\u007f", "\u0080", "\u2028", "\ud83d\ude00",
                    "\u0000", "\n", "\u001f"}[random.nextInt(10)]);
                case 2 -> text.append((char) (0x80 + random.nextInt(0x800)));
                case 3 -> text.append(Character.toChars(0x10000 + random.nextInt(0x1000)));
                default -> text.append((char) (0x20 + random.nextInt(0x60)));
            }
        }
        return text.toString();
    }

    @Test
    void onlyIndexAndDeleteAreSent() {
        assertThatThrownBy(() -> BulkProtocol.body(List.of(new UpdateRequest("i", "1"))))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void responseWithoutErrorsIsNotReadFurther() throws IOException {
        assertThat(BulkProtocol.failedOrNull("{\"errors\":false,\"items\":[{\"index\":{\"status\":201}}]}".getBytes(), 1))
                .isNull();
    }

    @Test
    void responseWithErrorsGivesEachItemInOrder() throws IOException {
        String response = "{\"errors\":true,\"items\":["
                + "{\"index\":{\"status\":201}},"
                + "{\"index\":{\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\",\"reason\":\"[1]: version conflict\",\"index_uuid\":\"x\"}}},"
                + "{\"delete\":{\"status\":404}},"
                + "{\"index\":{\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"failed to parse field [amount]\",\"caused_by\":{\"type\":\"number_format_exception\"}}}}]}";

        assertThat(BulkProtocol.failedOrNull(response.getBytes(), 4)).containsExactly(
                new BulkProtocol.Item(201, null, null),
                new BulkProtocol.Item(409, "version_conflict_engine_exception", "[1]: version conflict"),
                new BulkProtocol.Item(404, null, null),
                new BulkProtocol.Item(400, "mapper_parsing_exception", "failed to parse field [amount]"));
    }

    @Test
    void responseWithTheWrongNumberOfItemsIsAnError() {
        assertThatThrownBy(() -> BulkProtocol.failedOrNull("{\"errors\":true,\"items\":[]}".getBytes(), 2))
                .isInstanceOf(IOException.class).hasMessageContaining("without its 2 items");
    }
}
