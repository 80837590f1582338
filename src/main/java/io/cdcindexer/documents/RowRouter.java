package io.cdcindexer.documents;

import io.cdcindexer.debezium.ChangeEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Right after the collapse (same chain): sends each change of a table that joined documents use to the stages of every
 * node of that table ({@link #rows}), and to the link of every many-to-one node whose holder is that table
 * ({@link #holderRows}), each on its own side output. Marks each with the last watermark the
 * collapse passed on: the collapse sends a transaction's changes in one go, so all of them come before the next one
 * ({@link WholeTransactionsFunction}).
 */
public final class RowRouter extends ProcessFunction<ChangeEvent, JoinMessage> {

    private static final long serialVersionUID = 1L;

    private final JoinedDocuments plan;
    private transient Map<String, List<OutputTag<JoinMessage>>> rows;
    private transient Map<String, List<OutputTag<JoinMessage>>> holderRows;
    private transient Map<OutputTag<JoinMessage>, JoinNode> nodes;

    /** Where the rows of a node's table go, for its assembly. */
    public static OutputTag<JoinMessage> rows(JoinNode node) {
        return new OutputTag<>("rows-" + node.id, TypeInformation.of(JoinMessage.class));
    }

    /** Where the rows of a many-to-one node's holder go, for its link. */
    public static OutputTag<JoinMessage> holderRows(JoinNode node) {
        return new OutputTag<>("holder-rows-" + node.id, TypeInformation.of(JoinMessage.class));
    }

    public RowRouter(JoinedDocuments plan) {
        this.plan = plan;
    }

    @Override
    public void open(Configuration parameters) {
        rows = new HashMap<>();
        holderRows = new HashMap<>();
        nodes = new HashMap<>();
        for (JoinNode node : plan.nodes()) {
            OutputTag<JoinMessage> tag = rows(node);
            rows.computeIfAbsent(node.table, table -> new ArrayList<>()).add(tag);
            nodes.put(tag, node);
            if (node.relation == JoinNode.Relation.PARENT) {
                OutputTag<JoinMessage> holder = holderRows(node);
                holderRows.computeIfAbsent(plan.node(node.holder).table, table -> new ArrayList<>()).add(holder);
                nodes.put(holder, node);
            }
        }
    }

    @Override
    public void processElement(ChangeEvent change, Context ctx, Collector<JoinMessage> out) {
        if (change.action == ChangeEvent.Action.SKIP) {
            return; // its record is in the dead-letter queue
        }
        long after = ctx.timerService().currentWatermark();
        for (OutputTag<JoinMessage> tag : rows.getOrDefault(change.table, List.of())) {
            ctx.output(tag, row(JoinMessage.Kind.ROW, nodes.get(tag), change, after));
        }
        for (OutputTag<JoinMessage> tag : holderRows.getOrDefault(change.table, List.of())) {
            ctx.output(tag, row(JoinMessage.Kind.HOLDER_ROW, nodes.get(tag), change, after));
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
        message.snapshotRead = "r".equals(change.op);
        return message;
    }
}
