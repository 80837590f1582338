package io.cdcindexer.job;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Every option of the indexing job, with its default and its meaning: the one place to look.
 *
 * <p>Options are program arguments of the form {@code --name value}. The defaults match the local stack ({@code ./cdc up})
 * and the Docker stack, apart from host names, which the Docker submitter overrides.
 */
public final class JobOptions implements Serializable {

    private static final long serialVersionUID = 1L;

    /** One option: its name, default value and a one-line description. */
    public record Option(String name, String defaultValue, String description) implements Serializable {}

    private static final Map<String, Option> OPTIONS = new LinkedHashMap<>();

    public static final Option JOB_NAME = define("job.name", "cdc-indexer", "Name of the Flink job.");
    public static final Option PARALLELISM =
            define("parallelism", "0", "Job parallelism; 0 keeps the cluster's default (parallelism.default).");
    public static final Option CHECKPOINT_INTERVAL_MS =
            define("checkpoint.interval-ms", "10000",
                    "Checkpoint interval. Offsets are committed and the Elasticsearch buffer is flushed on each checkpoint. Must be > 0.");
    public static final Option BUFFER_TIMEOUT_MS =
            define("network.buffer-timeout-ms", "10",
                    "Longest a record waits in a network buffer between two of the job's stages before the buffer is "
                            + "sent half full (Flink's execution.buffer-timeout.interval, 100 ms by default). Under load "
                            + "buffers fill first; at a steady trickle this bounds the wait at each of the job's "
                            + "exchanges; 0 sends every record on its own, which costs throughput (docs/performance.md).");
    public static final Option TOLERABLE_FAILED_CHECKPOINTS =
            define("checkpoint.tolerable-failures", "100",
                    "Checkpoints that may fail (e.g. time out during an Elasticsearch outage) before the job restarts.");

    public static final Option KAFKA_BOOTSTRAP_SERVERS =
            define("kafka.bootstrap-servers", "localhost:9092", "Kafka brokers to read the change topics from.");
    public static final Option KAFKA_GROUP_ID =
            define("kafka.group-id", "cdc-indexer", "Consumer group; offsets are committed to it on every checkpoint.");
    public static final Option KAFKA_TOPIC_PATTERN =
            define("kafka.topic-pattern", "cdc\\.public\\..*",
                    "Regular expression of the Debezium table topics to index. Topics created later are picked up.");
    public static final Option KAFKA_TRANSACTION_TOPIC =
            define("kafka.transaction-topic", "cdc.transaction",
                    "Debezium transaction metadata topic (BEGIN/END events); empty to ignore transactions.");
    public static final Option KAFKA_DLQ_TOPIC =
            define("kafka.dlq-topic", "cdc.dlq", "Dead-letter topic for malformed records and documents Elasticsearch rejects.");
    public static final Option KAFKA_PARTITION_DISCOVERY_MS =
            define("kafka.partition-discovery-ms", "5000",
                    "How often new topics and partitions are discovered (a new table, and cdc.transaction itself, which "
                            + "Debezium creates with the first transaction).");

    public static final Option KAFKA_STARTING_OFFSETS =
            define("kafka.starting-offsets", "committed",
                    "Where a job started without state reads from: committed (the group's committed offsets, the "
                            + "earliest where none) or earliest (all Kafka still holds; versions make the replay "
                            + "harmless). A job restored from a savepoint or checkpoint resumes at its offsets.");

    public static final Option KAFKA_MAX_PARTITION_FETCH_BYTES =
            define("kafka.max-partition-fetch-bytes", "8388608",
                    "Most bytes one fetch takes from a partition (Kafka's max.partition.fetch.bytes). Kafka's 1 MB "
                            + "default halves the rate at which the job catches up on a backlog (docs/performance.md).");

    public static final Option KAFKA_PROPERTIES_FILE =
            define("kafka.properties-file", "",
                    "A Java properties file of Kafka client settings (security.protocol, sasl.*, ssl.*) for the source "
                            + "and the dead-letter producer, read where the job is built. Keep secrets out of it with "
                            + "Kafka's config providers (${file:...}); empty: none. The dead-letter producer keeps its "
                            + "own acks, idempotence and one request in flight.");

