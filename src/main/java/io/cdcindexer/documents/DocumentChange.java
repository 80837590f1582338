package io.cdcindexer.documents;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.elasticsearch.ElasticsearchConnection;
import io.cdcindexer.elasticsearch.IndexMappingFunction;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.configuration.Configuration;
import org.elasticsearch.client.RestClient;

/**
 * A finished joined document as the change the Elasticsearch sink writes: into the document's index, with the highest
 * commit position among its rows as version and its build count as position, so that of two builds of one version the
 * later wins ({@code DocumentVersionFunction}) and Elasticsearch lets an equal version through ({@code external_gte}).
 *
 * <p>While {@code ./cdc reindex} fills the next index of a document, and once its record says the next index has the
 * document's mappings ({@code "writing": true}), every document built goes there too. The record is read again when
 * older than {@link IndexMappingFunction#ROUTES_MAX_AGE_MS}, so every document built after the reindex waited that
 * long reaches both; the snapshot of the root table the reindex asks for then builds every other one again.
 */
public final class DocumentChange extends RichMapFunction<JoinMessage, ChangeEvent> {

    private static final long serialVersionUID = 1L;

    /** The prefix of a joined document's topic: no Kafka topic has a ':', so none shares its documents' keys. */
    public static final String TOPIC_PREFIX = "joined:";

    private final JoinedDocuments plan;
    /** Where the reindex records are read; null: never routed to a next index (a job without derived mappings). */
    private final ElasticsearchConnection connection;
    private final long retryLimitMs;

    private transient RestClient client;
    private transient List<String> aliases;
    /** By document alias: the indices its documents go to now. */
    private transient Map<String, String[]> indices;
    /** When the records were read ({@link System#nanoTime}). */
    private transient long readAt;
    private transient boolean read;

    /**
     * @param connection where to read the reindex records; null for none
     * @param retryLimitMs how long the first read tries while Elasticsearch cannot be reached (later ones wait it out)
     */
    public DocumentChange(JoinedDocuments plan, ElasticsearchConnection connection, long retryLimitMs) {
        this.plan = plan;
        this.connection = connection;
        this.retryLimitMs = retryLimitMs;
    }

    @Override
    public void open(Configuration parameters) throws Exception {
        client = connection == null ? null : connection.open(60_000);
        aliases = plan.roots().stream().map(root -> root.index).toList();
        indices = new HashMap<>();
        for (String alias : aliases) {
            indices.put(alias, new String[] {alias});
        }
        read = false;
    }

    @Override
    public void close() throws Exception {
        if (client != null) {
            client.close();
        }
    }

    @Override
    public ChangeEvent map(JoinMessage document) throws Exception {
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
        change.indices = indices(root.index);
        return change;
    }

    private String[] indices(String alias) throws Exception {
        if (client != null && (!read || System.nanoTime() - readAt > TimeUnit.MILLISECONDS.toNanos(
                IndexMappingFunction.ROUTES_MAX_AGE_MS))) {
            long asked = System.nanoTime(); // the answer is at least this old
            Map<String, JsonNode> records = connection.retrying("look up the reindexes of the joined documents",
                    read ? Long.MAX_VALUE : retryLimitMs,
                    () -> IndexMappingFunction.reindexRecords(client, aliases));
            for (String each : aliases) {
                JsonNode record = records.get(each);
                String next = record == null || !record.path("writing").asBoolean() ? null
                        : record.path("to").asText(null);
                indices.put(each, next == null ? new String[] {each} : new String[] {each, next});
            }
            readAt = asked;
            read = true;
        }
        return indices.get(alias);
    }
}
