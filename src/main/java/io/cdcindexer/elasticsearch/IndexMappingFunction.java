package io.cdcindexer.elasticsearch;

import static io.cdcindexer.elasticsearch.ElasticsearchConnection.reasonOf;
import static io.cdcindexer.elasticsearch.ElasticsearchConnection.statusOf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.documents.JoinNode;
import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.documents.JoinedMappings;
import io.cdcindexer.job.JobOptions;
import io.cdcindexer.kafka.DeadLetter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.api.operators.StreamingRuntimeContext;
import org.apache.flink.streaming.runtime.tasks.ProcessingTimeService;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
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
 *   <li>Joined documents ({@code --documents}): the document's index {@code <index>_v1} behind alias {@code <index>},
 *       strict, children {@code nested} ({@link JoinedMappings}); each table's columns are put at every place the table
 *       takes in a document when its schema is first met, before any of its rows reaches the documents.
 *   <li>An index that a snapshot read makes is filled without refresh ({@link InitialLoad}) until the table's
 *       snapshot is over: its last read or the snapshot's, any other change of the table, or two looks
 *       {@code initialLoadQuietMs} apart with nothing indexed into it in between, whichever comes first. A joined
 *       document's index likewise, until the snapshot's last read, a change of one of its tables after the snapshot
 *       once the root's snapshot is over, or two looks with nothing indexed into it or its tables' indices.
 * </ul>
 *
 * <p>It asks Elasticsearch once per index and schema in each subtask (the decoder hands every change of a schema the
 * same schema instance; for joined documents, once per place of the table too), so the cost is a request or two per
 * table at start, at each schema change and at each reindex, a few more for an index a snapshot fills, and one small
 * look every minute (every 10 s while a first fill is known). While
 * Elasticsearch cannot be reached it waits and tries again, holding the change back, as the sink would.
 */
public final class IndexMappingFunction extends ProcessFunction<ChangeEvent, ChangeEvent> {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(IndexMappingFunction.class);

    /** Changes whose schema the index cannot take (a column's type changed): to the dead-letter queue. */
    public static final OutputTag<DeadLetter> DEAD_LETTERS =
            new OutputTag<>("mapping-dead-letters", TypeInformation.of(DeadLetter.class));

    /** Dead-letter reason (label {@code reason} of {@code deadLetters}): the index's mapping cannot take the schema. */
    static final String MAPPING_REFUSED = "mapping_refused";

    /** The mark in the mapping's {@code _meta} of an index the job created (./cdc status reads it). */
    public static final String META = "cdc-indexer";
    /** The suffix of the first physical index behind an alias. */
    static final String FIRST_VERSION = "_v1";
    /**
     * The index where {@code ./cdc reindex} records a reindex under way: one document per alias, {@code {"to": <next
     * physical index>, "fromLsn": <WAL position>, "startedAt": ..., ...}}. Every change of the table at that position or
     * later is written to the next index as well. For a joined document's alias ({@code "document": <root table>}), the
     * changes of its tables from that position on are mapped there, and its documents are written there too once the
     * record says {@code "writing": true} ({@code DocumentChange}).
     */
    public static final String REINDEX_INDEX = "cdc-indexer-reindex";
    /**
     * Elasticsearch's {@code action.auto_create_index} for a cluster the job writes: any index may be made by a first
     * write, but not a versioned physical one ({@code <name>_v<digit>...}). The job creates those itself; a late write to
     * one that {@code ./cdc reindex} deleted must fail instead of making it again, mapped by guessing and behind no
     * alias. The local stack and the compose file set it.
     */
    public static final String AUTO_CREATE_INDEX = "-cdc.*_v0*,-cdc.*_v1*,-cdc.*_v2*,-cdc.*_v3*,-cdc.*_v4*,-cdc.*_v5*,-cdc.*_v6*,-cdc.*_v7*,-cdc.*_v8*,-cdc.*_v9*,+*";
    /**
     * How old the routes (alias → index, reindexes under way) may be when a change is routed: {@code ./cdc reindex}
     * waits longer than this before it relies on every subtask routing as it recorded.
     */
    public static final long ROUTES_MAX_AGE_MS = 2_000;
    /** How long it tries while Elasticsearch cannot be reached before it fails the task (which restarts it). */
    public static final long RETRY_LIMIT_MS = 300_000;
    /**
     * How often it looks for indices still filled without refresh, and puts their refresh back when nothing was indexed
     * into one since the last look (a snapshot that ended without its last read, a job restarted after it).
     */
    static final long INITIAL_LOAD_QUIET_MS = 10_000;

    /**
     * How long a schema the index refused (a retyped column, or a new column past the index's field limit) is refused
     * without asking Elasticsearch again: once the index is changed to take it, its changes are indexed again within
     * this time.
     */
    static final long REFUSAL_ASKED_AGAIN_MS = 60_000;

    private final ElasticsearchConnection connection;
    private final IndexNames names;
    /** The overrides file's text and name: parsed (checked) here, and again in each subtask. */
    private final String overridesJson;
    private final String overridesSource;
    private final long retryLimitMs;
    private final long initialLoadQuietMs;

    private JoinedDocuments documents = JoinedDocuments.NONE;