    public static final Option ELASTICSEARCH_HOSTS =
            define("elasticsearch.hosts", "http://localhost:9200", "Comma-separated Elasticsearch HTTP addresses.");
    public static final Option ELASTICSEARCH_USERNAME =
            define("elasticsearch.username", "",
                    "User for basic authentication; empty for none. Its password is read on the TaskManagers from "
                            + "--elasticsearch.password-file, else from their environment variable ELASTICSEARCH_PASSWORD "
                            + "(never an argument: docs/security.md).");
    public static final Option ELASTICSEARCH_PASSWORD_FILE =
            define("elasticsearch.password-file", "",
                    "A file on the TaskManagers whose first line is the user's password; empty: ELASTICSEARCH_PASSWORD.");
    public static final Option ELASTICSEARCH_API_KEY_FILE =
            define("elasticsearch.api-key-file", "",
                    "A file on the TaskManagers whose first line is an API key (the encoded value Elasticsearch returns); "
                            + "empty: the TaskManagers' environment variable ELASTICSEARCH_API_KEY, if set and no user is given.");
    public static final Option ELASTICSEARCH_CA_FILE =
            define("elasticsearch.ca-file", "",
                    "A PEM file on the TaskManagers with the CA certificate(s) that signed Elasticsearch's certificate; "
                            + "empty: the JVM's trusted CAs.");
    public static final Option ELASTICSEARCH_VERIFY_HOSTNAME =
            define("elasticsearch.verify-hostname", "true",
                    "Whether Elasticsearch's TLS certificate must name the host connected to (true or false).");
    public static final Option ELASTICSEARCH_INDEX =
            define("elasticsearch.index", "{topic}",
                    "Index name template; {topic}, {schema} and {table} are replaced. An upper-case letter in them is "
                            + "written as ~ and the letter (Users → ~users, so Users and users never share an index).");
    public static final Option ELASTICSEARCH_MAPPINGS =
            define("elasticsearch.mappings", "derived",
                    "derived: the job creates each index (behind an alias with the index name) with a strict mapping "
                            + "derived from the Debezium schema, and adds new columns before their first document "
                            + "(docs/mappings.md); none: indices and mappings are left to Elasticsearch and its "
                            + "templates.");
    public static final Option ELASTICSEARCH_MAPPING_OVERRIDES =
            define("elasticsearch.mapping-overrides", "",
                    "A JSON file of index settings and column mappings merged over the derived ones "
                            + "(configs/index-mappings.json, docs/mappings.md), read when the job starts; empty: none.");
    public static final Option DOCUMENTS =
            define("documents", "",
                    "A JSON file declaring joined documents, each built from a root table and the tables related to "
                            + "it (configs/documents.json, docs/documents.md), read when the job starts; empty: none.");
    public static final Option BULK_MAX_ACTIONS =
            define("elasticsearch.bulk.max-actions", "2000", "A bulk request is sent once it holds this many actions.");
    public static final Option BULK_MAX_BYTES =
            define("elasticsearch.bulk.max-bytes", "5242880", "... or this many bytes of documents.");
    public static final Option BULK_INTERVAL_MS =
            define("elasticsearch.bulk.interval-ms", "0",
                    "... or once its oldest action has waited this long; 0: at once while fewer than max-in-flight "
                            + "requests are under way, so that requests batch only what comes while others are under "
                            + "way and grow with the load by themselves (docs/performance.md).");
    public static final Option BULK_MAX_IN_FLIGHT =
            define("elasticsearch.bulk.max-in-flight", "2", "Bulk requests under way at once per sink subtask.");
    public static final Option RETRY_INITIAL_BACKOFF_MS =
            define("elasticsearch.retry.initial-backoff-ms", "100",
                    "First wait before retrying a transient failure (429, 5xx, connection refused); doubles each time.");
    public static final Option RETRY_MAX_BACKOFF_MS =
            define("elasticsearch.retry.max-backoff-ms", "30000", "Longest wait between retries. Retries never stop.");

