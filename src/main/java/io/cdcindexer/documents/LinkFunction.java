package io.cdcindexer.documents;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.util.Collector;

/**
 * For a many-to-one node, keyed by the holder row's id: remembers which parent row the holder row points to, and tells
 * the parent's fan-out when that changes (the holder row inserted, its foreign key moved, the row deleted). Remembering
 * it here, not reading it from the change, is what makes a move work without {@code REPLICA IDENTITY FULL}: an update
 * or delete does not say what the key was before.
 */
public final class LinkFunction extends WholeTransactionsFunction {

    private static final long serialVersionUID = 1L;

    private final JoinedDocuments plan;
    private final int nodeId;
    private final long deleteMemoryMs;

    private transient JoinNode node;
    private transient ValueState<StoredRow> link;
    private transient String sentBefore;
    private transient boolean changed;

    public LinkFunction(JoinedDocuments plan, int nodeId, long deleteMemoryMs) {
        this.plan = plan;
        this.nodeId = nodeId;
        this.deleteMemoryMs = deleteMemoryMs;
    }

    @Override
    JoinNode declared() {
        return plan.node(nodeId);
    }

    @Override
    void openState() {
        node = plan.node(nodeId);
        link = getRuntimeContext().getState(new ValueStateDescriptor<>("link", TypeInformation.of(StoredRow.class)));
    }

    @Override
    void apply(JoinMessage message, Context ctx) throws Exception {
        if (message.kind != JoinMessage.Kind.HOLDER_ROW) {
            throw new IllegalStateException("The link of " + node + " was sent " + message);
        }
        StoredRow stored = link.value();
        if (stored != null && !stored.olderThan(message.version, message.lsn)) {
            return; // a repeat, or older than the change that left the row so
        }
        if (!changed) {
            sentBefore = stored == null ? null : stored.parent;
            changed = true;
        }
        StoredRow next = new StoredRow();
        next.version = message.version;
        next.lsn = message.lsn;
        if (message.delete) {
            next.deleted = true;
            next.forgetAt = rememberDelete(deleteMemoryMs, ctx);
        } else if (stored != null && stored.parent != null && unavailable(message, node.foreignKey)) {
            next.parent = stored.parent; // the key's columns were left alone (unchanged TOASTed values)
        } else {
            next.parent = ForeignKeys.of(ForeignKeys.read(message.body), node.foreignKey);
        }
        link.update(next);
    }

    @Override
    void send(long after, Context ctx, Collector<JoinMessage> out) throws Exception {
        if (!changed) {
            return;
        }
        changed = false;
        StoredRow stored = link.value();
        String now = stored.parent;
        if (sentBefore != null && !sentBefore.equals(now)) {
            out.collect(member(JoinMessage.Kind.MEMBER_GONE, sentBefore, after, stored, ctx.getCurrentKey()));
        }
        if (now != null && !now.equals(sentBefore)) {
            out.collect(member(JoinMessage.Kind.MEMBER, now, after, stored, ctx.getCurrentKey()));
        }
    }

    @Override
    void onProcessingTime(long timestamp, OnTimerContext ctx, Collector<JoinMessage> out) throws Exception {
        StoredRow stored = link.value();
        if (stored != null && stored.deleted && forgotten(stored.forgetAt, timestamp, ctx)) {
            link.clear(); // the delete's memory is over
        }
    }

    private JoinMessage member(JoinMessage.Kind kind, String parent, long after, StoredRow stored, String holder) {
        JoinMessage message = JoinMessage.of(kind, nodeId, parent, after);
        message.source = holder;
        message.version = stored.version;
        message.lsn = stored.lsn;
        return message;
    }

    private static boolean unavailable(JoinMessage message, String[] columns) {
        if (message.unavailableColumns == null) {
            return false;
        }
        for (String missing : message.unavailableColumns) {
            for (String column : columns) {
                if (missing.equals(column)) {
                    return true;
                }
            }
        }
        return false;
    }
}