    private transient MappingOverrides overrides;
    /** The nodes of joined documents by their table. */
    private transient Map<String, List<JoinNode>> joinedNodes;
    /**
     * Which joined node's mapping is put for which row schema in which index ({@code <index>/<node>/<fingerprint>}: the
     * document's physical index, or its alias while there is none, or the next index of its reindex).
     */
    private transient Set<String> joinedMapped;
    /**
     * Row schema instances whose columns are put at every place of their table (as {@link #known}), with the indices
     * they were put in (the documents' indices, and next indices with their reindex).
     */
    private transient Map<JsonNode, String> joinedSchemas;
    private transient RestClient client;
    /** By index: each schema instance seen, and whether the index takes its changes. */
    private transient Map<String, Map<JsonNode, Answer>> known;
    /** The same by index and schema content (its fingerprint). */
    private transient Map<String, Answer> byContent;
    /** By alias: its route, as Elasticsearch said at {@link #routesFetchedAt} ({@link System#nanoTime}). */
    private transient Map<String, Route> routes;
    private transient long routesFetchedAt;
    private transient Counter lookups;
    private transient Counter routeLookups;
    private transient Counter leftToReindex;
    private transient Counter created;
    private transient Counter extended;
    private transient Counter deadLettered;
    private transient Counter mappingRefused;
    /**
     * Joined documents' indices whose load this subtask started and whose root table's snapshot it has not seen end, with
     * when it last saw a read of the root (or started the load): a change of another of their tables does not end it,
     * as the topics are read side by side and the root's reads may still be on their way. A look forgets an entry once
     * no read of the root came for a quiet period (its last read lost, or read by another subtask).
     */
    private transient Map<String, Long> awaitingRoot;
    /** By table met: its index's alias (a joined document's load counts what is indexed into its tables' indices). */
    private transient Map<String, String> tableAliases;
    /** Indices known to be filled with bulk-loading settings: their last snapshot read or other change ends that. */
    private transient Set<String> loading;
    /** By index still loading: how many documents Elasticsearch said it had indexed at the last look. */
    private transient Map<String, Long> indexedAtLastLook;
    /** Indices whose refresh could not be put back: a later look tries again, not every change. */
    private transient Set<String> endFailed;
    /** By index: no look at it before this processing time (it refused to be looked at, or to end). */
    private transient Map<String, Long> notBefore;
    /** When the next look is due (processing time), {@link Long#MIN_VALUE} for none. */
    private transient long nextLookAt;

    /**
     * @param overridesJson the text of the overrides file, empty for none; refused here, when the job is built, with
     *     the file's own message if it is not valid
     * @param retryLimitMs how long it keeps trying while Elasticsearch cannot be reached before failing the task
     * @param initialLoadQuietMs how often it looks for indices left with bulk-loading settings
     *     ({@link #INITIAL_LOAD_QUIET_MS})
     */
    public IndexMappingFunction(ElasticsearchConnection connection, IndexNames names, String overridesJson,
            String overridesSource, long retryLimitMs, long initialLoadQuietMs) {
        this.connection = connection;
        this.names = names;
        this.overridesJson = overridesJson;
        this.overridesSource = overridesSource;
        this.retryLimitMs = retryLimitMs;
        this.initialLoadQuietMs = initialLoadQuietMs;
        overrides();
    }

    /** The same, looking for indices left with bulk-loading settings every {@link #INITIAL_LOAD_QUIET_MS}. */
    public IndexMappingFunction(ElasticsearchConnection connection, IndexNames names, String overridesJson,
            String overridesSource, long retryLimitMs) {
        this(connection, names, overridesJson, overridesSource, retryLimitMs, INITIAL_LOAD_QUIET_MS);
    }

    /** The same with plain addresses, without credentials. */
    public IndexMappingFunction(List<String> hosts, IndexNames names, String overridesJson, String overridesSource,
            long retryLimitMs) {
        this(ElasticsearchConnection.plain(hosts), names, overridesJson, overridesSource, retryLimitMs);
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
        return new IndexMappingFunction(BulkOptions.connection(options),
                new IndexNames(options.get(JobOptions.ELASTICSEARCH_INDEX)), json, file, RETRY_LIMIT_MS)
                .joining(JoinedDocuments.of(options.get(JobOptions.DOCUMENTS)));
    }

    /** This function, also mapping the indices of these joined documents. */
    public IndexMappingFunction joining(JoinedDocuments documents) {
        this.documents = documents;
        return this;
    }

    private MappingOverrides overrides() {
        return overridesJson.isBlank() ? MappingOverrides.NONE : MappingOverrides.parse(overridesJson, overridesSource);
    }

    @Override
    public void open(Configuration parameters) throws IOException {
        client = connection.open(60_000);
        known = new HashMap<>();
        routes = new HashMap<>();
        byContent = new HashMap<>();
        overrides = overrides();
        joinedNodes = new HashMap<>();
        for (JoinNode node : documents.nodes()) {
            joinedNodes.computeIfAbsent(node.table, table -> new ArrayList<>()).add(node);
        }
        joinedMapped = new HashSet<>();
        joinedSchemas = new IdentityHashMap<>();
        lookups = getRuntimeContext().getMetricGroup().counter("mappingLookups");
        routeLookups = getRuntimeContext().getMetricGroup().counter("routeLookups");
        leftToReindex = getRuntimeContext().getMetricGroup().counter("changesOnlyForTheNextIndex");
        created = getRuntimeContext().getMetricGroup().counter("indicesCreated");
        extended = getRuntimeContext().getMetricGroup().counter("mappingsExtended");
        deadLettered = getRuntimeContext().getMetricGroup().counter("deadLettersForMapping");
        // Its one reason, under the name every operator that dead-letters uses.
        mappingRefused = getRuntimeContext().getMetricGroup().addGroup("reason", MAPPING_REFUSED)
                .counter("deadLetters");
        loading = new HashSet<>();
        tableAliases = new HashMap<>();
        awaitingRoot = new HashMap<>();
        indexedAtLastLook = new HashMap<>();
        endFailed = new HashSet<>();
        notBefore = new HashMap<>();
        nextLookAt = Long.MIN_VALUE;
        // An index another subtask, or the job before a restart, left loading: every subtask looks from the start.
        scheduleLook();
    }

    @Override
    public void close() throws Exception {
        if (client != null) {
            client.close();
        }
    }

