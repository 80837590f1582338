package io.cdcindexer.documents;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.DebeziumDecoder;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.util.Collector;

/**
 * The stage of one node of a joined document, keyed by its table's row id: keeps the row's newest image, the objects of
 * its child rows and of the parent rows it points to, and builds the row's object from them whenever one changes, once
 * per transaction ({@link WholeTransactionsFunction}). The root's object is the document; a child's goes to the holder
 * row its foreign key names (and away from the one it named before, when the key moved); a parent's goes to its
 * fan-out, which hands it to every holder row that points to it. An object that came out the same as the one last sent
 * is not sent again (a column it does not carry changed), except a document after a snapshot read of its root row: a
 * snapshot writes every document again (so {@code ./cdc reindex} fills a document's next index).
 *
 * <p>The objects of parent rows stay until their fan-out takes them back: one that comes before the row it is for, or
 * for a row that points elsewhere for a moment, is kept and shown whenever the row points to it.
 *
 * <p>A change that lacks unchanged TOASTed columns takes them from the row kept. Changes of one row can come out of
 * order, so the row remembers which change each such column came from: an older change that comes later but is newer
 * than that one sets the column after all.
 *
 * <p>State stays bounded by the data: a row's entry goes when the row is deleted and nothing hangs from it, after
 * remembering the delete for {@code deleteMemoryMs} (an older change of the row that comes later is dropped, not
 * applied); a child's object goes when the child leaves.
 */
public final class AssembleFunction extends WholeTransactionsFunction {

    private static final long serialVersionUID = 1L;

    private final JoinedDocuments plan;
    private final int nodeId;
    private final long deleteMemoryMs;

    private transient JoinNode node;
    /** The names of the fields below: a column of the same name is left out, so the object has each name once. */
    private transient Set<String> fields;
    private transient ValueState<StoredRow> row;
    /** The objects of the rows below, by the path of their node and their row id ({@code users.orders/17}). */
    private transient MapState<String, StoredPart> below;
    private transient ValueState<BuildState> build;
    /** What the messages of the current batch changed. */
    private transient boolean changed;
    private transient boolean rowDeleted;
    /** The batch applied a snapshot read of the row: the root sends its document even if it came out the same. */
    private transient boolean snapshotRead;
    /**
     * This run's number: an object is skipped as unchanged only if this run sent the one it matches. After a restore,
     * what was sent after the checkpoint may not have reached Elasticsearch.
     */
    private transient long run;
    private transient long commitTime;

    public AssembleFunction(JoinedDocuments plan, int nodeId, long deleteMemoryMs) {
        this.plan = plan;
        this.nodeId = nodeId;
        this.deleteMemoryMs = deleteMemoryMs;
    }

    @Override
    JoinNode declared() {
        return plan.node(nodeId);
    }

