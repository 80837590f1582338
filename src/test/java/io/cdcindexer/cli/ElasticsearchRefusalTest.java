package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How ./cdc words Elasticsearch's 401 and 403. */
class ElasticsearchRefusalTest {

    private static final String BLOCKED = "{\"error\":{\"root_cause\":[{\"type\":\"cluster_block_exception\",\"reason\":"
            + "\"index [cdc.public.users_v1] blocked by: [FORBIDDEN/6/cluster read-only (api)];\"}],\"type\":"
            + "\"cluster_block_exception\",\"reason\":\"index [cdc.public.users_v1] blocked by: [FORBIDDEN/6/cluster "
            + "read-only (api)];\"},\"status\":403}";

    // Review finding 7: a 403 cluster_block_exception (a read-only cluster or index, the disk flood stage) is no missing
    // privilege; the message sent the operator to the role instead of the block.
    @Test
    void aClusterBlockIsNotBlamedOnTheRole() {
        ElasticsearchHttp.ErrorResponse refused = ElasticsearchHttp.ErrorResponse.refused("https://es:9200",
                "PUT /cdc.public.users_v1", 403, BLOCKED);

        assertThat(refused.status()).isEqualTo(403);
        assertThat(refused.getMessage()).contains("cluster read-only").doesNotContain("role lacks a privilege");
    }
}
