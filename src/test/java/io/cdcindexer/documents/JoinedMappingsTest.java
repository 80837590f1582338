package io.cdcindexer.documents;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.elasticsearch.MappingOverrides;
import org.junit.jupiter.api.Test;

/** The mappings of joined documents: the index's skeleton, and each node's columns put at its place. */
class JoinedMappingsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    static final JoinedDocuments PLAN = JoinedDocuments.parse("""
            {"documents": [
              {"index": "cdc.documents.users", "table": "public.users",
               "children": [{"field": "orders", "table": "public.orders", "foreignKey": ["user_id"],
                             "columns": ["id", "amount"],
                             "children": [{"field": "items", "table": "public.items", "foreignKey": ["order_id"]}],
                             "parents": [{"field": "shop", "table": "public.shops", "foreignKey": ["shop_id"],
                                          "columns": ["name"]}]}]}
            ]}""", "test");

    private static final String INTEGER = "{\"type\":\"integer\",\"coerce\":false}";
    private static final String CENTS = "{\"type\":\"scaled_float\",\"coerce\":false,\"scaling_factor\":100.0}";
    private static final String TEXT = "{\"type\":\"text\"}";

    private static ObjectNode properties(String json) throws Exception {
        return (ObjectNode) JSON.readTree(json);
    }

    @Test
    void theIndexIsStrictWithChildrenNestedAndParentsAsObjects() {
        ObjectNode body = JoinedMappings.indexBody(PLAN, PLAN.node(0), MappingOverrides.NONE);

        assertThat(body.path("mappings").path("dynamic").asText()).isEqualTo("strict");
        assertThat(body.path("mappings").path("properties").toString()).isEqualTo("{\"orders\":{\"type\":\"nested\","
                + "\"properties\":{\"items\":{\"type\":\"nested\",\"properties\":{}},\"shop\":{\"properties\":{}}}}}");
        assertThat(body.path("mappings").path("_meta").path("cdc-indexer").path("document").asText())
                .isEqualTo("cdc.documents.users");
        assertThat(body.path("settings").has("index.analysis.normalizer.cdc_char.type"))
                .as("the analysis the derived mappings use").isTrue();
    }

    @Test
    void aNodesColumnsArePutAtItsPlaceOnlyThoseItCarries() throws Exception {
        ObjectNode orders = properties("{\"id\":" + INTEGER + ",\"user_id\":" + INTEGER + ",\"amount\":" + CENTS
                + ",\"shop_id\":" + INTEGER + "}");

        assertThat(JoinedMappings.putMappingBody(PLAN, PLAN.node(1), orders).toString()).isEqualTo(
                "{\"properties\":{\"orders\":{\"type\":\"nested\",\"properties\":{\"id\":" + INTEGER + ",\"amount\":"
                        + CENTS + "}}}}");
    }

    @Test
    void theRootTakesEveryColumnAtTheTopAndAParentItsObjectDeepDown() throws Exception {
        ObjectNode users = properties("{\"id\":" + INTEGER + ",\"email\":" + TEXT + "}");
        ObjectNode shops = properties("{\"id\":" + INTEGER + ",\"name\":" + TEXT + "}");

        assertThat(JoinedMappings.putMappingBody(PLAN, PLAN.node(0), users).toString())
                .isEqualTo("{\"properties\":{\"id\":" + INTEGER + ",\"email\":" + TEXT + "}}");
        assertThat(JoinedMappings.putMappingBody(PLAN, PLAN.node(3), shops).toString()).isEqualTo(
                "{\"properties\":{\"orders\":{\"type\":\"nested\",\"properties\":{\"shop\":{\"properties\":{\"name\":"
                        + TEXT + "}}}}}}");
    }

    @Test
    void aColumnTheTableDoesNotHaveIsLeftOutNotGuessed() throws Exception {
        ObjectNode orders = properties("{\"id\":" + INTEGER + "}");

        assertThat(JoinedMappings.putMappingBody(PLAN, PLAN.node(1), orders).toString()).isEqualTo(
                "{\"properties\":{\"orders\":{\"type\":\"nested\",\"properties\":{\"id\":" + INTEGER + "}}}}");
    }

    @Test
    void theIndexTakesItsTablesAnalysisButNotATablesOwnIndexSettings() {
        MappingOverrides overrides = MappingOverrides.parse("""
                {"settings": {"number_of_shards": 1},
                 "tables": {"public.shops": {"settings": {"analysis": {"analyzer": {"folded": {"type": "custom",
                                "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}}},
                            "public.users": {"settings": {"sort.field": "id"}}}}""", "test");

        ObjectNode settings = (ObjectNode) JoinedMappings.indexBody(PLAN, PLAN.node(0), overrides).get("settings");

        assertThat(settings.path("index.analysis.analyzer.folded.tokenizer").asText()).isEqualTo("standard");
        assertThat(settings.path("index.number_of_shards").asInt()).isEqualTo(1);
        assertThat(settings.has("index.sort.field")).as("sorting cannot work with nested fields").isFalse();
    }
}
