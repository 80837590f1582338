package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.job.JobOptions;
import io.cdcindexer.kafka.DeadLetter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.http.HttpHost;
import org.apache.http.entity.ContentType;
import org.apache.http.entity.StringEntity;
import org.apache.http.util.EntityUtils;
import org.elasticsearch.client.Request;
import org.elasticsearch.client.Response;
import org.elasticsearch.client.ResponseException;
import org.elasticsearch.client.RestClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Right after decoding, before any document of a row schema it has not seen can be written: makes sure the table's
 * index has the mapping derived from that schema ({@link IndexMapping}, with the overrides of
 * {@code configs/index-mappings.json}).
 *
 * <ul>
 *   <li>No index yet: it creates the physical index {@code <name>_v1} with the derived mapping and settings, and the
 *       alias {@code <name>} that searches and the job's writes use, in one request.
 *   <li>An index of ours (its mapping's {@code _meta} says so) lacking columns of the schema (a column was added): puts
 *       their mappings, before the first document that carries them.
 *   <li>A column the index maps as another type (retyped in PostgreSQL, or an override changed): Elasticsearch cannot
 *       change it in place, so documents of that schema go to the dead-letter queue with a reason that says to run
 *       {@code ./cdc reindex}; the reindex fills the new index from PostgreSQL, so nothing is lost.
 *   <li>An index made before the job derived mappings (Elasticsearch's dynamic mapping, no {@code _meta}): adopted as it
 *       is, new columns added, nothing dead-lettered for its guessed types; {@code ./cdc reindex} gives it the derived
 *       mapping.
 *   <li>A delete makes the index too (Elasticsearch would let its externally versioned delete create the index, mapped
 *       by guessing), and goes on whatever the mapping: it writes no field.
 * </ul>
 *
 * <p>It asks Elasticsearch once per index and schema in each subtask (the decoder hands every change of a schema the
 * same schema instance), so the cost is a request or two per table at start and at each schema change. While
 * Elasticsearch cannot be reached it waits and tries again, holding the change back, as the sink would.
 */
public final class IndexMappingFunction extends ProcessFunction<ChangeEvent, ChangeEvent> {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(IndexMappingFunction.class);

    /** Changes whose schema the index cannot take (a column's type changed): to the dead-letter queue. */
    public static final OutputTag<DeadLetter> DEAD_LETTERS =
            new OutputTag<>("mapping-dead-letters", TypeInformation.of(DeadLetter.class));

    /** The mark in the mapping's {@code _meta} of an index the job created (./cdc status reads it). */
    public static final String META = "cdc-indexer";
    /** The suffix of the first physical index behind an alias. */
    static final String FIRST_VERSION = "_v1";
    /** How long it tries while Elasticsearch cannot be reached before it fails the task (which restarts it). */
    static final long RETRY_LIMIT_MS = 300_000;

    private final List<String> hosts;
    private final IndexNames names;
    /** The overrides file's text and name: parsed (checked) here, and again in each subtask. */
    private final String overridesJson;
    private final String overridesSource;
    private final long retryLimitMs;

    private transient MappingOverrides overrides;
    private transient RestClient client;
    /** By index: each schema instance seen, and why its changes cannot be indexed (empty: they can). */
    private transient Map<String, Map<JsonNode, String>> known;
    /** The same by index and schema content (its fingerprint). */
    private transient Map<String, String> byContent;
    private transient Counter lookups;
    private transient Counter created;
    private transient Counter extended;
    private transient Counter deadLettered;

    /**
     * @param overridesJson the text of the overrides file, empty for none; refused here, when the job is built, with
     *     the file's own message if it is not valid
     * @param retryLimitMs how long it keeps trying while Elasticsearch cannot be reached before failing the task
     */
    public IndexMappingFunction(List<String> hosts, IndexNames names, String overridesJson, String overridesSource,
            long retryLimitMs) {
        this.hosts = hosts;
        this.names = names;
        this.overridesJson = overridesJson;
        this.overridesSource = overridesSource;
        this.retryLimitMs = retryLimitMs;
        overrides();
    }

    /** The function as the job's options configure it; the overrides file is read now. */
    public static IndexMappingFunction of(JobOptions options) {
        String file = options.get(JobOptions.ELASTICSEARCH_MAPPING_OVERRIDES);
        String json = "";
        if (!file.isBlank()) {
            try {
                json = Files.readString(Path.of(file));
            } catch (IOException e) {
                throw new IllegalArgumentException("Option --" + JobOptions.ELASTICSEARCH_MAPPING_OVERRIDES.name()
                        + ": cannot read " + file + ": " + e, e);
            }
        }
        return new IndexMappingFunction(BulkOptions.from(options).hosts(),
                new IndexNames(options.get(JobOptions.ELASTICSEARCH_INDEX)), json, file, RETRY_LIMIT_MS);
    }

    private MappingOverrides overrides() {
        return overridesJson.isBlank() ? MappingOverrides.NONE : MappingOverrides.parse(overridesJson, overridesSource);
    }

    @Override
    public void open(Configuration parameters) {
        client = RestClient.builder(hosts.stream().map(HttpHost::create).toArray(HttpHost[]::new))
                .setRequestConfigCallback(config -> config.setConnectTimeout(5_000).setSocketTimeout(60_000))
                .build();
        known = new HashMap<>();
        byContent = new HashMap<>();
        overrides = overrides();
        lookups = getRuntimeContext().getMetricGroup().counter("mappingLookups");
        created = getRuntimeContext().getMetricGroup().counter("indicesCreated");
        extended = getRuntimeContext().getMetricGroup().counter("mappingsExtended");
        deadLettered = getRuntimeContext().getMetricGroup().counter("deadLettersForMapping");
    }

    @Override
    public void close() throws Exception {
        if (client != null) {
            client.close();
        }
    }

    @Override
    public void processElement(ChangeEvent change, Context ctx, Collector<ChangeEvent> out) throws Exception {
        if (change.action == ChangeEvent.Action.SKIP || change.rowSchema == null) {
            out.collect(change); // without a schema there is nothing to derive from
            return;
        }
        String index = names.of(change.topic, change.table);
        Map<JsonNode, String> schemas = known.computeIfAbsent(index, i -> new IdentityHashMap<>());
        String refusal = schemas.get(change.rowSchema);
        if (refusal == null) {
            // A schema instance not seen: the same schema may come back as a new instance (the decoder parses a
            // topic's schema again whenever it differs from the last one, as records of two schemas interleave
            // during a change), so its content decides whether Elasticsearch is asked.
            String key = index + '/' + IndexMapping.fingerprint(change.rowSchema);
            refusal = byContent.get(key);
            if (refusal == null) {
                refusal = Objects.requireNonNullElse(ensure(index, change.table, change.rowSchema), "");
                forgetIfMany(byContent);
                byContent.put(key, refusal);
            }
            forgetIfMany(schemas);
            schemas.put(change.rowSchema, refusal);
        }
        // A delete writes no field, but it must find the index made: Elasticsearch lets a delete with an external
        // version create a missing index, which would then map the documents that follow by guessing.
        if (refusal.isEmpty() || change.action == ChangeEvent.Action.DELETE) {
            out.collect(change);
            return;
        }
        deadLettered.inc();
        ctx.output(DEAD_LETTERS, deadLetter(change, index, refusal));
        if (change.transactionId != null) {
            out.collect(skipped(change)); // it still counts towards its transaction's END
        }
    }

    /** How often it has asked Elasticsearch about an index (once per index and schema, ideally). */
    long lookups() {
        return lookups.getCount();
    }

    // Schemas change rarely: a cache that grows past this was fed by something else, and starts again.
    private static void forgetIfMany(Map<?, ?> cache) {
        if (cache.size() >= 256) {
            cache.clear();
        }
    }

    /** Makes the index ready for the schema; returns why its changes cannot be indexed, or null. */
    private String ensure(String index, String table, JsonNode rowSchema) throws Exception {
        lookups.inc();
        ObjectNode body = IndexMapping.indexBody(rowSchema, overrides.table(table));
        ObjectNode mappings = (ObjectNode) body.get("mappings");
        mappings.putObject("_meta").putObject(META).put("mapping", IndexMapping.fingerprint(body));
        long deadline = System.currentTimeMillis() + retryLimitMs;
        long pause = 500;
        boolean existed = false;
        while (true) {
            try {
                JsonNode current = get(index + "/_mapping");
                if (current == null) {
                    if (existed) {
                        // The index and its alias are created in one request: another subtask's would be seen now.
                        throw new IllegalStateException("Index " + index + FIRST_VERSION + " exists but the alias "
                                + index + " does not point at it (removed by hand, or a reindex left half done): add "
                                + "the alias to the index the job should write, or delete " + index + FIRST_VERSION);
                    }
                    if (create(index + FIRST_VERSION, index, body)) {
                        created.inc();
                        LOG.info("Created index {}{} behind alias {} with the mapping derived from {}'s schema",
                                index, FIRST_VERSION, index, table);
                        return null;
                    }
                    existed = true;
                    continue; // another subtask created it meanwhile: compare with what it made
                }
                return extend(index, table, current, (ObjectNode) mappings.get("properties"));
            } catch (IOException e) {
                if (e instanceof ResponseException response && statusOf(response) / 100 == 4) {
                    throw new IOException("Elasticsearch refused to prepare index " + index + " for " + table + ": "
                            + reasonOf(response) + (statusOf(response) == 401 || statusOf(response) == 403
                                    ? ". Check the credentials and the role's privileges on the indices" : ""), e);
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new IOException("Elasticsearch could not be reached for " + retryLimitMs / 1000
                            + " s to prepare index " + index + ": " + e.getMessage(), e);
                }
                LOG.warn("Preparing index {} failed ({}); trying again in {} ms", index, e.toString(), pause);
                Thread.sleep(pause);
                pause = Math.min(pause * 2, 10_000);
            }
        }
    }

    private String extend(String index, String table, JsonNode current, ObjectNode properties) throws IOException {
        IndexMapping.MappingDiff diff = IndexMapping.compare(table, current, properties);
        boolean ours = IndexMapping.mappingsOf(current).path("_meta").has(META);
        if (diff.newFields().size() > 0) {
            send("PUT", index + "/_mapping", diff.putMappingBody());
            extended.inc();
            LOG.info("Index {}: added the mappings of {} for {}'s schema", index,
                    String.join(", ", (Iterable<String>) diff.newFields()::fieldNames), table);
        }
        if (diff.conflicts().isEmpty()) {
            return null;
        }
        if (!ours) {
            LOG.warn("Index {} was not made by the job (Elasticsearch guessed its mapping); kept as it is, though {}. "
                    + "./cdc reindex {} gives it the derived mapping", index,
                    diff.conflicts().stream().map(IndexMapping.Conflict::message).collect(Collectors.joining("; ")),
                    table);
            return null;
        }
        String reason = diff.conflicts().stream().map(IndexMapping.Conflict::message)
                .collect(Collectors.joining("; "));
        LOG.warn("Index {} cannot take {}'s new schema: {}", index, table, reason);
        return reason;
    }

    // The index's mapping answer, or null when there is no such index (or alias).
    private JsonNode get(String path) throws IOException {
        try {
            Response response = client.performRequest(new Request("GET", "/" + path));
            return DebeziumDecoder.mapper().readTree(EntityUtils.toByteArray(response.getEntity()));
        } catch (ResponseException e) {
            if (statusOf(e) == 404) {
                return null;
            }
            throw e;
        }
    }

    // Creates the physical index with its alias in one request; false if it exists already.
    private boolean create(String physical, String alias, ObjectNode body) throws IOException {
        ObjectNode withAlias = body.deepCopy();
        withAlias.putObject("aliases").putObject(alias);
        try {
            send("PUT", physical, withAlias);
            return true;
        } catch (ResponseException e) {
            if (statusOf(e) == 400 && reasonOf(e).contains("already exists")) {
                return false;
            }
            throw e;
        }
    }

    private void send(String method, String path, ObjectNode body) throws IOException {
        Request request = new Request(method, "/" + path);
        request.setEntity(new StringEntity(body.toString(), ContentType.APPLICATION_JSON));
        client.performRequest(request);
    }

    private static int statusOf(ResponseException e) {
        return e.getResponse().getStatusLine().getStatusCode();
    }

    private static String reasonOf(ResponseException e) {
        try {
            JsonNode error = DebeziumDecoder.mapper().readTree(EntityUtils.toByteArray(e.getResponse().getEntity()))
                    .path("error");
            return error.path("type").asText() + ": " + error.path("reason").asText();
        } catch (IOException | RuntimeException unreadable) {
            return e.getMessage();
        }
    }

    /** A change Elasticsearch cannot take, as a dead letter of the Elasticsearch stage (the writer's too). */
    static DeadLetter deadLetter(ChangeEvent change, String index, String reason) {
        DeadLetter letter = new DeadLetter();
        letter.stage = DeadLetter.Stage.ELASTICSEARCH;
        letter.reason = reason;
        letter.topic = change.topic;
        letter.partition = change.partition;
        letter.offset = change.offset;
        letter.key = change.key;
        letter.value = change.document;
        letter.index = index;
        letter.documentId = change.documentId;
        return letter;
    }

    // Stands in for a dead-lettered change in its transaction, as the decoder's stand-ins do: writes nothing.
    private static ChangeEvent skipped(ChangeEvent change) {
        ChangeEvent stand = change.copy();
        stand.action = ChangeEvent.Action.SKIP;
        stand.document = null;
        stand.unavailableColumns = null;
        return stand;
    }
}
