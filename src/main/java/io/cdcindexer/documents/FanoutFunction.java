package io.cdcindexer.documents;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.util.Collector;

/**
 * For a many-to-one node, keyed by the parent row's id: keeps the parent's object and the holder rows that point to it,
 * and hands the object to each of them: to all when it changes, to a holder row when it starts pointing here, and takes
 * it back from a holder row that stops pointing here (the fan-out it points to now sends it that parent). Only this
 * stage takes an object back: the holder's assembly cannot tell a parent it no longer points to from one it will point
 * to again once its own change is applied.
 */
public final class FanoutFunction extends WholeTransactionsFunction {

    private static final long serialVersionUID = 1L;

    private final JoinedDocuments plan;
    private final int nodeId;

    private transient JoinNode node;
    private transient ValueState<StoredPart> value;
    /** The holder rows that point here, with the version of the change that made them. */
    private transient MapState<String, Long> members;
    private transient boolean valueChanged;
    private transient Set<String> joined;
    /** Holder rows that stopped pointing here in this batch, with the version of the change that moved them. */
    private transient Map<String, Long> left;

    public FanoutFunction(JoinedDocuments plan, int nodeId) {
        this.plan = plan;
        this.nodeId = nodeId;
    }

    @Override
    JoinNode declared() {
        return plan.node(nodeId);
    }

    @Override
    void openState() {
        node = plan.node(nodeId);
        value = getRuntimeContext().getState(new ValueStateDescriptor<>("value", TypeInformation.of(StoredPart.class)));
        members = getRuntimeContext().getMapState(new MapStateDescriptor<>("members", Types.STRING, Types.LONG));
        joined = new LinkedHashSet<>();
        left = new LinkedHashMap<>();
    }

    @Override
    void apply(JoinMessage message, Context ctx) throws Exception {
        switch (message.kind) {
            case PARENT_VALUE -> {
                StoredPart stored = value.value();
                if (stored != null && stored.version > message.version) {
                    return;
                }
                value.update(StoredPart.of(message.key, message.delete ? null : message.body, message.version));
                valueChanged = true;
            }
            case MEMBER -> {
                Long since = members.get(message.source);
                if (since != null && since > message.version) {
                    return;
                }
                members.put(message.source, message.version);
                joined.add(message.source);
                left.remove(message.source);
            }
            case MEMBER_GONE -> {
                Long since = members.get(message.source);
                if (since != null && since > message.version) {
                    return;
                }
                members.remove(message.source);
                joined.remove(message.source);
                left.put(message.source, message.version);
            }
            default -> throw new IllegalStateException("The fan-out of " + node + " was sent " + message);
        }
    }

    @Override
    void send(long after, Context ctx, Collector<JoinMessage> out) throws Exception {
        StoredPart stored = value.value();
        if (stored != null && (valueChanged || !joined.isEmpty())) {
            Iterable<String> to = valueChanged ? members.keys() : joined;
            for (String holder : to) {
                JoinMessage parent = JoinMessage.of(JoinMessage.Kind.PARENT, node.holder, holder, after);
                parent.source = ctx.getCurrentKey();
                parent.from = nodeId;
                parent.version = stored.version;
                parent.delete = stored.body == null;
                parent.body = stored.body;
                out.collect(parent);
            }
        }
        for (Map.Entry<String, Long> holder : left.entrySet()) {
            JoinMessage gone = JoinMessage.of(JoinMessage.Kind.PARENT_GONE, node.holder, holder.getKey(), after);
            gone.source = ctx.getCurrentKey();
            gone.from = nodeId;
            gone.version = Math.max(holder.getValue(), stored == null ? 0 : stored.version);
            out.collect(gone);
        }
        valueChanged = false;
        joined.clear();
        left.clear();
        if (members.isEmpty() && (stored == null || stored.body == null)) {
            value.clear(); // neither a parent row nor anything pointing to it: nothing kept
        }
    }
}
