package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.ChangeEvent;

/**
 * Bulk loading while a table's initial snapshot first fills its index: no refresh (the shipped overrides refresh every
 * second, which makes a small segment to merge each time). The index is made with its usual settings; when the change
 * that made it is a snapshot read, the refresh interval in force (the overrides', a template's, or none) is recorded in
 * the mapping's {@code _meta}, then refresh is turned off. The recorded interval is put back when the table's snapshot
 * is over ({@link #endsTable}), when the whole snapshot is ({@link #endsSnapshot}), or when nothing has been indexed into
 * the index for a while. The record survives restarts, and any subtask puts it back.
 *
 * <p>Replicas are left as they are: with none, a node lost during the load would lose documents whose Kafka offsets the
 * job has already checkpointed past. Documents are complete either way; refresh only decides when searches see them (a
 * {@code GET} by id sees them at once).
 */
public final class InitialLoad {

    /** The key in the mapping's {@code _meta.cdc-indexer} that holds the settings to put back. */
    static final String RECORD = "initialLoad";

    private static final String REFRESH = "index.refresh_interval";
    private static final String ENDED_AT = "endedAt";

    private InitialLoad() {}

    /**
     * A read of an initial or blocking snapshot: Debezium marks them {@code true}, {@code first}, {@code last} and
     * their {@code _in_data_collection} forms. The reads of an incremental snapshot interleave with streaming changes,
     * and are left out.
     */
    static boolean isSnapshotRead(ChangeEvent change) {
        return "r".equals(change.op) && change.snapshot != null && !change.snapshot.equals("false")
                && !change.snapshot.equals("incremental");
    }

    /** The change says its table's initial load is over: the table's last snapshot read, or any other change. */
    static boolean endsTable(ChangeEvent change) {
        return !isSnapshotRead(change) || change.snapshot.equals("last")
                || change.snapshot.equals("last_in_data_collection");
    }

    /**
     * The snapshot's very last read: every table's load is over, also that of a table whose own last read was not
     * marked so (Debezium's marker code can mark the snapshot's first row {@code first} instead).
     */
    static boolean endsSnapshot(ChangeEvent change) {
        return "r".equals(change.op) && "last".equals(change.snapshot);
    }

    /**
     * What to record for an index about to load, from its settings ({@code GET <index>/_settings?flat_settings=true}):
     * its refresh interval ({@code null}: Elasticsearch's default). Null when refresh is off already.
     */
    static ObjectNode record(JsonNode settingsAnswer) {
        if (refreshOff(settingsAnswer, null)) {
            return null;
        }
        JsonNode refresh = settingsAnswer.elements().hasNext()
                ? settingsAnswer.elements().next().path("settings").get(REFRESH) : null;
        ObjectNode record = JsonNodeFactory.instance.objectNode();
        record.set(REFRESH, refresh); // null is written as null: the default
        return record;
    }

    /**
     * Whether refresh is off ({@code -1}) for {@code index} in a flat-settings answer
     * ({@code GET <indices>/_settings?flat_settings=true}); {@code index} null: the answer's only index.
     */
    static boolean refreshOff(JsonNode settingsAnswer, String index) {
        JsonNode settings = index != null ? settingsAnswer.path(index)
                : settingsAnswer.elements().hasNext() ? settingsAnswer.elements().next() : MissingNode.getInstance();
        return settings.path("settings").path(REFRESH).asText("").equals("-1");
    }

    /** The settings while loading. */
    static ObjectNode loadingSettings() {
        return JsonNodeFactory.instance.objectNode().put(REFRESH, "-1");
    }

    /** The mapping update that adds the record to the index's {@code _meta}, keeping the rest of it. */
    static ObjectNode withRecord(JsonNode mapping, ObjectNode record) {
        ObjectNode update = metaUpdate(mapping);
        ((ObjectNode) update.path("_meta").path(IndexMappingFunction.META)).set(RECORD, record);
        return update;
    }

    /**
     * The record of a load under way, from an index's mapping (or get-mapping answer): the settings to put back; null
     * when there is none, or the load has ended.
     */
    public static ObjectNode settingsToRestore(JsonNode mapping) {
        ObjectNode record = anyRecord(mapping);
        return record == null || record.has(ENDED_AT) ? null : record;
    }

    /**
     * The record, under way or ended: an ended load keeps it for a while ({@link IndexMappingFunction}), so that a
     * subtask that turned refresh off just as another ended the load still finds what to put back.
     */
    public static ObjectNode anyRecord(JsonNode mapping) {
        JsonNode record = IndexMapping.mappingsOf(mapping).path("_meta").path(IndexMappingFunction.META).path(RECORD);
        return record.isObject() ? (ObjectNode) record : null;
    }

    /** When the load ended (processing time, ms), or -1 while it is under way. */
    static long endedAt(ObjectNode record) {
        return record.path(ENDED_AT).asLong(-1);
    }

    /** The settings a record puts back. */
    static ObjectNode settings(ObjectNode record) {
        ObjectNode settings = record.deepCopy();
        settings.remove(ENDED_AT);
        return settings;
    }

    /** The mapping update that marks the load ended at {@code time}, keeping the record a while. */
    static ObjectNode ended(JsonNode mapping, ObjectNode record, long time) {
        return withRecord(mapping, settings(record).put(ENDED_AT, time));
    }

    /** The mapping update that removes the record, keeping the rest of the index's {@code _meta}. */
    static ObjectNode withoutRecord(JsonNode mapping) {
        ObjectNode update = metaUpdate(mapping);
        ((ObjectNode) update.path("_meta").path(IndexMappingFunction.META)).remove(RECORD);
        return update;
    }

    // Elasticsearch replaces an index's _meta as a whole when a mapping update carries one.
    private static ObjectNode metaUpdate(JsonNode mapping) {
        JsonNode meta = IndexMapping.mappingsOf(mapping).path("_meta");
        ObjectNode update = JsonNodeFactory.instance.objectNode();
        ObjectNode copy = update.putObject("_meta");
        if (meta.isObject()) {
            copy.setAll((ObjectNode) meta.deepCopy());
        }
        if (!copy.path(IndexMappingFunction.META).isObject()) {
            copy.putObject(IndexMappingFunction.META);
        }
        return update;
    }
}
