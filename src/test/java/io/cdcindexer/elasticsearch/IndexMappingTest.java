package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.DebeziumFixtures;
import io.cdcindexer.elasticsearch.IndexMapping.MappingDiff;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The mapping derived for each type, from schemas captured from the real connector ({@code mapping-*} and
 * {@code schema-*} fixtures, see CapturedEventsRecorder), as docs/mappings.md lists them.
 */
class IndexMappingTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final MappingOverrides.Table NO_OVERRIDES = MappingOverrides.NONE.table("public.mapping_types");

    /** The row schema of a captured event. */
    static JsonNode afterSchema(String fixture) {
        return IndexMapping.afterSchema(DebeziumFixtures.json("captured/" + fixture).path("value").path("schema"));
    }

    static ObjectNode properties(String fixture) {
        return IndexMapping.properties(afterSchema(fixture), NO_OVERRIDES);
    }

    static JsonNode json(String text) throws Exception {
        return JSON.readTree(text);
    }

    private static final String INTEGER = "{\"type\":\"integer\",\"coerce\":false}";
    private static final String TEXT =
            "{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":256}}}";
    private static final String DATE = "{\"type\":\"date\",\"format\":\"strict_date_optional_time\"}";
    private static final String TIMESTAMPTZ =
            "{\"type\":\"date\",\"format\":\"strict_date_optional_time\",\"ignore_malformed\":true}";
    private static final String CENTS = "{\"type\":\"scaled_float\",\"coerce\":false,\"scaling_factor\":100.0}";

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            id       | serial        | {"type":"integer","coerce":false}
            small_n  | int2          | {"type":"short","coerce":false}
            n        | int4          | {"type":"integer","coerce":false}
            big_n    | int8          | {"type":"long","coerce":false}
            amount   | numeric(12,2) | {"type":"scaled_float","coerce":false,"scaling_factor":100.0}
            wide     | numeric(20,4) | {"type":"double","coerce":false,"fields":{"keyword":{"type":"keyword","ignore_above":256}}}
            ratio    | numeric       | {"type":"double","coerce":false,"fields":{"keyword":{"type":"keyword","ignore_above":256}}}
            cash     | money         | {"type":"scaled_float","coerce":false,"scaling_factor":100.0}
            score    | float8        | {"type":"double","coerce":false,"ignore_malformed":true}
            small    | real          | {"type":"float","coerce":false,"ignore_malformed":true}
            active   | bool          | {"type":"boolean"}
            body     | text          | {"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}
            title    | varchar(40)   | {"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}
            code     | char(5)       | {"type":"keyword","normalizer":"cdc_char","ignore_above":8191}
            uid      | uuid          | {"type":"keyword"}
            mood     | enum          | {"type":"keyword"}
            born     | date          | {"type":"date","format":"strict_date_optional_time"}
            alarm    | time          | {"type":"keyword"}
            alarm_tz | timetz        | {"type":"keyword"}
            seen_at  | timestamp     | {"type":"date","format":"strict_date_optional_time"}
            seen_at_ms | timestamp(3) | {"type":"date","format":"strict_date_optional_time"}
            paid_at  | timestamptz   | {"type":"date","format":"strict_date_optional_time","ignore_malformed":true}
            took     | interval      | {"type":"long","coerce":false}
            attrs    | json          | {"type":"object","enabled":false}
            doc      | jsonb         | {"type":"object","enabled":false}
            blob     | bytea         | {"type":"binary"}
            addr     | inet          | {"type":"keyword","fields":{"ip":{"type":"ip","ignore_malformed":true}}}
            ints     | int4[]        | {"type":"integer","coerce":false}
            words    | text[]        | {"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}
            amounts  | numeric(12,2)[] | {"type":"scaled_float","coerce":false,"scaling_factor":100.0}
            days     | date[]        | {"type":"date","format":"strict_date_optional_time"}
            uids     | uuid[]        | {"type":"keyword"}
            codes    | char(2)[]     | {"type":"keyword","normalizer":"cdc_char","ignore_above":8191}
            addrs    | inet[]        | {"type":"keyword","fields":{"ip":{"type":"ip","ignore_malformed":true}}}
            moods    | enum[]        | {"type":"keyword"}
            """)
    void eachTypeOfTheTypesTable(String column, String postgresType, String expected) throws Exception {
        assertThat(properties("mapping-types-1").get(column)).isEqualTo(json(expected));
    }

    @Test
    void everyColumnOfTheTypesTableHasAMapping() {
        List<String> columns = new ArrayList<>();
        afterSchema("mapping-types-1").path("fields").forEach(field -> columns.add(field.path("field").asText()));

        assertThat(columns).hasSize(35);
        assertThat(properties("mapping-types-1").fieldNames()).toIterable().containsExactlyElementsOf(columns);
    }

    @Test
    void theSampleTables() throws Exception {
        assertThat(properties("mapping-users")).isEqualTo(json("{\"id\":" + INTEGER + ",\"username\":" + TEXT
                + ",\"email\":" + TEXT + ",\"created_at\":" + TIMESTAMPTZ + "}"));
        assertThat(properties("mapping-orders")).isEqualTo(json("{\"id\":" + INTEGER + ",\"user_id\":" + INTEGER
                + ",\"amount\":" + CENTS + ",\"status\":" + TEXT + ",\"created_at\":" + TIMESTAMPTZ + "}"));
    }

    @Test
    void theChaosTables() throws Exception {
        String bigint = "{\"type\":\"long\",\"coerce\":false}";
        assertThat(properties("mapping-chaos-order-lines")).isEqualTo(json("{\"order_id\":" + INTEGER
                + ",\"line_no\":" + INTEGER + ",\"sku\":" + TEXT + ",\"quantity\":" + INTEGER + ",\"price\":" + CENTS + "}"));
        assertThat(properties("mapping-chaos-daily-totals")).isEqualTo(json("{\"day\":" + DATE + ",\"shard\":" + INTEGER
                + ",\"hits\":" + bigint + ",\"note\":" + TEXT + "}"));
        assertThat(properties("mapping-chaos-documents")).isEqualTo(json("{\"id\":" + bigint + ",\"revision\":" + INTEGER
                + ",\"title\":" + TEXT + ",\"body\":" + TEXT + "}"));
        assertThat(properties("mapping-chaos-ledger")).isEqualTo(json("{\"id\":" + bigint + ",\"worker\":" + INTEGER
                + ",\"changes\":" + INTEGER + ",\"committed_at\":" + TIMESTAMPTZ + "}"));
    }

    /** Without the connector's datatype.propagate.source.type, char(n) and inet are strings like any text. */
    @Test
    void withoutThePropagatedSourceTypeCharAndInetAreText() throws Exception {
        ObjectNode schema = (ObjectNode) afterSchema("mapping-types-1").deepCopy();
        schema.path("fields").forEach(field -> ((ObjectNode) field).remove("parameters"));

        ObjectNode properties = IndexMapping.properties(schema, NO_OVERRIDES);

        assertThat(properties.get("code")).isEqualTo(json(TEXT));
        assertThat(properties.get("addr")).isEqualTo(json(TEXT));
        assertThat(properties.get("codes")).isEqualTo(json(TEXT));
    }

    /** Semantic types the mapping does not know map by their Kafka Connect type: as the job writes them, unchanged. */
    @Test
    void unknownSemanticTypesMapByTheirConnectType() throws Exception {
        JsonNode schema = json("""
                {"type":"struct","fields":[
                  {"field":"bits","type":"bytes","name":"io.debezium.data.Bits","parameters":{"length":"8"}},
                  {"field":"path","type":"string","name":"io.debezium.data.Ltree"},
                  {"field":"tiny","type":"int8"},
                  {"field":"tags","type":"map","keys":{"type":"string"},"values":{"type":"string"}},
                  {"field":"spot","type":"struct","name":"io.debezium.data.geometry.Point","fields":[
                    {"field":"x","type":"double"},{"field":"wkb","type":"bytes"},{"field":"srid","type":"int32"}]}]}""");

        assertThat(IndexMapping.properties(schema, NO_OVERRIDES)).isEqualTo(json("{\"bits\":{\"type\":\"binary\"},"
                + "\"path\":" + TEXT + ",\"tiny\":{\"type\":\"byte\",\"coerce\":false},"
                + "\"tags\":{\"type\":\"object\",\"enabled\":false},"
                + "\"spot\":{\"type\":\"object\",\"properties\":{"
                + "\"x\":{\"type\":\"double\",\"coerce\":false,\"ignore_malformed\":true},"
                + "\"wkb\":{\"type\":\"binary\"},\"srid\":" + INTEGER + "}}}"));
    }

    @Test
    void anUnknownConnectTypeIsRefused() throws Exception {
        JsonNode schema = json("{\"type\":\"struct\",\"fields\":[{\"field\":\"x\",\"type\":\"int128\"}]}");

        assertThatThrownBy(() -> IndexMapping.properties(schema, NO_OVERRIDES))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Unknown Kafka Connect type 'int128'");
    }

    @Test
    void aDecimalOfMoreThanFifteenDigitsIsADoubleWithItsExactText() throws Exception {
        JsonNode schema = json("{\"type\":\"struct\",\"fields\":["
                + "{\"field\":\"p15\",\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\","
                + "\"parameters\":{\"scale\":\"3\",\"connect.decimal.precision\":\"15\"}},"
                + "{\"field\":\"p16\",\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\","
                + "\"parameters\":{\"scale\":\"3\",\"connect.decimal.precision\":\"16\"}}]}");

        ObjectNode properties = IndexMapping.properties(schema, NO_OVERRIDES);

        assertThat(properties.get("p15")).isEqualTo(json("{\"type\":\"scaled_float\",\"coerce\":false,\"scaling_factor\":1000.0}"));
        assertThat(properties.at("/p16/type").asText()).isEqualTo("double");
        assertThat(properties.at("/p16/fields/keyword/type").asText()).isEqualTo("keyword");
    }

    @Nested
    class IndexBody {

        @Test
        void isStrictWithTheCharNormalizerAndTheOverridesSettings() throws Exception {
            MappingOverrides overrides = MappingOverrides.parse(
                    "{\"settings\":{\"number_of_replicas\":0},\"tables\":{}}", "test.json");

            ObjectNode body = IndexMapping.indexBody(afterSchema("mapping-types-1"), overrides.table("public.mapping_types"));

            assertThat(body.at("/mappings/dynamic").asText()).isEqualTo("strict");
            assertThat(body.at("/mappings/properties")).isEqualTo(properties("mapping-types-1"));
            assertThat(body.get("settings")).isEqualTo(json("""
                    {"index.analysis.char_filter.cdc_trailing_spaces.pattern":" +$",
                     "index.analysis.char_filter.cdc_trailing_spaces.replacement":"",
                     "index.analysis.char_filter.cdc_trailing_spaces.type":"pattern_replace",
                     "index.analysis.normalizer.cdc_char.char_filter":["cdc_trailing_spaces"],
                     "index.analysis.normalizer.cdc_char.type":"custom",
                     "index.number_of_replicas":0}"""));
        }

        @Test
        void theSameSchemaGivesTheSameJsonAndFingerprint() {
            ObjectNode first = IndexMapping.indexBody(afterSchema("mapping-types-1"), NO_OVERRIDES);
            ObjectNode again = IndexMapping.indexBody(afterSchema("mapping-types-5"), NO_OVERRIDES);

            assertThat(again.toString()).isEqualTo(first.toString());
            assertThat(IndexMapping.fingerprint(again)).isEqualTo(IndexMapping.fingerprint(first)).hasSize(16);
        }

        @Test
        void theFingerprintIgnoresKeyOrderButNotContent() throws Exception {
            assertThat(IndexMapping.fingerprint(json("{\"a\":1,\"b\":{\"c\":true,\"d\":\"x\"}}")))
                    .isEqualTo(IndexMapping.fingerprint(json("{\"b\":{\"d\":\"x\",\"c\":true},\"a\":1}")))
                    .isNotEqualTo(IndexMapping.fingerprint(json("{\"b\":{\"d\":\"y\",\"c\":true},\"a\":1}")));
            assertThat(IndexMapping.fingerprint(IndexMapping.indexBody(afterSchema("schema-2-dropped-column"), NO_OVERRIDES)))
                    .as("qty retyped from integer to text")
                    .isNotEqualTo(IndexMapping.fingerprint(
                            IndexMapping.indexBody(afterSchema("schema-3-integer-to-text"), NO_OVERRIDES)));
        }
    }

    /** The captured schema changes of table products (docs/FINDINGS.md, schema changes), one step at a time. */
    @Nested
    class Compare {

        /** The mapping of an index created with the step's derived mapping, as GET /<index>/_mapping answers it. */
        private JsonNode indexCreatedAt(String fixture) {
            ObjectNode answer = JSON.createObjectNode();
            answer.putObject("cdc.public.products").set("mappings",
                    IndexMapping.indexBody(afterSchema(fixture), NO_OVERRIDES).get("mappings"));
            return answer;
        }

        private MappingDiff from(String before, String after) {
            return IndexMapping.compare("public.products", indexCreatedAt(before), properties(after));
        }

        @Test
        void theSameSchemaIsInStep() {
            MappingDiff diff = from("schema-0-insert", "schema-0-insert");

            assertThat(diff.inStep()).isTrue();
        }

        @Test
        void anAddedColumnIsANewFieldToPut() throws Exception {
            MappingDiff diff = from("schema-0-insert", "schema-1-added-column");

            assertThat(diff.conflicts()).isEmpty();
            assertThat(diff.putMappingBody()).isEqualTo(json("{\"properties\":{\"color\":" + TEXT + "}}"));
        }

        @Test
        void aDroppedColumnIsNoConcern() {
            assertThat(from("schema-1-added-column", "schema-2-dropped-column").inStep()).isTrue();
        }

        @Test
        void aColumnRetypedFromIntegerToTextConflicts() {
            MappingDiff diff = from("schema-2-dropped-column", "schema-3-integer-to-text");

            assertThat(diff.newFields().isEmpty()).isTrue();
            assertThat(diff.conflicts()).singleElement().satisfies(conflict -> {
                assertThat(conflict.column()).isEqualTo("qty");
                assertThat(conflict.message()).isEqualTo("column 'qty' of public.products: the index maps it as integer, "
                        + "its schema now needs text; Elasticsearch cannot change the mapping of an existing field: "
                        + "run ./cdc reindex public.products");
            });
        }

        @Test
        void aColumnRetypedFromIntegerToNumericConflicts() {
            MappingDiff diff = from("schema-3-integer-to-text", "schema-4-integer-to-numeric");

            assertThat(diff.conflicts()).extracting(IndexMapping.Conflict::message).containsExactly("column 'price' of "
                    + "public.products: the index maps it as integer, its schema now needs scaled_float; Elasticsearch "
                    + "cannot change the mapping of an existing field: run ./cdc reindex public.products");
        }

        @Test
        void aColumnRetypedFromTextToJsonbConflicts() {
            MappingDiff diff = from("schema-4-integer-to-numeric", "schema-5-text-to-jsonb");

            assertThat(diff.conflicts()).extracting(IndexMapping.Conflict::column).containsExactly("name");
            assertThat(diff.conflicts().get(0).message()).contains("maps it as text, its schema now needs object");
        }

        @Test
        void aChangedScaleConflictsNamingBothParameters() throws Exception {
            JsonNode cents = json("{\"type\":\"struct\",\"fields\":[{\"field\":\"price\",\"type\":\"bytes\","
                    + "\"name\":\"org.apache.kafka.connect.data.Decimal\",\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"10\"}}]}");
            JsonNode mills = json(cents.toString().replace("\"scale\":\"2\"", "\"scale\":\"3\""));

            MappingDiff diff = IndexMapping.compare("public.products",
                    IndexMapping.indexBody(cents, NO_OVERRIDES).get("mappings"), IndexMapping.properties(mills, NO_OVERRIDES));

            assertThat(diff.conflicts()).extracting(IndexMapping.Conflict::message).containsExactly("column 'price' of "
                    + "public.products: the index maps it as scaled_float {\"coerce\":false,\"scaling_factor\":100.0}, "
                    + "its schema now needs scaled_float {\"coerce\":false,\"scaling_factor\":1000.0}; Elasticsearch "
                    + "cannot change the mapping of an existing field: run ./cdc reindex public.products");
        }

        /**
         * Elasticsearch answers with its own spelling: an object with properties has no type, a scaling factor is a
         * double, a number given as a string comes back a number. None of that is a change.
         */
        @Test
        void elasticsearchsSpellingOfTheSameMappingIsInStep() throws Exception {
            JsonNode schema = json("""
                    {"type":"struct","fields":[
                      {"field":"price","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},
                      {"field":"spot","type":"struct","fields":[{"field":"srid","type":"int32"}]}]}""");
            MappingOverrides.Table overrides = MappingOverrides.parse("{\"tables\":{\"public.places\":{\"columns\":"
                    + "{\"price\":{\"type\":\"scaled_float\",\"scaling_factor\":\"100\"}}}}}", "test.json")
                    .table("public.places");
            JsonNode answer = json("""
                    {"cdc.public.places":{"mappings":{"dynamic":"strict","properties":{
                      "price":{"type":"scaled_float","coerce":false,"scaling_factor":100.0},
                      "spot":{"properties":{"srid":{"type":"integer","coerce":false}}}}}}}""");

            assertThat(IndexMapping.compare("public.places", answer, IndexMapping.properties(schema, overrides)).inStep())
                    .isTrue();
        }
    }
}
