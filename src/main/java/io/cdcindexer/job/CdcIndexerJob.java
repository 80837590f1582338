package io.cdcindexer.job;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.ChangeEventSerializer;
import io.cdcindexer.debezium.DecodeFunction;
import io.cdcindexer.documents.AssembleFunction;
import io.cdcindexer.documents.DocumentChange;
import io.cdcindexer.documents.FanoutFunction;
import io.cdcindexer.documents.JoinMessage;
import io.cdcindexer.documents.JoinNode;
import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.documents.LinkFunction;
import io.cdcindexer.documents.RowRouter;
import io.cdcindexer.elasticsearch.BulkOptions;
import io.cdcindexer.elasticsearch.ChangeEventEmitter;
import io.cdcindexer.elasticsearch.DocumentVersionFunction;
import io.cdcindexer.elasticsearch.ElasticsearchIndexSink;
import io.cdcindexer.elasticsearch.IndexMappingFunction;
import io.cdcindexer.elasticsearch.IndexNames;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.DeadLetterQueue;
import io.cdcindexer.kafka.DeadLetterSink;
import io.cdcindexer.kafka.KafkaChangeSource;
import io.cdcindexer.kafka.KafkaClientProperties;
import io.cdcindexer.kafka.KafkaDeadLetterQueue;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.kafka.PartitionProgress;
import io.cdcindexer.transaction.TransactionCollapseFunction;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.SchedulerExecutionMode;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.CheckpointingMode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamUtils;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The indexing job: Debezium topics in Kafka → decode → collapse per transaction → drop stale changes per document →
 * Elasticsearch, with a dead-letter
 * topic for what cannot be indexed. This class only wires; the logic lives in the named functions, the Kafka and
 * Debezium adapters decode, and the Elasticsearch emitter encodes. The source and sinks are injected, so tests run the
 * same topology on a MiniCluster.
 */
public final class CdcIndexerJob {

    /**
     * Event time is the Kafka timestamp (when Connect wrote the event); the watermark, the least of the partitions'
     * ({@link PartitionProgress}; idle ones, read to their end, aside), tells how far every topic has been read: the
     * collapse's timeout waits while the job catches up, and a change with unavailable columns waits until the change
     * before it of its row can have arrived.
     */
    static final WatermarkStrategy<KafkaRecord> PARTITION_PROGRESS = WatermarkStrategy
            .forGenerator(PartitionProgress.perPartition())
            .withTimestampAssigner((record, previous) -> record.timestamp);

    private final JobOptions options;
    private final Source<KafkaRecord, ?, ?> source;
    private final Sink<ChangeEvent> documentSink;
    private final Sink<DeadLetter> deadLetterSink;

    public CdcIndexerJob(JobOptions options, Source<KafkaRecord, ?, ?> source, Sink<ChangeEvent> documentSink,
            Sink<DeadLetter> deadLetterSink) {
        this.options = options;
        this.source = source;
        this.documentSink = documentSink;
        this.deadLetterSink = deadLetterSink;
    }

    /** Runs the job against Kafka and Elasticsearch; see {@link JobOptions} for the options. */
    public static void main(String[] args) throws Exception {
        if (Arrays.asList(args).contains("--help")) {
            System.out.println("Options of the cdc-indexer job (all optional):\n" + JobOptions.usage());
            return;
        }
        JobOptions options = JobOptions.fromArgs(args);
        DeadLetterQueue deadLetters = new KafkaDeadLetterQueue(options.get(JobOptions.KAFKA_BOOTSTRAP_SERVERS),
                options.get(JobOptions.KAFKA_DLQ_TOPIC),
                KafkaClientProperties.read(options.get(JobOptions.KAFKA_PROPERTIES_FILE)));
        new CdcIndexerJob(
                        options,
                        KafkaChangeSource.create(options),
                        new ElasticsearchIndexSink(BulkOptions.from(options),
                                new ChangeEventEmitter(new IndexNames(options.get(JobOptions.ELASTICSEARCH_INDEX))),
                                deadLetters),
                        new DeadLetterSink(deadLetters))
                .execute(StreamExecutionEnvironment.getExecutionEnvironment());
    }

    public JobExecutionResult execute(StreamExecutionEnvironment env) throws Exception {
        build(env);
        return env.execute(options.get(JobOptions.JOB_NAME));
    }

    /** Submits the job and returns at once (tests of the unbounded job). */
    public JobClient executeAsync(StreamExecutionEnvironment env) throws Exception {
        build(env);
        return env.executeAsync(options.get(JobOptions.JOB_NAME));
    }

