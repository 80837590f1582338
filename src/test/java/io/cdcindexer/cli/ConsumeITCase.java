package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.cli.DebeziumEvents.Order;
import io.cdcindexer.kafka.TestProducers;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.KafkaBroker;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ./cdc consume against a broker of its own: it reads whole topics, which other tests' jobs would write to. */
class ConsumeITCase {

    @TempDir
    static Path brokerDir;

    static KafkaBroker kafka;
    static KafkaProducer<String, String> producer;

    @BeforeAll
    static void sendOneTransactionOfEachShape() throws Exception {
        kafka = KafkaBroker.start(brokerDir.resolve("kafka"), FreePorts.next());
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic("cdc.public.orders", 1, (short) 1),
                    new NewTopic("cdc.transaction", 1, (short) 1), new NewTopic("cdc.dlq", 1, (short) 1),
                    new NewTopic("other.topic", 1, (short) 1))).all().get();
        }
        producer = TestProducers.strings(kafka.bootstrapServers());
        Order pending = new Order(1, 5, "19.90", "pending");
        Order paid = new Order(1, 5, "19.90", "paid");
        send("cdc.transaction", "{\"id\":\"742:22023448\"}", DebeziumEvents.begin(742));
        send("cdc.public.orders", DebeziumEvents.key(1, true), DebeziumEvents.change("c", null, pending, 742, true));
        send("cdc.public.orders", DebeziumEvents.key(1, false), DebeziumEvents.change("u", pending, paid, 742, false));
        send("cdc.transaction", "{\"id\":\"742:22023792\"}", DebeziumEvents.end(742, 2));
        send("cdc.public.orders", DebeziumEvents.key(1, true), DebeziumEvents.change("d", paid, null, 743, true));
        send("cdc.public.orders", DebeziumEvents.key(1, true), null);
        ProducerRecord<String, String> dead = new ProducerRecord<>("cdc.dlq", "{\"id\":2}", "{\"broken\":");
        dead.headers().add("error.message", "cannot parse value".getBytes(StandardCharsets.UTF_8));
        producer.send(dead).get();
        send("other.topic", "k", "not followed by default");
    }

    @AfterAll
    static void closeProducer() {
        if (producer != null) {
            producer.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    private static void send(String topic, String key, String value) throws Exception {
        producer.send(new ProducerRecord<>(topic, key, value)).get();
    }

    @Test
    void printsEveryShapeOfEventReadably() {
        CliRun run = CliRun.of("consume", "--kafka", kafka.bootstrapServers(), "--from-beginning", "--max-messages", "7",
                "--timeout", "60s");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        List<String> lines = run.out().lines().toList();
        assertThat(lines).containsSubsequence(
                "op=c public.orders id=1 tx=742  after: {\"id\":1,\"user_id\":5,\"amount\":19.90,\"status\":\"pending\"}",
                "op=u public.orders id=1 tx=742  status: \"pending\" → \"paid\"",
                "op=d public.orders id=1 tx=743  before: {\"id\":1,\"user_id\":5,\"amount\":19.90,\"status\":\"paid\"}");
        assertThat(lines).anySatisfy(line -> assertThat(line).startsWith("tombstone public.orders id=1"));
        assertThat(lines).containsSubsequence("BEGIN tx=742", "END   tx=742  events=2 (public.orders 2)");
        assertThat(run.out()).contains("DLQ cdc.dlq[0@0] key={\"id\":2}\n    error.message: cannot parse value\n"
                + "    value: {\"broken\":");
        assertThat(run.out()).doesNotContain("not followed by default");
        assertThat(run.err()).contains("following cdc.dlq, cdc.public.orders, cdc.transaction from the beginning");
    }

    @Test
    void rawPrintsTheRecordsAsTheyAre() {
        CliRun run = CliRun.of("consume", "--kafka", kafka.bootstrapServers(), "--topic", "other\\.topic", "--raw",
                "--from-beginning", "--max-messages", "1", "--timeout", "60s");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).isEqualTo("other.topic\tk\tnot followed by default\n");
    }

    @Test
    void fewerRecordsThanAskedForByTheTimeoutIsAnError() {
        CliRun run = CliRun.of("consume", "--kafka", kafka.bootstrapServers(), "--topic", "other\\.topic",
                "--max-messages", "1", "--timeout", "1s");

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).contains("timed out after 1 s with 0 of 1 record");
    }

    @Test
    void followsFromNowOnAndPicksUpTopicsCreatedLater() throws Exception {
        try (KafkaTail tail = new KafkaTail(kafka.bootstrapServers(), Pattern.compile("other\\.topic|other\\.late"),
                false)) {
            send("other.topic", "k2", "new");
            send("other.late", "{\"id\":1}", "first record of a new topic");

            List<String> values = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (values.size() < 2 && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> record : tail.poll(Duration.ofMillis(200))) {
                    values.add(new String(record.value(), StandardCharsets.UTF_8));
                }
            }
            assertThat(values).containsExactlyInAnyOrder("new", "first record of a new topic");
        }
    }

    @Test
    void saysWhenKafkaStopsAnsweringAndCarriesOnOnceItIsBack(@TempDir Path dir) throws Exception {
        int port = FreePorts.next();
        int controller = FreePorts.next();
        KafkaBroker own = KafkaBroker.start(dir, port, controller);
        try {
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", own.bootstrapServers()))) {
                admin.createTopics(List.of(new NewTopic("cdc.public.restarted", 1, (short) 1))).all().get();
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            CompletableFuture<CliRun> consume = CliRun.start(out, err, "consume", "--kafka", own.bootstrapServers(),
                    "--topic", "cdc\\.public\\.restarted", "--raw", "--max-messages", "1", "--timeout", "180s");
            awaitOutput(err, "consume: following cdc.public.restarted from now on");

            own.close();
            awaitOutput(err, "consume: Kafka at " + own.bootstrapServers() + " does not answer (");
            own = KafkaBroker.start(dir, port, controller);
            try (KafkaProducer<String, String> again = TestProducers.strings(own.bootstrapServers())) {
                again.send(new ProducerRecord<>("cdc.public.restarted", "k", "after the restart")).get();
            }

            CliRun run = consume.get(120, TimeUnit.SECONDS);
            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(run.out()).isEqualTo("cdc.public.restarted\tk\tafter the restart\n");
            assertThat(run.err()).contains("; waiting for it to come back (Ctrl-C stops)")
                    .containsPattern("consume: Kafka at " + own.bootstrapServers() + " answers again after \\d+ s; "
                            + "carrying on");
        } finally {
            own.close();
        }
    }

    private static void awaitOutput(ByteArrayOutputStream stream, String text) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!stream.toString(StandardCharsets.UTF_8).contains(text)) {
            assertThat(System.nanoTime()).as("waiting for '" + text + "' in:\n" + stream.toString(StandardCharsets.UTF_8))
                    .isLessThan(deadline);
            java.util.concurrent.locks.LockSupport.parkNanos(100_000_000); // poll interval
        }
    }

    @Test
    void saysClearlyWhenKafkaIsNotThere() {
        CliRun run = CliRun.of("consume", "--kafka", "localhost:1", "--timeout", "1s");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("Cannot read topics from Kafka at localhost:1");
    }
}