    @Override
    public void processElement(ChangeEvent change, Context ctx, Collector<ChangeEvent> out) throws Exception {
        if (change.isTransactionEnd() || change.action == ChangeEvent.Action.SKIP || change.rowSchema == null) {
            // Without a schema (a converter that sends none) there is nothing to derive a mapping from: the job does
            // not manage that index, and writes it by the template's name.
            out.collect(change);
            return;
        }
        mapJoined(change);
        String alias = names.of(change.topic, change.table);
        tableAliases.put(change.table, alias);
        Route route = route(alias);
        if (route.takenBy != null) {
            // Written there, the two tables' rows would share one index and collide on ids, and this table's deletes
            // would delete the other's documents.
            refuse(change, alias, "the index name " + alias + " of " + change.table + " is the name of the index "
                    + "behind alias " + route.takenBy + " (another table's): the two tables would share one index"
                    + ownIndexHint(change.table), ctx, out);
            return;
        }
        Answer answer = answer(route.current(), alias, change);
        if (answer.deletesToo()) {
            // Its first index cannot be made: a delete written by the alias's name would make an index mapped by guessing.
            refuse(change, alias, answer.refusal(), ctx, out);
            return;
        }
        String refusal = answer.refusal();
        if (route.current == null) {
            // It has just made the index (or found it made): written by its physical name, and known by it.
            route = refreshRoutes(alias, retryLimitMs);
            if (route.current != null) {
                rename(alias, route.current);
            }
        }
        if (InitialLoad.endsSnapshot(change)) {
            endEveryInitialLoad();
        } else if (!loading.isEmpty() && loading.contains(route.current()) && InitialLoad.endsTable(change)
                && !endFailed.contains(route.current())) {
            endInitialLoad(route.current(), InitialLoad.isSnapshotRead(change) ? "its snapshot's last read came"
                    : "a change after its snapshot came");
        }
        if (!loading.isEmpty() && (InitialLoad.endsTable(change) || !awaitingRoot.isEmpty())) {
            endDocumentLoads(change);
        }
        boolean toNext = route.next != null && change.lsn >= route.fromLsn;
        // A delete writes no field, but it must find the index made (above): Elasticsearch lets a delete with an
        // external version create a missing index, which would then map the documents that follow by guessing.
        boolean delete = change.action == ChangeEvent.Action.DELETE;
        String nextRefusal = toNext ? answer(route.next, null, change).refusal() : null;
        if (refusal.isEmpty() || delete) {
            change.indices = toNext && (nextRefusal.isEmpty() || delete) ? route.both : route.currentOnly;
        } else if (toNext && nextRefusal.isEmpty()) {
            // The reindex under way makes the index that takes it: written there only, nothing is lost.
            change.indices = route.nextOnly;
            leftToReindex.inc();
        } else {
            refuse(change, alias, toNext ? nextRefusal : refusal, ctx, out);
            return;
        }
        if (toNext && !nextRefusal.isEmpty() && !delete) {
            // The next index cannot take it (retyped again during the reindex): the current one has it.
            sendToDeadLetters(change, route.next, nextRefusal, ctx);
        }
        out.collect(change);
    }

    // The change to the dead-letter queue, with the reason its index refused it.
    private void sendToDeadLetters(ChangeEvent change, String index, String reason, Context ctx) {
        deadLettered.inc();
        mappingRefused.inc();
        ctx.output(DEAD_LETTERS, deadLetter(change, index, reason));
    }

    // The same, writing nothing of it: a stand-in still counts towards its transaction's END.
    private void refuse(ChangeEvent change, String index, String reason, Context ctx, Collector<ChangeEvent> out) {
        sendToDeadLetters(change, index, reason, ctx);
        if (change.transactionId != null) {
            out.collect(skipped(change));
        }
    }

    // What to do about a table whose index name another table's index or alias has.
    private static String ownIndexHint(String table) {
        return ". Give the table an index of its own with the job's --" + JobOptions.ELASTICSEARCH_INDEX.name()
                + " template (e.g. {topic}-idx), then ./cdc snapshot --table " + table;
    }

    /**
     * Whether the index takes the change's schema (why not, when it does not), asking Elasticsearch once per index and
     * schema.
     *
     * @param alias the alias to create the index behind when there is none yet; null for the next index of a reindex,
     *     which is created on its own (./cdc reindex adds it to the alias when it is complete)
     */
    private Answer answer(String index, String alias, ChangeEvent change) throws Exception {
        Map<JsonNode, Answer> schemas = known.computeIfAbsent(index, i -> new IdentityHashMap<>());
        Answer answer = schemas.get(change.rowSchema);
        if (answer == null || answer.dueAgain(now())) {
            // A schema instance not seen: the same schema may come back as a new instance (the decoder parses a
            // topic's schema again whenever it differs from the last one, as records of two schemas interleave
            // during a change), so its content decides whether Elasticsearch is asked. A refused one is asked again
            // once its time is up: the index may have been changed to take it.
            String key = index + '/' + IndexMapping.fingerprint(change.rowSchema);
            Answer before = byContent.get(key);
            answer = before;
            if (before == null || before.dueAgain(now())) {
                answer = ask(index, alias, change, before);
                forgetIfMany(byContent);
                byContent.put(key, answer);
            }
            forgetIfMany(schemas);
            schemas.put(change.rowSchema, answer);
        }
        return answer;
    }

    // Asks Elasticsearch whether the index takes the schema, making it ready; a refusal asked again whose answer does
    // not come at once (Elasticsearch out of reach) stays as it was, until it is asked again.
    private Answer ask(String index, String alias, ChangeEvent change, Answer before) throws Exception {
        boolean snapshotRead = InitialLoad.isSnapshotRead(change) && !InitialLoad.endsTable(change);
        String refusal;
        try {
            refusal = ensure(index, alias, change.table, change.rowSchema, snapshotRead,
                    before == null ? retryLimitMs : 0);
        } catch (NameTakenException e) {
            String why = "the index " + e.name + " the job would make for " + change.table + " has the name of another "
                    + "table's alias";
            LOG.warn("{}: its changes go to the dead-letter queue", why);
            return new Answer(why + ownIndexHint(change.table), now(), true);
        } catch (IOException e) {
            if (before == null || (e.getCause() instanceof ResponseException response
                    && (statusOf(response) == 401 || statusOf(response) == 403)
                    && !reasonOf(response).startsWith("cluster_block_exception:"))) {
                throw e; // refused credentials: the writer's words, and the task restarts
            }
            LOG.warn("Index {}: could not ask again whether it takes {}'s schema ({}); still refused", index,
                    change.table, e.toString());
            return new Answer(before.refusal(), now(), before.deletesToo());
        }
        return refusal == null ? Answer.TAKEN : new Answer(refusal, now(), false);
    }

    /**
     * Whether an index takes a schema: the refusal's reason ({@code ""}: it does), when it was asked, and whether the
     * table's deletes are refused too (its index cannot be made: its name is another table's alias).
     */
    record Answer(String refusal, long askedAt, boolean deletesToo) {
        static final Answer TAKEN = new Answer("", Long.MIN_VALUE, false);

