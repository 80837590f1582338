package io.cdcindexer.debezium;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One row change, reduced to what indexing needs: which document, which action, at which WAL position, and the document
 * itself (already converted to JSON that Elasticsearch maps well). This is what flows from decoding to Elasticsearch.
 */
public final class ChangeEvent {

    /** What happens to the document. */
    public enum Action {
        /** Index the full document (Debezium ops c, r, u). */
        UPSERT,
        /** Delete the document (Debezium op d). */
        DELETE,
        /**
         * Nothing to write: the record went to the dead-letter queue. It still counts toward its transaction's END, so
         * the transaction's other changes need not wait for the timeout.
         */
        SKIP
    }

    public Action action;
    /** The Debezium op it came from: c, r, u or d. */
    public String op;
    public String topic;
    public int partition;
    public long offset;
    /** The data collection, {@code schema.table}, as Debezium names it in transaction metadata. */
    public String table;
    public String documentId;
    /**
     * The document's external version in Elasticsearch: the commit position of the change's transaction when its END
     * event gave one, else the change's own WAL position ({@link #lsn}). Changes of one row are ordered by
     * {@code (version, lsn)}: see {@link #isNewerThan}.
     */
    public long version;
    /**
     * The change's own position in the WAL ({@code source.lsn}). Within one transaction, where every change shares the
     * commit position as version, it orders the changes of a row.
     */
    public long lsn;
    /** The row after the change as JSON, for {@link Action#UPSERT}; null for deletes. */
    public byte[] document;
    /**
     * Columns whose value Debezium did not have (unchanged TOASTed values). They are left out of {@link #document} and
     * must keep their current value in Elasticsearch. Null when there are none.
     */
    public String[] unavailableColumns;
    /** The transaction id (the txId part of Debezium's {@code transaction.id}); null without transaction metadata. */
    public String transactionId;
    /**
     * It left a transaction that was flushed before it was complete (at its timeout, or early because it held too many
     * changes), so another change of its row may follow with the same version: the job remembers its version to order
     * them.
     */
    public boolean partial;
    /**
     * The Kafka timestamp of the record the change came in (when Connect wrote it). It orders the change against the
     * watermark even where the stream timestamp is gone (a transaction flushed at its timeout leaves from a timer).
     */
    public long kafkaTime;
    /**
     * When the change was made in PostgreSQL, epoch ms: Debezium's {@code source.ts_ms}, the commit time of its
     * transaction (for a snapshot read, the time it was read). The writer measures commit → acknowledged from it. 0 when
     * the event carried none.
     */
    public long commitTime;
    /**
     * The Connect schema of the row (one instance per schema, as the decoder caches it), for the index mapping. Not
     * serialized: it is there only in the chain right after decoding, where the mapping is made.
     */
    public transient JsonNode rowSchema;
    /**
     * Debezium's {@code source.snapshot}: {@code true}, {@code first}, {@code last}, ... for a snapshot's reads,
     * {@code false} or null when streaming. Not serialized, as {@link #rowSchema}: the index-mapping step, chained right
     * after decoding, reads it to fill a new index with bulk-loading settings.
     */
    public transient String snapshot;
    /** The original Kafka key, kept for the dead-letter queue. */
    public byte[] key;
    /**
     * The physical Elasticsearch indices to write, as the index-mapping step resolved the table's alias: its index, and
     * during a reindex the next one as well. Null when the job does not manage the indices (the index name template is
     * then written as it is).
     */
    public String[] indices;

    /**
     * Set only on the stand-in that carries a transaction's END event to the collapse, in the stream of the changes:
     * one input, so that at parallelism 1 the collapse runs in the decoder's task. Its {@link #transactionId} is the
     * END's, so that it is keyed as the transaction's changes are; its other fields are unset. The collapse consumes
     * it: no stage after it sees one. Transient, as it is never held in state; the streams' serializer writes it.
     */
    public transient TransactionEnd end;

    /** For Flink's POJO serializer. */
    public ChangeEvent() {}

    /** The stand-in that carries a transaction's END event to the collapse ({@link #end}). */
    public static ChangeEvent endOf(TransactionEnd end) {
        ChangeEvent e = new ChangeEvent();
        e.transactionId = end.transactionId;
        e.end = end;
        return e;
    }

