package io.cdcindexer.documents;

import io.cdcindexer.debezium.ChangeEvent;
import org.apache.flink.api.common.functions.MapFunction;

/**
 * A finished joined document as the change the Elasticsearch sink writes: into the document's index, with the highest
 * commit position among its rows as version and its build count as position, so that of two builds of one version the
 * later wins ({@code DocumentVersionFunction}) and Elasticsearch lets an equal version through ({@code external_gte}).
 */
public final class DocumentChange implements MapFunction<JoinMessage, ChangeEvent> {

    private static final long serialVersionUID = 1L;

    /** The prefix of a joined document's topic: no Kafka topic has a ':', so none shares its documents' keys. */
    public static final String TOPIC_PREFIX = "joined:";

    private final JoinedDocuments plan;

    public DocumentChange(JoinedDocuments plan) {
        this.plan = plan;
    }

    @Override
    public ChangeEvent map(JoinMessage document) {
        JoinNode root = plan.node(document.node);
        ChangeEvent change = new ChangeEvent();
        change.action = document.delete ? ChangeEvent.Action.DELETE : ChangeEvent.Action.UPSERT;
        change.op = document.delete ? "d" : "u";
        change.topic = TOPIC_PREFIX + root.index;
        change.table = root.table;
        change.documentId = document.key;
        change.version = document.version;
        change.lsn = document.lsn;
        change.document = document.body;
        change.commitTime = document.commitTime;
        change.indices = new String[] {root.index};
        return change;
    }
}
