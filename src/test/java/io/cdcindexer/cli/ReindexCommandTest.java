package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.elasticsearch.IndexMappingFunction;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ReindexCommandTest {

    @Test
    void theNextIndexCountsOnFromTheCurrentVersionAndAnIndexFromBeforeAliasesGetsTheFirst() {
        assertThat(ReindexCommand.nextIndex("cdc.public.users", "cdc.public.users_v1")).isEqualTo("cdc.public.users_v2");
        assertThat(ReindexCommand.nextIndex("cdc.public.users", "cdc.public.users_v9")).isEqualTo("cdc.public.users_v10");
        assertThat(ReindexCommand.nextIndex("cdc.public.users", "cdc.public.users")).isEqualTo("cdc.public.users_v1");
        // A table whose own name ends like a version is no version of another table's index.
        assertThat(ReindexCommand.nextIndex("cdc.public.t_v2", "cdc.public.t_v2_v3")).isEqualTo("cdc.public.t_v2_v4");
    }

    @Test
    void aJoinedDocumentIsFoundByItsIndexOrAPhysicalIndexOfIt() {
        JoinedDocuments joined = JoinedDocuments.parse("""
                {"documents": [{"index": "cdc.documents.users", "table": "public.users",
                  "children": [{"field": "orders", "table": "public.orders", "foreignKey": ["user_id"]}]}]}""", "test");

        assertThat(ReindexCommand.joinedRoot("cdc.documents.users", joined)).get()
                .extracting(root -> root.table).isEqualTo("public.users");
        assertThat(ReindexCommand.joinedRoot("cdc.documents.users_v1", joined)).isPresent();
        assertThat(ReindexCommand.joinedRoot("users", joined)).isEmpty();
        assertThat(ReindexCommand.joinedRoot("cdc.documents.users", JoinedDocuments.NONE)).isEmpty();
    }

    @Test
    void itReliesOnTheJobsRoutesOnlyAfterTheyCanNoLongerBeOlderThanTheRecord() {
        assertThat(ReindexCommand.ROUTES_SETTLE.toMillis()).isGreaterThan(IndexMappingFunction.ROUTES_MAX_AGE_MS);
    }

    @Test
    void theSnapshotMarkerIsReadFromTheEnvelopeNeverFromTheRowsOwnColumns() {
        byte[] rowSaysLast = ("{\"schema\":{},\"payload\":{\"after\":{\"id\":1,\"snapshot\":\"last\"},"
                + "\"source\":{\"snapshot\":\"first\",\"lsn\":5},\"op\":\"r\"}}").getBytes(StandardCharsets.UTF_8);
        byte[] last = "{\"after\":{\"id\":3},\"source\":{\"snapshot\":\"last\"},\"op\":\"r\"}"
                .getBytes(StandardCharsets.UTF_8);
        byte[] streamed = "{\"after\":{\"op\":\"r\"},\"source\":{\"snapshot\":\"false\"},\"op\":\"u\"}"
                .getBytes(StandardCharsets.UTF_8);

        assertThat(ReindexCommand.snapshotMarker(rowSaysLast)).isEqualTo("first");
        assertThat(ReindexCommand.snapshotMarker(last)).isEqualTo("last");
        assertThat(ReindexCommand.snapshotMarker(streamed)).isNull();
        assertThat(ReindexCommand.snapshotMarker("not json \"op\":\"r\"".getBytes(StandardCharsets.UTF_8))).isNull();
        assertThat(ReindexCommand.snapshotMarker(null)).isNull();
    }
}