        boolean dueAgain(long now) {
            return !refusal.isEmpty() && now - askedAt >= REFUSAL_ASKED_AGAIN_MS;
        }
    }

    // What was learnt of an index by its alias, kept under its physical name.
    private void rename(String alias, String physical) {
        Map<JsonNode, Answer> schemas = known.remove(alias);
        if (schemas != null) {
            known.put(physical, schemas);
        }
        for (String key : List.copyOf(byContent.keySet())) {
            if (key.startsWith(alias + '/')) {
                byContent.put(physical + key.substring(alias.length()), byContent.remove(key));
            }
        }
    }

    // --- routes: where each table's changes go ---------------------------------------------------------------------

    /**
     * A table's indices: the physical index behind its alias (null until the job made it), and while {@code ./cdc
     * reindex} runs, the next index, which takes every change from WAL position {@code fromLsn} on.
     */
    static final class Route {
        final String current;
        final String next;
        final long fromLsn;
        /**
         * Which reindex the next index is for (when it was recorded): a reindex aborted and run again makes an index of
         * the same name, which knows nothing yet.
         */
        final String reindex;
        final String[] currentOnly;
        final String[] nextOnly;
        final String[] both;
        /** The alias whose index has this route's name (another table's): its changes are not written there. */
        final String takenBy;

        private final String alias;

        Route(String alias, String current, String next, long fromLsn, String reindex, String takenBy) {
            this.alias = alias;
            this.takenBy = takenBy;
            this.current = current;
            this.next = next == null || next.equals(current) ? null : next;
            this.fromLsn = fromLsn;
            this.reindex = this.next == null ? null : reindex;
            this.currentOnly = new String[] {current()};
            this.nextOnly = this.next == null ? currentOnly : new String[] {this.next};
            this.both = this.next == null ? currentOnly : new String[] {current(), this.next};
        }

        String current() {
            return current == null ? alias : current;
        }
    }

    /** The table's route, asked again of Elasticsearch when older than {@link #ROUTES_MAX_AGE_MS}. */
    private Route route(String alias) throws Exception {
        Route route = routes.get(alias);
        if (route == null) {
            // A table not seen yet: Elasticsearch out of reach for the retry limit fails the task with the reason (a
            // wrong address says so instead of waiting for ever).
            return refreshRoutes(alias, retryLimitMs);
        }
        if (System.nanoTime() - routesFetchedAt > TimeUnit.MILLISECONDS.toNanos(ROUTES_MAX_AGE_MS)) {
            // It was reached before: an outage, which the step waits out as the writer does, however long.
            return refreshRoutes(alias, Long.MAX_VALUE);
        }
        return route;
    }

    /**
     * Asks Elasticsearch which reindex is under way and which physical index each alias points at, for all tables seen
     * (a request or two each), trying again for {@code limitMs} while Elasticsearch cannot be reached, holding the
     * change back as the writer would. What was learnt of an index that is neither current nor next any more (the old
     * index of a flipped alias, a next index removed by {@code ./cdc reindex --abort}) is forgotten: made again, it is
     * asked again.
     */
    private Route refreshRoutes(String alias, long limitMs) throws Exception {
        routes.putIfAbsent(alias, null);
        List<String> aliases = List.copyOf(routes.keySet());
        long asked = System.nanoTime(); // the answer is at least this old
        Map<String, Route> fresh = connection.retrying("look up the index of " + alias + (aliases.size() > 1 ? " and "
                + (aliases.size() - 1) + " other tables" : ""), limitMs, () -> fetchRoutes(aliases));
        routeLookups.inc();
        fresh.forEach((name, route) -> {
            Route before = routes.get(name);
            if (before != null && before.next != null
                    && !(before.next.equals(route.next) && before.reindex.equals(route.reindex))) {
                forgetIndex(before.next); // aborted, done, or run again: an index of that name knows nothing yet
            }
        });
        routes.putAll(fresh);
        routesFetchedAt = asked;
        Set<String> live = new HashSet<>(routes.keySet());
        for (Route route : routes.values()) {
            live.add(route.current());
            if (route.next != null) {
                live.add(route.next);
            }
        }
        known.keySet().retainAll(live);
        byContent.keySet().removeIf(key -> !live.contains(key.substring(0, key.lastIndexOf('/'))));
        joinedMapped.removeIf(key -> !live.contains(key.substring(0, key.indexOf('/'))));
        return routes.get(alias);
    }

    // What was learnt of the index: asked again when met again.
    private void forgetIndex(String index) {
        known.remove(index);
        byContent.keySet().removeIf(key -> key.startsWith(index + '/'));
        joinedMapped.removeIf(key -> key.startsWith(index + '/'));
    }

    private Map<String, Route> fetchRoutes(List<String> aliases) throws IOException {
        // The reindex records first, then the aliases: ./cdc reindex moves the alias before it deletes the record, so
        // a record not found comes with the alias as it is after the move, never with the old index alone.
        Map<String, JsonNode> reindexes = reindexRecords(client, aliases);
        Map<String, String> physical = new HashMap<>();
        Map<String, String> takenBy = new HashMap<>();
        // In batches: Elasticsearch refuses a request line over 4 KB.
        for (List<String> batch : batches(aliases, 3_000)) {
            JsonNode answer = get(String.join(",", batch) + "/_alias?ignore_unavailable=true&allow_no_indices=true");
            if (answer == null) {
                continue;
            }
            answer.fields().forEachRemaining(index -> {
                if (batch.contains(index.getKey())) {
                    physical.put(index.getKey(), index.getKey()); // an index made before the job used aliases
                    // Unless it is the index behind another table's alias (<alias>_v<n>): table users_v1's name is
                    // that of the index behind users'.
                    String owner = index.getKey().replaceFirst("_v[0-9]+$", "");
                    if (!owner.equals(index.getKey()) && index.getValue().path("aliases").has(owner)) {
                        takenBy.put(index.getKey(), owner);
                    }
                    reindexes.forEach((reindexed, record) -> {
                        if (index.getKey().equals(record.path("to").asText(null))) {
                            takenBy.put(index.getKey(), reindexed); // the next index of another table's reindex
                        }
                    });
                }
                index.getValue().path("aliases").fieldNames().forEachRemaining(name -> {
                    if (batch.contains(name)) {
                        physical.put(name, index.getKey());
                    }
                });
            });
        }
        Map<String, Route> routes = new HashMap<>();
        for (String alias : aliases) {
            JsonNode reindex = reindexes.get(alias);
            routes.put(alias, new Route(alias, physical.get(alias), reindex == null ? null : reindex.path("to").asText(null),
                    reindex == null ? Long.MAX_VALUE : reindex.path("fromLsn").asLong(Long.MAX_VALUE),
                    reindex == null ? null : reindex.path("startedAt").asText(""), takenBy.get(alias)));
        }
        return routes;
    }

