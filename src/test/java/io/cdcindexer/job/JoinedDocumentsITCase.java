package io.cdcindexer.job;

import static io.cdcindexer.job.DebeziumJson.at;
import static io.cdcindexer.job.DebeziumJson.change;
import static io.cdcindexer.job.DebeziumJson.end;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.DebeziumFixtures;
import io.cdcindexer.kafka.CollectingDeadLetterQueue;
import io.cdcindexer.kafka.DeadLetterSink;
import io.cdcindexer.kafka.KafkaRecord;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Joined documents through the real topology on a MiniCluster: users carrying their orders (and the orders their
 * items), orders carrying their user, built from the three tables' topics as they interleave, written by a sink that
 * applies Elasticsearch's external-versioning rule.
 */
class JoinedDocumentsITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    static final String DOCUMENTS = """
            {"documents": [
              {"index": "cdc.documents.users", "table": "public.users",
               "children": [{"field": "orders", "table": "public.orders", "foreignKey": ["user_id"],
                             "columns": ["id", "amount"],
                             "children": [{"field": "items", "table": "public.items", "foreignKey": ["order_id"],
                                           "columns": ["id", "sku"]}]}]},
              {"index": "cdc.documents.orders", "table": "public.orders",
               "parents": [{"field": "user", "table": "public.users", "foreignKey": ["user_id"],
                            "columns": ["id", "email"]}]}
            ]}""";

    @TempDir
    Path dir;

    /**
     * Seven transactions, users on one partition and orders, items and the transaction topic on the other, so that a
     * user's change and its orders' changes meet in any order. Kafka times one second apart per transaction.
     */
    static List<List<KafkaRecord>> shop() {
        List<KafkaRecord> users = List.of(
                at(1_000, change("users", "c", 1, 101, "1", "email", "a@x")),
                at(1_000, change("users", "c", 2, 102, "1", "email", "b@x")),
                at(3_000, change("users", "u", 1, 303, "3", "email", "a2@x")),
                at(5_000, change("users", "c", 3, 501, "5", "email", "c@x")),
                at(6_000, change("users", "d", 2, 602, "6")));
        List<KafkaRecord> rest = List.of(
                at(1_001, end("1", 110, "users", 2)),
                // T2: two orders of user 1, an item of order 10
                at(2_000, change("orders", "c", 10, 201, "2", "user_id", 1, "amount", 5)),
                at(2_000, change("orders", "c", 11, 202, "2", "user_id", 1, "amount", 7)),
                at(2_000, change("items", "c", 100, 203, "2", "order_id", 10, "sku", "lamp")),
                at(2_001, end("2", 210, "orders", 2, "items", 1)),
                // T3: order 11 moves to user 2, order 10 changes, user 1 changes (on the other partition)
                at(3_000, change("orders", "u", 11, 301, "3", "user_id", 2, "amount", 7)),
                at(3_000, change("orders", "u", 10, 302, "3", "user_id", 1, "amount", 6)),
                at(3_001, end("3", 310, "orders", 2, "users", 1)),
                // T4: an order of user 3, who comes only in T5
                at(4_000, change("orders", "c", 12, 401, "4", "user_id", 3, "amount", 9)),
                at(4_001, end("4", 410, "orders", 1)),
                at(5_001, end("5", 510, "users", 1)),
                // T6: user 2 deleted with its order (a cascade)
                at(6_000, change("orders", "d", 11, 601, "6")),
                at(6_001, end("6", 610, "orders", 1, "users", 1)),
                // T7: the item moves from order 10 (user 1) to order 12 (user 3)
                at(7_000, change("items", "u", 100, 701, "7", "order_id", 12, "sku", "lamp")),
                at(7_001, end("7", 710, "items", 1)));
        return List.of(users, rest);
    }

    private VersionedIndexSink run(TestInfo test, int parallelism, List<List<KafkaRecord>> partitions)
            throws Exception {
        return run(test, parallelism, partitions, Files.writeString(dir.resolve("documents.json"), DOCUMENTS));
    }

    private VersionedIndexSink run(TestInfo test, int parallelism, List<List<KafkaRecord>> partitions, Path documents)
            throws Exception {
        String name = test.getDisplayName() + "-joined-p" + parallelism;
        VersionedIndexSink index = new VersionedIndexSink(name, 0);
        // No Elasticsearch here: the mapping step would wait for one (the captured events carry their schemas).
        JobOptions options = JobOptions.fromArgs("--parallelism", Integer.toString(parallelism),
                "--checkpoint.interval-ms", "100", "--documents", documents.toString(),
                "--elasticsearch.mappings", "none");
        new CdcIndexerJob(options, PartitionedRecordsSource.of(partitions, 20), index,
                new DeadLetterSink(new CollectingDeadLetterQueue(name)))
                .execute(StreamExecutionEnvironment.getExecutionEnvironment());
        return index;
    }

    @ParameterizedTest(name = "parallelism {0}")
    @ValueSource(ints = {1, 2})
    void documentsFollowInsertsUpdatesMovesCascadesAndChildrenBeforeTheirParent(int parallelism, TestInfo test)
            throws Exception {
        VersionedIndexSink index = run(test, parallelism, shop());

        assertThat(joined(index.documents())).containsExactly(
                entry("joined:cdc.documents.orders/10",
                        "{\"id\":10,\"user_id\":1,\"amount\":6,\"user\":{\"id\":1,\"email\":\"a2@x\"}}"),
                entry("joined:cdc.documents.orders/12",
                        "{\"id\":12,\"user_id\":3,\"amount\":9,\"user\":{\"id\":3,\"email\":\"c@x\"}}"),
                entry("joined:cdc.documents.users/1",
                        "{\"id\":1,\"email\":\"a2@x\",\"orders\":[{\"id\":10,\"amount\":6,\"items\":[]}]}"),
                entry("joined:cdc.documents.users/3", "{\"id\":3,\"email\":\"c@x\",\"orders\":[{\"id\":12,"
                        + "\"amount\":9,\"items\":[{\"id\":100,\"sku\":\"lamp\"}]}]}"));
        // The plain indices stay.
        assertThat(index.documents()).containsKeys("cdc.public.users/1", "cdc.public.orders/10", "cdc.public.items/100");
        assertThat(index.writes()).filteredOn(write -> write.documentKey().equals("joined:cdc.documents.users/2"))
                .last().extracting(write -> write.action).isEqualTo(ChangeEvent.Action.DELETE);
        assertThat(index.writes()).filteredOn(write -> write.documentKey().equals("joined:cdc.documents.users/1"))
                .extracting(write -> write.version).as("the highest commit position among its rows, never lower")
                .isSorted().last().isEqualTo(710L);
    }

    @ParameterizedTest(name = "parallelism {0}")
    @ValueSource(ints = {1, 2})
    void everyWriteOfADocumentShowsWholeTransactionsOnly(int parallelism, TestInfo test) throws Exception {
        VersionedIndexSink index = run(test, parallelism, shop());

        // User 1 after each transaction that touched it: T1, T2, T3 (its email, its order 10, order 11 leaving), T7.
        List<String> states = List.of(
                "{\"id\":1,\"email\":\"a@x\",\"orders\":[]}",
                "{\"id\":1,\"email\":\"a@x\",\"orders\":[{\"id\":10,\"amount\":5,\"items\":[{\"id\":100,\"sku\":"
                        + "\"lamp\"}]},{\"id\":11,\"amount\":7,\"items\":[]}]}",
                "{\"id\":1,\"email\":\"a2@x\",\"orders\":[{\"id\":10,\"amount\":6,\"items\":[{\"id\":100,\"sku\":"
                        + "\"lamp\"}]}]}",
                "{\"id\":1,\"email\":\"a2@x\",\"orders\":[{\"id\":10,\"amount\":6,\"items\":[]}]}");
        List<String> written = new ArrayList<>();
        for (ChangeEvent write : index.writes()) {
            if (write.documentKey().equals("joined:cdc.documents.users/1")) {
                written.add(new String(write.document, StandardCharsets.UTF_8));
            }
        }
        assertThat(written).isNotEmpty().allSatisfy(document -> assertThat(states).contains(document));
        assertThat(written).as("each whole state at most once").doesNotHaveDuplicates();
    }

    /**
     * The events the real connector wrote (CapturedEventsRecorder, scenario "joined"): two users and two orders in one
     * transaction, order 10 moved to user 2 by an update without its old row, user 1 deleted with order 11 by ON DELETE
     * CASCADE (the order's delete carries only its key). Each transaction's END comes before its changes, as in Kafka.
     * Run twice: up to the move, and through the cascade.
     */
    @ParameterizedTest(name = "parallelism {0}")
    @ValueSource(ints = {1, 2})
    void eventsCapturedFromTheRealConnectorBuildTheDocuments(int parallelism, TestInfo test) throws Exception {
        Path documents = Files.writeString(dir.resolve("shop.json"), """
                {"documents": [{"index": "cdc.documents.shop", "table": "public.shop_users",
                  "children": [{"field": "orders", "table": "public.shop_orders", "foreignKey": ["user_id"]}]}]}""");
        List<KafkaRecord> users = List.of(captured(1_000, "insert-user-1"), captured(1_000, "insert-user-2"));
        List<KafkaRecord> orders = List.of(captured(1_000, "insert-end"), captured(1_000, "insert-order-10"),
                captured(1_000, "insert-order-11"), captured(2_000, "move-end"), captured(2_000, "move-order-10"));
        String ben = "{\"id\":2,\"name\":\"ben\",\"orders\":[{\"id\":10,\"user_id\":2,\"amount\":5.00}]}";

        VersionedIndexSink moved = run(test, parallelism, List.of(users, orders), documents);

        // The move's update carries no old user_id; user 1 loses order 10 all the same.
        assertThat(joined(moved.documents())).containsExactly(
                entry("joined:cdc.documents.shop/1",
                        "{\"id\":1,\"name\":\"ann\",\"orders\":[{\"id\":11,\"user_id\":1,\"amount\":7.50}]}"),
                entry("joined:cdc.documents.shop/2", ben));

        VersionedIndexSink cascaded = run(test, parallelism, List.of(
                concat(users, List.of(captured(3_000, "cascade-user-1"))),
                concat(orders, List.of(captured(3_000, "cascade-end"), captured(3_000, "cascade-order-11")))),
                documents);

        assertThat(joined(cascaded.documents())).containsExactly(entry("joined:cdc.documents.shop/2", ben));
        assertThat(cascaded.writes()).filteredOn(write -> write.documentKey().equals("joined:cdc.documents.shop/1"))
                .last().extracting(write -> write.action).isEqualTo(ChangeEvent.Action.DELETE);
    }

    private static List<KafkaRecord> concat(List<KafkaRecord> first, List<KafkaRecord> then) {
        List<KafkaRecord> all = new ArrayList<>(first);
        all.addAll(then);
        return all;
    }

    private static KafkaRecord captured(long timestamp, String name) {
        return at(timestamp, DebeziumFixtures.record("captured/joined-" + name));
    }

    private static Map<String, String> joined(Map<String, String> documents) {
        Map<String, String> joined = new TreeMap<>();
        documents.forEach((key, source) -> {
            if (key.startsWith("joined:")) {
                joined.put(key, source);
            }
        });
        return joined;
    }
}
