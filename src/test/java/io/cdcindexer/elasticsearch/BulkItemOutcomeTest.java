package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;

import org.elasticsearch.action.DocWriteRequest.OpType;
import org.elasticsearch.rest.RestStatus;
import org.junit.jupiter.api.Test;

class BulkItemOutcomeTest {

    @Test
    void versionConflictOfAnIndexOrDeleteIsStale() {
        assertThat(BulkItemOutcome.of(RestStatus.CONFLICT, OpType.INDEX, "version_conflict_engine_exception"))
                .isEqualTo(BulkItemOutcome.STALE);
        assertThat(BulkItemOutcome.of(RestStatus.CONFLICT, OpType.DELETE, "version_conflict_engine_exception"))
                .isEqualTo(BulkItemOutcome.STALE);
    }

    @Test
    void conflictOfAScriptedUpdateIsTriedAgain() {
        assertThat(BulkItemOutcome.of(RestStatus.CONFLICT, OpType.UPDATE, "")).isEqualTo(BulkItemOutcome.RETRY);
    }

    @Test
    void overloadAndServerErrorsAreRetried() {
        assertThat(BulkItemOutcome.of(RestStatus.TOO_MANY_REQUESTS, OpType.INDEX, "es_rejected_execution_exception"))
                .isEqualTo(BulkItemOutcome.RETRY);
        assertThat(BulkItemOutcome.of(RestStatus.SERVICE_UNAVAILABLE, OpType.INDEX, "")).isEqualTo(BulkItemOutcome.RETRY);
        assertThat(BulkItemOutcome.of(RestStatus.INTERNAL_SERVER_ERROR, OpType.DELETE, "")).isEqualTo(BulkItemOutcome.RETRY);
        assertThat(BulkItemOutcome.of(RestStatus.FORBIDDEN, OpType.INDEX,
                "ElasticsearchException[type=cluster_block_exception, reason=index read-only]")).isEqualTo(BulkItemOutcome.RETRY);
    }

    @Test
    void mappingConflictIsRejectedForGood() {
        assertThat(BulkItemOutcome.of(RestStatus.BAD_REQUEST, OpType.INDEX, "mapper_parsing_exception"))
                .isEqualTo(BulkItemOutcome.REJECTED);
    }

    @Test
    void backoffDoublesUpToItsCap() {
        BulkOptions options = new BulkOptions(java.util.List.of("http://localhost:9200"), 10, 10, 10, 1, 100, 1000);

        assertThat(new long[] {options.backoffMs(1), options.backoffMs(2), options.backoffMs(4), options.backoffMs(50)})
                .containsExactly(100, 200, 800, 1000);
    }
}
