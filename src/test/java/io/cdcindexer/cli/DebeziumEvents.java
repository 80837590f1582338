package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.Base64;

/**
 * Test fixture: hand-made records shaped like Debezium 3.6's PostgreSQL events through Kafka Connect's JsonConverter,
 * for the {@code orders} table (id int4, user_id int4, amount NUMERIC(10,2), status text), with or without the schema
 * envelope.
 */
final class DebeziumEvents {

    private DebeziumEvents() {}

    static String key(int id, boolean withSchema) {
        ObjectNode payload = Json.object().put("id", id);
        if (!withSchema) {
            return Json.compact(payload);
        }
        ObjectNode schema = Json.object().put("type", "struct").put("optional", false)
                .put("name", "cdc.public.orders.Key");
        schema.putArray("fields").add(field("id", "int32", false));
        return envelope(schema, payload);
    }

    /** A data change; before or after may be null. Amounts travel as Connect Decimals (base64) with a schema. */
    static String change(String op, Order before, Order after, long txId, boolean withSchema) {
        ObjectNode source = Json.object().put("version", "3.6.1.Final").put("connector", "postgresql")
                .put("name", "cdc").put("db", "testdb").put("schema", "public").put("table", "orders")
                .put("txId", txId).put("lsn", 22023408L).put("snapshot", op.equals("r") ? "true" : "false");
        ObjectNode payload = Json.object();
        payload.set("before", before == null ? Json.MAPPER.nullNode() : before.json(withSchema));
        payload.set("after", after == null ? Json.MAPPER.nullNode() : after.json(withSchema));
        payload.set("source", source);
        payload.put("op", op).put("ts_ms", 1_732_700_000_000L);
        if (op.equals("r")) {
            payload.putNull("transaction");
        } else {
            payload.putObject("transaction").put("id", txId + ":22023448").put("total_order", 1)
                    .put("data_collection_order", 1);
        }
        if (!withSchema) {
            return Json.compact(payload);
        }
        ObjectNode schema = Json.object().put("type", "struct").put("optional", false)
                .put("name", "cdc.public.orders.Envelope");
        ArrayNode fields = schema.putArray("fields");
        fields.add(rowSchema("before"));
        fields.add(rowSchema("after"));
        fields.add(field("source", "struct", false));
        fields.add(field("op", "string", false));
        fields.add(field("ts_ms", "int64", true));
        fields.add(field("transaction", "struct", true));
        return envelope(schema, payload);
    }

    static String begin(long txId) {
        return "{\"status\":\"BEGIN\",\"id\":\"" + txId + ":22023448\",\"event_count\":null,\"data_collections\":null,"
                + "\"ts_ms\":1732700000000}";
    }

    static String end(long txId, int orders) {
        return "{\"status\":\"END\",\"id\":\"" + txId + ":22023792\",\"event_count\":" + orders + ",\"data_collections\":"
                + "[{\"data_collection\":\"public.orders\",\"event_count\":" + orders + "}],\"ts_ms\":1732700000000}";
    }

    /** A row of orders. */
    record Order(int id, int userId, String amount, String status) {
        ObjectNode json(boolean withSchema) {
            ObjectNode row = Json.object().put("id", id).put("user_id", userId);
            if (withSchema) {
                row.put("amount", Base64.getEncoder().encodeToString(
                        new BigDecimal(amount).unscaledValue().toByteArray()));
            } else {
                row.put("amount", new BigDecimal(amount));
            }
            return row.put("status", status);
        }
    }

    private static ObjectNode rowSchema(String name) {
        ObjectNode schema = field(name, "struct", true).put("name", "cdc.public.orders.Value");
        ArrayNode fields = schema.putArray("fields");
        fields.add(field("id", "int32", false));
        fields.add(field("user_id", "int32", false));
        ObjectNode amount = field("amount", "bytes", false).put("name", "org.apache.kafka.connect.data.Decimal")
                .put("version", 1);
        amount.putObject("parameters").put("scale", "2").put("connect.decimal.precision", "10");
        fields.add(amount);
        fields.add(field("status", "string", false));
        return schema;
    }

    private static ObjectNode field(String name, String type, boolean optional) {
        return Json.object().put("type", type).put("optional", optional).put("field", name);
    }

    private static String envelope(JsonNode schema, JsonNode payload) {
        ObjectNode message = Json.object();
        message.set("schema", schema);
        message.set("payload", payload);
        return Json.compact(message);
    }
}
