package io.cdcindexer.elasticsearch;

import org.elasticsearch.action.DocWriteRequest;
import org.elasticsearch.action.DocWriteResponse;
import org.elasticsearch.action.bulk.BulkItemResponse;
import org.elasticsearch.rest.RestStatus;

/** What one item of a bulk response means for the change behind it. */
public enum BulkItemOutcome {
    /** Written (indexed, updated, deleted, or a delete of a document that was already gone). */
    WRITTEN,
    /** Refused as stale: the document already has this version or a later one. Expected after replays; not a failure. */
    STALE,
    /** A transient failure (429, 5xx, a blocked cluster): retried with backoff, never dropped. */
    RETRY,
    /** Refused for good (e.g. a mapping conflict): goes to the dead-letter queue. */
    REJECTED;

    /** Classifies a bulk item. */
    public static BulkItemOutcome of(BulkItemResponse item) {
        if (!item.isFailed()) {
            DocWriteResponse response = item.getResponse();
            return response != null && response.getResult() == DocWriteResponse.Result.NOOP ? STALE : WRITTEN;
        }
        BulkItemResponse.Failure failure = item.getFailure();
        // Only a 403 needs the cause's text; it is not built for the common 409 of a stale write.
        return of(failure.getStatus(), item.getOpType(),
                failure.getStatus() == RestStatus.FORBIDDEN ? String.valueOf(failure.getCause().getMessage()) : "");
    }

    static BulkItemOutcome of(RestStatus status, DocWriteRequest.OpType opType, String forbiddenCause) {
        int code = status.getStatus();
        if (code == 409) {
            // Index and delete carry external versions: a conflict means stale. An update (not sent by this job's
            // emitter) conflicts only when another write raced it, so it is tried again.
            return opType == DocWriteRequest.OpType.UPDATE ? RETRY : STALE;
        }
        // A blocked cluster (403 cluster_block_exception: disk flood stage, a read-only index) clears by itself.
        if (code == 429 || code == 408 || code >= 500 || forbiddenCause.contains("cluster_block_exception")) {
            return RETRY;
        }
        return REJECTED;
    }
}
