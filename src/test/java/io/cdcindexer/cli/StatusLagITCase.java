package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.kafka.TestProducers;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.PostgresServer;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The samples {@code ./cdc status} judges lag by, taken from a real PostgreSQL and a real Kafka broker. */
@ExtendWith(SharedServices.class)
class StatusLagITCase {

    static PostgresServer postgres;
    static KafkaBroker kafka;

    @BeforeAll
    static void start(PostgresServer postgresServer, KafkaBroker broker) {
        postgres = postgresServer;
        kafka = broker;
    }

    @Test
    void anInactiveSlotWhileRowsAreWrittenIsSeenFallingBehind() throws Exception {
        String database = SharedServices.createDatabase(postgres, "cli_status_slot");
        try (Connection db = SharedServices.connect(postgres, database); Statement statement = db.createStatement()) {
            statement.execute("CREATE TABLE t (id int PRIMARY KEY, body text)");
            statement.execute("SELECT pg_create_logical_replication_slot('status_it', 'pgoutput')");
            try {
                Optional<SlotLag.Sample> first = SlotLag.sample(db, "status_it");
                statement.execute("INSERT INTO t SELECT i, repeat('x', 100) FROM generate_series(1, 1000) i");
                Optional<SlotLag.Sample> second = SlotLag.sample(db, "status_it");

                assertThat(first).hasValueSatisfying(slot -> {
                    assertThat(slot.active()).isFalse();
                    assertThat(slot.plugin()).isEqualTo("pgoutput");
                    assertThat(slot.walStatus()).isEqualTo("reserved");
                });
                assertThat(second.get().behindBytes()).as("1,000 rows of 100 bytes in the WAL")
                        .isGreaterThan(first.get().behindBytes() + 100_000);
                assertThat(second.get().walPosition() - first.get().walPosition())
                        .isEqualTo(second.get().behindBytes() - first.get().behindBytes());
                StatusCommand.Seen seen = SlotLag.judge(first.get(), second.get());
                assertThat(seen.healthy()).isFalse();
                assertThat(seen.detail()).startsWith("inactive, pgoutput, ").contains("and the WAL grows");
                assertThat(SlotLag.sample(db, "no_such_slot")).isEmpty();
            } finally {
                statement.execute("SELECT pg_drop_replication_slot('status_it')");
            }
        }
    }

    @Test
    void consumerLagIsTheEndOffsetsMinusTheGroupsCommittedOffsets() throws Exception {
        Properties properties = new Properties();
        properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        try (Admin admin = Admin.create(properties)) {
            admin.createTopics(List.of(new NewTopic("status.lag", 2, (short) 1))).all().get(30, TimeUnit.SECONDS);
            try (KafkaProducer<String, String> producer = TestProducers.strings(kafka.bootstrapServers())) {
                for (int i = 0; i < 100; i++) {
                    producer.send(new ProducerRecord<>("status.lag", i % 2, null, "change " + i));
                }
            }
            TopicPartition p0 = new TopicPartition("status.lag", 0);
            TopicPartition p1 = new TopicPartition("status.lag", 1);
            // As the job's source commits on a checkpoint: 40 of partition 0 read, 50 of partition 1.
            admin.alterConsumerGroupOffsets("status-lag-group",
                    Map.of(p0, new OffsetAndMetadata(40), p1, new OffsetAndMetadata(50))).all().get(30, TimeUnit.SECONDS);

            ConsumerLag.Sample sample = ConsumerLag.sample(admin, "status-lag-group", 10);

            assertThat(sample.end()).isEqualTo(Map.of(p0, 50L, p1, 50L));
            assertThat(sample.committed()).isEqualTo(Map.of(p0, 40L, p1, 50L));
            assertThat(sample.lag()).isEqualTo(10);
            assertThat(ConsumerLag.sample(admin, "no-such-group", 10).committed()).isEmpty();
        }
    }
}
