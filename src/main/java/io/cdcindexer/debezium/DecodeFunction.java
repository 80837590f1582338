package io.cdcindexer.debezium;

import io.cdcindexer.debezium.DebeziumEnvelope.Op;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.metrics.LabeledMetric;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Decodes Kafka records into changes. Records of the transaction topic yield {@link TransactionEnd}s, each in a
 * stand-in ({@link ChangeEvent#endOf}) in the stream of the changes, which the collapse consumes;
 * records that are not change events the job can index go, with the reason, to the dead-letter side output (and, when
 * they belonged to a transaction, a {@link ChangeEvent.Action#SKIP} stands in for them so the transaction completes);
 * tombstones are counted and dropped, since the delete before each one already carries the versioned delete. Without a
 * transaction topic (an empty name: transactions ignored) changes carry no transaction id and pass the collapse
 * straight through.
 */
public final class DecodeFunction extends ProcessFunction<KafkaRecord, ChangeEvent> {

    private static final long serialVersionUID = 1L;

    public static final OutputTag<DeadLetter> DEAD_LETTERS = new OutputTag<>("dead-letters") {};

    private final String transactionTopic;
    private final String tableTopicPattern;
    private final String unavailableValuePlaceholder;

    private transient DebeziumDecoder decoder;
    private transient Pattern tableTopics;
    private transient Counter changes;
    private transient Counter tombstones;
    private transient Counter transactions;
    private transient Counter deadLetters;
    private transient LabeledMetric<Counter> changesByTable;
    private transient LabeledMetric<Counter> deadLettersByReason;

    /**
     * @param transactionTopic Debezium's transaction metadata topic, {@code <topic.prefix>.transaction}; empty (or
     *     null) to ignore transactions: no END would ever come, so changes must not wait for one
     * @param tableTopicPattern the table topics the job reads: END events count only their tables
     */
    public DecodeFunction(String transactionTopic, String tableTopicPattern, String unavailableValuePlaceholder) {
        this.transactionTopic = transactionTopic == null ? "" : transactionTopic;
        this.tableTopicPattern = tableTopicPattern;
        this.unavailableValuePlaceholder = unavailableValuePlaceholder;
    }

    @Override
    public void open(Configuration parameters) {
        decoder = DebeziumDecoder.writingDocuments(unavailableValuePlaceholder);
        tableTopics = Pattern.compile(tableTopicPattern);
        var metrics = getRuntimeContext().getMetricGroup();
        changes = metrics.counter("changesDecoded");
        tombstones = metrics.counter("tombstones");
        transactions = metrics.counter("transactionsEnded");
        deadLetters = metrics.counter("deadLetters");
        changesByTable = new LabeledMetric<>(metrics, "table", group -> group.counter("changesDecoded"));
        deadLettersByReason = new LabeledMetric<>(metrics, "reason", group -> group.counter("deadLetters"))
                .withValues(MalformedChangeException.REASONS);
    }

    /**
     * Only decoding is guarded: what is emitted leaves outside the try, so that a failure downstream (a task being
     * canceled fails the emit with Flink's CancelTaskException) fails the task as it must, instead of turning a good
     * record into a dead letter.
     */
    @Override
    public void processElement(KafkaRecord record, Context ctx, Collector<ChangeEvent> out) {
        if (!transactionTopic.isEmpty() && record.topic.equals(transactionTopic)) {
            TransactionEnd end;
            try {
                end = decoder.decodeTransaction(record.value);
            } catch (MalformedChangeException e) {
                deadLetter(record, e.kind(), e.getMessage(), ctx);
                return;
            } catch (RuntimeException e) {
                deadLetter(record, MalformedChangeException.DECODER_ERROR, "unexpected error while decoding: " + e, ctx);
                return;
            }
            if (end != null) {
                transactions.inc();
                out.collect(ChangeEvent.endOf(indexedTablesOnly(end)));
            }
            return;
        }
        ChangeEvent change;
        try {
            DebeziumEnvelope envelope = decoder.decode(record.topic, record.key, record.value);
            if (envelope.isTombstone()) {
                tombstones.inc();
                return;
            }
            change = change(record, envelope);
        } catch (MalformedChangeException e) {
            deadLetter(record, e.kind(), e.getMessage(), ctx);
            if (e.transactionId() != null && !transactionTopic.isEmpty()) {
                out.collect(skipped(record, e));
            }
            return;
        } catch (RuntimeException e) {
            // A bug of ours must not stop the pipeline on one record: keep the record, say what happened. The decoder
            // turns errors after it has read the transaction into MalformedChangeExceptions; this is for the rest.
            deadLetter(record, MalformedChangeException.DECODER_ERROR, "unexpected error while decoding: " + e, ctx);
            return;
        }
        out.collect(change);
        changes.inc();
        changesByTable.of(change.table).inc();
    }

    // A change that fails here (its document id) still belongs to its transaction, like one the decoder refuses.
    private ChangeEvent change(KafkaRecord record, DebeziumEnvelope envelope) throws MalformedChangeException {
        ChangeEvent change;
        try {
            change = toChange(record, envelope);
        } catch (MalformedChangeException e) {
            throw e.within(envelope.transaction(), envelope.source());
        } catch (RuntimeException e) {
            throw new MalformedChangeException(MalformedChangeException.DECODER_ERROR,
                    "unexpected error while decoding: " + e)
                    .within(envelope.transaction(), envelope.source());
        }
        if (transactionTopic.isEmpty()) {
            change.transactionId = null; // transactions ignored: no END will come for it
        }
        return change;
    }

    private void deadLetter(KafkaRecord record, String kind, String reason, Context ctx) {
        deadLetters.inc();
        deadLettersByReason.of(kind).inc();
        ctx.output(DEAD_LETTERS, DeadLetter.undecodable(record, reason));
    }

    // Stands in for a dead-lettered change of a transaction, so that the transaction's END count is met. Its id is its
    // WAL position where known, so that the same record delivered again (the connector restarted) counts only once.
    private static ChangeEvent skipped(KafkaRecord record, MalformedChangeException e) {
        ChangeEvent change = new ChangeEvent();
        change.action = ChangeEvent.Action.SKIP;
        change.topic = record.topic;
        change.partition = record.partition;
        change.offset = record.offset;
        change.table = e.table();
        change.documentId = e.lsn() > 0 ? "@" + e.lsn() : "@" + record.partition + ":" + record.offset;
        change.lsn = e.lsn();
        change.version = e.lsn();
        change.transactionId = e.transactionId();
        change.key = record.key;
        return change;
    }

    /** The change a decoded envelope stands for. */
    static ChangeEvent toChange(KafkaRecord record, DebeziumEnvelope envelope) throws MalformedChangeException {
        ChangeEvent change = new ChangeEvent();
        change.action = envelope.op() == Op.DELETE ? ChangeEvent.Action.DELETE : ChangeEvent.Action.UPSERT;
        change.op = envelope.op().code;
        change.topic = record.topic;
        change.partition = record.partition;
        change.offset = record.offset;
        change.kafkaTime = record.timestamp;
        Long committed = envelope.source().tsMs();
        change.commitTime = committed == null ? 0 : committed;
        change.rowSchema = envelope.rowSchema();
        change.snapshot = envelope.source().snapshot();
        change.table = envelope.source().dataCollection();
        change.documentId = DocumentIds.of(envelope.key());
        change.lsn = envelope.source().lsn();
        change.version = change.lsn;
        if (change.action == ChangeEvent.Action.UPSERT) {
            change.document = envelope.documentBytes();
        }
        if (!envelope.unavailableColumns().isEmpty()) {
            change.unavailableColumns = envelope.unavailableColumns().toArray(String[]::new);
        }
        change.transactionId = envelope.transaction() == null ? null : envelope.transaction().transactionId();
        change.key = record.key;
        return change;
    }

    // Debezium names tables schema.table; their topics are <prefix>.<schema>.<table>, the prefix being the one of the
    // transaction topic (<prefix>.transaction). Tables the job does not read must not hold a transaction back.
    private TransactionEnd indexedTablesOnly(TransactionEnd end) {
        String suffix = ".transaction";
        if (!transactionTopic.endsWith(suffix)) {
            return end;
        }
        String prefix = transactionTopic.substring(0, transactionTopic.length() - suffix.length() + 1);
        List<String> tables = new ArrayList<>();
        List<Long> counts = new ArrayList<>();
        for (int i = 0; i < end.tables.length; i++) {
            if (tableTopics.matcher(prefix + end.tables[i]).matches()) {
                tables.add(end.tables[i]);
                counts.add(end.eventCounts[i]);
            }
        }
        if (tables.size() == end.tables.length) {
            return end;
        }
        return new TransactionEnd(end.transactionId, end.commitLsn, tables.toArray(String[]::new),
                counts.stream().mapToLong(Long::longValue).toArray());
    }
}
