package io.cdcindexer.kafka;

import java.nio.charset.StandardCharsets;

/**
 * A record the pipeline could not index, with where it came from and why. The dead-letter topic keeps the bytes
 * exactly as they were, so nothing is lost and a fixed record can be replayed.
 */
public final class DeadLetter {

    /** Where in the pipeline the record was given up on. */
    public enum Stage {
        /** The Kafka record is not a Debezium change event the job understands. */
        DECODE,
        /** Elasticsearch refused the document for good (e.g. a mapping conflict). */
        ELASTICSEARCH
    }

    public Stage stage;
    public String reason;
    public String topic;
    public int partition;
    public long offset;
    public byte[] key;
    /** The original Kafka value for {@link Stage#DECODE}; the document Elasticsearch refused for {@link Stage#ELASTICSEARCH}. */
    public byte[] value;
    /** Target index and document id, for {@link Stage#ELASTICSEARCH}. */
    public String index;
    public String documentId;

    /** For Flink's POJO serializer. */
    public DeadLetter() {}

    /** A record that could not be decoded. */
    public static DeadLetter undecodable(KafkaRecord record, String reason) {
        DeadLetter letter = new DeadLetter();
        letter.stage = Stage.DECODE;
        letter.reason = reason;
        letter.topic = record.topic;
        letter.partition = record.partition;
        letter.offset = record.offset;
        letter.key = record.key;
        letter.value = record.value;
        return letter;
    }

    @Override
    public String toString() {
        return stage + " " + topic + "/" + partition + "@" + offset + " key=" + text(key) + ": " + reason;
    }

    private static String text(byte[] bytes) {
        return bytes == null ? "null" : new String(bytes, StandardCharsets.UTF_8);
    }
}
