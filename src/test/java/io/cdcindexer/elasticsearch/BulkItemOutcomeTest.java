package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class BulkItemOutcomeTest {

    @Test
    void successAndAlreadyDeletedAreWritten() {
        assertThat(BulkItemOutcome.of(201, null)).isEqualTo(BulkItemOutcome.WRITTEN);
        assertThat(BulkItemOutcome.of(200, null)).isEqualTo(BulkItemOutcome.WRITTEN);
        assertThat(BulkItemOutcome.of(404, null)).isEqualTo(BulkItemOutcome.WRITTEN);
    }

    @Test
    void versionConflictIsStale() {
        assertThat(BulkItemOutcome.of(409, "version_conflict_engine_exception")).isEqualTo(BulkItemOutcome.STALE);
    }

    @Test
    void overloadServerErrorsAndBlocksAreRetried() {
        assertThat(BulkItemOutcome.of(429, "es_rejected_execution_exception")).isEqualTo(BulkItemOutcome.RETRY);
        assertThat(BulkItemOutcome.of(503, "unavailable_shards_exception")).isEqualTo(BulkItemOutcome.RETRY);
        assertThat(BulkItemOutcome.of(500, "exception")).isEqualTo(BulkItemOutcome.RETRY);
        assertThat(BulkItemOutcome.of(408, "timeout")).isEqualTo(BulkItemOutcome.RETRY);
        assertThat(BulkItemOutcome.of(403, "cluster_block_exception")).isEqualTo(BulkItemOutcome.RETRY);
    }

    @Test
    void mappingConflictAndOtherClientErrorsAreRejectedForGood() {
        assertThat(BulkItemOutcome.of(400, "mapper_parsing_exception")).isEqualTo(BulkItemOutcome.REJECTED);
        assertThat(BulkItemOutcome.of(400, "illegal_argument_exception")).isEqualTo(BulkItemOutcome.REJECTED);
    }

    @Test
    void aMissingIndexIsToldApartFromOtherRefusals() {
        assertThat(BulkItemOutcome.of(404, "index_not_found_exception")).isEqualTo(BulkItemOutcome.INDEX_MISSING);
        assertThat(BulkItemOutcome.of(400, "index_closed_exception")).isEqualTo(BulkItemOutcome.REJECTED);
    }

    @Test
    void refusedCredentialsFailTheJobInsteadOfDeadLetteringEveryDocument() {
        assertThat(BulkItemOutcome.of(403, "security_exception")).isEqualTo(BulkItemOutcome.REFUSED_CREDENTIALS);
        assertThat(BulkItemOutcome.of(401, "security_exception")).isEqualTo(BulkItemOutcome.REFUSED_CREDENTIALS);
    }

    @Test
    void backoffDoublesUpToItsCap() {
        BulkOptions options = new BulkOptions(List.of("http://localhost:9200"), 10, 10, 10, 1, 100, 1000);

        assertThat(new long[] {options.backoffMs(1), options.backoffMs(2), options.backoffMs(4), options.backoffMs(50)})
                .containsExactly(100, 200, 800, 1000);
    }
}