    public static final Option REMEMBER_WRITES_MS =
            define("elasticsearch.remember-writes-ms", "600000",
                    "How long the job remembers the version of a write from a transaction flushed before it was "
                            + "complete (timeout, early flush), whose later changes share its version, to keep them in order.");
    public static final Option REMEMBER_DELETES_MS =
            define("elasticsearch.remember-deletes-ms", "3600000",
                    "How long the job remembers a deleted document's version. Elasticsearch forgets it after "
                            + "index.gc_deletes (60 s), after which an older upsert arriving late would re-create the "
                            + "document; the job drops it instead. Keep it above the longest a transaction can be held.");
    public static final Option REMEMBER_FULL_COUNT =
            define("elasticsearch.remember-full-count", "100000",
                    "How many remembered versions (deletes, writes of transactions flushed incomplete) each subtask keeps "
                            + "for their full time. Past that, as in a mass delete or a transaction of millions of rows, "
                            + "each further one is forgotten once the job has read every partition past it by "
                            + "transaction.timeout-ms and 10 s more, so that memory stays bounded (about 300 bytes "
                            + "each, 450 past the count).");

    public static final Option TRANSACTION_TIMEOUT_MS =
            define("transaction.timeout-ms", "30000",
                    "A transaction still incomplete after this long (from its first event) is flushed anyway, unless "
                            + "the job is still reading the topics up to it (a backlog: docs/design.md). Keep it "
                            + "well above kafka.partition-discovery-ms: the first END events wait for cdc.transaction "
                            + "to be discovered.");
    public static final Option TRANSACTION_MAX_HELD_CHANGES =
            define("transaction.max-held-changes", "10000",
                    "A transaction holding changes of this many rows is flushed early: they are written, and its "
                            + "further changes as they come, so a million-row transaction never sits in memory whole.");
    public static final Option TRANSACTION_MAX_ENDS_AHEAD =
            define("transaction.max-ends-ahead", "50000",
                    "How many END events the source may read ahead of the changes they wait for (their tables' "
                            + "partitions with records waiting, by Kafka time) before it pauses the transaction topic "
                            + "until they are half as many; tables read 10 s past the END events still to be read "
                            + "wait for them, and a table's partition read 100 ms past another of its partitions with "
                            + "a backlog waits for it. On a backlog the END events, being small, are otherwise read far "
                            + "ahead, and the collapse holds each such transaction (about 450 bytes of heap); and a "
                            + "table's partitions a fetch at a time, the changes of one read ahead held too. Only a "
                            + "lagging table's END events count. 0: never pause.");
    public static final Option UNAVAILABLE_VALUE_PLACEHOLDER =
            define("debezium.unavailable-value-placeholder", "__debezium_unavailable_value",
                    "Debezium's value for an unchanged TOASTed column; such columns never overwrite Elasticsearch.");

    private static Option define(String name, String defaultValue, String description) {
        Option option = new Option(name, defaultValue, description);
        OPTIONS.put(name, option);
        return option;
    }

    private final Map<String, String> values;

    private JobOptions(Map<String, String> values) {
        this.values = values;
    }

    /** The options with all defaults. */
    public static JobOptions defaults() {
        return new JobOptions(Map.of());
    }

    /** Every option the job knows, in documentation order. */
    public static List<Option> all() {
        return List.copyOf(OPTIONS.values());
    }