    /**
     * The records of the reindexes under way ({@link #REINDEX_INDEX}) of these aliases, by alias. A record that cannot
     * be read now (its shard not started after a restart) is not "no reindex": taken so, the next index would miss
     * writes; it fails with an IOException, to be tried again.
     */
    public static Map<String, JsonNode> reindexRecords(RestClient client, List<String> aliases) throws IOException {
        Map<String, JsonNode> reindexes = new HashMap<>();
        ObjectNode ids = DebeziumDecoder.mapper().createObjectNode();
        aliases.forEach(ids.putArray("ids")::add);
        Request request = new Request("POST", "/" + REINDEX_INDEX + "/_mget");
        request.setEntity(new StringEntity(ids.toString(), ContentType.APPLICATION_JSON));
        JsonNode docs;
        try {
            docs = DebeziumDecoder.mapper().readTree(EntityUtils.toByteArray(client.performRequest(request).getEntity()));
        } catch (ResponseException e) {
            if (statusOf(e) == 404) {
                return reindexes; // no reindex ever ran
            }
            throw e;
        }
        for (JsonNode doc : docs.path("docs")) {
            if (doc.path("error").path("type").asText().equals("index_not_found_exception")) {
                continue; // no reindex ever ran
            }
            if (doc.has("error") || !doc.has("found")) {
                throw new IOException("the reindex record of " + doc.path("_id").asText() + " could not be read: "
                        + doc.path("error"));
            }
            if (doc.path("found").asBoolean()) {
                reindexes.put(doc.path("_id").asText(), doc.path("_source"));
            }
        }
        return reindexes;
    }

