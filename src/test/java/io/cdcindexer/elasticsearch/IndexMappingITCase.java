package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DebeziumFixtures;
import io.cdcindexer.debezium.DecodeFunction;
import io.cdcindexer.elasticsearch.IndexMapping.MappingDiff;
import io.cdcindexer.kafka.CollectingDeadLetterQueue;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The derived mapping against a real Elasticsearch 7.10.2 node. The six captured rows of {@code mapping_types} are
 * decoded by the job's {@link DecodeFunction} and written by its sink twice: into an index created with the derived
 * mapping (and the shipped {@code configs/index-mappings.json}), and into one Elasticsearch creates by dynamic mapping.
 * The first takes every row and answers searches exactly; the second shows the traps the first avoids
 * (docs/FINDINGS.md, dynamic-mapping traps).
 */
class IndexMappingITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberSlotsPerTaskManager(1).build());

    @TempDir
    static Path dir;

    private static final String TABLE = "public.mapping_types";
    private static final String MAPPED = "mapped-mapping_types";
    private static final String DYNAMIC = "dynamic-mapping_types";

    private static ElasticsearchNode elasticsearch;
    private static JsonNode afterSchema;
    private static MappingOverrides.Table shipped;
    private static List<ChangeEvent> rows;
    private static CollectingDeadLetterQueue mappedLetters;
    private static CollectingDeadLetterQueue dynamicLetters;

    @BeforeAll
    static void indexTheCapturedRowsTwice() throws Exception {
        elasticsearch = ElasticsearchNode.start(dir.resolve("es"), FreePorts.next());
        afterSchema = IndexMappingTest.afterSchema("mapping-types-1");
        shipped = MappingOverrides.load(Path.of("configs/index-mappings.json")).table(TABLE);
        rows = decoded("mapping-types-1", "mapping-types-2", "mapping-types-3", "mapping-types-4", "mapping-types-5",
                "mapping-types-6");

        assertThat(put("/" + MAPPED, IndexMapping.indexBody(afterSchema, shipped)).status()).isEqualTo(200);
        mappedLetters = write("mapped", rows);
        dynamicLetters = write("dynamic", rows);
        Http.post(elasticsearch.url() + "/" + MAPPED + "," + DYNAMIC + "/_refresh", "");
    }

    @AfterAll
    static void stopElasticsearch() {
        if (elasticsearch != null) {
            elasticsearch.close();
        }
    }

    // --- the index with the derived mapping ------------------------------------------------------------------------

    @Test
    void everyRowIsAccepted() throws Exception {
        assertThat(mappedLetters.letters()).isEmpty();
        assertThat(Http.get(elasticsearch.url() + "/" + MAPPED + "/_count").json().get("count").asInt()).isEqualTo(6);
    }

    @Test
    void theMappingElasticsearchAnswersIsTheDerivedOne() throws Exception {
        JsonNode answer = Http.get(elasticsearch.url() + "/" + MAPPED + "/_mapping").json();

        assertThat(IndexMapping.compare(TABLE, answer, IndexMapping.properties(afterSchema, shipped)).inStep()).isTrue();
        assertThat(answer.at("/" + MAPPED + "/mappings/dynamic").asText()).isEqualTo("strict");
    }

    @Test
    void aNumeric12Comma2ValueMatchesExactlyAndItsNeighbourDoesNot() throws Exception {
        assertThat(ids(MAPPED, "{\"term\":{\"amount\":1234567.89}}")).containsExactly("1");
        assertThat(ids(MAPPED, "{\"term\":{\"amount\":1234567.88}}")).isEmpty();
        assertThat(ids(MAPPED, "{\"range\":{\"amount\":{\"gt\":1234567.88,\"lt\":1234567.9}}}")).containsExactly("1");
        assertThat(ids(MAPPED, "{\"range\":{\"amount\":{\"lt\":0}}}")).containsExactly("2");
        assertThat(ids(MAPPED, "{\"term\":{\"amount\":9999999999.99}}")).as("the largest numeric(12,2)").containsExactly("6");
    }

    /** scaled_float sums in double: the total, rounded to the column's scale, is the exact one. */
    @Test
    void theSumOfANumeric12Comma2ColumnRoundedToItsScaleIsExact() throws Exception {
        double sum = sum(MAPPED, "amount"); // 1234567.89 - 0.01 + 0.10 + 0.20 + 9999999999.99

        assertThat(BigDecimal.valueOf(sum).setScale(2, RoundingMode.HALF_EVEN)).isEqualByComparingTo("10001234568.17");
    }

    @Test
    void aNumericWithoutScaleIsRangeSearchableAndItsTextMatchesExactly() throws Exception {
        assertThat(ids(MAPPED, "{\"range\":{\"ratio\":{\"gte\":3.1,\"lte\":3.2}}}")).containsExactly("2");
        assertThat(ids(MAPPED, "{\"term\":{\"ratio.keyword\":\"3.14159265358979323846\"}}")).containsExactly("2");
    }

    /** numeric(20,4) has more digits than a double holds: its keyword matches exactly, the double does not. */
    @Test
    void aNumericOfTwentyDigitsMatchesExactlyByItsTextOnly() throws Exception {
        assertThat(ids(MAPPED, "{\"term\":{\"wide.keyword\":\"9999999999999999.9999\"}}")).containsExactly("6");
        assertThat(ids(MAPPED, "{\"term\":{\"wide\":10000000000000000}}")).as("the nearest double").containsExactly("6");
    }

    @Test
    void aBigintAbove2To53MatchesExactly() throws Exception {
        assertThat(ids(MAPPED, "{\"term\":{\"big_n\":9007199254740993}}")).containsExactly("1");
        assertThat(ids(MAPPED, "{\"term\":{\"big_n\":9007199254740992}}")).isEmpty();
        assertThat(ids(MAPPED, "{\"term\":{\"big_n\":9223372036854775807}}")).containsExactly("6");
    }

    @Test
    void aTextColumnIsSearchableAsTextAndExactlyByItsKeyword() throws Exception {
        assertThat(ids(MAPPED, "{\"match\":{\"body\":\"quick fox\"}}")).containsExactly("3");
        assertThat(ids(MAPPED, "{\"term\":{\"body.keyword\":\"2026-11-27\"}}")).containsExactly("1");
        assertThat(ids(MAPPED, "{\"term\":{\"body.keyword\":\"2026-11\"}}")).isEmpty();
        assertThat(ids(MAPPED, "{\"exists\":{\"field\":\"title\"}}", "{\"title.keyword\":\"asc\"}"))
                .as("Lazy Dog, Quick Brown Fox, Ünïcödé ☃").containsExactly("3", "1", "2");
        JsonNode buckets = search(MAPPED, "{\"size\":0,\"aggs\":{\"titles\":{\"terms\":{\"field\":\"title.keyword\"}}}}")
                .at("/aggregations/titles/buckets");
        assertThat(buckets.findValuesAsText("key")).containsExactlyInAnyOrder("Quick Brown Fox", "Ünïcödé ☃", "Lazy Dog");
    }

    @Test
    void aCharColumnMatchesWithoutItsPaddingAndAggregatesByCode() throws Exception {
        assertThat(ids(MAPPED, "{\"term\":{\"code\":\"ab\"}}")).containsExactlyInAnyOrder("1", "3");
        assertThat(ids(MAPPED, "{\"term\":{\"code\":\"ab   \"}}")).containsExactlyInAnyOrder("1", "3");
        JsonNode buckets = search(MAPPED, "{\"size\":0,\"aggs\":{\"codes\":{\"terms\":{\"field\":\"code\"}}}}")
                .at("/aggregations/codes/buckets");
        assertThat(buckets.toString()).isEqualTo("[{\"key\":\"ab\",\"doc_count\":2},{\"key\":\"xyz\",\"doc_count\":1}]");
        assertThat(ids(MAPPED, "{\"term\":{\"codes\":\"c\"}}")).as("char(2)[] {ab,c}").containsExactly("1");
    }

    @Test
    void datesBefore1970AreAcceptedAndRangeSearchable() throws Exception {
        assertThat(ids(MAPPED, "{\"range\":{\"born\":{\"gte\":\"1900-01-01\",\"lt\":\"1970-01-01\"}}}")).containsExactly("2");
        assertThat(ids(MAPPED, "{\"range\":{\"seen_at\":{\"gte\":\"1900-01-01\",\"lt\":\"1901-01-01T00:00:01\"}}}"))
                .containsExactly("2");
        assertThat(ids(MAPPED, "{\"range\":{\"paid_at\":{\"gte\":\"1900-01-01\",\"lt\":\"1970-01-01T00:00:00Z\"}}}"))
                .containsExactly("2");
        assertThat(ids(MAPPED, "{\"range\":{\"born\":{\"gte\":\"-4712-01-01\",\"lt\":\"-4711-01-01\"}}}"))
                .as("4713-01-01 BC").containsExactly("6");
        assertThat(Http.get(elasticsearch.url() + "/" + MAPPED + "/_source/5").body())
                .as("date 'infinity', which Debezium turns into a day 5.9 million years BC").contains("\"born\":\"-5877611-06-21\"");
        assertThat(ids(MAPPED, "{\"range\":{\"days\":{\"lt\":\"1900-01-02\"}}}")).as("date[] {1900-01-01,1969-12-31}")
                .containsExactly("2");
    }

    @Test
    void timesSortInTimeOrderAsText() throws Exception {
        assertThat(ids(MAPPED, "{\"exists\":{\"field\":\"alarm\"}}", "{\"alarm\":\"asc\"}"))
                .as("00:00:00, 09:30:00.123456, 09:30:00.5, 24:00:00").containsExactly("2", "1", "3", "5");
        assertThat(ids(MAPPED, "{\"exists\":{\"field\":\"alarm_tz\"}}", "{\"alarm_tz\":\"asc\"}"))
                .as("04:59:59.999999Z, 07:30:00.000000Z, 09:30:00.500000Z").containsExactly("2", "1", "3");
        assertThat(ids(MAPPED, "{\"range\":{\"alarm\":{\"gt\":\"09:30:00.2\",\"lt\":\"10:00:00\"}}}")).containsExactly("3");
    }

    @Test
    void inetIsExactAsTextAndAnAddressMatchesItsNetwork() throws Exception {
        assertThat(ids(MAPPED, "{\"term\":{\"addr.ip\":\"192.168.0.0/16\"}}")).containsExactly("1");
        assertThat(ids(MAPPED, "{\"term\":{\"addrs.ip\":\"10.0.0.0/8\"}}")).containsExactly("1");
        assertThat(ids(MAPPED, "{\"term\":{\"addr\":\"10.1.2.3/8\"}}")).as("a network, exact as text").containsExactly("2");
    }

    @Test
    void uuidAndEnumMatchExactly() throws Exception {
        assertThat(ids(MAPPED, "{\"term\":{\"uid\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"}}")).containsExactly("1");
        assertThat(ids(MAPPED, "{\"term\":{\"moods\":\"sad\"}}")).containsExactly("1");
        assertThat(ids(MAPPED, "{\"term\":{\"mood\":\"sad\"}}")).containsExactly("2");
    }

    /** NaN, Infinity and -infinity are kept in _source and left out of the index, where _ignored names them. */
    @Test
    void valuesElasticsearchCannotIndexAreKeptInTheSourceAndNamedInIgnored() throws Exception {
        JsonNode hits = search(MAPPED, "{\"query\":{\"exists\":{\"field\":\"_ignored\"}},\"sort\":{\"id\":\"asc\"}}")
                .at("/hits/hits");

        assertThat(hits.findValuesAsText("_id")).containsExactly("2", "5");
        assertThat(hits.get(0).get("_ignored").toString()).isEqualTo("[\"addr.ip\"]");
        assertThat(hits.get(1).get("_ignored")).extracting(JsonNode::asText)
                .containsExactlyInAnyOrder("paid_at", "score", "small");
        assertThat(hits.get(1).at("/_source/score").asText()).isEqualTo("NaN");
        assertThat(hits.get(1).at("/_source/paid_at").asText()).isEqualTo("-infinity");
    }

    @Test
    void jsonColumnsKeepAnyStructureInTheSource() throws Exception {
        assertThat(Http.get(elasticsearch.url() + "/" + MAPPED + "/_source/5").body()).contains("\"doc\":[1,2.50,{\"x\":null}]");
        assertThat(Http.get(elasticsearch.url() + "/" + MAPPED + "/_source/3").body()).contains("\"doc\":\"scalar\"");
    }

    @Test
    void aFieldTheSchemaDoesNotHaveIsRefused() throws Exception {
        String index = "strict-mapping_types";
        assertThat(put("/" + index, IndexMapping.indexBody(afterSchema, shipped)).status()).isEqualTo(200);
        ChangeEvent extra = decoded("mapping-types-4").get(0);
        ObjectNode document = (ObjectNode) Http.JSON.readTree(extra.document);
        document.put("not_a_column", 1);
        extra.document = Http.JSON.writeValueAsBytes(document);

        List<DeadLetter> letters = write("strict", List.of(extra)).letters();

        assertThat(letters).singleElement().satisfies(letter -> assertThat(letter.reason).isEqualTo(
                "Elasticsearch refused the index (400 strict_dynamic_mapping_exception): mapping set to strict, "
                        + "dynamic introduction of [not_a_column] within [_doc] is not allowed"));
    }

    /** The captured schema changes of products: a new column is put, a retyped one is a conflict Elasticsearch refuses too. */
    @Test
    void aNewColumnIsPutAndARetypedOneIsAConflict() throws Exception {
        String index = "/products";
        MappingOverrides.Table none = MappingOverrides.NONE.table("public.products");
        assertThat(put(index, IndexMapping.indexBody(IndexMappingTest.afterSchema("schema-0-insert"), none)).status())
                .isEqualTo(200);

        MappingDiff added = IndexMapping.compare("public.products", Http.get(elasticsearch.url() + index + "/_mapping").json(),
                IndexMapping.properties(IndexMappingTest.afterSchema("schema-1-added-column"), none));
        assertThat(added.newFields().fieldNames()).toIterable().containsExactly("color");
        assertThat(put(index + "/_mapping", added.putMappingBody()).status()).isEqualTo(200);

        JsonNode current = Http.get(elasticsearch.url() + index + "/_mapping").json();
        assertThat(IndexMapping.compare("public.products", current,
                IndexMapping.properties(IndexMappingTest.afterSchema("schema-2-dropped-column"), none)).inStep()).isTrue();
        MappingDiff retyped = IndexMapping.compare("public.products", current,
                IndexMapping.properties(IndexMappingTest.afterSchema("schema-3-integer-to-text"), none));
        assertThat(retyped.conflicts()).extracting(IndexMapping.Conflict::column).containsExactly("qty");
        ObjectNode putRetyped = Http.JSON.createObjectNode();
        putRetyped.putObject("properties").set("qty", retyped.conflicts().get(0).derived());
        Http.Response refused = put(index + "/_mapping", putRetyped);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.json().at("/error/reason").asText()).isEqualTo("mapper [qty] cannot be changed from type [integer] to [text]");
    }

    // --- the same rows under dynamic mapping -----------------------------------------------------------------------

    @Test
    void dynamicMappingGuessesTypesFromTheFirstRow() throws Exception {
        JsonNode properties = Http.get(elasticsearch.url() + "/" + DYNAMIC + "/_mapping").json()
                .at("/" + DYNAMIC + "/mappings/properties");

        assertThat(properties.at("/amount/type").asText()).as("numeric(12,2)").isEqualTo("float");
        assertThat(properties.at("/ratio/type").asText()).as("numeric, first value 12").isEqualTo("long");
        assertThat(properties.at("/body/type").asText()).as("text, first value 2026-11-27").isEqualTo("date");
        assertThat(properties.at("/score/type").asText()).as("float8").isEqualTo("float");
    }

    @Test
    void dynamicMappingRefusesLaterTextThatIsNoDateAndFloat8ValuesAFloatCannotHold() {
        assertThat(dynamicLetters.letters()).extracting(letter -> letter.documentId).containsExactly("3", "5", "6");
        assertThat(dynamicLetters.letters()).extracting(letter -> letter.reason).containsExactly(
                "Elasticsearch refused the index (400 mapper_parsing_exception): failed to parse field [body] of type "
                        + "[date] in document with id '3'. Preview of field's value: 'The quick brown fox jumps over the lazy dog'",
                "Elasticsearch refused the index (400 mapper_parsing_exception): failed to parse field [score] of type "
                        + "[float] in document with id '5'. Preview of field's value: 'NaN'",
                "Elasticsearch refused the index (400 mapper_parsing_exception): failed to parse field [score] of type "
                        + "[float] in document with id '6'. Preview of field's value: 'null'");
    }

    @Test
    void dynamicMappingRoundsANumeric12Comma2ToAFloat() throws Exception {
        assertThat(ids(DYNAMIC, "{\"term\":{\"amount\":1234567.88}}")).as("1234567.89 and .88 are the same float")
                .containsExactly("1");
        assertThat(ids(DYNAMIC, "{\"range\":{\"amount\":{\"gt\":1234567.88,\"lt\":1234567.9}}}")).isEmpty();
        double sum = sum(DYNAMIC, "amount"); // rows 1, 2 and 4: 1234567.89 - 0.01 = 1234567.88

        assertThat(BigDecimal.valueOf(sum).setScale(2, RoundingMode.HALF_EVEN)).isEqualByComparingTo("1234567.87");
    }

    @Test
    void dynamicMappingTruncatesALaterNumericToTheLongOfTheFirst() throws Exception {
        assertThat(ids(DYNAMIC, "{\"range\":{\"ratio\":{\"gte\":3.1,\"lte\":3.2}}}")).isEmpty();
        assertThat(ids(DYNAMIC, "{\"term\":{\"ratio\":3}}")).containsExactly("2");
        assertThat(Http.get(elasticsearch.url() + "/" + DYNAMIC + "/_source/2").body())
                .as("while _source keeps the exact value").contains("\"ratio\":3.14159265358979323846,");
    }

    // --- helpers ---------------------------------------------------------------------------------------------------

    /** The captured events as the job's DecodeFunction turns them into changes. */
    private static List<ChangeEvent> decoded(String... fixtures) throws Exception {
        try (OneInputStreamOperatorTestHarness<KafkaRecord, ChangeEvent> decode = ProcessFunctionTestHarnesses
                .forProcessFunction(new DecodeFunction("cdc.transaction", "cdc\\.public\\..*", "__debezium_unavailable_value"))) {
            for (String fixture : fixtures) {
                decode.processElement(DebeziumFixtures.record("captured/" + fixture), 0);
            }
            assertThat(decode.getSideOutput(DecodeFunction.DEAD_LETTERS)).as("dead letters while decoding").isNull();
            List<ChangeEvent> changes = new ArrayList<>(decode.extractOutputValues());
            assertThat(changes).extracting(change -> change.action).containsOnly(ChangeEvent.Action.UPSERT);
            return changes;
        }
    }

    /** Writes the changes with the job's sink into {@code <prefix>-mapping_types}; returns what it dead-lettered. */
    private static CollectingDeadLetterQueue write(String prefix, List<ChangeEvent> changes) throws Exception {
        CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue(prefix);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.fromData(TypeInformation.of(ChangeEvent.class), changes.toArray(ChangeEvent[]::new))
                .sinkTo(new ElasticsearchIndexSink(
                        new BulkOptions(List.of(elasticsearch.url()), 100, 5 << 20, 50, 2, 50, 500),
                        new ChangeEventEmitter(new IndexNames(prefix + "-{table}")), deadLetters));
        env.executeAsync(prefix).getJobExecutionResult().get(2, TimeUnit.MINUTES);
        return deadLetters;
    }

    private static Http.Response put(String path, JsonNode body) throws Exception {
        return Http.send(HttpRequest.newBuilder(URI.create(elasticsearch.url() + path))
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8)).build());
    }

    private static JsonNode search(String index, String body) throws Exception {
        Http.Response response = Http.post(elasticsearch.url() + "/" + index + "/_search", body);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return response.json();
    }

    private static List<String> ids(String index, String query) throws Exception {
        return ids(index, query, "{\"id\":\"asc\"}");
    }

    private static List<String> ids(String index, String query, String sort) throws Exception {
        return search(index, "{\"query\":" + query + ",\"sort\":" + sort + "}").at("/hits/hits").findValuesAsText("_id");
    }

    private static double sum(String index, String field) throws Exception {
        return search(index, "{\"size\":0,\"aggs\":{\"total\":{\"sum\":{\"field\":\"" + field + "\"}}}}")
                .at("/aggregations/total/value").doubleValue();
    }
}