    /**
     * Parses {@code --name value} pairs. Unknown names and missing values are errors, so a typo never silently falls back
     * to a default.
     */
    public static JobOptions fromArgs(String... args) {
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--")) {
                throw new IllegalArgumentException("Expected --name value, got '" + arg + "'");
            }
            String name = arg.substring(2);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException("Option --" + name + " needs a value");
            }
            if (!OPTIONS.containsKey(name)) {
                throw new IllegalArgumentException("Unknown option --" + name + "; known options:\n" + usage());
            }
            values.put(name, value);
        }
        JobOptions options = new JobOptions(values);
        options.validate();
        return options;
    }

    /** Returns a copy with one option changed (tests and tools). */
    public JobOptions with(Option option, String value) {
        Map<String, String> copy = new LinkedHashMap<>(values);
        copy.put(option.name(), value);
        JobOptions options = new JobOptions(copy);
        options.validate();
        return options;
    }

    public String get(Option option) {
        return values.getOrDefault(option.name(), option.defaultValue());
    }

    public long getLong(Option option) {
        String value = get(option);
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Option --" + option.name() + " must be a whole number, got '" + value + "'");
        }
    }

    public int getInt(Option option) {
        long value = getLong(option);
        if (value > Integer.MAX_VALUE || value < Integer.MIN_VALUE) {
            throw new IllegalArgumentException("Option --" + option.name() + " is out of range: " + value);
        }
        return (int) value;
    }

    /** The values that differ from the defaults. */
    public Map<String, String> overrides() {
        return Collections.unmodifiableMap(values);
    }

    private void validate() {
        for (Option option : OPTIONS.values()) {
            if (option.defaultValue().matches("\\d+")) {
                long value = getLong(option);
                boolean mayBeZero = option == PARALLELISM || option == BULK_INTERVAL_MS || option == BUFFER_TIMEOUT_MS
                        || option == REMEMBER_FULL_COUNT || option == TRANSACTION_MAX_ENDS_AHEAD;
                if (value < 0 || (value == 0 && !mayBeZero)) {
                    throw new IllegalArgumentException("Option --" + option.name() + " must be "
                            + (mayBeZero ? "0 or more" : "positive") + ", got " + value);
                }
            }
        }
        try {
            Pattern.compile(get(KAFKA_TOPIC_PATTERN));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("Option --" + KAFKA_TOPIC_PATTERN.name() + " is not a valid regular expression: "
                    + e.getDescription());
        }
        if (getLong(RETRY_MAX_BACKOFF_MS) < getLong(RETRY_INITIAL_BACKOFF_MS)) {
            throw new IllegalArgumentException("Option --" + RETRY_MAX_BACKOFF_MS.name() + " must not be below --"
                    + RETRY_INITIAL_BACKOFF_MS.name());
        }
        if (!List.of("committed", "earliest").contains(get(KAFKA_STARTING_OFFSETS))) {
            throw new IllegalArgumentException("Option --" + KAFKA_STARTING_OFFSETS.name()
                    + " must be committed or earliest, got '" + get(KAFKA_STARTING_OFFSETS) + "'");
        }
        if (!List.of("derived", "none").contains(get(ELASTICSEARCH_MAPPINGS))) {
            throw new IllegalArgumentException("Option --" + ELASTICSEARCH_MAPPINGS.name()
                    + " must be derived or none, got '" + get(ELASTICSEARCH_MAPPINGS) + "'");
        }
        if (!List.of("true", "false").contains(get(ELASTICSEARCH_VERIFY_HOSTNAME))) {
            throw new IllegalArgumentException("Option --" + ELASTICSEARCH_VERIFY_HOSTNAME.name()
                    + " must be true or false, got '" + get(ELASTICSEARCH_VERIFY_HOSTNAME) + "'");
        }
        if (get(ELASTICSEARCH_HOSTS).isBlank()) {
            throw new IllegalArgumentException("Option --" + ELASTICSEARCH_HOSTS.name() + " must name at least one host");
        }
        try {
            io.cdcindexer.elasticsearch.BulkOptions.connection(this);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Options --elasticsearch.*: " + e.getMessage(), e);
        }
    }

    /** A readable list of every option with its default and description. */
    public static String usage() {
        StringBuilder out = new StringBuilder();
        for (Option option : OPTIONS.values()) {
            out.append(String.format("  --%-42s %s (default: %s)%n", option.name(), option.description(),
                    option.defaultValue().isEmpty() ? "empty" : option.defaultValue()));
        }
        return out.toString();
    }
}
