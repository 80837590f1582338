package io.cdcindexer.elasticsearch;

import io.cdcindexer.job.JobOptions;
import java.io.Serializable;
import java.util.Arrays;
import java.util.List;

/**
 * How the sink talks to Elasticsearch: where, how large its bulk requests grow, how many are under way, and how it backs
 * off. The meaning and defaults of each are documented in {@link JobOptions}.
 */
public record BulkOptions(
        List<String> hosts,
        int maxActions,
        long maxBytes,
        long intervalMs,
        int maxInFlight,
        long initialBackoffMs,
        long maxBackoffMs) implements Serializable {

    public static BulkOptions from(JobOptions options) {
        return new BulkOptions(
                Arrays.stream(options.get(JobOptions.ELASTICSEARCH_HOSTS).split(",")).map(String::trim)
                        .filter(h -> !h.isEmpty()).toList(),
                options.getInt(JobOptions.BULK_MAX_ACTIONS),
                options.getLong(JobOptions.BULK_MAX_BYTES),
                options.getLong(JobOptions.BULK_INTERVAL_MS),
                options.getInt(JobOptions.BULK_MAX_IN_FLIGHT),
                options.getLong(JobOptions.RETRY_INITIAL_BACKOFF_MS),
                options.getLong(JobOptions.RETRY_MAX_BACKOFF_MS));
    }

    /** The wait before the given retry (1 = first): doubling from the initial backoff, capped. */
    public long backoffMs(int attempt) {
        long backoff = initialBackoffMs;
        for (int i = 1; i < attempt && backoff < maxBackoffMs; i++) {
            backoff *= 2;
        }
        return Math.min(backoff, maxBackoffMs);
    }
}