    /** Whether this is the stand-in for a transaction's END event, not a change. */
    public boolean isTransactionEnd() {
        return end != null;
    }

    /** Identifies the document across tables: topic and id (a topic name never contains '/'). */
    public String documentKey() {
        return topic + '/' + documentId;
    }

    /**
     * Whether this change is newer than a change of the same row written with the given version and WAL position: the
     * order is by version (commit position), then by the change's own position, which tells two changes of one
     * transaction apart.
     */
    public boolean isNewerThan(long otherVersion, long otherLsn) {
        return version > otherVersion || (version == otherVersion && lsn > otherLsn);
    }

    /**
     * The one change that stands for {@code older} followed by {@code newer} (same row, newer later in the WAL): the
     * newer change, with the columns it lacks (unchanged TOASTed values) taken from the older image.
     */
    public static ChangeEvent collapse(ChangeEvent older, ChangeEvent newer) {
        if (newer.action != Action.UPSERT || older.action != Action.UPSERT) {
            return newer;
        }
        return newer.withUnavailableColumnsFrom(older.document);
    }

    public boolean hasUnavailableColumns() {
        return unavailableColumns != null && unavailableColumns.length > 0;
    }

    /**
     * This change with its unavailable columns taken from an earlier image of the row (an earlier change of the same
     * transaction, or the document stored in Elasticsearch). Columns the earlier image lacks stay unavailable.
     */
    public ChangeEvent withUnavailableColumnsFrom(byte[] earlierDocument) {
        if (!hasUnavailableColumns() || earlierDocument == null) {
            return this;
        }
        try {
            JsonNode earlier = DebeziumDecoder.mapper().readTree(earlierDocument);
            ObjectNode merged = (ObjectNode) DebeziumDecoder.mapper().readTree(document);
            List<String> stillUnavailable = new ArrayList<>();
            for (String column : unavailableColumns) {
                JsonNode value = earlier.get(column);
                if (value != null) {
                    merged.set(column, value);
                } else {
                    stillUnavailable.add(column);
                }
            }
            ChangeEvent filled = copy();
            filled.document = DebeziumDecoder.toJson(merged);
            filled.unavailableColumns = stillUnavailable.isEmpty() ? null : stillUnavailable.toArray(String[]::new);
            return filled;
        } catch (IOException e) {
            throw new UncheckedIOException("A document could not be read back", e);
        }
    }

    /** A shallow copy, so that state and output never share a mutable instance. */
    public ChangeEvent copy() {
        ChangeEvent c = new ChangeEvent();
        c.action = action;
        c.op = op;
        c.topic = topic;
        c.partition = partition;
        c.offset = offset;
        c.table = table;
        c.documentId = documentId;
        c.version = version;
        c.lsn = lsn;
        c.document = document;
        c.unavailableColumns = unavailableColumns;
        c.transactionId = transactionId;
        c.partial = partial;
        c.kafkaTime = kafkaTime;
        c.commitTime = commitTime;
        c.key = key;
        c.indices = indices;
        c.end = end;
        return c;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ChangeEvent e)) {
            return false;
        }
        return partition == e.partition && offset == e.offset && version == e.version && lsn == e.lsn && action == e.action
                && Objects.equals(op, e.op) && Objects.equals(topic, e.topic) && Objects.equals(table, e.table)
                && Objects.equals(documentId, e.documentId) && Arrays.equals(document, e.document)
                && Arrays.equals(unavailableColumns, e.unavailableColumns)
                && Objects.equals(transactionId, e.transactionId) && partial == e.partial && Arrays.equals(key, e.key)
                && Arrays.equals(indices, e.indices) && Objects.equals(end, e.end);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, documentId, version);
    }

    /** Readable form, used by tests to compare outputs as strings. */
    @Override
    public String toString() {
        if (end != null) {
            return end.toString();
        }
        StringBuilder s = new StringBuilder().append(action).append(' ').append(topic).append('/').append(documentId)
                .append(" v").append(version);
        if (lsn != version) {
            s.append(" lsn").append(lsn);
        }
        if (document != null) {
            s.append(' ').append(new String(document, StandardCharsets.UTF_8));
        }
        if (hasUnavailableColumns()) {
            s.append(" unavailable=").append(Arrays.toString(unavailableColumns));
        }
        if (indices != null) {
            s.append(" → ").append(String.join(",", indices));
        }
        return s.toString();
    }
}
