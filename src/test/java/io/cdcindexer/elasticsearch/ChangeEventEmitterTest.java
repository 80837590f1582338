package io.cdcindexer.elasticsearch;

import static io.cdcindexer.debezium.ChangeEvents.delete;
import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.connector.elasticsearch.sink.RequestIndexer;
import org.elasticsearch.action.DocWriteRequest;
import org.elasticsearch.action.delete.DeleteRequest;
import org.elasticsearch.action.index.IndexRequest;
import org.elasticsearch.action.update.UpdateRequest;
import org.elasticsearch.index.VersionType;
import org.junit.jupiter.api.Test;

class ChangeEventEmitterTest {

    private final ChangeEventEmitter emitter = new ChangeEventEmitter(new IndexNames("{topic}"));
    private final List<DocWriteRequest<?>> requests = new ArrayList<>();
    private final RequestIndexer indexer = new RequestIndexer() {
        @Override
        public void add(DeleteRequest... r) {
            requests.addAll(List.of(r));
        }

        @Override
        public void add(IndexRequest... r) {
            requests.addAll(List.of(r));
        }

        @Override
        public void add(UpdateRequest... r) {
            requests.addAll(List.of(r));
        }
    };

    @Test
    void upsertIndexesTheDocumentWithItsWalPositionAsExternalVersion() {
        emitter.emit(upsert("users", "1", 22023448, "{\"id\":1}", null), null, indexer);

        IndexRequest request = (IndexRequest) requests.get(0);
        assertThat(request.index()).isEqualTo("cdc.public.users");
        assertThat(request.id()).isEqualTo("1");
        assertThat(request.version()).isEqualTo(22023448L);
        assertThat(request.versionType()).isEqualTo(VersionType.EXTERNAL_GTE);
        assertThat(request.source().utf8ToString()).isEqualTo("{\"id\":1}");
    }

    @Test
    void deleteIsVersionedToo() {
        emitter.emit(delete("users", "1", 22023736, null), null, indexer);

        DeleteRequest request = (DeleteRequest) requests.get(0);
        assertThat(request.id()).isEqualTo("1");
        assertThat(request.version()).isEqualTo(22023736L);
        assertThat(request.versionType()).isEqualTo(VersionType.EXTERNAL_GTE);
    }
}
