package io.cdcindexer.documents;

import io.cdcindexer.debezium.ChangeEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Right after the collapse (same chain): sends each change of a table that joined documents use to the stages of every
 * node of that table, and of every many-to-one node whose holder is that table. Marks each with the last watermark the
 * collapse passed on: the collapse sends a transaction's changes in one go, so all of them come before the next one
 * ({@link WholeTransactionsFunction}).
 */
public final class RowRouter extends ProcessFunction<ChangeEvent, JoinMessage> {

    private static final long serialVersionUID = 1L;

    private final JoinedDocuments plan;
    private transient Map<String, List<JoinNode>> rows;
    private transient Map<String, List<JoinNode>> holderRows;

    public RowRouter(JoinedDocuments plan) {
        this.plan = plan;
    }

    @Override
    public void open(Configuration parameters) {
        rows = new HashMap<>();
        holderRows = new HashMap<>();
        for (JoinNode node : plan.nodes()) {
            rows.computeIfAbsent(node.table, table -> new ArrayList<>()).add(node);
            if (node.relation == JoinNode.Relation.PARENT) {
                holderRows.computeIfAbsent(plan.node(node.holder).table, table -> new ArrayList<>()).add(node);
            }
        }
    }

    @Override
    public void processElement(ChangeEvent change, Context ctx, Collector<JoinMessage> out) {
        if (change.action == ChangeEvent.Action.SKIP) {
            return; // its record is in the dead-letter queue
        }
        long after = ctx.timerService().currentWatermark();
        for (JoinNode node : rows.getOrDefault(change.table, List.of())) {
            out.collect(row(JoinMessage.Kind.ROW, node, change, after));
        }
        for (JoinNode node : holderRows.getOrDefault(change.table, List.of())) {
            out.collect(row(JoinMessage.Kind.HOLDER_ROW, node, change, after));
        }
    }

    private static JoinMessage row(JoinMessage.Kind kind, JoinNode node, ChangeEvent change, long after) {
        JoinMessage message = JoinMessage.of(kind, node.id, change.documentId, after);
        message.version = change.version;
        message.lsn = change.lsn;
        message.delete = change.action == ChangeEvent.Action.DELETE;
        message.body = message.delete ? null : change.document;
        message.unavailableColumns = change.unavailableColumns;
        message.commitTime = change.commitTime;
        return message;
    }
}
