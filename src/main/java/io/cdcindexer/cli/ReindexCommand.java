package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cdcindexer.documents.JoinNode;
import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.documents.JoinedMappings;
import io.cdcindexer.elasticsearch.IndexMappingFunction;
import io.cdcindexer.elasticsearch.InitialLoad;
import io.cdcindexer.elasticsearch.MappingOverrides;
import io.cdcindexer.stack.ProjectHome;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.TopicPartition;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ./cdc reindex <table>}: builds the table's next index with the mapping the job derives now, fills it from
 * PostgreSQL while the job keeps writing live changes into it, flips the alias in one step, and removes the old index
 * once nothing writes or reads it. docs/mappings.md, "Reindexing", tells why each step is safe.
 * {@code ./cdc reindex <document index>} does the same for a joined document's index, whose documents the job builds
 * again from snapshots of its tables ({@link #reindexDocuments}; docs/documents.md, "Reindexing").
 */
@Command(
        name = "reindex",
        mixinStandardHelpOptions = true,
        description = {
            "Reindexes a table without downtime: the job creates the next index (cdc.public.<table>_v<N+1>) with the "
                    + "mapping and settings it derives now and writes every change into it as well; a blocking "
                    + "Debezium snapshot fills it from PostgreSQL; once it holds every document of the current index, "
                    + "the alias cdc.public.<table> moves to it in one atomic step, and the old index is deleted when "
                    + "no write reaches it and no search reads it any more.",
            "Searches on the alias keep working throughout. Versions hold as always: a snapshot row never overwrites "
                    + "a newer change.",
            "A joined document's index (./cdc reindex cdc.documents.users) is rebuilt the same way: the job maps its "
                    + "next index, blocking snapshots of the tables below the root refresh what it keeps of them, then "
                    + "one of the root table builds every document again, into both indices.",
            "Needs the job running with derived mappings (the default). Exit code: 0 done, 1 failed (the alias "
                    + "is not moved; run it again after --abort).",
        })
public final class ReindexCommand implements Callable<Integer> {

    /** Longer than the job's route age: after this, every change the job routes sees what was recorded. */
    static final Duration ROUTES_SETTLE = Duration.ofMillis(2 * IndexMappingFunction.ROUTES_MAX_AGE_MS + 1_000);
    private static final Pattern VERSIONED = Pattern.compile("(.*)_v(\\d+)");
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);
    /** How long after the fence (and the last snapshot row seen) the snapshot is taken to have sent all it will. */
    static final Duration SNAPSHOT_QUIET = Duration.ofSeconds(10);
    private static final byte[] SNAPSHOT_ROW = "\"op\":\"r\"".getBytes(StandardCharsets.UTF_8);

    @Mixin
    ConnectionOptions connection;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "TABLE", description = "The table: users or public.users; or the index of a joined "
            + "document (cdc.documents.users).")
    String table;

    @Option(names = "--abort", description = "Abandon a reindex of the table that did not finish: the job stops "
            + "writing the next index, which is deleted (the alias never moved to it).")
    boolean abort;

    @Option(names = "--keep-old", description = "Keep the old index after the alias has moved (delete it by hand).")
    boolean keepOld;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "2h", converter = DurationConverter.class,
            description = "Give up (without moving the alias) when the next index is not complete by then "
                    + "(default ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--config", paramLabel = "FILE", defaultValue = "configs/debezium-postgres-connector.json",
            description = "Connector configuration that names the signal table and the topic prefix; a relative path "
                    + "is resolved against the repository root (default ${DEFAULT-VALUE}).")
    Path config;

    @Option(names = "--documents", paramLabel = "FILE",
            description = "The joined documents the job builds, to reindex one of them by its index's name (default: "
                    + "the project's configs/documents.json, as ./cdc up passes it to the job).")
    String documents;

    @Option(names = "--group", paramLabel = "ID", defaultValue = "cdc-indexer",
            description = "The job's Kafka consumer group (default ${DEFAULT-VALUE}).")
    String group;

    PrintWriter out;
    ElasticsearchHttp es;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        es = connection.elasticsearchClient();
        Path file = config.isAbsolute() ? config : ProjectHome.dir().resolve(config);
        KafkaConnectClient.ConnectorConfig connector = KafkaConnectClient.ConnectorConfig.read(file);
        try (Connection db = Postgres.connect(connection)) {
            CapturedTable captured;
            try {
                captured = select(db);
            } catch (CliException noSuchTable) { // a table's name wins over a document index named alike
                JoinedDocuments joined = joinedDocuments();
                Optional<JoinNode> root = joinedRoot(table, joined);
                if (root.isPresent()) {
                    return reindexDocuments(db, connector, file, root.get());
                }
                Optional<JsonNode> recorded = recorded(table);
                if (abort && recorded.isPresent()) {
                    return abort(table, recorded); // a document since removed from the declaration
                }
                throw joined.isEmpty() ? noSuchTable : new CliException(noSuchTable.getMessage() + "; nor is it "
                        + "the index of a joined document (" + joined.roots().stream().map(r -> r.index).toList()
                        + ")");
            }
            String alias = captured.index();
            Optional<JsonNode> recorded = recorded(alias);
            if (abort) {
                return abort(alias, recorded);
            }
            Indices indices = indices(alias, recorded);
            String current = indices.current();
            String next = indices.next();
            requireRunningJob();
            say("reindex: " + alias + " → " + current + "; building " + next);

            // 1. Record the reindex: every change from this WAL position on goes to the next index as well.
            long fromLsn = walPosition(db);
            record(alias, current, next, fromLsn, "table", captured.schema() + "." + captured.name());
            say("  the job writes every change of " + captured.displayName() + " from WAL position " + fromLsn
                    + " on into " + next + " too");
            // 2. Wait until every route the job makes sees it.
            TimeUnit.MILLISECONDS.sleep(ROUTES_SETTLE.toMillis());
            // 3. Fill the next index from PostgreSQL: a blocking snapshot, asked for under a lock that waits for every
            //    transaction writing the table (one that wrote before the position included) and holds off new ones.
            long deadline = System.nanoTime() + timeout.toNanos();
            copy(db, connector, file, captured, next, deadline);
            // 4. The next index holds every document of the current one whose row exists: move the alias in one step.
            awaitComplete(current, next, ids -> rowsWithIds(db, captured, ids), deadline);
            // 5. The alias moves in one step; the old index goes once nothing writes or reads it.
            finish(alias, current, next);
            say("reindex: done; ./cdc verify --table " + captured.displayName() + " checks the result");
            return 0;
        }
    }

    /**
     * Reindexes a joined document's index. Its documents come from the job's state of several tables, not from one
     * table's snapshot, so the steps differ from a table's (docs/documents.md, "Reindexing"):
     * <ol>
     *   <li>the record names the next index and the WAL position now: the job makes it with the document's fields and
     *       maps into it the columns of every table of the document as their changes from that position on come,
     *       before any document may go there;
     *   <li>a blocking snapshot of each table below the root: its rows come again, each with its table's schema, which
     *       the job maps into the next index, and the job's state of them is what the table holds now (a column
     *       dropped since is gone from it); then one row of the root table, for its schema;
     *   <li>the record says "writing": every document built from then on is written into the next index too;
     *   <li>a blocking snapshot of the root table: the job builds every document again (a snapshot read of its root row
     *       sends it even if it came out the same);
     *   <li>then the same check, flip and retirement as for a table's index.
     * </ol>
     */
    private int reindexDocuments(Connection db, KafkaConnectClient.ConnectorConfig connector, Path file, JoinNode root)
            throws Exception {
        JoinedDocuments joined = joinedDocuments();
        String alias = root.index;
        Optional<JsonNode> recorded = recorded(alias);
        if (abort) {
            return abort(alias, recorded);
        }
        CapturedTable rootTable = null;
        List<CapturedTable> below = new ArrayList<>();
        for (JoinNode node : joined.withSubtree(root)) {
            String[] schemaAndName = node.table.split("\\.", 2);
            CapturedTable each = CapturedTable.withPrimaryKey(db, schemaAndName[0]).stream()
                    .filter(t -> t.name().equals(schemaAndName[1])).findFirst().orElseThrow(() -> new CliException(
                            alias + " is built from " + node.table + ", which this database lacks (or it has no "
                                    + "primary key)"));
            if (node == root) {
                rootTable = each;
            } else if (!node.table.equals(root.table) && !below.contains(each)) {
                below.add(each);
            }
        }
        Indices indices = indices(alias, recorded);
        String current = indices.current();
        String next = indices.next();
        requireRunningJob();
        say("reindex: " + alias + " → " + current + "; building " + next + " (joined documents of "
                + rootTable.displayName() + (below.isEmpty() ? "" : " with " + below.stream()
                        .map(CapturedTable::displayName).collect(Collectors.joining(", "))) + ")");

        // 1. Record the reindex: the job maps every table of the document into the next index as their changes from
        //    this WAL position on come.
        long fromLsn = walPosition(db);
        record(alias, current, next, fromLsn, "document", root.table);
        say("  the job maps the columns of every table of the document into " + next + " as their changes from WAL "
                + "position " + fromLsn + " on come");
        TimeUnit.MILLISECONDS.sleep(ROUTES_SETTLE.toMillis());
        // 2. The tables below the root come again: their schemas are mapped, and what the job keeps of their rows is
        //    what they hold now. One row of the root table brings its schema.
        long deadline = System.nanoTime() + timeout.toNanos();
        for (CapturedTable table : below) {
            copy(db, connector, file, table, null, null, true, deadline);
        }
        copy(db, connector, file, rootTable, oneRow(rootTable), null, true, deadline);
        // Made by the job at the first row of them; made here as the job would if no table had one.
        createIfMissing(next, () -> JoinedMappings.indexBody(joined, root, overrides()));
        // 3. From now on every document built goes to the next index too.
        ObjectNode writing = Json.object();
        writing.putObject("doc").put("writing", true);
        es.post("/" + IndexMappingFunction.REINDEX_INDEX + "/_update/" + ElasticsearchHttp.encode(alias)
                + "?refresh=true", writing);
        TimeUnit.MILLISECONDS.sleep(ROUTES_SETTLE.toMillis());
        say("  the job writes every document it builds into " + next + " too");
        // 4. The root table comes again: every document is built again, and so reaches the next index.
        copy(db, connector, file, rootTable, null, next, true, deadline);
        // 5. As for a table: the next index holds every document of the current one whose root row exists.
        CapturedTable roots = rootTable;
        awaitComplete(current, next, ids -> rowsWithIds(db, roots, ids), deadline);
        finish(alias, current, next);
        say("reindex: done; ./cdc verify checks the result (every table, and the joined documents)");
        return 0;
    }

    /**
     * A blocking snapshot of the table, waited for until the job has taken every row of it.
     *
     * @param into the index whose documents show the progress; null: the rows read show it
     */
    private void copy(Connection db, KafkaConnectClient.ConnectorConfig connector, Path file, CapturedTable table,
            String into, long deadline) throws Exception {
        copy(db, connector, file, table, null, into, false, deadline);
    }

    /**
     * The same, of the rows a statement selects (null: every row).
     *
     * @param everyRow a snapshot that sends none of the rows counted failed (for a table's reindex, rows deleted
     *     meanwhile are told apart later, by the check before the flip; a document's has no such check for the tables
     *     below the root, nor for the one row of the root)
     */
    private void copy(Connection db, KafkaConnectClient.ConnectorConfig connector, Path file, CapturedTable table,
            String select, String into, boolean everyRow, long deadline) throws Exception {
        String tableTopic = connector.config().path("topic.prefix").asText(CapturedTable.TOPIC_PREFIX) + "."
                + table.schema() + "." + table.name();
        Map<TopicPartition, Long> before = endOffsets(tableTopic);
        Signalled signalled = snapshot(db, connector, file, table, select, deadline);
        say("  asked Debezium for a blocking snapshot of " + table.displayName() + (select == null ? "" : ", one row")
                + " (" + Plural.of(signalled.rows(), "row") + ")");
        awaitCopied(connector, tableTopic, before, signalled, into, everyRow, deadline);
    }

    /** The index behind the alias and the one a reindex builds. */
    record Indices(String current, String next) {}

    /** The indices of a reindex about to start; refused while one is recorded, or the next index is there already. */
    private Indices indices(String alias, Optional<JsonNode> recorded) {
        if (recorded.isPresent()) {
            throw new CliException("A reindex of " + alias + " into " + recorded.get().path("to").asText()
                    + " is recorded as under way since " + recorded.get().path("startedAt").asText()
                    + ". If it is not running any more: ./cdc reindex " + table + " --abort, then again");
        }
        String current = currentIndex(alias);
        String next = nextIndex(alias, current);
        if (es.getIfExists("/" + ElasticsearchHttp.encode(next)).isPresent()) {
            throw new CliException(next + " exists already, behind no alias (left by an earlier reindex?): delete "
                    + "it (curl -X DELETE .../" + next + ") and run the reindex again");
        }
        return new Indices(current, next);
    }

    /**
     * The statement that reads one row of the table (none of an empty table). A blocking snapshot takes its
     * {@code additional-conditions} filter as the whole SELECT it reads the table with, not as a condition.
     */
    static String oneRow(CapturedTable table) {
        return "SELECT * FROM " + table.quotedName() + " LIMIT 1";
    }

    /** Moves the alias in one step, removes the record, and deletes the old index once nothing writes or reads it. */
    private void finish(String alias, String current, String next) throws Exception {
        es.refresh(next);
        flip(alias, current, next);
        es.delete("/" + IndexMappingFunction.REINDEX_INDEX + "/_doc/" + ElasticsearchHttp.encode(alias)
                + "?refresh=true");
        say("  alias " + alias + " → " + next + " (moved in one step)");
        if (keepOld || current.equals(alias)) {
            say(current.equals(alias) ? "  the old index " + alias + " was replaced by the alias in the same step"
                    : "  kept the old index " + current + " (--keep-old)");
        } else if (retire(current)) {
            say("  deleted the old index " + current);
        }
    }

    private void say(String line) {
        out.println(line);
        out.flush();
    }

    /** The joined documents declared: the file given, or the project's (as ./cdc up passes it to the job). */
    private JoinedDocuments joinedDocuments() {
        Path file = documents != null ? Path.of(documents) : ProjectHome.dir().resolve(SubmitCommand.DOCUMENTS);
        if (documents != null && documents.isBlank() || documents == null && !Files.isRegularFile(file)) {
            return JoinedDocuments.NONE;
        }
        return VerifyCommand.declaration(file);
    }

    /** The root of the joined document whose index (or a physical index of it, {@code <index>_v2}) has this name. */
    static Optional<JoinNode> joinedRoot(String name, JoinedDocuments joined) {
        return joined.roots().stream()
                .filter(root -> root.index.equals(name) || root.index.equals(name.replaceFirst("_v\\d+$", "")))
                .findFirst();
    }

    private CapturedTable select(Connection db) throws SQLException {
        String[] schemaAndName = CapturedTable.schemaAndName(table);
        List<CapturedTable> inSchema = CapturedTable.withPrimaryKey(db, schemaAndName[0]);
        return inSchema.stream().filter(t -> t.name().equals(schemaAndName[1])).findFirst().orElseThrow(() ->
                new CliException("No table " + schemaAndName[0] + "." + schemaAndName[1] + " with a primary key; "
                        + "tables of schema " + schemaAndName[0] + " that have one: "
                        + inSchema.stream().map(CapturedTable::name).toList()));
    }

    // --- the record of a reindex under way (IndexMappingFunction reads it) -------------------------------------------

    private Optional<JsonNode> recorded(String alias) {
        return es.getIfExists("/" + IndexMappingFunction.REINDEX_INDEX + "/_doc/" + ElasticsearchHttp.encode(alias))
                .filter(doc -> doc.path("found").asBoolean()).map(doc -> doc.path("_source"));
    }

    /** Records the reindex: {@code source} names what the alias holds ({@code "table"} or {@code "document"}). */
    private void record(String alias, String current, String next, long fromLsn, String source, String name) {
        ObjectNode doc = Json.object();
        doc.put("alias", alias);
        doc.put(source, name);
        doc.put("from", current);
        doc.put("to", next);
        doc.put("fromLsn", fromLsn);
        doc.put("startedAt", Instant.now().toString());
        try {
            es.put("/" + IndexMappingFunction.REINDEX_INDEX + "/_create/" + ElasticsearchHttp.encode(alias)
                    + "?refresh=true", doc);
        } catch (ElasticsearchHttp.ErrorResponse e) {
            if (e.status() == 409) {
                throw new CliException("Another reindex of " + alias + " started a moment ago; let it finish");
            }
            throw e;
        }
    }

    int abort(String alias, Optional<JsonNode> recorded) throws InterruptedException {
        if (recorded.isEmpty()) {
            say("reindex: none of " + alias + " is under way");
            return 0;
        }
        String next = recorded.get().path("to").asText();
        es.delete("/" + IndexMappingFunction.REINDEX_INDEX + "/_doc/" + ElasticsearchHttp.encode(alias) + "?refresh=true");
        if (currentIndex(alias).equals(next)) {
            say("reindex: the alias already points at " + next + "; removed the record only");
            return 0;
        }
        TimeUnit.MILLISECONDS.sleep(ROUTES_SETTLE.toMillis());
        // Looked at again: a reindex still running may have moved the alias meanwhile; then the next index stays.
        if (currentIndex(alias).equals(next)) {
            say("reindex: a running reindex moved the alias to " + next + " meanwhile; kept it, removed the record");
            return 0;
        }
        if (es.getIfExists("/" + ElasticsearchHttp.encode(next)).isPresent()) {
            es.delete("/" + ElasticsearchHttp.encode(next));
        }
        say("reindex: abandoned; deleted " + next + ", " + alias + " still points at " + currentIndex(alias));
        return 0;
    }

    // --- indices ------------------------------------------------------------------------------------------------------

    /** The physical index behind the alias; the alias's own name for an index made before the job used aliases. */
    private String currentIndex(String alias) {
        JsonNode answer = es.getIfExists("/" + ElasticsearchHttp.encode(alias) + "/_alias").orElseThrow(() ->
                new CliException("There is no index " + alias + " yet: the job makes it with the table's first change "
                        + "(nothing to reindex)"));
        List<String> indices = new ArrayList<>();
        answer.fieldNames().forEachRemaining(indices::add);
        if (indices.size() != 1) {
            throw new CliException(alias + " points at " + indices + "; a reindex needs it to point at one index");
        }
        return indices.get(0);
    }

    static String nextIndex(String alias, String current) {
        Matcher versioned = VERSIONED.matcher(current);
        if (versioned.matches() && versioned.group(1).equals(alias)) {
            return alias + "_v" + (Integer.parseInt(versioned.group(2)) + 1);
        }
        return alias + "_v1"; // an index made before the job used aliases
    }

    private void requireRunningJob() throws Exception {
        FlinkRest flink = new FlinkRest(connection.flink);
        Optional<FlinkRest.Job> job = flink.liveJob("cdc-indexer");
        if (job.isEmpty() || !job.get().state().equals("RUNNING")) {
            throw new CliException("The job cdc-indexer is not running (" + job.map(FlinkRest.Job::state).orElse("none")
                    + "): it writes the next index while it fills, so start it first (./cdc submit)");
        }
    }

    // The alias moves from the current index to the next in one request: no search sees neither, or both.
    void flip(String alias, String current, String next) {
        ObjectNode body = Json.object();
        var actions = body.putArray("actions");
        actions.addObject().putObject("add").put("index", next).put("alias", alias);
        if (current.equals(alias)) {
            actions.addObject().putObject("remove_index").put("index", current);
        } else {
            actions.addObject().putObject("remove").put("index", current).put("alias", alias);
        }
        es.post("/_aliases", body);
    }

    /**
     * Deletes the old index once the job routes nothing to it (the routes have settled), its writes have stopped for
     * a few seconds, and no search context (a scroll) reads it; false if it kept it (still busy after 10 min).
     */
    private boolean retire(String old) throws Exception {
        TimeUnit.MILLISECONDS.sleep(ROUTES_SETTLE.toMillis());
        long lastWrites = -1;
        long quietSince = System.nanoTime();
        long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        while (true) {
            JsonNode stats = es.get("/" + ElasticsearchHttp.encode(old) + "/_stats/indexing,search").path("_all")
                    .path("total");
            long writes = stats.path("indexing").path("index_total").asLong()
                    + stats.path("indexing").path("delete_total").asLong();
            long readers = stats.path("search").path("open_contexts").asLong();
            if (writes != lastWrites) {
                lastWrites = writes;
                quietSince = System.nanoTime();
            } else if (readers == 0 && System.nanoTime() - quietSince > Duration.ofSeconds(5).toNanos()) {
                es.delete("/" + ElasticsearchHttp.encode(old));
                return true;
            }
            if (System.nanoTime() > deadline) {
                say("  the old index " + old + " still " + (readers > 0 ? "has " + readers + " open searches (scrolls)"
                        : "receives writes") + " after 10 min; kept it: delete it by hand when they are done");
                return false;
            }
            TimeUnit.SECONDS.sleep(1);
        }
    }

    // --- PostgreSQL ---------------------------------------------------------------------------------------------------

    private static long walPosition(Connection db) throws SQLException {
        try (Statement statement = db.createStatement();
                ResultSet rs = statement.executeQuery("SELECT (pg_current_wal_lsn() - '0/0')::bigint")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The snapshot asked for: the rows the table held then, and the fence's id. */
    record Signalled(long rows, String fence) {}

    /**
     * Asks for the blocking snapshot ({@link SignalTable#insertUnderLock}: no transaction writing the table straddles
     * the signal, so every change of it is either read by the snapshot or newer than its rows and at or after the
     * recorded position), then, in a transaction of its own, a log signal: the fence that tells when Debezium streams
     * again after the snapshot.
     */
    Signalled snapshot(Connection db, KafkaConnectClient.ConnectorConfig connector, Path file, CapturedTable table,
            String select, long deadline) throws Exception {
        SignalTable signals = SignalTable.of(connector, file);
        signals.create(db);
        long rows;
        try (Statement statement = db.createStatement();
                ResultSet rs = statement.executeQuery("SELECT count(*) FROM "
                        + (select == null ? table.quotedName() : "(" + select + ") AS selected"))) {
            rs.next();
            rows = rs.getLong(1); // for the progress: outside the lock, which must be short
        }
        String collection = table.schema() + "." + table.name();
        ObjectNode data = (ObjectNode) Json.parse(SnapshotCommand.signalData(List.of(collection)), "a signal");
        if (select != null) {
            data.putArray("additional-conditions").addObject().put("data-collection", collection).put("filter", select);
        }
        signals.insertUnderLock(db, List.of(table), "cdc-reindex-" + UUID.randomUUID(), "execute-snapshot",
                Json.compact(data), deadline, this::say);
        String fence = "cdc-reindex-fence-" + UUID.randomUUID();
        ObjectNode log = Json.object();
        log.put("message", "cdc-indexer reindex of " + table.schema() + "." + table.name() + ": the snapshot was "
                + "asked for (" + fence + ")");
        signals.insert(db, fence, "log", Json.compact(log));
        return new Signalled(rows, fence);
    }

    // --- waiting for the copy -----------------------------------------------------------------------------------------

    /**
     * Waits until Debezium has sent the whole snapshot, then until the job has committed offsets past the table topic's
     * end. The snapshot is whole once its last row ({@code op} r, {@code source.snapshot} last) is in the table topic,
     * or, for a snapshot that sends no row (the table was empty when Debezium read it), once the fence is in the signal
     * topic and no snapshot row came for 10 s. Rows without the last one by then mean the snapshot stopped half way
     * (Debezium logs it and streams on): the command fails, the alias stays. Shows progress meanwhile.
     */
    void awaitCopied(KafkaConnectClient.ConnectorConfig connector, String tableTopic, Map<TopicPartition, Long> before,
            Signalled signalled, String next, long deadline) throws Exception {
        awaitCopied(connector, tableTopic, before, signalled, next, false, deadline);
    }

    /**
     * The same; with {@code everyRow}, a snapshot that sent no row though the table had some when it was asked for
     * fails (Debezium logs "Error while executing requested blocking snapshot" and streams on).
     */
    void awaitCopied(KafkaConnectClient.ConnectorConfig connector, String tableTopic, Map<TopicPartition, Long> before,
            Signalled signalled, String next, boolean everyRow, long deadline) throws Exception {
        String signalTopic = connector.config().path("topic.prefix").asText(CapturedTable.TOPIC_PREFIX) + "."
                + SignalTable.of(connector, config).name();
        Progress progress = new Progress(signalled.rows(), next);
        byte[] fenceBytes = signalled.fence().getBytes(StandardCharsets.UTF_8);
        long fencedAt = 0;
        long lastSnapshotRowAt = 0;
        boolean sawSnapshotRow = false;
        boolean last = false;
        Properties consumer = connection.kafkaClient();
        consumer.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        consumer.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaTail signals = new KafkaTail(connection.kafkaClient(), Pattern.compile(Pattern.quote(signalTopic)), true);
                KafkaConsumer<byte[], byte[]> rows =
                        new KafkaConsumer<>(consumer, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            if (before.isEmpty()) {
                rows.subscribe(List.of(tableTopic)); // no topic yet (a table never written): from its beginning
            } else {
                rows.assign(new ArrayList<>(before.keySet()));
                before.forEach(rows::seek);
            }
            while (!last) {
                for (ConsumerRecord<byte[], byte[]> record : rows.poll(Duration.ofMillis(500))) {
                    String snapshot = snapshotMarker(record.value());
                    if (snapshot != null) {
                        sawSnapshotRow = true;
                        progress.read++;
                        lastSnapshotRowAt = System.nanoTime();
                        last |= snapshot.equals("last");
                    }
                }
                for (ConsumerRecord<byte[], byte[]> record : signals.poll(Duration.ofMillis(500))) {
                    if (fencedAt == 0 && record.value() != null && contains(record.value(), fenceBytes)) {
                        fencedAt = System.nanoTime();
                    }
                }
                if (!last && fencedAt > 0
                        && System.nanoTime() - Math.max(fencedAt, lastSnapshotRowAt) > SNAPSHOT_QUIET.toNanos()) {
                    if (sawSnapshotRow) {
                        throw new CliException("Debezium sent rows of the snapshot but not its last one, and streams "
                                + "on: the snapshot stopped half way (the connector's log says why: ./cdc status, "
                                + ".cdc/connect/connect.log); the alias is not moved: ./cdc reindex " + table
                                + " --abort, then again");
                    }
                    if (everyRow && signalled.rows() > 0) {
                        throw new CliException("Debezium sent no row of the snapshot of " + tableTopic + " ("
                                + Plural.of(signalled.rows(), "row") + " asked for), and streams on: it failed (the "
                                + "connector's log says why: ./cdc status, .cdc/connect/connect.log; or the rows were "
                                + "deleted meanwhile); the alias is not moved: ./cdc reindex " + table
                                + " --abort, then again");
                    }
                    break; // the table was empty when Debezium read it
                }
                progress.show();
                if (System.nanoTime() > deadline) {
                    throw new CliException("The snapshot did not finish within " + timeout.toSeconds() + " s (is the "
                            + "connector running? ./cdc status); the alias is not moved: ./cdc reindex " + table
                            + " --abort, then again");
                }
            }
        }
        say("  Debezium has sent every row of the snapshot; waiting for the job to take them");
        try (Admin admin = Admin.create(connection.kafkaClient())) {
            Map<TopicPartition, Long> end = endOffsets(admin, tableTopic);
            while (true) {
                ConsumerLag.Sample sample = ConsumerLag.sample(admin, group, 20);
                // A partition with nothing in it needs no commit.
                boolean past = end.entrySet().stream().allMatch(e -> e.getValue() == 0
                        || sample.committed().getOrDefault(e.getKey(), -1L) >= e.getValue());
                if (past) {
                    return;
                }
                progress.show();
                if (System.nanoTime() > deadline) {
                    throw new CliException("The job did not take the snapshot within " + timeout.toSeconds() + " s "
                            + "(./cdc status); the alias is not moved: ./cdc reindex " + table + " --abort, then again");
                }
                TimeUnit.SECONDS.sleep(1);
            }
        }
    }

    /**
     * A snapshot row's {@code source.snapshot} ("true", "first", "last" ...), or null for any other record: read from
     * the envelope, never from the row's own columns.
     */
    static String snapshotMarker(byte[] value) {
        if (value == null || !contains(value, SNAPSHOT_ROW)) {
            return null; // not a snapshot read: no need to parse it
        }
        JsonNode envelope;
        try {
            envelope = Json.parse(value, "a change event");
        } catch (CliException notJson) {
            return null; // poison, which the job dead-letters
        }
        JsonNode payload = envelope.has("payload") && envelope.has("schema") ? envelope.path("payload") : envelope;
        if (!payload.path("op").asText().equals("r")) {
            return null;
        }
        return payload.path("source").path("snapshot").asText(null);
    }

    private Map<TopicPartition, Long> endOffsets(String topic) throws Exception {
        try (Admin admin = Admin.create(connection.kafkaClient())) {
            return endOffsets(admin, topic);
        }
    }

    /** The topic's end offsets now (none if the topic does not exist: the table never had a row). */
    private static Map<TopicPartition, Long> endOffsets(Admin admin, String topic) throws Exception {
        if (!admin.listTopics().names().get(20, TimeUnit.SECONDS).contains(topic)) {
            return Map.of();
        }
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        admin.describeTopics(List.of(topic)).allTopicNames().get(20, TimeUnit.SECONDS).get(topic).partitions()
                .forEach(p -> latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
        Map<TopicPartition, Long> end = new HashMap<>();
        admin.listOffsets(latest).all().get(20, TimeUnit.SECONDS).forEach((p, info) -> end.put(p, info.offset()));
        return end;
    }

    /** Rows copied, rate and time left, every few seconds. */
    private final class Progress {
        private final long rows;
        /** The index whose documents count as copied; null: the snapshot rows read count. */
        private final String index;
        private final long started = System.nanoTime();
        private long shownAt;
        /** Snapshot rows seen in the table's topic so far. */
        long read;

        Progress(long rows, String index) {
            this.rows = rows;
            this.index = index;
        }

        void show() {
            long now = System.nanoTime();
            if (now - shownAt < PROGRESS_EVERY.toNanos()) {
                return;
            }
            shownAt = now;
            long copied = read;
            if (index != null) {
                try {
                    copied = es.count(index);
                } catch (CliException e) {
                    copied = 0; // not made yet, or too new for its shards to answer
                }
            }
            double seconds = (now - started) / 1e9;
            double rate = copied / Math.max(seconds, 0.001);
            String left = rate <= 0 || copied >= rows ? "" : String.format(Locale.ROOT, ", about %.0f s left",
                    (rows - copied) / rate);
            say(String.format(Locale.ROOT, "  %s %,d of about %,d rows (%,.0f rows/s%s)",
                    index == null ? "read" : "copied", copied, rows, rate, left));
        }
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    /** Which of some document ids a row of the table has now. */
    interface RowLookup {
        Set<String> existing(Set<String> ids) throws SQLException;
    }

    /**
     * Waits until every document of the current index is in the next one as well (a row whose change is still on its
     * way shows as missing for a moment, so those are looked at again until none is left).
     */
    void awaitComplete(String current, String next, RowLookup rows, long deadline) throws Exception {
        createIfMissing(next, () -> emptyLike(current)); // no change and no snapshot row came: an empty table
        es.refresh(current);
        es.refresh(next);
        Set<String> missing = ids(current);
        missing.removeAll(ids(next));
        if (!missing.isEmpty()) {
            // A document of the old index whose row is gone (a delete the old index missed, a truncate) is rightly not
            // carried over: the new index holds what PostgreSQL holds.
            Set<String> gone = new HashSet<>(missing);
            gone.removeAll(rows.existing(missing));
            if (!gone.isEmpty()) {
                say("  " + Plural.of(gone.size(), "document") + " of " + current + " whose row is gone (e.g. "
                        + gone.iterator().next() + ") not carried over");
                missing.removeAll(gone);
            }
        }
        while (!missing.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new CliException(Plural.of(missing.size(), "document") + " of " + current + " never reached "
                        + next + " (e.g. " + missing.iterator().next() + "); the alias is not moved");
            }
            say("  " + Plural.of(missing.size(), "document") + " of " + current + " not in " + next
                    + " yet; looking again");
            TimeUnit.SECONDS.sleep(2);
            missing.retainAll(found(current, missing));
            missing.removeAll(found(next, missing));
        }
        say("  " + next + " holds every document of " + current + " whose row exists");
    }

    /** Makes the next index with this body if the job has not made it. */
    private void createIfMissing(String next, Supplier<ObjectNode> body) {
        if (es.getIfExists("/" + ElasticsearchHttp.encode(next)).isPresent()) {
            return;
        }
        try {
            es.put("/" + ElasticsearchHttp.encode(next), body.get());
        } catch (ElasticsearchHttp.ErrorResponse e) {
            if (e.status() != 400 || !e.getMessage().contains("already_exists")) {
                throw e;
            }
        }
    }

    /**
     * The next index of a table that had no row: the current index's settings and a strict mapping without fields,
     * which the job extends with the first change's columns (the mapping step puts them as new columns).
     */
    private ObjectNode emptyLike(String current) {
        JsonNode index = es.get("/" + ElasticsearchHttp.encode(current) + "/_settings").path(current).path("settings")
                .path("index");
        // An index still filled with bulk-loading settings hands on the settings it is to have after.
        ObjectNode afterLoad = InitialLoad.anyRecord(es.get("/" + ElasticsearchHttp.encode(current) + "/_mapping"));
        ObjectNode body = Json.object();
        ObjectNode settings = body.putObject("settings");
        for (String name : List.of("number_of_shards", "number_of_replicas", "refresh_interval", "analysis")) {
            if (afterLoad != null && afterLoad.has("index." + name)) {
                if (!afterLoad.get("index." + name).isNull()) {
                    settings.set(name, afterLoad.get("index." + name));
                }
            } else if (!index.path(name).isMissingNode()) {
                settings.set(name, index.get(name));
            }
        }
        ObjectNode mappings = body.putObject("mappings");
        mappings.put("dynamic", "strict");
        mappings.putObject("_meta").putObject(IndexMappingFunction.META).put("mapping", "none yet");
        return body;
    }

    /** The overrides the job reads ({@code ./cdc submit} passes the project's file), for an index made here. */
    private static MappingOverrides overrides() {
        Path file = ProjectHome.dir().resolve(SubmitCommand.MAPPING_OVERRIDES);
        if (!Files.isRegularFile(file)) {
            return MappingOverrides.NONE;
        }
        try {
            return MappingOverrides.load(file);
        } catch (IOException | IllegalArgumentException e) {
            throw new CliException("Cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Of these document ids, the ones a row of the table has now. */
    private static Set<String> rowsWithIds(Connection db, CapturedTable table, Set<String> ids) throws SQLException {
        Set<String> found = new HashSet<>();
        String sql = "SELECT id FROM (SELECT (" + DocumentIdSql.expression(db, table) + ") AS id FROM "
                + table.quotedName() + ") AS rows WHERE id = ANY (?)";
        List<String> all = List.copyOf(ids);
        for (int from = 0; from < all.size(); from += 10_000) {
            try (PreparedStatement query = db.prepareStatement(sql)) {
                query.setArray(1, db.createArrayOf("text", all.subList(from, Math.min(all.size(), from + 10_000))
                        .toArray()));
                try (ResultSet rs = query.executeQuery()) {
                    while (rs.next()) {
                        found.add(rs.getString(1));
                    }
                }
            }
        }
        return found;
    }

    private Set<String> ids(String index) {
        Set<String> ids = new HashSet<>();
        ObjectNode search = Json.object();
        search.put("_source", false);
        search.putArray("sort").add("_doc");
        try (ElasticsearchHttp.Scroll scroll = es.scroll(index, search, 5_000)) {
            scroll.forEachRemaining(hit -> ids.add(hit.path("_id").asText()));
        }
        return ids;
    }

    // Of these ids, the ones the index holds now (a realtime multi-get).
    private Set<String> found(String index, Set<String> ids) {
        Set<String> found = new HashSet<>();
        List<String> all = List.copyOf(ids);
        for (int from = 0; from < all.size(); from += 1_000) {
            ObjectNode body = Json.object();
            all.subList(from, Math.min(all.size(), from + 1_000)).forEach(body.putArray("ids")::add);
            for (JsonNode doc : es.post("/" + ElasticsearchHttp.encode(index) + "/_mget?_source=false", body)
                    .path("docs")) {
                if (doc.path("found").asBoolean()) {
                    found.add(doc.path("_id").asText());
                }
            }
        }
        return found;
    }
}
