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
        return of(failure.getStatus(), item.getOpType(), String.valueOf(failure.getCause()));
    }

    static BulkItemOutcome of(RestStatus status, DocWriteRequest.OpType opType, String cause) {
        int code = status.getStatus();
        if (code == 409) {
            // Index and delete carry external versions: a conflict means stale. A scripted update conflicts only when
            // another write raced it, so it is tried again.
            return opType == DocWriteRequest.OpType.UPDATE ? RETRY : STALE;
        }
        if (code == 429 || code == 408 || code >= 500 || cause.contains("cluster_block_exception")) {
            return RETRY;
        }
        return REJECTED;
    }
}
