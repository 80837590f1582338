package io.cdcindexer.elasticsearch;

import static io.cdcindexer.elasticsearch.IndexMappingTest.afterSchema;
import static io.cdcindexer.elasticsearch.IndexMappingTest.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** configs/index-mappings.json: read, checked, and merged over the derived mappings. */
class MappingOverridesTest {

    private static final String FILE = "configs/index-mappings.json";

    private static MappingOverrides parse(String json) {
        return MappingOverrides.parse(json, FILE);
    }

    @Test
    void theShippedFileIsValidAndGivesTheSingleNodeStackNoReplicas() throws Exception {
        MappingOverrides shipped = MappingOverrides.load(Path.of(FILE));

        assertThat(shipped.table("public.orders").settings()).isEqualTo(json(
                "{\"index.number_of_replicas\":0,\"index.number_of_shards\":1,\"index.refresh_interval\":\"1s\"}"));
        assertThat(shipped.table("public.orders").columns()).isEmpty();
    }

    @Test
    void settingsMayBeNestedOrDottedWithOrWithoutIndex() throws Exception {
        String expected = "{\"index.analysis.analyzer.folded.filter\":[\"lowercase\",\"asciifolding\"],"
                + "\"index.analysis.analyzer.folded.tokenizer\":\"standard\",\"index.number_of_replicas\":0}";
        for (String settings : new String[] {
                "{\"index\":{\"number_of_replicas\":0,\"analysis\":{\"analyzer\":{\"folded\":{\"tokenizer\":\"standard\","
                        + "\"filter\":[\"lowercase\",\"asciifolding\"]}}}}}",
                "{\"index.number_of_replicas\":0,\"index.analysis.analyzer.folded.tokenizer\":\"standard\","
                        + "\"index.analysis.analyzer.folded.filter\":[\"lowercase\",\"asciifolding\"]}",
                "{\"number_of_replicas\":0,\"analysis.analyzer.folded\":{\"tokenizer\":\"standard\","
                        + "\"filter\":[\"lowercase\",\"asciifolding\"]}}"}) {
            assertThat(parse("{\"settings\":" + settings + "}").table("public.t").settings()).as(settings)
                    .isEqualTo(json(expected));
        }
    }

    @Test
    void aTablesSettingsGoOverTheSettingsForEveryTable() throws Exception {
        MappingOverrides overrides = parse("{\"settings\":{\"number_of_replicas\":0,\"refresh_interval\":\"1s\"},"
                + "\"tables\":{\"public.orders\":{\"settings\":{\"refresh_interval\":\"30s\",\"number_of_shards\":3}}}}");

        assertThat(overrides.table("public.orders").settings()).isEqualTo(json("{\"index.number_of_replicas\":0,"
                + "\"index.number_of_shards\":3,\"index.refresh_interval\":\"30s\"}"));
        assertThat(overrides.table("public.users").settings())
                .isEqualTo(json("{\"index.number_of_replicas\":0,\"index.refresh_interval\":\"1s\"}"));
    }

    @Test
    void theSettingsReachTheIndexBodyAndItsFingerprint() {
        MappingOverrides replicas = parse("{\"settings\":{\"number_of_replicas\":0}}");
        MappingOverrides shards = parse("{\"settings\":{\"number_of_replicas\":0,\"number_of_shards\":2}}");

        ObjectNode body = IndexMapping.indexBody(afterSchema("mapping-orders"), shards.table("public.orders"));

        assertThat(body.at("/settings/index.number_of_shards").asInt()).isEqualTo(2);
        assertThat(IndexMapping.fingerprint(body)).isNotEqualTo(
                IndexMapping.fingerprint(IndexMapping.indexBody(afterSchema("mapping-orders"), replicas.table("public.orders"))));
    }

    /** orders: amount numeric(10,2), status text, created_at timestamptz. */
    @Test
    void aColumnOverrideOfTheDerivedTypeIsMergedOverItAndOneOfAnotherTypeReplacesIt() throws Exception {
        MappingOverrides overrides = parse("""
                {"tables": {"public.orders": {"columns": {
                  "status": {"type": "keyword"},
                  "amount": {"type": "scaled_float", "scaling_factor": 1000},
                  "created_at": {"type": "date", "format": "strict_date_optional_time_nanos"},
                  "no_such_column": {"type": "keyword"}}}}}""");

        ObjectNode properties = IndexMapping.properties(afterSchema("mapping-orders"), overrides.table("public.orders"));

        assertThat(properties.get("status")).isEqualTo(json("{\"type\":\"keyword\"}"));
        assertThat(properties.get("amount"))
                .isEqualTo(json("{\"type\":\"scaled_float\",\"coerce\":false,\"scaling_factor\":1000}"));
        assertThat(properties.get("created_at")).isEqualTo(json(
                "{\"type\":\"date\",\"format\":\"strict_date_optional_time_nanos\",\"ignore_malformed\":true}"));
        assertThat(properties.has("no_such_column")).as("strict: only the schema's columns").isFalse();
        assertThat(properties.get("user_id")).isEqualTo(json("{\"type\":\"integer\",\"coerce\":false}"));
    }

