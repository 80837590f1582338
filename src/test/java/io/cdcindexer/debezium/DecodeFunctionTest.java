package io.cdcindexer.debezium;

import static io.cdcindexer.debezium.DebeziumFixtures.bytes;
import static io.cdcindexer.debezium.DebeziumFixtures.record;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.metrics.MetricsRecorder;
import io.cdcindexer.transaction.TransactionCollapseFunction;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.ProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Decoding routes each record: changes on, END events and dead letters to their side outputs, tombstones nowhere. */
class DecodeFunctionTest {

    private OneInputStreamOperatorTestHarness<KafkaRecord, ChangeEvent> harness;
    private final MetricsRecorder metrics = new MetricsRecorder();

    @BeforeEach
    void open() throws Exception {
        harness = new OneInputStreamOperatorTestHarness<>(new ProcessOperator<>(
                new DecodeFunction("cdc.transaction", "cdc\\.public\\.(users|articles)", "__debezium_unavailable_value")),
                metrics.environment());
        harness.setup(ChangeEventSerializer.INSTANCE); // as the job's streams: it carries an END's stand-in whole
        harness.open();
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    /**
     * Found by the chaos run: a task being canceled (a TaskManager lost) fails the emit of a perfectly good change with
     * Flink's CancelTaskException ("Buffer pool has already been destroyed"). That is the task's failure, not the
     * record's: it must reach Flink, not become a dead letter (and, were the task to go on, a lost change).
     */
    @Test
    void aFailureWhileEmittingFailsTheTaskInsteadOfDeadLetteringTheRecord() throws Exception {
        DecodeFunction function = new DecodeFunction("cdc.transaction", "cdc\\.public\\.(users|articles)",
                "__debezium_unavailable_value");
        var functionHarness = ProcessFunctionTestHarnesses.forProcessFunction(function);
        java.util.List<Object> sideOutputs = new java.util.ArrayList<>();
        org.apache.flink.streaming.api.functions.ProcessFunction<KafkaRecord, ChangeEvent>.Context context =
                function.new Context() {
                    @Override
                    public Long timestamp() {
                        return 0L;
                    }

                    @Override
                    public org.apache.flink.streaming.api.TimerService timerService() {
                        throw new UnsupportedOperationException();
                    }

                    @Override
                    public <X> void output(org.apache.flink.util.OutputTag<X> tag, X value) {
                        sideOutputs.add(value);
                    }
                };
        RuntimeException canceled = new org.apache.flink.runtime.execution.CancelTaskException(
                "Buffer pool has already been destroyed.");
        org.apache.flink.util.Collector<ChangeEvent> failing = new org.apache.flink.util.Collector<>() {
            @Override
            public void collect(ChangeEvent change) {
                throw canceled;
            }

            @Override
            public void close() {}
        };

        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> function.processElement(record("users-insert"), context, failing)).isSameAs(canceled);
        assertThat(sideOutputs).as("no dead letter for a record that decoded fine").isEmpty();
        functionHarness.close();
    }

    @Test
    void changeBecomesAVersionedDocumentWrite() throws Exception {
        KafkaRecord record = record("users-insert");
        record.timestamp = 1_764_000_000_123L;
        harness.processElement(record, record.timestamp);

        ChangeEvent change = harness.extractOutputValues().get(0);
        assertThat(change).hasToString("UPSERT cdc.public.users/1 v22023448 {\"id\":1,\"username\":\"alice\","
                + "\"email\":\"alice@example.com\",\"created_at\":\"2026-11-27T10:00:00.123456Z\"}");
        assertThat(change.transactionId).isEqualTo("742");
        assertThat(change.table).isEqualTo("public.users");
        assertThat(change.op).isEqualTo("c");
        assertThat(change.offset).isEqualTo(record.offset);
        assertThat(change.key).isEqualTo(record.key);
        assertThat(change.kafkaTime).as("the record's Kafka time, which the hold of unavailable columns goes by")
                .isEqualTo(1_764_000_000_123L);
        assertThat(change.commitTime).as("source.ts_ms: the commit time, not the event's own ts_ms")
                .isEqualTo(1_764_240_000_000L);
    }

    /**
     * Every reason is served at 0 from the moment the operator opens. Prometheus's rate() and increase() need a sample
     * before the first increment: a series that first appears at 1 (registered on first use) counts for nothing, so the
     * dashboard's "dead letters in the time range" would show 0 after a single dead letter of a reason (of a subtask, since
     * its last restart), which is exactly the rare event it is there for.
     */
    @Test
    void everyDeadLetterReasonIsServedAtZeroBeforeTheFirstDeadLetter() {
        String operator = "flink_taskmanager_job_task_operator_";
        for (String reason : new String[] {"malformed", "no_key", "unsupported_op", "decoder_error"}) {
            assertThat(metrics.names()).as("registered at open, not at the first dead letter")
                    .contains(operator + "reason_deadLetters{reason=" + reason + "}");
            assertThat(metrics.count(operator + "reason_deadLetters{reason=" + reason + "}")).isZero();
        }
    }

