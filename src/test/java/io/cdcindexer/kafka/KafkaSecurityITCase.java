package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.job.JobOptions;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.KafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's Kafka clients (the source and the dead-letter producer) through a real broker's SASL/PLAIN listener, with
 * the settings of {@code --kafka.properties-file} and the password kept out of that file by Kafka's FileConfigProvider.
 */
class KafkaSecurityITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberSlotsPerTaskManager(1).build());

    private static final String PASSWORD = "kafka-Pa55word-in-a-secrets-file";

    @TempDir
    static Path dir;

    static KafkaBroker kafka;
    static int saslPort;

    @BeforeAll
    static void start() throws Exception {
        saslPort = FreePorts.next();
        kafka = KafkaBroker.startWithSasl(dir.resolve("kafka"), FreePorts.next(), saslPort, Map.of("cdc", PASSWORD));
        try (KafkaProducer<String, String> producer = TestProducers.strings(kafka.bootstrapServers())) {
            producer.send(new ProducerRecord<>("cdc.public.sasl", "{\"id\":1}", "{\"payload\":{}}")).get();
        }
    }

    @AfterAll
    static void stop() {
        if (kafka != null) {
            kafka.close();
        }
    }

    /** A client properties file whose password is a reference to a secrets file, resolved by the client. */
    private static Path propertiesFile(String name, String password) throws Exception {
        Path secrets = Files.writeString(dir.resolve(name + ".secrets"), "kafka.password=" + password + "\n");
        return Files.writeString(dir.resolve(name + ".properties"), String.join("\n",
                "security.protocol=SASL_PLAINTEXT",
                "sasl.mechanism=PLAIN",
                "config.providers=file",
                "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider",
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"cdc\" "
                        + "password=\"${file:" + secrets + ":kafka.password}\";",
                ""));
    }

    private static JobOptions options(Path properties) {
        return JobOptions.fromArgs("--kafka.bootstrap-servers", "localhost:" + saslPort, "--kafka.group-id", "sasl-it",
                "--kafka.topic-pattern", "cdc\\.public\\.sasl", "--kafka.transaction-topic", "",
                "--kafka.starting-offsets", "earliest", "--kafka.properties-file", properties.toString());
    }

    @Test
    void theSourceReadsThroughSaslWithThePasswordFromAConfigProvider() throws Exception {
        Path properties = propertiesFile("good", PASSWORD);
        assertThat(Files.readString(properties)).doesNotContain(PASSWORD);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);

        try (CloseableIterator<KafkaRecord> records = env.fromSource(KafkaChangeSource.create(options(properties)),
                WatermarkStrategy.noWatermarks(), "sasl source").executeAndCollect("sasl source")) {
            KafkaRecord record = records.next();
            assertThat(record.topic).isEqualTo("cdc.public.sasl");
            assertThat(new String(record.value, StandardCharsets.UTF_8)).isEqualTo("{\"payload\":{}}");
        }
    }

    @Test
    void aWrongPasswordFailsTheSourceWithKafkasAuthenticationError() throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.setRestartStrategy(org.apache.flink.api.common.restartstrategy.RestartStrategies.noRestart());
        env.fromSource(KafkaChangeSource.create(options(propertiesFile("bad", "not-the-password"))),
                        WatermarkStrategy.noWatermarks(), "sasl source")
                .print();

        assertThatThrownBy(() -> env.execute("wrong kafka password"))
                .hasStackTraceContaining("SaslAuthenticationException")
                .hasStackTraceContaining("Invalid username or password");
    }

    @Test
    void theDeadLetterProducerWritesThroughSasl() throws Exception {
        Map<String, String> settings = KafkaClientProperties.read(propertiesFile("dlq", PASSWORD).toString());
        DeadLetter letter = new DeadLetter();
        letter.stage = DeadLetter.Stage.DECODE;
        letter.reason = "through SASL";
        letter.topic = "cdc.public.sasl";
        letter.value = "{}".getBytes(StandardCharsets.UTF_8);
        try (DeadLetterQueue.Writer writer =
                new KafkaDeadLetterQueue("localhost:" + saslPort, "sasl.dlq", settings).open()) {
            writer.send(letter);
            writer.flush();
        }

        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers",
                kafka.bootstrapServers(), "auto.offset.reset", "earliest", "group.id", "sasl-dlq-check"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of("sasl.dlq"));
            List<ConsumerRecord<byte[], byte[]>> seen = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 30_000;
            while (seen.isEmpty() && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(seen::add);
            }
            assertThat(seen).hasSize(1);
            assertThat(new String(seen.get(0).headers().lastHeader(KafkaDeadLetterQueue.HEADER_REASON).value(),
                    StandardCharsets.UTF_8)).isEqualTo("through SASL");
        }
    }

    @Test
    void consumeReadsThroughSaslWithTheSameFile() throws Exception {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.PrintStream original = System.out;
        int exit;
        try {
            System.setOut(new java.io.PrintStream(out, true, StandardCharsets.UTF_8));
            exit = io.cdcindexer.cli.Cdc.run("consume", "--kafka", "localhost:" + saslPort, "--kafka-properties",
                    propertiesFile("cli", PASSWORD).toString(), "--topic", "cdc\\.public\\.sasl", "--from-beginning",
                    "--raw", "--max-messages", "1", "--timeout", "30s");
        } finally {
            System.setOut(original);
        }

        assertThat(exit).as(out.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("cdc.public.sasl").contains("{\"payload\":{}}");
    }
}
