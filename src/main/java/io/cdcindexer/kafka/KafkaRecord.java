package io.cdcindexer.kafka;

import java.util.Arrays;
import java.util.Objects;

/** A Kafka record as read, bytes untouched, with its coordinates: what the Debezium adapter decodes. */
public final class KafkaRecord implements java.io.Serializable {

    private static final long serialVersionUID = 1L;

    public String topic;
    public int partition;
    public long offset;
    public long timestamp;
    public byte[] key;
    public byte[] value;

    /** For Flink's POJO serializer. */
    public KafkaRecord() {}

    public KafkaRecord(String topic, int partition, long offset, long timestamp, byte[] key, byte[] value) {
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
        this.timestamp = timestamp;
        this.key = key;
        this.value = value;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof KafkaRecord other)) {
            return false;
        }
        return partition == other.partition && offset == other.offset && timestamp == other.timestamp
                && Objects.equals(topic, other.topic) && Arrays.equals(key, other.key) && Arrays.equals(value, other.value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, partition, offset);
    }

    @Override
    public String toString() {
        return topic + "/" + partition + "@" + offset;
    }
}