    /** Adds the topology to the environment. */
    public void build(StreamExecutionEnvironment env) {
        configure(env);

        SingleOutputStreamOperator<ChangeEvent> decoded = env
                .fromSource(source, PARTITION_PROGRESS, "Kafka: Debezium topics")
                .uid("kafka-source")
                .process(new DecodeFunction(
                        options.get(JobOptions.KAFKA_TRANSACTION_TOPIC),
                        options.get(JobOptions.KAFKA_TOPIC_PATTERN),
                        options.get(JobOptions.UNAVAILABLE_VALUE_PLACEHOLDER)))
                .returns(ChangeEventSerializer.TYPE)
                .name("Decode Debezium events")
                .uid("decode");
        DataStream<ChangeEvent> changes = decoded;
        DataStream<DeadLetter> deadLetters = decoded.getSideOutput(DecodeFunction.DEAD_LETTERS);
        if (options.get(JobOptions.ELASTICSEARCH_MAPPINGS).equals("derived")) {
            if (!env.isChainingEnabled()) {
                // Unchained, the row schema (not serialized) would never reach the step, which would then map nothing.
                throw new IllegalArgumentException("--" + JobOptions.ELASTICSEARCH_MAPPINGS.name() + " derived needs "
                        + "operator chaining, which is off (pipeline.operator-chaining.enabled): the index-mapping step reads "
                        + "the row schema the decoder hands it in the same chain. Turn chaining on, or use --"
                        + JobOptions.ELASTICSEARCH_MAPPINGS.name() + " none");
            }
            // Chained to the decoder: the index has the row schema's mapping before any document of it can be written.
            SingleOutputStreamOperator<ChangeEvent> mapped = decoded
                    .process(IndexMappingFunction.of(options))
                    .returns(ChangeEventSerializer.TYPE)
                    .name("Index mappings")
                    .uid("index-mappings");
            changes = mapped;
            deadLetters = deadLetters.union(mapped.getSideOutput(IndexMappingFunction.DEAD_LETTERS));
        }

        deadLetters
                .sinkTo(deadLetterSink)
                .name("Dead-letter queue")
                .uid("dead-letter-sink");

        // At parallelism 1 every transaction is the one subtask's: the collapse then joins the decoder's chain, with no
        // network exchange between them (the END events come in the stream of the changes for this), unless the
        // cluster may rescale the job without building it again.
        boolean oneSubtask = env.getParallelism() == 1 && !rescaledByTheCluster(env.getConfiguration());
        TransactionCollapseFunction collapse = new TransactionCollapseFunction(
                options.getLong(JobOptions.TRANSACTION_TIMEOUT_MS),
                options.getLong(JobOptions.TRANSACTION_MAX_HELD_CHANGES));
        KeySelector<ChangeEvent, String> byTransaction = TransactionCollapseFunction.CHANGE_KEY;
        DataStream<ChangeEvent> collapsed = (oneSubtask
                ? DataStreamUtils.reinterpretAsKeyedStream(changes, byTransaction, Types.STRING)
                : changes.keyBy(byTransaction, Types.STRING))
                .process(oneSubtask ? collapse.inOneChain() : collapse)
                .returns(ChangeEventSerializer.TYPE)
                .name("Collapse transactions")
                .uid("collapse-transactions");
        JoinedDocuments documents = JoinedDocuments.of(options.get(JobOptions.DOCUMENTS));
        DataStream<ChangeEvent> writes = documents.isEmpty() ? collapsed
                : collapsed.union(joinedDocuments(collapsed, documents));
        // From here on keyed by document: one subtask, and one writer, sees every write of a document.
        DocumentVersionFunction versions = new DocumentVersionFunction(options.getLong(JobOptions.REMEMBER_WRITES_MS),
                options.getLong(JobOptions.REMEMBER_DELETES_MS), options.getLong(JobOptions.TRANSACTION_TIMEOUT_MS),
                options.getLong(JobOptions.REMEMBER_FULL_COUNT));
        // At parallelism 1 every document is the one subtask's: the version check then joins the collapse's chain too.
        // Not behind the union with the joined documents: the union's several incoming edges start a chain in any case.
        boolean inCollapsesChain = oneSubtask && documents.isEmpty();
        (inCollapsesChain
                ? DataStreamUtils.reinterpretAsKeyedStream(writes, DocumentVersionFunction.DOCUMENT_KEY, Types.STRING)
                : writes.keyBy(DocumentVersionFunction.DOCUMENT_KEY, Types.STRING))
                .process(inCollapsesChain ? versions.inOneChain() : versions)
                .returns(ChangeEventSerializer.TYPE)
                .name("Drop stale changes")
                .uid("document-versions")
                .sinkTo(documentSink)
                .name("Elasticsearch")
                .uid("elasticsearch-sink");
    }