    @Test
    void aSubFieldOverrideIsMergedIntoTheDerivedSubField() throws Exception {
        MappingOverrides overrides = parse("{\"tables\":{\"public.users\":{\"columns\":{\"email\":{\"type\":\"text\","
                + "\"analyzer\":\"simple\",\"fields\":{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":1024}}}}}}}");

        ObjectNode properties = IndexMapping.properties(afterSchema("mapping-users"), overrides.table("public.users"));

        assertThat(properties.get("email")).isEqualTo(json("{\"type\":\"text\",\"analyzer\":\"simple\","
                + "\"fields\":{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":1024}}}"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            malformed JSON | {"settings": {"number_of_replicas": 0,}} | configs/index-mappings.json: not valid JSON at line 1, column 39: Unexpected character ('}' (code 125)): was expecting double-quote to start field name
            a duplicate key | {"settings": {}, "settings": {}} | configs/index-mappings.json: not valid JSON at line 1, column 28: Duplicate field 'settings'
            not an object | [] | configs/index-mappings.json: must be a JSON object with "settings" and "tables"
            an empty file | `` | configs/index-mappings.json: must be a JSON object with "settings" and "tables"
            an unknown key | {"setings": {}} | configs/index-mappings.json: unknown key 'setings' (known: [settings, tables])
            tables not an object | {"tables": []} | configs/index-mappings.json: "tables" must be an object of tables by schema.table
            a table without schema | {"tables": {"orders": {}}} | configs/index-mappings.json: table 'orders': name a table as schema.table, e.g. public.orders
            a table of three parts | {"tables": {"db.public.orders": {}}} | configs/index-mappings.json: table 'db.public.orders': name a table as schema.table, e.g. public.orders
            an unknown key of a table | {"tables": {"public.orders": {"column": {}}}} | configs/index-mappings.json: table 'public.orders': unknown key 'column' (known: [columns, settings])
            a column without type | {"tables": {"public.orders": {"columns": {"status": {"ignore_above": 10}}}}} | configs/index-mappings.json: table 'public.orders', column 'status': has no "type"; give an Elasticsearch field type, e.g. {"type": "keyword"}
            a column of an unknown type | {"tables": {"public.orders": {"columns": {"status": {"type": "keywrd"}}}}} | configs/index-mappings.json: table 'public.orders', column 'status': "keywrd" is not an Elasticsearch 7.10 field type, such as keyword, text, long, scaled_float, date or boolean (docs/mappings.md lists them)
            a column given as a type name | {"tables": {"public.orders": {"columns": {"status": "keyword"}}}} | configs/index-mappings.json: table 'public.orders', column 'status': must be an Elasticsearch field mapping, an object such as {"type": "keyword"}
            a sub-field of an unknown type | {"tables": {"public.orders": {"columns": {"status": {"type": "text", "fields": {"raw": {"type": "string"}}}}}}} | configs/index-mappings.json: table 'public.orders', column 'status', fields 'raw': "string" is not an Elasticsearch 7.10 field type, such as keyword, text, long, scaled_float, date or boolean (docs/mappings.md lists them)
            a setting that is not an index setting | {"settings": {"number_of_shard": 1}} | configs/index-mappings.json: settings: 'number_of_shard' is not an index setting (docs/mappings.md lists those the file takes)
            a mapping among the settings | {"settings": {"index": {"mapping": {"dynamic": "true"}}}} | configs/index-mappings.json: settings: 'index.mapping.dynamic' is not an index setting (docs/mappings.md lists those the file takes)
            a table setting that is not an index setting | {"tables": {"public.orders": {"settings": {"index.refresh": "1s"}}}} | configs/index-mappings.json: table 'public.orders', settings: 'index.refresh' is not an index setting (docs/mappings.md lists those the file takes)
            a setting without value | {"settings": {"refresh_interval": null}} | configs/index-mappings.json: settings: 'refresh_interval' must be a string, number, boolean or a list of them, not null
            """)
    void isRefusedWithOneClearMessage(String what, String json, String message) {
        assertThatThrownBy(() -> parse(json)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }
}