    /** What the dashboard shows: changes per table, dead letters by reason, under Prometheus's names. */
    @Test
    void changesAreCountedPerTableAndDeadLettersByReason() throws Exception {
        String operator = "flink_taskmanager_job_task_operator_";
        KafkaRecord insert = record("users-insert");
        harness.processElement(insert, 0);
        harness.processElement(record("users-delete"), 0);
        harness.processElement(record("articles-update-toast"), 0);
        harness.processElement(new KafkaRecord("cdc.public.users", 1, 42, 0, bytes("{\"id\":1}"), bytes("{\"op\":")), 0);
        harness.processElement(new KafkaRecord(insert.topic, 0, 43, 0, null, insert.value), 0);
        harness.processElement(withValue("users-insert", value -> ((ObjectNode) value.get("payload")).put("op", "t")), 0);

        assertThat(metrics.count(operator + "changesDecoded")).isEqualTo(3);
        assertThat(metrics.count(operator + "table_changesDecoded{table=public.users}")).isEqualTo(2);
        assertThat(metrics.count(operator + "table_changesDecoded{table=public.articles}")).isEqualTo(1);
        assertThat(metrics.count(operator + "deadLetters")).isEqualTo(3);
        assertThat(metrics.count(operator + "reason_deadLetters{reason=malformed}")).isEqualTo(1);
        assertThat(metrics.count(operator + "reason_deadLetters{reason=no_key}")).isEqualTo(1);
        assertThat(metrics.count(operator + "reason_deadLetters{reason=unsupported_op}")).isEqualTo(1);
    }

    @Test
    void deleteCarriesNoDocument() throws Exception {
        harness.processElement(record("users-delete"), 0);

        assertThat(harness.extractOutputValues()).extracting(ChangeEvent::toString)
                .containsExactly("DELETE cdc.public.users/1 v22023736");
    }

    @Test
    void unavailableColumnsAreNamed() throws Exception {
        harness.processElement(record("articles-update-toast"), 0);

        ChangeEvent change = harness.extractOutputValues().get(0);
        assertThat(change.unavailableColumns).containsExactly("body", "image", "tags", "meta");
    }

    @Test
    void tombstonesAreDropped() throws Exception {
        harness.processElement(record("users-tombstone"), 0);

        assertThat(harness.getOutput()).isEmpty();
        assertThat(harness.getSideOutput(DecodeFunction.DEAD_LETTERS)).isNull();
    }

    @Test
    void endEventGoesToTheCollapseInTheStreamOfTheChangesWithIndexedTablesOnly() throws Exception {
        harness.processElement(record("transaction-begin"), 0);
        harness.processElement(record("transaction-end"), 0);

        assertThat(harness.extractOutputValues()).singleElement().satisfies(standIn -> {
            assertThat(standIn.isTransactionEnd()).isTrue();
            assertThat(standIn.transactionId).as("keyed as its transaction's changes").isEqualTo("742");
            // public.orders is not in the topic pattern
            assertThat(standIn.end).hasToString("END 742 @22023792 public.users=3");
        });
    }

    @Test
    void malformedRecordBecomesADeadLetterWithItsCoordinatesAndBytes() throws Exception {
        KafkaRecord bad = new KafkaRecord("cdc.public.users", 1, 42, 0, bytes("{\"id\":1}"), bytes("{\"op\":\"c\""));
        harness.processElement(bad, 0);

        assertThat(harness.getOutput()).isEmpty();
        StreamRecord<DeadLetter> letter = harness.getSideOutput(DecodeFunction.DEAD_LETTERS).poll();
        assertThat(letter.getValue().stage).isEqualTo(DeadLetter.Stage.DECODE);
        assertThat(letter.getValue().reason).startsWith("the value is not valid JSON");
        assertThat(letter.getValue()).extracting(l -> l.topic, l -> l.partition, l -> l.offset)
                .containsExactly("cdc.public.users", 1, 42L);
        assertThat(letter.getValue().key).isEqualTo(bad.key);
        assertThat(letter.getValue().value).isEqualTo(bad.value);
    }

    @Test
    void malformedChangeOfATransactionLeavesACountingStandIn() throws Exception {
        KafkaRecord insert = record("users-insert");
        harness.processElement(new KafkaRecord(insert.topic, 0, 9, 0, bytes("{\"id\":2}"), insert.value), 0);

        assertThat(harness.getSideOutput(DecodeFunction.DEAD_LETTERS)).hasSize(1);
        ChangeEvent standIn = harness.extractOutputValues().get(0);
        assertThat(standIn.action).isEqualTo(ChangeEvent.Action.SKIP);
        assertThat(standIn.transactionId).isEqualTo("742");
        assertThat(standIn.table).isEqualTo("public.users");
    }

