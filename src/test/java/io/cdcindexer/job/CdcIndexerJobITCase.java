package io.cdcindexer.job;

import static io.cdcindexer.job.DebeziumJson.at;
import static io.cdcindexer.job.DebeziumJson.change;
import static io.cdcindexer.job.DebeziumJson.end;
import static io.cdcindexer.job.DebeziumJson.raw;
import static io.cdcindexer.job.DebeziumJson.tombstone;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.as;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;
import static org.assertj.core.api.InstanceOfAssertFactories.STRING;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.ChangeEventSerializer;
import io.cdcindexer.kafka.CollectingDeadLetterQueue;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.DeadLetterSink;
import io.cdcindexer.kafka.KafkaRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.SchedulerExecutionMode;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamNode;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.assertj.core.api.AbstractStringAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real topology on a MiniCluster at parallelism 2, with an injected source that replays Kafka partitions and a
 * collecting sink that applies writes with Elasticsearch's external-versioning rule.
 */
class CdcIndexerJobITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    private String name;

    private record Run(VersionedIndexSink index, CollectingDeadLetterQueue deadLetters) {}

    private Run run(TestInfo test, int parallelism, List<List<KafkaRecord>> partitions, double recordsPerSecond,
            int failAfterWrites) throws Exception {
        return run(test, parallelism, partitions, recordsPerSecond, failAfterWrites, 600_000);
    }

    private Run run(TestInfo test, int parallelism, List<List<KafkaRecord>> partitions, double recordsPerSecond,
            int failAfterWrites, long transactionTimeoutMs) throws Exception {
        name = test.getDisplayName() + "-p" + parallelism;
        VersionedIndexSink index = new VersionedIndexSink(name, failAfterWrites);
        CollectingDeadLetterQueue deadLetters = new CollectingDeadLetterQueue(name);
        JobOptions options = JobOptions.fromArgs("--parallelism", Integer.toString(parallelism),
                "--checkpoint.interval-ms", "100", "--transaction.timeout-ms", Long.toString(transactionTimeoutMs));
        Configuration config = new Configuration();
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(100));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.configure(config);
        new CdcIndexerJob(options, PartitionedRecordsSource.of(partitions, recordsPerSecond), index,
                new DeadLetterSink(deadLetters)).execute(env);
        return new Run(index, deadLetters);
    }

    @Test
    void derivedMappingsRefuseAnEnvironmentWithoutChaining() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.disableOperatorChaining();
        CdcIndexerJob job = new CdcIndexerJob(JobOptions.defaults(), PartitionedRecordsSource.of(List.of(List.of()), 1),
                new VersionedIndexSink("unchained", 0), new DeadLetterSink(new CollectingDeadLetterQueue("unchained")));

        assertThatThrownBy(() -> job.build(env)).hasMessageContaining("operator chaining")
                .hasMessageContaining("--elasticsearch.mappings none");
    }

    /** The job's topology in an environment of that configuration, built with those options and never run. */
    private static StreamExecutionEnvironment built(Configuration config, String... args) {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(config);
        new CdcIndexerJob(JobOptions.fromArgs(args), PartitionedRecordsSource.of(List.of(List.of()), 1),
                new VersionedIndexSink("topology", 0), new DeadLetterSink(new CollectingDeadLetterQueue("topology")))
                .build(env);
        return env;
    }

    @Test
    void changesCrossEveryExchangeWithTheirOwnSerializerNotFlinksPojoSerializer() {
        StreamExecutionEnvironment env = built(new Configuration(), "--documents", "configs/documents.json");

        List<TypeSerializer<?>> ofChanges = new ArrayList<>();
        for (StreamNode node : env.getStreamGraph(false).getStreamNodes()) {
            List<TypeSerializer<?>> serializers = new ArrayList<>(List.of(node.getTypeSerializersIn()));
            serializers.add(node.getTypeSerializerOut());
            serializers.stream().filter(s -> s != null && s.createInstance() instanceof ChangeEvent)
                    .forEach(ofChanges::add);
        }

        // Decoder and mappings out; collapse in and out; each document's change out; version check in and out; sink in.
        assertThat(ofChanges).hasSizeGreaterThanOrEqualTo(8).allMatch(s -> s instanceof ChangeEventSerializer);
    }

    /** The task the collapse runs in, as Flink runs the job: its chained operators' names. */
    private static AbstractStringAssert<?> assertThatTheCollapsesTask(Configuration cluster, int parallelism,
            String documents) {
        StreamExecutionEnvironment env = built(cluster, "--parallelism", Integer.toString(parallelism),
                "--documents", documents);
        List<String> tasks = new ArrayList<>();
        env.getStreamGraph(false).getJobGraph().getVertices().forEach(vertex -> tasks.add(vertex.getName()));
        return assertThat(tasks).as("%s", cluster).filteredOn(task -> task.contains("Collapse transactions"))
                .singleElement(as(STRING));
    }

    @Test
    void atParallelism1TheCollapseRunsInTheDecodersTaskAndTheVersionCheckAndTheWriterInTheCollapsesWithNoExchange() {
        assertThatTheCollapsesTask(new Configuration(), 1, "")
                .contains("Kafka: Debezium topics", "Decode Debezium events", "Drop stale changes", "Elasticsearch");
        // With joined documents the version check has several incoming edges (the union of the tables' changes and the
        // documents'), which always start a chain; the collapse's one input still does not.
        assertThatTheCollapsesTask(new Configuration(), 1, "configs/documents.json")
                .contains("Decode Debezium events").doesNotContain("Drop stale changes");
        // On several subtasks each transaction's changes, and each document's, are sent to its subtask by an exchange.
        assertThatTheCollapsesTask(new Configuration(), 2, "")
                .doesNotContain("Decode Debezium events").doesNotContain("Drop stale changes");
    }

    @Test
    void whereTheClusterMayRescaleTheJobWithoutBuildingItAgainTheCollapseAndTheVersionCheckKeepTheirExchanges() {
        Configuration adaptive = new Configuration();
        adaptive.set(JobManagerOptions.SCHEDULER, JobManagerOptions.SchedulerType.Adaptive);
        Configuration reactive = new Configuration();
        reactive.set(JobManagerOptions.SCHEDULER_MODE, SchedulerExecutionMode.REACTIVE);
        Configuration overrides = new Configuration();
        overrides.set(PipelineOptions.PARALLELISM_OVERRIDES, Map.of("bc764cd8ddf7a0cff126f51c16239658", "2"));

        for (Configuration cluster : List.of(adaptive, reactive, overrides)) {
            assertThatTheCollapsesTask(cluster, 1, "")
                    .doesNotContain("Decode Debezium events").doesNotContain("Drop stale changes");
        }
    }

    @Test
    void recordsWaitInANetworkBufferAtMostTheBufferTimeout() {
        StreamExecutionEnvironment env = built(new Configuration());
        StreamExecutionEnvironment flushAtOnce = built(new Configuration(), "--network.buffer-timeout-ms", "0");

        assertThat(env.getBufferTimeout()).as("not Flink's 100 ms").isEqualTo(10);
        assertThat(flushAtOnce.getBufferTimeout()).isZero();
    }

    private Run run(TestInfo test, int parallelism, List<List<KafkaRecord>> partitions) throws Exception {
        return run(test, parallelism, partitions, 10_000, 0);
    }

    /** Two transactions over users and orders, their table topics and the transaction topic on different partitions. */
    private static List<List<KafkaRecord>> transactionsAcrossTables() {
        List<KafkaRecord> users = List.of(
                change("users", "r", 2, 10, null, "email", "bob@example.com"),
                change("users", "c", 1, 100, "742", "email", "a@example.com"),
                change("users", "u", 1, 120, "742", "email", "b@example.com"),
                change("users", "u", 1, 130, "742", "email", "c@example.com"),
                change("users", "d", 2, 200, "743"),
                tombstone("users", 2));
        List<KafkaRecord> ordersAndTransactions = List.of(
                end("743", 220, "users", 1, "orders", 1),
                change("orders", "c", 7, 110, "742", "user_id", 1, "amount", 12.5),
                end("742", 140, "users", 3, "orders", 1),
                change("orders", "u", 7, 210, "743", "user_id", 1, "amount", 99));
        return List.of(users, ordersAndTransactions);
    }

    @ParameterizedTest(name = "parallelism {0}")
    @ValueSource(ints = {1, 2})
    void transactionsAcrossSeveralTablesLandCollapsed(int parallelism, TestInfo test) throws Exception {
        Run run = run(test, parallelism, transactionsAcrossTables());

        assertThat(run.index().documents()).containsExactly(
                entry("cdc.public.orders/7", "{\"id\":7,\"user_id\":1,\"amount\":99}"),
                entry("cdc.public.users/1", "{\"id\":1,\"email\":\"c@example.com\"}"));
        // The snapshot read of users/2 (v10) passes the collapse at once; when its delete (v220) reaches the sink first,
        // the job drops the older read instead of sending it.
        assertThat(run.index().writes()).extracting(ChangeEvent::toString)
                .filteredOn(write -> !write.equals("UPSERT cdc.public.users/2 v10 {\"id\":2,\"email\":\"bob@example.com\"}"))
                .containsExactlyInAnyOrder(
                "UPSERT cdc.public.users/1 v140 lsn130 {\"id\":1,\"email\":\"c@example.com\"}",
                "UPSERT cdc.public.orders/7 v140 lsn110 {\"id\":7,\"user_id\":1,\"amount\":12.5}",
                "DELETE cdc.public.users/2 v220 lsn200",
                "UPSERT cdc.public.orders/7 v220 lsn210 {\"id\":7,\"user_id\":1,\"amount\":99}");
        assertThat(run.deadLetters().letters()).isEmpty();
    }

    @Test
    void staleAndDuplicateEventsNeverOverwriteNewerState(TestInfo test) throws Exception {
        List<KafkaRecord> streaming = List.of(
                change("users", "c", 1, 100, null, "email", "first"),
                change("users", "u", 1, 300, null, "email", "newest"),
                change("users", "c", 1, 100, null, "email", "first"),   // replayed duplicate
                change("users", "u", 3, 400, "750", "email", "x"),
                change("users", "u", 3, 400, "750", "email", "x"),      // duplicate inside a transaction
                end("750", 410, "users", 1));
        List<KafkaRecord> lagging = List.of(
                change("users", "r", 1, 50, null, "email", "snapshot"), // a snapshot read older than the stream
                change("users", "u", 1, 200, null, "email", "older"));  // re-ordered: arrives after v300 or not
        Run run = run(test, 2, List.of(streaming, lagging));

        assertThat(run.index().documents()).containsExactly(
                entry("cdc.public.users/1", "{\"id\":1,\"email\":\"newest\"}"),
                entry("cdc.public.users/3", "{\"id\":3,\"email\":\"x\"}"));
        // The duplicate collapses into its transaction's one write, v410. Its END travels on another input of the collapse
        // and may complete the transaction before the duplicate comes: the duplicate then starts a transaction of its
        // own, flushed at its timeout (here at the end of the input) with its own, older position, which Elasticsearch
        // refuses after v410.
        assertThat(run.index().writes()).filteredOn(w -> w.documentId.equals("3")).first().hasToString(
                "UPSERT cdc.public.users/3 v410 lsn400 {\"id\":3,\"email\":\"x\"}");
        assertThat(run.index().writes()).filteredOn(w -> w.documentId.equals("3")).allSatisfy(
                w -> assertThat(w.isNewerThan(410, 400)).isFalse());
    }

    @Test
    void aTransactionCommittedAfterASnapshotStartedWinsOverTheSnapshotRead(TestInfo test) throws Exception {
        // An UPDATE written to the WAL at 100 but committed at 300; meanwhile a snapshot started at 200 read the old row.
        List<KafkaRecord> snapshot = List.of(change("users", "r", 5, 200, null, "email", "before the update"));
        List<KafkaRecord> streaming = List.of(
                change("users", "u", 5, 100, "760", "email", "the update"),
                end("760", 300, "users", 1));
        Run run = run(test, 2, List.of(snapshot, streaming));

        assertThat(run.index().documents()).containsEntry("cdc.public.users/5", "{\"id\":5,\"email\":\"the update\"}");
    }

    @Test
    void aTransactionWhoseEndIsReadFarAheadOfItsChangeIsNotTimedOutWhileTheChangeIsStillComing(TestInfo test)
            throws Exception {
        // A backlog: the END (written at Kafka time 3.01 s) is read at once, its change only after 3 s of older records
        // on its own partition. The 1 s timeout fires twice meanwhile, while the watermark is still moving towards it.
        List<KafkaRecord> transactions = List.of(at(3_010, end("742", 140, "users", 1)));
        List<KafkaRecord> users = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            users.add(at(10L * i, tombstone("backlog", i)));
        }
        users.add(at(3_000, change("users", "u", 1, 100, "742", "email", "late")));

        Run run = run(test, 2, List.of(transactions, users), 200, 0, 1_000);

        assertThat(run.index().writes()).extracting(ChangeEvent::toString).as("versioned by its commit, not timed out")
                .containsExactly("UPSERT cdc.public.users/1 v140 lsn100 {\"id\":1,\"email\":\"late\"}");
    }

    @Test
    void malformedRecordsGoToTheDeadLetterQueueAndTheRestIsIndexed(TestInfo test) throws Exception {
        List<KafkaRecord> records = List.of(
                change("users", "c", 1, 100, null, "email", "a"),
                raw("cdc.public.users", "{\"id\":2}", "not json"),
                raw("cdc.public.users", "{\"id\":3}", "{\"op\":\"z\",\"after\":{\"id\":3},\"source\":{\"schema\":\"public\",\"table\":\"users\",\"lsn\":1}}"),
                raw("cdc.public.users", "{\"id\":4}", "{\"after\":{\"id\":4}}"),
                raw("cdc.public.users", "{\"id\":5}", "{\"op\":\"c\",\"after\":{\"id\":6},\"source\":{\"schema\":\"public\",\"table\":\"users\",\"lsn\":1}}"),
                change("users", "c", 7, 110, null, "email", "b"));
        Run run = run(test, 2, List.of(records));

        assertThat(run.index().documents()).containsOnlyKeys("cdc.public.users/1", "cdc.public.users/7");
        assertThat(run.deadLetters().letters()).extracting(letter -> letter.offset + ": " + letter.reason).containsExactly(
                "1: the value is not valid JSON: Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
                "2: unknown or unsupported op 'z'",
                "3: the value has no op field: not a Debezium change event",
                "4: the key {\"id\":5} does not match the row: id=6");
        assertThat(run.deadLetters().letters()).allSatisfy(letter -> {
            assertThat(letter.stage).isEqualTo(DeadLetter.Stage.DECODE);
            assertThat(letter.topic).isEqualTo("cdc.public.users");
            assertThat(letter.value).isNotEmpty();
        });
    }

    @Test
    void restartFromACheckpointLosesNothing(TestInfo test) throws Exception {
        List<KafkaRecord> users = new ArrayList<>();
        List<KafkaRecord> other = new ArrayList<>();
        for (int i = 1; i <= 150; i++) {
            String tx = Integer.toString(1000 + i);
            users.add(change("users", "c", i, 10_000L * i, tx, "email", "v1"));
            users.add(change("users", "u", i, 10_000L * i + 10, tx, "email", "v2"));
            other.add(end(tx, 10_000L * i + 15, "users", 2));
            if (i % 3 == 0) {
                users.add(change("users", "d", i, 10_000L * i + 20, null));
                users.add(tombstone("users", i));
            }
        }
        Run run = run(test, 2, List.of(users, other), 400, 40);

        assertThat(run.index().failed()).as("the injected failure happened").isTrue();
        assertThat(run.index().writersOpened()).as("writers, after the restart").isGreaterThan(2);
        Map<String, String> documents = run.index().documents();
        assertThat(documents).hasSize(100);
        for (int i = 1; i <= 150; i++) {
            if (i % 3 == 0) {
                assertThat(documents).doesNotContainKey("cdc.public.users/" + i);
            } else {
                assertThat(documents).containsEntry("cdc.public.users/" + i, "{\"id\":" + i + ",\"email\":\"v2\"}");
            }
        }
    }
}
