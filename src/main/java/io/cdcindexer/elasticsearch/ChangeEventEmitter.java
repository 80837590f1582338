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
 * it. Every write carries the change's version (its transaction's commit position) as an external version of type
 * {@code external_gte}: Elasticsearch refuses an older write (409). Equal versions are let through, because two changes
 * of one transaction share the commit position (a late change after a timeout flush): which of them is newer is
 * decided before the sink, where {@link DocumentVersionFunction} drops the older one.
 *
 * <p>The index is the physical one the index-mapping step resolved ({@link ChangeEvent#indices}); during a reindex a change
 * is written to the next index too, each write on its own. Without that step, the index name template's name.
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
        if (change.action == ChangeEvent.Action.SKIP) {
            return; // its record is in the dead-letter queue; the collapse never lets one through
        }
        if (change.indices == null) {
            emitTo(change, indexNames.of(change.topic, change.table), indexer);
            return;
        }
        for (String index : change.indices) {
            emitTo(change, index, indexer);
        }
    }

    /** The change's write to one index. */
    private static void emitTo(ChangeEvent change, String index, RequestIndexer indexer) {
        if (change.action == ChangeEvent.Action.DELETE) {
            indexer.add(new DeleteRequest(index, change.documentId)
                    .version(change.version)
                    .versionType(VersionType.EXTERNAL_GTE));
        } else {
            indexer.add(new IndexRequest(index)
                    .id(change.documentId)
                    .version(change.version)
                    .versionType(VersionType.EXTERNAL_GTE)
                    .source(change.document, XContentType.JSON));
        }
    }
}