    /**
     * numeric allows 16383 digits after the point (1e-10000 is a valid value); Jackson refuses to write a decimal of
     * scale above 9999 in plain notation: an unexpected error, after the transaction is known.
     */
    @Test
    void unexpectedErrorWhileDecodingAChangeOfATransactionLeavesACountingStandIn() throws Exception {
        KafkaRecord record = withValue("captured/types-insert", value -> ((ObjectNode) value.at("/payload/after"))
                .putObject("ratio").put("scale", 10_000).put("value", "AQ=="));
        harness.processElement(record, 0);

        assertThat(harness.getSideOutput(DecodeFunction.DEAD_LETTERS).poll().getValue().reason)
                .startsWith("unexpected error while decoding: ");
        assertThat(harness.extractOutputValues()).extracting(c -> c.action + " " + c.table + " tx " + c.transactionId
                + " " + c.documentId).containsExactly("SKIP public.all_types tx 766 @" + CapturedEventsTest.lsn("types-insert"));
    }

    /** A text key may be longer than Elasticsearch allows for an id (PostgreSQL indexes up to ~2700 bytes). */
    @Test
    void aKeyTooLongForAnIdLeavesACountingStandIn() throws Exception {
        KafkaRecord insert = record("users-insert");
        String id = "x".repeat(600);
        harness.processElement(new KafkaRecord(insert.topic, 0, 9, 0, bytes("{\"id\":\"" + id + "\"}"),
                new String(insert.value, StandardCharsets.UTF_8).replace("\"id\":1,", "\"id\":\"" + id + "\",")
                        .getBytes(StandardCharsets.UTF_8)), 0);

        assertThat(harness.getSideOutput(DecodeFunction.DEAD_LETTERS).poll().getValue().reason)
                .isEqualTo("the document id would be longer than 512 bytes");
        assertThat(harness.extractOutputValues()).extracting(c -> c.action + " " + c.transactionId)
                .containsExactly("SKIP 742");
    }

    /** kafka.transaction-topic '' (JobOptions): transactions ignored, so no change may wait for an END. */
    @Test
    void withoutTransactionTopicChangesCarryNoTransactionAndPassStraightThrough() throws Exception {
        harness.close();
        harness = new OneInputStreamOperatorTestHarness<>(new ProcessOperator<>(
                new DecodeFunction("", "cdc\\.public\\.(users|articles)", "__debezium_unavailable_value")));
        harness.setup(ChangeEventSerializer.INSTANCE);
        harness.open();
        KafkaRecord insert = record("users-insert");
        harness.processElement(insert, 0);
        harness.processElement(new KafkaRecord(insert.topic, 0, 9, 0, bytes("{\"id\":2}"), insert.value), 0);

        assertThat(harness.extractOutputValues()).extracting(c -> c.action + " " + c.documentId + " tx " + c.transactionId)
                .as("the change, and no stand-in for the dead letter: nothing counts toward an END")
                .containsExactly("UPSERT 1 tx null");
        assertThat(harness.getSideOutput(DecodeFunction.DEAD_LETTERS)).hasSize(1);

        KeyedOneInputStreamOperatorTestHarness<String, ChangeEvent, ChangeEvent> collapse =
                ProcessFunctionTestHarnesses.forKeyedProcessFunction(new TransactionCollapseFunction(60_000, 10_000),
                        TransactionCollapseFunction.CHANGE_KEY, Types.STRING);
        try {
            collapse.processElement(harness.extractOutputValues().get(0), 0);
            assertThat(collapse.extractOutputValues()).as("written at once, not at the timeout")
                    .extracting(ChangeEvent::documentKey).containsExactly("cdc.public.users/1");
        } finally {
            collapse.close();
        }
    }

    private static KafkaRecord withValue(String name, Consumer<ObjectNode> change) {
        JsonNode fixture = DebeziumFixtures.json(name);
        ObjectNode value = fixture.get("value").deepCopy();
        change.accept(value);
        return new KafkaRecord(fixture.get("topic").asText(), 0, 5, 0, bytes(fixture.get("key")), bytes(value));
    }

    @Test
    void malformedTransactionEventBecomesADeadLetter() throws Exception {
        harness.processElement(new KafkaRecord("cdc.transaction", 0, 7, 0, null, bytes("{\"status\":\"END\"}")), 0);

        assertThat(harness.getSideOutput(DecodeFunction.DEAD_LETTERS).poll().getValue().reason)
                .isEqualTo("the transaction event has no id");
    }
}
