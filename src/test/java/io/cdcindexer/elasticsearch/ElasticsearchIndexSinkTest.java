package io.cdcindexer.elasticsearch;

import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.debezium.ChangeEvent;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.Predicate;
import org.apache.flink.runtime.plugable.SerializationDelegate;
import org.apache.flink.streaming.runtime.partitioner.KeyGroupStreamPartitioner;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.junit.jupiter.api.Test;

/** What the sink decides before its writer opens: which restored changes are still due, and whose documents are its. */
class ElasticsearchIndexSinkTest {

    private static AwaitingDocument waiting(long checkpointId, String id) {
        ChangeEvent change = upsert("articles", id, 200, "{\"id\":" + id + "}", null);
        change.unavailableColumns = new String[] {"body"};
        return new AwaitingDocument(checkpointId, "articles", 1_000, List.of(change));
    }

    /**
     * A version of the job without the writer's state (a rollback) carries it along unread into its own checkpoints.
     * Restored from one of those, what was waiting at an earlier checkpoint is over: its row changed since, and written
     * now it could bring a deleted row back.
     */
    @Test
    void onlyTheChangesOfTheCheckpointRestoredFromAreRestored() {
        List<AwaitingDocument> restored = List.of(waiting(7, "1"), waiting(12, "2"));

        assertThat(ElasticsearchIndexSink.ofTheCheckpoint(restored, OptionalLong.of(12)))
                .extracting(awaiting -> awaiting.changes().get(0).documentId).containsExactly("2");
        assertThat(ElasticsearchIndexSink.ofTheCheckpoint(restored, OptionalLong.empty())).isEmpty();
    }

    /** The writer's idea of whose document a change is matches where Flink's keyBy by document sends it. */
    @Test
    void aDocumentIsTheSubtasksWhereTheKeyByDocumentSendsItsChanges() {
        int parallelism = 3;
        int maxParallelism = 128;
        KeyGroupStreamPartitioner<ChangeEvent, String> keyBy =
                new KeyGroupStreamPartitioner<>(DocumentVersionFunction.DOCUMENT_KEY, maxParallelism);
        keyBy.setup(parallelism);
        for (int id = 1; id <= 200; id++) {
            ChangeEvent change = upsert("articles", Integer.toString(id), 200, "{}", null);
            SerializationDelegate<StreamRecord<ChangeEvent>> record = new SerializationDelegate<>(null);
            record.setInstance(new StreamRecord<>(change));
            int channel = keyBy.selectChannel(record);
            for (int subtask = 0; subtask < parallelism; subtask++) {
                Predicate<ChangeEvent> owned = ElasticsearchIndexSink.owned(subtask, parallelism, maxParallelism);
                assertThat(owned.test(change)).as("document %d on subtask %d (keyBy: %d)", id, subtask, channel)
                        .isEqualTo(subtask == channel);
            }
        }
    }
}