    /** The names in groups whose comma-joined length stays under {@code maxChars}. */
    static List<List<String>> batches(List<String> names, int maxChars) {
        List<List<String>> batches = new ArrayList<>();
        List<String> batch = new ArrayList<>();
        int length = 0;
        for (String name : names) {
            if (!batch.isEmpty() && length + name.length() + 1 > maxChars) {
                batches.add(batch);
                batch = new ArrayList<>();
                length = 0;
            }
            batch.add(name);
            length += name.length() + 1;
        }
        if (!batch.isEmpty()) {
            batches.add(batch);
        }
        return batches;
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

    /**
     * Makes the index ready for the schema; returns why its changes cannot be indexed, or null.
     *
     * @param index the physical index, or the alias while there is none yet
     * @param alias the table's alias, or null for the next index of a reindex
     * @param snapshotRead the change is a read of the table's snapshot, not its last: a new index behind the alias is
     *     filled without refresh
     */
    private String ensure(String index, String alias, String table, JsonNode rowSchema, boolean snapshotRead,
            long limitMs) throws Exception {
        lookups.inc();
        ObjectNode body = IndexMapping.indexBody(rowSchema, overrides.table(table));
        ObjectNode mappings = (ObjectNode) body.get("mappings");
        mappings.putObject("_meta").putObject(META).put("mapping", IndexMapping.fingerprint(body));
        boolean[] existed = {false};
        return connection.retrying("prepare index " + index + " for " + table, limitMs, () -> {
            while (true) {
                JsonNode current = get(index + "/_mapping");
                if (current != null) {
                    learnLoad(current);
                    return extend(index, table, current, (ObjectNode) mappings.get("properties"));
                }
                if (alias == null) {
                    if (create(index, null, body)) {
                        created.inc();
                        LOG.info("Created index {} for the reindex of {}, with the mapping derived from its schema",
                                index, table);
                        return null;
                    }
                    continue; // another subtask created it meanwhile: compare with what it made
                }
                if (!index.equals(alias)) {
                    throw new IllegalStateException("Index " + index + ", behind alias " + alias + " a moment ago, "
                            + "is gone (deleted by hand?); the job starts again and makes " + alias + FIRST_VERSION
                            + " if there is no index at all");
                }
                if (existed[0]) {
                    // The index and its alias are created in one request: another subtask's would be seen now.
                    throw new IllegalStateException("Index " + index + FIRST_VERSION + " exists but the alias "
                            + index + " does not point at it (removed by hand, or a reindex left half done): add "
                            + "the alias to the index the job should write, or delete " + index + FIRST_VERSION);
                }
                if (create(index + FIRST_VERSION, index, body)) {
                    created.inc();
                    LOG.info("Created index {}{} behind alias {} with the mapping derived from {}'s schema",
                            index, FIRST_VERSION, index, table);
                    if (snapshotRead) {
                        startInitialLoad(index + FIRST_VERSION);
                    }
                    return null;
                }
                existed[0] = true; // another subtask created it meanwhile: compare with what it made
            }
        });
    }

    // --- no refresh while a snapshot first fills an index (InitialLoad) ---------------------------------------------
    //
    // A start (record, refresh off, read the record again) and an end (mark the record ended, read the setting, put it
    // back if off) may run at once in two subtasks. Whichever order their requests land in, one of the two sees the
    // other's step and puts refresh back; and should a request fail or a task die between two steps, the record is
    // still there (an ended one is kept for ENDED_KEPT_MS), so any subtask's next look finishes the job.

    /** How long the record of an ended load is kept: looks put refresh back if a late start turned it off meanwhile. */
    static final long ENDED_KEPT_MS = 3_600_000;

    /**
     * Knows the index as loading when its mapping answer ({@code GET <index>/_mapping}) carries the record of a load
     * under way: one another subtask, or the job before a restart, left.
     */
    private void learnLoad(JsonNode mappingAnswer) {
        if (InitialLoad.settingsToRestore(mappingAnswer) != null) {
            loading.add(mappingAnswer.fieldNames().next());
            scheduleLook();
        }
    }

    /**
     * Records the index's refresh interval in its mapping, then turns refresh off. Best effort: should Elasticsearch
     * refuse, the index keeps its refresh, which is only slower, or the next look finds the record.
     */
    private void startInitialLoad(String index) {
        try {
            JsonNode settings = get(index + "/_settings?flat_settings=true");
            JsonNode mapping = get(index + "/_mapping");
            ObjectNode record = settings == null || mapping == null ? null : InitialLoad.record(settings);
            if (record == null) {
                return; // gone already, or refresh is off by the user's choice
            }
            // The record first: refresh is never off without the record that turns it on again.
            send("PUT", index + "/_mapping", InitialLoad.withRecord(mapping, record));
            loading.add(index);
            scheduleLook();
            send("PUT", index + "/_settings", InitialLoad.loadingSettings());
            JsonNode after = get(index + "/_mapping");
            if (after != null && InitialLoad.settingsToRestore(after) == null) {
                // Another subtask ended the load meanwhile (the snapshot's last read, a change of the table).
                send("PUT", index + "/_settings", record);
                forget(index);
                return;
            }
            LOG.info("Index {}: refresh off while the snapshot fills it (then back to {})", index, record);
        } catch (IOException e) {
            LOG.warn("Index {}: could not turn refresh off for the snapshot ({}); the next look checks it", index,
                    e.toString());
        }
    }

    /**
     * The next look: every {@code initialLoadQuietMs} while this subtask knows a load, every six of them otherwise (for
     * another subtask's, or another job's). A look due sooner replaces one due later.
     */
    private void scheduleLook() {
        long due = now() + (loading.isEmpty() ? 6 * initialLoadQuietMs : initialLoadQuietMs);
        if (nextLookAt == Long.MIN_VALUE || due < nextLookAt) {
            nextLookAt = due;
            timers().registerTimer(due, time -> {
                if (time == nextLookAt) { // not one a sooner look replaced
                    lookForLoadingIndices();
                }
            });
        }
    }

    private ProcessingTimeService timers() {
        return ((StreamingRuntimeContext) getRuntimeContext()).getProcessingTimeService();
    }

    private long now() {
        return timers().getCurrentProcessingTime();
    }

    /**
     * Learns of the indices whose load is under way, so that a change of their table ends it here too; ends the load of
     * those that nothing was indexed into since the last look, and of those whose end failed; puts refresh back on
     * those whose load ended but whose refresh is off (a start and an end crossed); removes records ended
     * {@link #ENDED_KEPT_MS} ago. One attempt per request, one index at a time: an index that cannot be looked at is
     * looked at again later, and does not hold up the others. One request when no index carries a record; one more
     * when a record of an ended load is still kept.
     */
    private void lookForLoadingIndices() {
        nextLookAt = Long.MIN_VALUE;
        awaitingRoot.values().removeIf(seen -> now() - seen >= initialLoadQuietMs);
        try {
            Map<String, JsonNode> records = recordsInElasticsearch();
            JsonNode refresh = null;
            for (Map.Entry<String, JsonNode> index : records.entrySet()) {
                ObjectNode record = InitialLoad.anyRecord(index.getValue());
                if (InitialLoad.endedAt(record) < 0) {
                    loading.add(index.getKey());
                    continue;
                }
                if (refresh == null) {
                    refresh = getOfLookPatterns("/_settings/index.refresh_interval?flat_settings=true"
                            + "&ignore_unavailable=true&allow_no_indices=true");
                }
                boolean off = refresh != null && InitialLoad.refreshOff(refresh, index.getKey());
                try {
                    finishEnded(index.getKey(), index.getValue(), record, off);
                } catch (IOException e) {
                    LOG.warn("Could not finish the ended load of index {} ({}); trying again in {} s", index.getKey(),
                            e.toString(), initialLoadQuietMs / 1000);
                }
            }
        } catch (IOException e) {
            LOG.warn("Could not look for indices filled without refresh ({}); looking again in {} s", e.toString(),
                    initialLoadQuietMs / 1000);
        }
        for (String index : List.copyOf(loading)) {
            if (notBefore.getOrDefault(index, Long.MIN_VALUE) > now()) {
                continue;
            }
            try {
                if (endFailed.contains(index)) {
                    endInitialLoad(index, "trying again");
                } else if (quietSinceLastLook(index)) {
                    endInitialLoad(index, "nothing was indexed into it for " + initialLoadQuietMs / 1000 + " s");
                }
            } catch (IOException e) {
                notBefore.put(index, now() + 6 * initialLoadQuietMs);
                LOG.warn("Could not look at index {} ({}); looking again in {} s", index, e.toString(),
                        6 * initialLoadQuietMs / 1000);
            }
        }
        scheduleLook();
    }

    // An ended load: refresh back if a start turned it off after the end; the record removed once it is old.
    private void finishEnded(String index, JsonNode mapping, ObjectNode record, boolean refreshOff) throws IOException {
        if (now() - InitialLoad.endedAt(record) >= ENDED_KEPT_MS) {
            send("PUT", index + "/_mapping", InitialLoad.withoutRecord(mapping));
        } else if (refreshOff) {
            send("PUT", index + "/_settings", InitialLoad.settings(record));
            LOG.info("Index {}: refresh back to {} (a start crossed the end of its load)", index,
                    InitialLoad.settings(record));
        }
    }

    /**
     * Nothing indexed into it since the last look; a deleted index is forgotten. For a joined document's index, into
     * its tables' indices neither: while a child table is read before its root, the children wait for their holder
     * rows and the document's index gets nothing, but the load is not over.
     */
    private boolean quietSinceLastLook(String index) throws IOException {
        String filter = "/_stats/indexing?filter_path=_all.primaries.indexing.index_total";
        JsonNode stats = get(index + filter);
        if (stats == null) {
            forget(index);
            return false;
        }
        long indexed = stats.at("/_all/primaries/indexing/index_total").asLong();
        List<String> tables = tableIndicesOfDocument(index);
        if (!tables.isEmpty()) {
            for (List<String> batch : batches(tables, 3_000)) {
                JsonNode more = get(String.join(",", batch) + filter + "&ignore_unavailable=true&allow_no_indices=true");
                indexed += more == null ? 0 : more.at("/_all/primaries/indexing/index_total").asLong();
            }
        }
        Long before = indexedAtLastLook.put(index, indexed);
        return before != null && before == indexed;
    }

    /** By index of the job's that carries a record (under way, or ended a short while ago): its mapping's _meta. */
    private Map<String, JsonNode> recordsInElasticsearch() throws IOException {
        JsonNode metas = getOfLookPatterns("/_mapping?ignore_unavailable=true&allow_no_indices=true"
                + "&filter_path=*.mappings._meta");
        Map<String, JsonNode> records = new HashMap<>();
        if (metas != null) {
            metas.fields().forEachRemaining(index -> {
                if (InitialLoad.anyRecord(index.getValue()) != null) {
                    records.put(index.getKey(), index.getValue());
                }
            });
        }
        return records;
    }

    /** The job's indices whose load is under way, whoever started it. */
    private List<String> loadingInElasticsearch() throws IOException {
        List<String> indices = new ArrayList<>();
        recordsInElasticsearch().forEach((index, meta) -> {
            if (InitialLoad.settingsToRestore(meta) != null) {
                indices.add(index);
            }
        });
        return indices;
    }

    /**
     * A change of a joined document's table: a read of the root says the root's snapshot goes on, its last read or a
     * change after it that it is over. A change after the snapshot ends the load of the index of every document the
     * table is part of, once its root's snapshot is over (or no read of the root came for a quiet period): its documents
     * are built as their changes come. (A table's last read does not end it: the document's other tables may still be
     * read, and each read builds its documents again.)
     */
    private void endDocumentLoads(ChangeEvent change) throws Exception {
        List<JoinNode> nodes = joinedNodes.get(change.table);
        if (nodes == null) {
            return;
        }
        for (JoinNode node : nodes) {
            String alias = documents.root(node).index;
            Route route = route(alias);
            // Until the routes are asked again, a document index this step has just made is known by its alias.
            String index = route.current == null ? alias + FIRST_VERSION : route.current;
            if (node.relation == JoinNode.Relation.ROOT && awaitingRoot.containsKey(index)) {
                if (InitialLoad.endsTable(change)) {
                    awaitingRoot.remove(index);
                } else {
                    awaitingRoot.put(index, now()); // a read of the root: its snapshot goes on
                }
            }
            if (!InitialLoad.isSnapshotRead(change) && !awaitingRoot.containsKey(index) && loading.contains(index)
                    && !endFailed.contains(index)) {
                endInitialLoad(index, "a change after its snapshot came");
            }
        }
    }

    /** The indices of the tables met of the joined document whose physical index this is; empty for another index. */
    private List<String> tableIndicesOfDocument(String index) {
        List<String> tables = new ArrayList<>();
        for (JoinNode root : documents.roots()) {
            String prefix = root.index + "_v";
            if (index.startsWith(prefix) && index.length() > prefix.length()
                    && index.substring(prefix.length()).chars().allMatch(Character::isDigit)) {
                for (JoinNode node : documents.withSubtree(root)) {
                    String alias = tableAliases.get(node.table);
                    if (alias != null && !tables.contains(alias)) {
                        tables.add(alias);
                    }
                }
            }
        }
        return tables;
    }

    /**
     * The indices a look searches for records of a load, in requests short enough for Elasticsearch (it refuses a
     * request line over 4 KB): those the index name template names, and the joined documents' physical indices, which
     * it need not name.
     */
    private List<String> lookPatterns() {
        List<String> patterns = new ArrayList<>(List.of(names.pattern()));
        for (JoinNode root : documents.roots()) {
            patterns.add(root.index + "_v*");
        }
        return batches(patterns, 3_000).stream().map(batch -> String.join(",", batch)).toList();
    }

    /** The answers of a GET of each of {@link #lookPatterns()} with this path after it, in one object. */
    private ObjectNode getOfLookPatterns(String path) throws IOException {
        ObjectNode all = DebeziumDecoder.mapper().createObjectNode();
        for (String pattern : lookPatterns()) {
            JsonNode answer = get(pattern + path);
            if (answer instanceof ObjectNode object) {
                all.setAll(object);
            }
        }
        return all;
    }

    /** The snapshot's last read: every index still loading is filled. */
    private void endEveryInitialLoad() {
        try {
            loading.addAll(loadingInElasticsearch());
        } catch (IOException e) {
            LOG.warn("Could not look for indices filled without refresh ({}); looking again in {} s", e.toString(),
                    initialLoadQuietMs / 1000);
        }
        for (String index : List.copyOf(loading)) {
            if (!endFailed.contains(index)) {
                endInitialLoad(index, "the snapshot's last read came");
            }
        }
    }

    /**
     * Ends an index's load: marks its record ended, then puts the recorded refresh interval back if refresh is still
     * off (a value the user set meanwhile stays). Best effort: should it fail, a later look tries again.
     */
    private void endInitialLoad(String index, String why) {
        try {
            JsonNode current = get(index + "/_mapping");
            ObjectNode record = current == null ? null : InitialLoad.anyRecord(current);
            if (record != null) {
                if (InitialLoad.endedAt(record) < 0) {
                    send("PUT", index + "/_mapping", InitialLoad.ended(current, record, now()));
                }
                if (refreshOff(index)) {
                    send("PUT", index + "/_settings", InitialLoad.settings(record));
                }
                LOG.info("Index {}: refresh back to {} ({})", index, InitialLoad.settings(record), why);
            }
            forget(index);
        } catch (IOException e) {
            endFailed.add(index);
            notBefore.put(index, now() + initialLoadQuietMs);
            LOG.warn("Index {}: could not turn refresh back on ({}); trying again in {} s", index, e.toString(),
                    initialLoadQuietMs / 1000);
            scheduleLook();
        }
    }

    private boolean refreshOff(String index) throws IOException {
        JsonNode settings = get(index + "/_settings?flat_settings=true");
        return settings != null && InitialLoad.refreshOff(settings, null);
    }

    private void forget(String index) {
        loading.remove(index);
        awaitingRoot.remove(index);
        indexedAtLastLook.remove(index);
        endFailed.remove(index);
        notBefore.remove(index);
    }

    private String extend(String index, String table, JsonNode current, ObjectNode properties) throws IOException {
        IndexMapping.MappingDiff diff = IndexMapping.compare(table, current, properties);
        boolean ours = IndexMapping.mappingsOf(current).path("_meta").has(META);
        if (diff.newFields().size() > 0) {
            try {
                send("PUT", index + "/_mapping", diff.putMappingBody());
            } catch (ResponseException e) {
                if (statusOf(e) != 400) {
                    throw e;
                }
                // The index refuses the new columns (past its index.mapping.total_fields.limit, say): their changes
                // go to the dead-letter queue, and the index is asked again later; a failed task would meet the same
                // change again on restart, and every table would stop.
                String refused = "Elasticsearch refused to add the new columns of " + table + " ("
                        + String.join(", ", (Iterable<String>) diff.newFields()::fieldNames) + ") to index " + index
                        + ": " + reasonOf(e) + ". Once the index takes them, its changes are indexed again within "
                        + REFUSAL_ASKED_AGAIN_MS / 1000 + " s; ./cdc snapshot --table " + table
                        + " then sends the rows refused meanwhile again";
                LOG.warn(refused);
                return refused;
            }
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

    /**
     * Puts the change's columns at every place its table takes in a joined document, once per index, node and schema
     * (again after the index behind the alias changed): creating the document's index first if there is none. A column the index maps as another type is left as it is, with a
     * warning: documents that carry the new type are refused by Elasticsearch and dead-lettered by the writer.
     *
     * <p>While {@code ./cdc reindex} rebuilds a document's index, its next index takes the columns of the changes at or
     * after the recorded WAL position too (made here, with the document's fields, at the first of them): a schema mapped
     * before the reindex began is mapped again for it, and an older change, which may carry a schema since replaced
     * (a retyped column's old type), is not mapped there.
     */
    private void mapJoined(ChangeEvent change) throws Exception {
        List<JoinNode> nodes = joinedNodes.get(change.table);
        if (nodes == null) {
            return;
        }
        // By node: its document's index (the physical one, or the alias while there is none), and the next index of a
        // reindex under way for changes at or after its position (an older change may carry a schema since replaced).
        List<String[]> targets = new ArrayList<>(nodes.size());
        StringBuilder seen = new StringBuilder();
        for (JoinNode node : nodes) {
            Route route = route(documents.root(node).index);
            boolean toNext = route.next != null && change.lsn >= route.fromLsn;
            targets.add(toNext ? new String[] {route.current(), route.next} : new String[] {route.current()});
            seen.append(route.current()).append(toNext ? "+" + route.next + "@" + route.reindex : "").append(',');
        }
        if (seen.toString().equals(joinedSchemas.get(change.rowSchema))) {
            return;
        }
        // A document's index is filled by the snapshot of all its tables: its load ends with the snapshot's last read,
        // not with a table's (see endDocumentLoads).
        boolean snapshotRead = InitialLoad.isSnapshotRead(change) && !InitialLoad.endsSnapshot(change);
        String fingerprint = IndexMapping.fingerprint(change.rowSchema);
        ObjectNode properties = IndexMapping.properties(change.rowSchema, overrides.table(change.table));
        for (int n = 0; n < nodes.size(); n++) {
            JoinNode node = nodes.get(n);
            JoinNode root = documents.root(node);
            ObjectNode put = JoinedMappings.putMappingBody(documents, node, properties);
            for (int t = 0; t < targets.get(n).length; t++) {
                String index = targets.get(n)[t];
                boolean next = t == 1;
                String key = index + "/" + node.id + "/" + fingerprint;
                if (joinedMapped.contains(key)) {
                    continue;
                }
                lookups.inc();
                connection.retrying("map " + change.table + " in the documents of " + index, retryLimitMs, () -> {
                    // Made here: the next index of a reindex, or the first index behind the alias while there is none.
                    JsonNode existing = get(index + "/_mapping");
                    if (!next && existing != null) {
                        learnLoad(existing); // a change of its tables ends it here
                    }
                    if ((next || index.equals(root.index)) && existing == null) {
                        ObjectNode body = JoinedMappings.indexBody(documents, root, overrides);
                        if (next ? create(index, null, body) : create(index + FIRST_VERSION, index, body)) {
                            created.inc();
                            LOG.info("Created index {} for joined documents {}", next ? index : index + FIRST_VERSION,
                                    root.index);
                            if (!next && snapshotRead) {
                                startInitialLoad(index + FIRST_VERSION);
                                if (loading.contains(index + FIRST_VERSION)
                                        && (node != root || !InitialLoad.endsTable(change))) {
                                    awaitingRoot.put(index + FIRST_VERSION, now());
                                }
                            }
                        }
                    }
                    try {
                        send("PUT", index + "/_mapping", put);
                    } catch (ResponseException e) {
                        if (statusOf(e) != 400) {
                            throw e;
                        }
                        LOG.warn("Index {} cannot take {}'s columns at {}: {}. Its documents that carry them are "
                                + "refused and dead-lettered", index, change.table, node.path, reasonOf(e));
                    }
                    return null;
                });
                if (joinedMapped.size() >= 256) {
                    joinedMapped.clear();
                }
                joinedMapped.add(key);
            }
        }
        forgetIfMany(joinedSchemas);
        joinedSchemas.put(change.rowSchema, seen.toString());
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

    // Creates the physical index, with its alias if one is given, in one request; false if it exists already.
    private boolean create(String physical, String alias, ObjectNode body) throws IOException {
        ObjectNode withAlias = body.deepCopy();
        if (alias != null) {
            withAlias.putObject("aliases").putObject(alias);
        }
        try {
            send("PUT", physical, withAlias);
            return true;
        } catch (ResponseException e) {
            if (statusOf(e) == 400 && reasonOf(e).contains("already exists as alias")) {
                throw new NameTakenException(physical); // another table's alias (table users_v1's, for users)
            }
            if (statusOf(e) == 400 && reasonOf(e).contains("already exists")) {
                return false;
            }
            throw e;
        }
    }

    /** An index the job would make has the name of an alias. */
    private static final class NameTakenException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final String name;

        NameTakenException(String name) {
            super(name);
            this.name = name;
        }
    }

    private void send(String method, String path, ObjectNode body) throws IOException {
        Request request = new Request(method, "/" + path);
        request.setEntity(new StringEntity(body.toString(), ContentType.APPLICATION_JSON));
        client.performRequest(request);
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
