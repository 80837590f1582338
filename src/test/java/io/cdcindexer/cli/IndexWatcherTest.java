package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class IndexWatcherTest {

    @Test
    void bucketsSplitTheKnownSequenceNumbersEvenlyAndCoverTheWholeRange() {
        TreeMap<Long, String> known = new TreeMap<>();
        for (long seqNo = 10; seqNo < 110; seqNo++) {
            known.put(seqNo * 2, "id" + seqNo);
        }
        assertThat(IndexWatcher.bucketBounds(known, 4, 0, 1_000)).containsExactly(0L, 20L, 70L, 120L, 170L, 1_000L);
        assertThat(IndexWatcher.bucketBounds(new TreeMap<>(), 4, 5, 9)).containsExactly(5L, 9L);
    }

    @Test
    void describesChangesAsOneLineEach() {
        var before = Json.parse("{\"id\":1,\"email\":\"a\"}", "t");
        var after = Json.parse("{\"id\":1,\"email\":\"b\"}", "t");
        assertThat(new IndexWatcher.Change(IndexWatcher.Kind.CREATED, "cdc.public.users", "1", after, null).describe())
                .isEqualTo("created users/1 {\"id\":1,\"email\":\"b\"}");
        assertThat(new IndexWatcher.Change(IndexWatcher.Kind.UPDATED, "cdc.public.users", "1", after, before).describe())
                .isEqualTo("updated users/1 email: \"a\" → \"b\"");
        assertThat(new IndexWatcher.Change(IndexWatcher.Kind.UPDATED, "other", "1", after, null).describe())
                .isEqualTo("updated other/1 {\"id\":1,\"email\":\"b\"}");
        assertThat(new IndexWatcher.Change(IndexWatcher.Kind.DELETED, "cdc.public.users", "1", null, before).describe())
                .isEqualTo("deleted users/1");
    }
}
