package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

class CapturedTableTest {

    @Test
    void aTableNameWithoutSchemaIsInSchemaPublic() {
        assertThat(CapturedTable.schemaAndName("users")).containsExactly("public", "users");
        assertThat(CapturedTable.schemaAndName("public.users")).containsExactly("public", "users");
        assertThat(CapturedTable.schemaAndName("sales.orders")).containsExactly("sales", "orders");
    }

    @Test
    void theCliNamesTablesOfOtherSchemasWithTheirSchema() {
        assertThat(new CapturedTable("public", "users", List.of("id")).displayName()).isEqualTo("users");
        assertThat(new CapturedTable("sales", "orders", List.of("id")).displayName()).isEqualTo("sales.orders");
        assertThat(new CapturedTable("sales", "orders", List.of("id")).index()).isEqualTo("cdc.sales.orders");
    }
}