    @Override
    void openState() {
        node = plan.node(nodeId);
        run = new java.util.Random().nextLong() | 1; // never 0, which no state holds before the first send
        fields = plan.fieldsBelow(node);
        row = getRuntimeContext().getState(new ValueStateDescriptor<>("row", TypeInformation.of(StoredRow.class)));
        below = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("below", Types.STRING, TypeInformation.of(StoredPart.class)));
        build = getRuntimeContext().getState(new ValueStateDescriptor<>("build", TypeInformation.of(BuildState.class)));
    }

    @Override
    void apply(JoinMessage message, Context ctx) throws Exception {
        switch (message.kind) {
            case ROW -> applyRow(message, ctx);
            case CHILD, PARENT, CHILD_GONE, PARENT_GONE -> {
                String from = pathOfSender(message);
                if (from == null) {
                    return;
                }
                String at = from + "/" + message.source;
                StoredPart stored = below.get(at);
                if (stored != null && stored.version > message.version) {
                    return; // older than what it replaces
                }
                if (message.kind == JoinMessage.Kind.CHILD || message.kind == JoinMessage.Kind.PARENT) {
                    below.put(at, StoredPart.of(message.source, message.delete ? null : message.body,
                            message.version));
                } else {
                    below.remove(at);
                }
                changed(message);
            }
            default -> throw new IllegalStateException("The assembly of " + node + " was sent " + message);
        }
    }

    private void applyRow(JoinMessage message, Context ctx) throws Exception {
        StoredRow stored = row.value();
        if (stored != null && !stored.olderThan(message.version, message.lsn)) {
            // A repeat, or older than the change that left the row so; it may still hold a column the newer change
            // left unchanged and took from an image older than this one.
            if (!message.delete && stored.live() && stored.filled != null && fillFromLater(stored, message)) {
                row.update(stored);
                changed(message);
            }
            return;
        }
        StoredRow next = new StoredRow();
        next.version = message.version;
        next.lsn = message.lsn;
        if (message.delete) {
            next.deleted = true;
            next.forgetAt = rememberDelete(deleteMemoryMs, ctx);
            rowDeleted = true;
        } else {
            next.image = message.body;
            if (message.unavailableColumns != null && message.unavailableColumns.length > 0) {
                fill(next, message.unavailableColumns, stored != null && stored.live() ? stored : null);
            }
        }
        row.update(next);
        snapshotRead |= message.snapshotRead;
        changed(message);
    }

    // Takes the columns the change left unchanged from the row kept, noting which change each came from.
    private static void fill(StoredRow next, String[] columns, StoredRow previous) {
        ObjectNode image = (ObjectNode) ForeignKeys.read(next.image);
        JsonNode earlier = previous == null ? null : ForeignKeys.read(previous.image);
        int n = columns.length;
        next.filled = Arrays.copyOf(columns, n);
        next.filledVersion = new long[n];
        next.filledLsn = new long[n];
        for (int i = 0; i < n; i++) {
            JsonNode value = earlier == null ? null : earlier.get(columns[i]);
            int from = previous == null ? -1 : previous.filledIndex(columns[i]);
            if (value != null) {
                image.set(columns[i], value);
                next.filledVersion[i] = from >= 0 ? previous.filledVersion[from] : previous.version;
                next.filledLsn[i] = from >= 0 ? previous.filledLsn[from] : previous.lsn;
            } else {
                next.filledVersion[i] = Long.MIN_VALUE; // not known yet: any change that carries it sets it
                next.filledLsn[i] = Long.MIN_VALUE;
            }
        }
        next.image = DebeziumDecoder.toJson(image);
    }

    // Sets, from an older change, the filled columns it carries and is newer for; true when one was set.
    private static boolean fillFromLater(StoredRow stored, JoinMessage older) {
        JsonNode carried = ForeignKeys.read(older.body);
        ObjectNode image = null;
        for (int i = 0; i < stored.filled.length; i++) {
            String column = stored.filled[i];
            JsonNode value = carried.get(column);
            boolean newer = older.version > stored.filledVersion[i]
                    || (older.version == stored.filledVersion[i] && older.lsn > stored.filledLsn[i]);
            if (value == null || !newer || contains(older.unavailableColumns, column)) {
                continue;
            }
            if (image == null) {
                image = (ObjectNode) ForeignKeys.read(stored.image);
            }
            image.set(column, value);
            stored.filledVersion[i] = older.version;
            stored.filledLsn[i] = older.lsn;
        }
        if (image == null) {
            return false;
        }
        stored.image = DebeziumDecoder.toJson(image);
        return true;
    }

    private void changed(JoinMessage message) throws Exception {
        BuildState state = build.value();
        if (state == null) {
            state = new BuildState();
        }
        state.version = Math.max(state.version, message.version);
        build.update(state);
        commitTime = Math.max(commitTime, message.commitTime);
        changed = true;
    }

    @Override
    void send(long after, Context ctx, Collector<JoinMessage> out) throws Exception {
        if (!changed) {
            return;
        }
        changed = false;
        boolean deletedNow = rowDeleted;
        rowDeleted = false;
        boolean read = snapshotRead;
        snapshotRead = false;
        long committed = commitTime;
        commitTime = 0;
        BuildState state = build.value();
        StoredRow stored = row.value();
        JsonNode image = stored != null && stored.live() ? ForeignKeys.read(stored.image) : null;
        String key = ctx.getCurrentKey();
        // A deleted row's are not built, but what is no longer below goes all the same.
        Map<String, List<StoredPart>> children = childrenByNode(image != null);
        byte[] body = image == null ? null : build(image, children);
        long hash = body == null ? 0 : hash(body);
        boolean same = state.sentRun == run && state.sentHash == hash;
        switch (node.relation) {
            case ROOT -> {
                if (body != null) {
                    if (!state.sent || !same || read) {
                        out.collect(message(JoinMessage.Kind.DOCUMENT, nodeId, key, after, state, body, committed));
                    }
                    state.sent = true;
                } else if (state.sent || deletedNow) {
                    JoinMessage delete = message(JoinMessage.Kind.DOCUMENT, nodeId, key, after, state, null, committed);
                    delete.delete = true;
                    out.collect(delete);
                    state.sent = false;
                }
            }
            case CHILDREN -> {
                String holder = image == null ? null : ForeignKeys.of(image, node.foreignKey);
                if (state.sentTo != null && !state.sentTo.equals(holder)) {
                    JoinMessage gone = message(JoinMessage.Kind.CHILD_GONE, node.holder, state.sentTo, after, state,
                            null, committed);
                    gone.source = key;
                    gone.from = nodeId;
                    out.collect(gone);
                }
                if (holder != null && (!holder.equals(state.sentTo) || !same)) {
                    JoinMessage child = message(JoinMessage.Kind.CHILD, node.holder, holder, after, state, body,
                            committed);
                    child.source = key;
                    child.from = nodeId;
                    out.collect(child);
                }
                state.sentTo = holder;
            }
            case PARENT -> {
                if (body != null ? !state.sent || !same : state.sent) {
                    JoinMessage value = message(JoinMessage.Kind.PARENT_VALUE, nodeId, key, after, state, body,
                            committed);
                    value.delete = body == null;
                    out.collect(value);
                }
                state.sent = body != null;
            }
        }
        state.sentHash = hash;
        state.sentRun = run;
        if (below.isEmpty()) {
            below.clear(); // removing through the iterator leaves the empty map in the state backend
        }
        // A deleted row's entry stays while its delete is remembered; the expiry then clears the rest.
        if (stored == null && below.isEmpty() && state.sentTo == null && !state.sent) {
            build.clear(); // nothing left of the row: nothing kept
        } else {
            build.update(state);
        }
    }

    @Override
    void onProcessingTime(long timestamp, OnTimerContext ctx, Collector<JoinMessage> out) throws Exception {
        StoredRow stored = row.value();
        if (stored == null || stored.live() || !forgotten(stored.forgetAt, timestamp, ctx)) {
            return;
        }
        row.clear(); // the delete's memory is over; parents' objects are their fan-outs' to take back
        BuildState state = build.value();
        if (below.isEmpty() && (state == null || (state.sentTo == null && !state.sent))) {
            build.clear();
        }
    }

    @Override
    JoinMessage kept(JoinMessage copy) {
        if (copy.from >= 0 && copy.from < plan.nodes().size() && (copy.kind == JoinMessage.Kind.CHILD
                || copy.kind == JoinMessage.Kind.CHILD_GONE || copy.kind == JoinMessage.Kind.PARENT
                || copy.kind == JoinMessage.Kind.PARENT_GONE)) {
            copy.fromPath = plan.node(copy.from).path; // sent under this declaration: its number means this node
        }
        return copy;
    }

    /**
     * The path of the node below that sent the message, by which its object is kept; null (dropped) when this node no
     * longer has that one below: the declaration changed while the message waited in a savepoint. A message kept by a
     * job before b419796 has only numbers: dropped where this node was renumbered; a sender renumbered under an
     * unchanged holder cannot be told apart (documents.md: upgrade with the declaration unchanged first).
     */
    String pathOfSender(JoinMessage message) {
        String path = message.fromPath;
        if (path == null) {
            // Kept by a job before paths were kept: its numbers are those of the declaration it ran with, to be trusted
            // only if this node still has its number.
            if (message.node != nodeId || message.from < 0 || message.from >= plan.nodes().size()) {
                return null;
            }
            path = plan.node(message.from).path;
        }
        for (int id : node.below) {
            if (plan.node(id).path.equals(path)) {
                return path;
            }
        }
        return null;
    }

    /**
     * The objects kept from the nodes below, in one pass: those of each child node by its path, in the order of their
     * ids. Forgets on the way those of nodes no longer below (the declaration changed since they were kept): read by
     * nothing, they would keep a deleted row's entry alive, and come back should a node of that path be declared again.
     */
    private Map<String, List<StoredPart>> childrenByNode(boolean collect) throws Exception {
        if (below.isEmpty()) {
            return Map.of();
        }
        Map<String, List<StoredPart>> children = new HashMap<>();
        for (Iterator<Map.Entry<String, StoredPart>> it = below.iterator(); it.hasNext(); ) {
            Map.Entry<String, StoredPart> entry = it.next();
            JoinNode from = nodeBelowOf(entry.getKey());
            if (from == null) {
                it.remove();
            } else if (collect && from.relation == JoinNode.Relation.CHILDREN) {
                children.computeIfAbsent(from.path, path -> new ArrayList<>()).add(entry.getValue());
            }
        }
        for (List<StoredPart> parts : children.values()) {
            parts.sort((a, b) -> ForeignKeys.ID_ORDER.compare(a.key, b.key));
        }
        return children;
    }

    // The node below whose object is kept under this key ({@code users.orders/17}); null for none.
    private JoinNode nodeBelowOf(String at) {
        for (int id : node.below) {
            JoinNode next = plan.node(id);
            if (at.length() > next.path.length() && at.charAt(next.path.length()) == '/' && at.startsWith(next.path)) {
                return next;
            }
        }
        return null;
    }

    /**
     * The row's object: its columns (all, or those named, in their order; a column the row does not have is left out),
     * then the fields of the nodes below.
     */
    private byte[] build(JsonNode image, Map<String, List<StoredPart>> children) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (JsonGenerator json = DebeziumDecoder.mapper().getFactory().createGenerator(bytes)) {
            json.writeStartObject();
            if (node.columns == null) {
                for (Iterator<Map.Entry<String, JsonNode>> it = image.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> column = it.next();
                    if (!fields.contains(column.getKey())) {
                        json.writeFieldName(column.getKey());
                        json.writeTree(column.getValue());
                    }
                }
            } else {
                for (String column : node.columns) {
                    JsonNode value = image.get(column);
                    if (value != null) {
                        json.writeFieldName(column);
                        json.writeTree(value);
                    }
                }
            }
            for (int id : node.below) {
                JoinNode next = plan.node(id);
                json.writeFieldName(next.field);
                if (next.relation == JoinNode.Relation.CHILDREN) {
                    json.writeStartArray();
                    for (StoredPart child : children.getOrDefault(next.path, List.of())) {
                        json.writeRawValue(new String(child.body, StandardCharsets.UTF_8));
                    }
                    json.writeEndArray();
                } else {
                    String pointedTo = ForeignKeys.of(image, next.foreignKey);
                    StoredPart parent = pointedTo == null ? null : below.get(next.path + "/" + pointedTo);
                    if (parent == null || parent.body == null) {
                        json.writeNull();
                    } else {
                        json.writeRawValue(new String(parent.body, StandardCharsets.UTF_8));
                    }
                }
            }
            json.writeEndObject();
        }
        return bytes.toByteArray();
    }

    /** 64 bits of the object's SHA-256: whether it came out the same as the one last sent. */
    static long hash(byte[] body) {
        try {
            return ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(body)).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing", e);
        }
    }

    private static boolean contains(String[] names, String name) {
        if (names != null) {
            for (String each : names) {
                if (each.equals(name)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static JoinMessage message(JoinMessage.Kind kind, int node, String key, long after, BuildState state,
            byte[] body, long commitTime) {
        JoinMessage message = JoinMessage.of(kind, node, key, after);
        message.version = state.version;
        message.lsn = ++state.builds;
        message.body = body;
        message.commitTime = commitTime;
        return message;
    }
}
