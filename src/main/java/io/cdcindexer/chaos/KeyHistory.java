package io.cdcindexer.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.debezium.DebeziumEnvelope;
import io.cdcindexer.debezium.DocumentIds;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * What Kafka holds for the rows that verify found wrong: every record of each row, with its Kafka time, op, WAL
 * position, transaction, unavailable columns and values (long ones cut short), and the END event of each of those
 * transactions. A failed chaos run prints it, so that a lost or stale change can be traced without rerunning.
 */
final class KeyHistory {

    private static final DebeziumDecoder DECODER = new DebeziumDecoder("__debezium_unavailable_value");

    private KeyHistory() {}

    /**
     * @param bootstrapServers Kafka
     * @param prefix the connector's topic prefix ({@code cdc})
     * @param idsByTable document ids by table ({@code chaos_documents} → ids)
     */
    static String of(String bootstrapServers, String prefix, Map<String, Set<String>> idsByTable) {
        StringBuilder out = new StringBuilder();
        Set<String> transactions = new HashSet<>();
        for (Map.Entry<String, Set<String>> table : idsByTable.entrySet()) {
            String topic = prefix + ".public." + table.getKey();
            for (ConsumerRecord<byte[], byte[]> record : readAll(bootstrapServers, topic)) {
                try {
                    DebeziumEnvelope envelope = DECODER.decode(topic, record.key(), record.value());
                    if (envelope.key() == null || !table.getValue().contains(DocumentIds.of(envelope.key()))) {
                        continue;
                    }
                    if (envelope.transaction() != null) {
                        transactions.add(envelope.transaction().id());
                    }
                    out.append(String.format("  %s/%s p%d@%d %s %s lsn=%s tx=%s%s %s%n", table.getKey(),
                            DocumentIds.of(envelope.key()), record.partition(), record.offset(),
                            Instant.ofEpochMilli(record.timestamp()), envelope.op(),
                            envelope.source() == null ? "?" : envelope.source().lsn(),
                            envelope.transaction() == null ? "-" : envelope.transaction().id(),
                            envelope.unavailableColumns().isEmpty() ? ""
                                    : " unavailable=" + envelope.unavailableColumns(),
                            shortened(envelope.after())));
                } catch (Exception e) {
                    out.append("  ").append(topic).append(" p").append(record.partition()).append('@')
                            .append(record.offset()).append(": ").append(e.getMessage()).append('\n');
                }
            }
        }
        for (ConsumerRecord<byte[], byte[]> record : readAll(bootstrapServers, prefix + ".transaction")) {
            try {
                JsonNode event = DebeziumDecoder.mapper().readTree(record.value()).path("payload");
                if (transactions.contains(event.path("id").asText()) && "END".equals(event.path("status").asText())) {
                    out.append(String.format("  END %s p%d@%d %s %s%n", event.path("id").asText(), record.partition(),
                            record.offset(), Instant.ofEpochMilli(record.timestamp()), event.path("data_collections")));
                }
            } catch (Exception e) {
                // not an event of interest
            }
        }
        return out.toString();
    }

    private static String shortened(ObjectNode after) {
        if (after == null) {
            return "(no after)";
        }
        ObjectNode copy = after.deepCopy();
        after.fields().forEachRemaining(field -> {
            if (field.getValue().isTextual() && field.getValue().textValue().length() > 24) {
                copy.put(field.getKey(), field.getValue().textValue().substring(0, 12) + "…");
            }
        });
        return copy.toString();
    }

    private static List<ConsumerRecord<byte[], byte[]>> readAll(String bootstrapServers, String topic) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "cdc-chaos-key-history");
        props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(16 * 1024 * 1024));
        props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(info -> new TopicPartition(topic, info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!atEnd(consumer, ends.keySet(), ends) && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(records::add);
            }
        }
        return records;
    }

    private static boolean atEnd(KafkaConsumer<?, ?> consumer, Collection<TopicPartition> partitions,
            Map<TopicPartition, Long> ends) {
        for (TopicPartition partition : partitions) {
            if (consumer.position(partition) < ends.get(partition)) {
                return false;
            }
        }
        return true;
    }
}
