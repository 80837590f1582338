package io.cdcindexer.elasticsearch;

import io.cdcindexer.job.JobOptions;
import java.io.Serializable;
import java.util.Arrays;
import java.util.List;

/**
 * How the sink talks to Elasticsearch: where and with which credentials, how large its bulk requests grow, how many are under way, and how it backs
 * off. The meaning and defaults of each are documented in {@link JobOptions}.
 */
public record BulkOptions(
        ElasticsearchConnection connection,
        int maxActions,
        long maxBytes,
        long intervalMs,
        int maxInFlight,
        long initialBackoffMs,
        long maxBackoffMs) implements Serializable {

    /** Plain addresses without credentials (the local stack, tests). */
    public BulkOptions(List<String> hosts, int maxActions, long maxBytes, long intervalMs, int maxInFlight,
            long initialBackoffMs, long maxBackoffMs) {
        this(ElasticsearchConnection.plain(hosts), maxActions, maxBytes, intervalMs, maxInFlight, initialBackoffMs,
                maxBackoffMs);
    }

    public static BulkOptions from(JobOptions options) {
        return new BulkOptions(
                connection(options),
                options.getInt(JobOptions.BULK_MAX_ACTIONS),
                options.getLong(JobOptions.BULK_MAX_BYTES),
                options.getLong(JobOptions.BULK_INTERVAL_MS),
                options.getInt(JobOptions.BULK_MAX_IN_FLIGHT),
                options.getLong(JobOptions.RETRY_INITIAL_BACKOFF_MS),
                options.getLong(JobOptions.RETRY_MAX_BACKOFF_MS));
    }

    /** Where Elasticsearch is and how the job authenticates, as the options say. */
    public static ElasticsearchConnection connection(JobOptions options) {
        return new ElasticsearchConnection(
                Arrays.stream(options.get(JobOptions.ELASTICSEARCH_HOSTS).split(",")).map(String::trim)
                        .filter(h -> !h.isEmpty()).toList(),
                options.get(JobOptions.ELASTICSEARCH_USERNAME),
                options.get(JobOptions.ELASTICSEARCH_PASSWORD_FILE),
                options.get(JobOptions.ELASTICSEARCH_API_KEY_FILE),
                options.get(JobOptions.ELASTICSEARCH_CA_FILE),
                Boolean.parseBoolean(options.get(JobOptions.ELASTICSEARCH_VERIFY_HOSTNAME)));
    }

    public List<String> hosts() {
        return connection.hosts();
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
