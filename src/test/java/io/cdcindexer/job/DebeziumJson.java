package io.cdcindexer.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.kafka.KafkaRecord;
import java.nio.charset.StandardCharsets;

/** Writes Debezium change events (schemas disabled) as Kafka records, for topology tests. */
final class DebeziumJson {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private DebeziumJson() {}

    /**
     * A change of {@code public.<table>} row {@code id}.
     *
     * @param op c, r, u or d
     * @param tx the transaction id, or null for none
     * @param columns alternating names and values of the other columns
     */
    static KafkaRecord change(String table, String op, int id, long lsn, String tx, Object... columns) {
        ObjectNode value = MAPPER.createObjectNode();
        ObjectNode row = MAPPER.createObjectNode().put("id", id);
        for (int i = 0; i < columns.length; i += 2) {
            row.putPOJO((String) columns[i], columns[i + 1]);
        }
        value.set("before", op.equals("d") ? row : null);
        value.set("after", op.equals("d") ? null : row);
        value.putObject("source").put("db", "testdb").put("schema", "public").put("table", table).put("lsn", lsn)
                .put("snapshot", op.equals("r") ? "true" : "false");
        if (tx != null) {
            value.putObject("transaction").put("id", tx + ":" + lsn).put("total_order", 1).put("data_collection_order", 1);
        } else {
            value.putNull("transaction");
        }
        value.put("op", op);
        return record("cdc.public." + table, key(id), value.toString());
    }

    static KafkaRecord tombstone(String table, int id) {
        return record("cdc.public." + table, key(id), null);
    }

    /**
     * The END event of a transaction committed at WAL position {@code commitLsn} (after its changes), with alternating
     * table names and event counts.
     */
    static KafkaRecord end(String tx, long commitLsn, Object... tablesAndCounts) {
        ObjectNode value = MAPPER.createObjectNode().put("status", "END").put("id", tx + ":" + commitLsn);
        ArrayNode collections = value.putArray("data_collections");
        long total = 0;
        for (int i = 0; i < tablesAndCounts.length; i += 2) {
            long count = ((Number) tablesAndCounts[i + 1]).longValue();
            collections.addObject().put("data_collection", "public." + tablesAndCounts[i]).put("event_count", count);
            total += count;
        }
        value.put("event_count", total);
        return record("cdc.transaction", "{\"id\":\"" + tx + ":" + commitLsn + "\"}", value.toString());
    }

    /** The record, with the Kafka timestamp {@code timestamp} (when Connect wrote it). */
    static KafkaRecord at(long timestamp, KafkaRecord record) {
        return new KafkaRecord(record.topic, record.partition, record.offset, timestamp, record.key, record.value);
    }

    static KafkaRecord raw(String topic, String key, String value) {
        return record(topic, key, value);
    }

    private static String key(int id) {
        return "{\"id\":" + id + "}";
    }

    private static KafkaRecord record(String topic, String key, String value) {
        return new KafkaRecord(topic, 0, 0, 0, key == null ? null : key.getBytes(StandardCharsets.UTF_8),
                value == null ? null : value.getBytes(StandardCharsets.UTF_8));
    }
}
