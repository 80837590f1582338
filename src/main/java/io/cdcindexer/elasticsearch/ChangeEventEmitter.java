package io.cdcindexer.elasticsearch;

import io.cdcindexer.debezium.ChangeEvent;
import java.util.Map;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.connector.elasticsearch.sink.ElasticsearchEmitter;
import org.apache.flink.connector.elasticsearch.sink.RequestIndexer;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.action.update.UpdateRequest;
import org.elasticsearch.common.bytes.BytesArray;
import org.elasticsearch.common.xcontent.XContentHelper;
import org.elasticsearch.common.xcontent.XContentType;
import org.elasticsearch.index.VersionType;
import org.elasticsearch.script.Script;
import org.elasticsearch.script.ScriptType;

/**
 * The one place where a change becomes an Elasticsearch request. Every write carries the change's WAL position as an
 * external version, so Elasticsearch itself refuses a stale, replayed or re-ordered write (409), whatever the order in
 * which writes arrive.
 *
 * <ul>
 *   <li>upsert: index the full document;
 *   <li>delete: delete the document;
 *   <li>upsert with unavailable (unchanged TOASTed) columns: a scripted update that keeps those columns' current values
 *       and does nothing when the document already has this version or a later one.
 * </ul>
 */
public final class ChangeEventEmitter implements ElasticsearchEmitter<ChangeEvent> {

    private static final long serialVersionUID = 1L;

    /**
     * The update API takes no external version, so the script compares it itself. It runs only for changes with
     * unavailable columns; a document it creates or updates gets internal version old+1, which stays below the WAL
     * position of any later change.
     */
    static final String MERGE_SCRIPT =
            "if (ctx._version >= params.version) { ctx.op = 'none' } else { ctx._source.putAll(params.doc) }";

    private final IndexNames indexNames;

    public ChangeEventEmitter(IndexNames indexNames) {
        this.indexNames = indexNames;
    }

    @Override
    public void emit(ChangeEvent change, SinkWriter.Context context, RequestIndexer indexer) {
        String index = indexNames.of(change.topic, change.table);
        if (change.action == ChangeEvent.Action.DELETE) {
            indexer.add(new DeleteRequest(index, change.documentId)
                    .version(change.version)
                    .versionType(VersionType.EXTERNAL));
        } else if (!change.hasUnavailableColumns()) {
            indexer.add(new IndexRequest(index)
                    .id(change.documentId)
                    .version(change.version)
                    .versionType(VersionType.EXTERNAL)
                    .source(change.document, XContentType.JSON));
        } else {
            Map<String, Object> document =
                    XContentHelper.convertToMap(new BytesArray(change.document), false, XContentType.JSON).v2();
            indexer.add(new UpdateRequest(index, change.documentId)
                    .script(new Script(ScriptType.INLINE, "painless", MERGE_SCRIPT,
                            Map.of("version", change.version, "doc", document)))
                    .upsert(change.document, XContentType.JSON)
                    .retryOnConflict(3));
        }
    }
}
