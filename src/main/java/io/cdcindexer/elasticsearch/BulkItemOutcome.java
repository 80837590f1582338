package io.cdcindexer.elasticsearch;

/** What one item of a bulk response means for the change behind it. */
public enum BulkItemOutcome {
    /** Written (indexed, deleted, or a delete of a document that was already gone). */
    WRITTEN,
    /** Refused as stale: the document already has this version or a later one. Expected after replays; not a failure. */
    STALE,
    /** A transient failure (429, 408, 5xx, a blocked cluster): retried with backoff, never dropped. */
    RETRY,
    /** Refused for good (e.g. a mapping conflict): goes to the dead-letter queue. */
    REJECTED,
    /**
     * The index is not there (404 {@code index_not_found_exception}): deleted while the job ran, and Elasticsearch set
     * not to make a {@code cdc.*_v<digit>*} index by itself. A delete has nothing left to delete; a write waits for the
     * job's mapping step to make the index again.
     */
    INDEX_MISSING,
    /**
     * Refused for want of credentials or privileges (401, 403): no retry and no dead letter fixes that, so the job fails
     * with the reason, and restarts once the operator has fixed it.
     */
    REFUSED_CREDENTIALS;

    /**
     * Classifies an item by its HTTP status and error type.
     *
     * @param errorType Elasticsearch's error type, or null when the item has none
     */
    static BulkItemOutcome of(int status, String errorType) {
        if (errorType == null && (status < 300 || status == 404)) {
            return WRITTEN; // 404: a delete of a document that is not there
        }
        if (status == 409) {
            return STALE; // every write carries an external version: a conflict means an older write
        }
        // A blocked cluster (403 cluster_block_exception: disk flood stage, a read-only index) clears by itself.
        if (status == 429 || status == 408 || status >= 500 || "cluster_block_exception".equals(errorType)) {
            return RETRY;
        }
        if (status == 401 || status == 403) {
            return REFUSED_CREDENTIALS;
        }
        if (status == 404 && "index_not_found_exception".equals(errorType)) {
            return INDEX_MISSING;
        }
        return REJECTED;
    }
}
