package io.cdcindexer.elasticsearch;

import io.cdcindexer.debezium.ChangeEvent;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.connector.elasticsearch.sink.ElasticsearchEmitter;
import org.apache.flink.connector.elasticsearch.sink.RequestIndexer;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.common.xcontent.XContentType;
import org.elasticsearch.index.VersionType;

/**
 * The one place where a change becomes an Elasticsearch request: an upsert indexes the full document, a delete deletes
 * it. Every write carries the change's WAL position as an external version, so Elasticsearch itself refuses a stale,
 * replayed or re-ordered write (409), whatever the order in which writes arrive.
 *
 * <p>A change with unavailable (unchanged TOASTed) columns is indexed the same way; {@link ElasticsearchIndexWriter}
 * first completes its document with those columns' stored values.
 */
public final class ChangeEventEmitter implements ElasticsearchEmitter<ChangeEvent> {

    private static final long serialVersionUID = 1L;

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
        } else {
            indexer.add(new IndexRequest(index)
                    .id(change.documentId)
                    .version(change.version)
                    .versionType(VersionType.EXTERNAL)
                    .source(change.document, XContentType.JSON));
        }
    }
}