    /**
     * Whether the cluster may change the parallelism of the job's stages without building the job again: the adaptive
     * scheduler (its reactive mode, its rescaling through the REST API) or parallelism overrides per vertex (an
     * autoscaler's). A stage chained at parallelism 1 without its exchange would then refuse to run.
     */
    static boolean rescaledByTheCluster(ReadableConfig config) {
        return config.get(JobManagerOptions.SCHEDULER) == JobManagerOptions.SchedulerType.Adaptive
                || config.get(JobManagerOptions.SCHEDULER_MODE) == SchedulerExecutionMode.REACTIVE
                || !config.get(PipelineOptions.PARALLELISM_OVERRIDES).isEmpty();
    }

    /**
     * The stages of joined documents, one per node of each document, deepest first: every node's assembly takes its
     * table's rows and what the nodes below it send; a many-to-one node adds a link (which parent row each holder row
     * points to) and a fan-out (the parent's object to every holder row that points to it). The roots' documents go
     * to the same version check and sink as every other write.
     */
    private DataStream<ChangeEvent> joinedDocuments(DataStream<ChangeEvent> collapsed, JoinedDocuments documents) {
        // ./cdc reindex needs the mapping step, which maps a document's next index before its documents go there.
        boolean derivedMappings = options.get(JobOptions.ELASTICSEARCH_MAPPINGS).equals("derived");
        long deleteMemoryMs = options.getLong(JobOptions.REMEMBER_DELETES_MS);
        SingleOutputStreamOperator<JoinMessage> rows = collapsed
                .process(new RowRouter(documents))
                .name("Joined documents: rows")
                .uid("joined-rows");
        Map<Integer, DataStream<JoinMessage>> built = new HashMap<>();
        DataStream<ChangeEvent> written = null;
        for (int id = documents.nodes().size() - 1; id >= 0; id--) { // a node's id is below those under it
            JoinNode node = documents.node(id);
            DataStream<JoinMessage> in = rows.getSideOutput(RowRouter.rows(node));
            for (int b : node.below) {
                JoinNode under = documents.node(b);
                if (under.relation == JoinNode.Relation.CHILDREN) {
                    in = in.union(built.get(b));
                    continue;
                }
                DataStream<JoinMessage> links = rows.getSideOutput(RowRouter.holderRows(under))
                        .keyBy(JoinMessage.KEY, Types.STRING)
                        .process(new LinkFunction(documents, b, deleteMemoryMs))
                        .name("Links of " + under.path)
                        .uid("joined-links-" + under.path);
                in = in.union(built.get(b).union(links)
                        .keyBy(JoinMessage.KEY, Types.STRING)
                        .process(new FanoutFunction(documents, b))
                        .name("Fan-out of " + under.path)
                        .uid("joined-fanout-" + under.path));
            }
            SingleOutputStreamOperator<JoinMessage> assembled = in
                    .keyBy(JoinMessage.KEY, Types.STRING)
                    .process(new AssembleFunction(documents, id, deleteMemoryMs))
                    .name("Assemble " + node.path)
                    .uid("joined-assemble-" + node.path);
            if (node.relation != JoinNode.Relation.ROOT) {
                built.put(id, assembled);
                continue;
            }
            DataStream<ChangeEvent> document = assembled
                    .map(new DocumentChange(documents, derivedMappings ? BulkOptions.connection(options) : null,
                            IndexMappingFunction.RETRY_LIMIT_MS))
                    .returns(ChangeEventSerializer.TYPE)
                    .name("Documents of " + node.index);
            written = written == null ? document : written.union(document);
        }
        return written;
    }

    private void configure(StreamExecutionEnvironment env) {
        int parallelism = options.getInt(JobOptions.PARALLELISM);
        if (parallelism > 0) {
            env.setParallelism(parallelism);
        }
        // Exactly-once checkpoints keep the transaction state consistent with the source offsets; the sink itself is
        // at-least-once, and external versions make repeats harmless.
        env.enableCheckpointing(options.getLong(JobOptions.CHECKPOINT_INTERVAL_MS), CheckpointingMode.EXACTLY_ONCE);
        env.getCheckpointConfig().setTolerableCheckpointFailureNumber(
                options.getInt(JobOptions.TOLERABLE_FAILED_CHECKPOINTS));
        env.setBufferTimeout(options.getLong(JobOptions.BUFFER_TIMEOUT_MS));
        // Chained operators pass records without copies: no function touches a record again once it has emitted it (the
        // collapse emits what it held, then clears it), so the next may keep or change what it is given.
        env.getConfig().enableObjectReuse();
        env.getConfig().disableGenericTypes();
    }
}
