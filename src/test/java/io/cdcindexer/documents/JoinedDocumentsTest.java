package io.cdcindexer.documents;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class JoinedDocumentsTest {

    private static final String SOURCE = "configs/documents.json";

    private static JoinedDocuments parse(String json) {
        return JoinedDocuments.parse(json, SOURCE);
    }

    @Test
    void theShippedFileDeclaresUsersWithTheirOrdersAndOrdersWithTheirUser() throws Exception {
        JoinedDocuments shipped = JoinedDocuments.load(Path.of("configs/documents.json"));

        assertThat(shipped.roots()).extracting(node -> node.index + " " + node.table)
                .containsExactly("cdc.documents.users public.users", "cdc.documents.orders public.orders");
        assertThat(shipped.nodes()).extracting(JoinNode::toString).contains(
                "cdc.documents.users.orders (CHILDREN public.orders by [user_id])",
                "cdc.documents.orders.user (PARENT public.users by [user_id])");
    }

    @Test
    void nodesAreNumberedWithEachBelowItsHolderToAnyDepth() {
        JoinedDocuments plan = parse("""
                {"documents": [{"index": "shop.users", "table": "public.users", "columns": ["id", "email"],
                  "children": [{"field": "orders", "table": "public.orders", "foreignKey": ["user_id"],
                    "children": [{"field": "items", "table": "public.order_items", "foreignKey": ["order_id"]}],
                    "parents": [{"field": "shop", "table": "public.shops", "foreignKey": ["shop_id"]}]}]}]}""");

        assertThat(plan.nodes()).extracting(node -> node.id + " " + node.path + " " + node.relation + " below "
                + java.util.Arrays.toString(node.below) + " holder " + node.holder).containsExactly(
                "0 shop.users ROOT below [1] holder -1",
                "1 shop.users.orders CHILDREN below [2, 3] holder 0",
                "2 shop.users.orders.items CHILDREN below [] holder 1",
                "3 shop.users.orders.shop PARENT below [] holder 1");
        assertThat(plan.node(0).columns).containsExactly("id", "email");
        assertThat(plan.node(1).columns).as("every column").isNull();
    }

    @Test
    void noFileMeansNoJoinedDocuments() {
        assertThat(JoinedDocuments.of("")).isSameAs(JoinedDocuments.NONE);
        assertThat(JoinedDocuments.NONE.isEmpty()).isTrue();
        assertThatThrownBy(() -> JoinedDocuments.of("/no/such/documents.json"))
                .hasMessageContaining("Option --documents: cannot read /no/such/documents.json");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            not JSON                  | {"documents": [           | configs/documents.json: not valid JSON at line 1
            not an object             | []                        | must be a JSON object with "documents"
            an unknown key            | {"document": []}          | unknown key 'document' (known: [documents])
            no list                   | {"documents": {}}         | "documents" must be a list
            no index                  | {"documents": [{"table": "public.users"}]} | document 1: "index" must be a non-empty string
            an upper-case index       | {"documents": [{"index": "Users", "table": "public.users"}]} | "index" 'Users' is not a name Elasticsearch takes
            an index named twice      | {"documents": [{"index": "u", "table": "public.users"}, {"index": "u", "table": "public.users"}]} | document 2: index 'u' is declared twice
            a table without schema    | {"documents": [{"index": "u", "table": "users"}]} | document 'u': name the table as schema.table
            a child without key       | {"documents": [{"index": "u", "table": "public.users", "children": [{"field": "orders", "table": "public.orders"}]}]} | field 'orders': "foreignKey" is missing: the columns of public.orders that hold its holder's primary key
            a parent without key      | {"documents": [{"index": "o", "table": "public.orders", "parents": [{"field": "user", "table": "public.users"}]}]} | field 'user': "foreignKey" is missing: the columns of its holder that hold the primary key of public.users
            an empty key              | {"documents": [{"index": "u", "table": "public.users", "children": [{"field": "orders", "table": "public.orders", "foreignKey": []}]}]} | "foreignKey" must be a non-empty list of column names
            a column named twice      | {"documents": [{"index": "u", "table": "public.users", "columns": ["id", "id"]}]} | 'id' is named twice
            a field named twice       | {"documents": [{"index": "u", "table": "public.users", "children": [{"field": "o", "table": "public.orders", "foreignKey": ["user_id"]}], "parents": [{"field": "o", "table": "public.teams", "foreignKey": ["team_id"]}]}]} | field 'o': two fields of one object share the name
            a field that is a column  | {"documents": [{"index": "u", "table": "public.users", "columns": ["id", "orders"], "children": [{"field": "orders", "table": "public.orders", "foreignKey": ["user_id"]}]}]} | field 'orders': it is also one of the columns the object carries
            a dotted field            | {"documents": [{"index": "u", "table": "public.users", "children": [{"field": "a.b", "table": "public.orders", "foreignKey": ["user_id"]}]}]} | field 'a.b': a field name is a letter
            an unknown key below      | {"documents": [{"index": "u", "table": "public.users", "children": [{"field": "o", "table": "public.orders", "foreignKey": ["user_id"], "key": 1}]}]} | document 'u', children: unknown key 'key'
            a key written twice       | {"documents": [{"index": "u", "index": "v", "table": "public.users"}]} | Duplicate field 'index'
            two places, one path      | {"documents": [{"index": "a.b", "table": "public.users", "children": [{"field": "c", "table": "public.orders", "foreignKey": ["user_id"]}]}, {"index": "a.b.c", "table": "public.orders"}]} | 'a.b.c' is the place of field 'c' of document 'a.b' and of document 'a.b.c'
            """)
    void aMistakeIsRefusedNamingTheFileThePlaceAndTheFix(String mistake, String json, String message) {
        assertThatThrownBy(() -> parse(json)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(SOURCE + ": ").hasMessageContaining(message);
    }
}
