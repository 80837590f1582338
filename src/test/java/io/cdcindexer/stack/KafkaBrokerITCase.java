package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaBrokerITCase {

    @TempDir
    static Path dir;

    static KafkaBroker kafka;

    @BeforeAll
    static void start() {
        kafka = KafkaBroker.start(dir, FreePorts.next());
    }

    @AfterAll
    static void stop() {
        if (kafka != null) {
            kafka.close();
            assertThat(kafka.process().isAlive()).isFalse();
        }
    }

    @Test
    void acceptsATopicAndARecord() throws Exception {
        Map<String, Object> common = Map.of("bootstrap.servers", kafka.bootstrapServers());
        try (Admin admin = Admin.create(common)) {
            admin.createTopics(List.of(new NewTopic("it.topic", 2, (short) 1))).all().get();
            assertThat(admin.listTopics().names().get()).contains("it.topic");
        }
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(common, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>("it.topic", "1", "hello")).get();
        }

        Map<String, Object> consumerConfig = Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "group.id", "it", "auto.offset.reset", "earliest");
        List<ConsumerRecord<String, String>> received = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(consumerConfig, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(Set.of("it.topic"));
            Instant deadline = Instant.now().plusSeconds(60);
            while (received.isEmpty() && Instant.now().isBefore(deadline)) {
                consumer.poll(Duration.ofMillis(500)).forEach(received::add);
            }
        }
        assertThat(received).singleElement().satisfies(record -> {
            assertThat(record.key()).isEqualTo("1");
            assertThat(record.value()).isEqualTo("hello");
        });
    }
}
