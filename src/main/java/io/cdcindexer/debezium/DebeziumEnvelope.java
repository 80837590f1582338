package io.cdcindexer.debezium;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A decoded Debezium change event: the op, the row before and after (values already converted to Elasticsearch-friendly
 * JSON; in {@code before}, a value that could not be converted stays as Debezium wrote it, unless it is a delete's key
 * column), the source block and the transaction block. A tombstone has op {@link Op#TOMBSTONE} and nothing else but its key.
 *
 * @param key the primary key columns (converted), or null for a tombstone whose key could not be read
 * @param unavailableColumns columns of {@code after} that carried Debezium's unavailable-value placeholder; they are
 *     removed from {@code after}
 * @param rowSchema the Connect schema of the row ({@code after}'s struct schema), one instance per schema as the
 *     decoder caches it; null when the record came without a schema
 * @param document the row as the document Elasticsearch receives, when a decoder made for the job wrote it straight
 *     from the record ({@link DebeziumDecoder#writingDocuments}); {@code after} is then null. Null otherwise.
 */
public record DebeziumEnvelope(
        Op op,
        ObjectNode key,
        ObjectNode before,
        ObjectNode after,
        Source source,
        Transaction transaction,
        Long tsMs,
        List<String> unavailableColumns,
        JsonNode rowSchema,
        byte[] document) {

    /** Debezium's op codes, plus the tombstone that follows a delete. */
    public enum Op {
        CREATE("c"),
        READ("r"),
        UPDATE("u"),
        DELETE("d"),
        TOMBSTONE(null);

        public final String code;

        Op(String code) {
            this.code = code;
        }

        /** The op for a code, or null when it is not one the job indexes (e.g. t for truncate, m for message). */
        public static Op of(String code) {
            switch (code) {
                case "c": return CREATE;
                case "r": return READ;
                case "u": return UPDATE;
                case "d": return DELETE;
                default: return null;
            }
        }
    }

    /**
     * The {@code source} block.
     *
     * @param snapshot "true", "first", "last", "incremental" for snapshot reads; "false" or null when streaming
     */
    public record Source(String db, String schema, String table, Long lsn, Long txId, Long tsMs, String snapshot) {

        /** The data collection name Debezium uses in transaction metadata: {@code schema.table}. */
        public String dataCollection() {
            return schema + "." + table;
        }

        public boolean isSnapshot() {
            return snapshot != null && !snapshot.equals("false");
        }
    }

    /**
     * The {@code transaction} block of a data event.
     *
     * @param id Debezium's id, {@code txId:lsn}
     */
    public record Transaction(String id, long totalOrder, long dataCollectionOrder) {

        /** The txId part of the id: the part BEGIN, END and data events agree on. */
        public String transactionId() {
            return DebeziumDecoder.transactionIdOf(id);
        }
    }

    /** The row as the document Elasticsearch receives; null when there is no after image. */
    public byte[] documentBytes() {
        return document != null ? document : after == null ? null : DebeziumDecoder.toJson(after);
    }

    public boolean isTombstone() {
        return op == Op.TOMBSTONE;
    }
}
