package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.PostgresServer;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code up}'s wait for the snapshot to be searchable, against a real PostgreSQL and Elasticsearch: the sample tables'
 * rows, indexed as the job would index them, in part or in whole.
 */
@ExtendWith(SharedServices.class)
class SearchableSnapshotITCase {

    static PostgresServer postgres;
    static String database;
    static ElasticsearchHttp es;

    @BeforeAll
    static void start(PostgresServer server, ElasticsearchNode node) throws Exception {
        postgres = server;
        es = new ElasticsearchHttp(node.url());
        database = SharedServices.createDatabase(server, "cli_searchable");
        assertThat(CliRun.with("setup-db", SharedServices.postgresFlags(server, database)).exitCode()).isZero();
    }

    @BeforeEach
    void noIndexYet() {
        es.getIfExists("/cdc.public.*").ifPresent(indices -> es.delete("/cdc.public.*"));
    }

    @Test
    void saysPlainlyWhatIsStillBeingIndexedWhenTheWaitIsUp() throws Exception {
        try (Connection db = SharedServices.connect(postgres, database)) {
            indexAll(db);
            es.delete("/cdc.public.users/_doc/3?refresh=true");
            StringWriter printed = new StringWriter();

            boolean searchable = SearchableSnapshot.await(new PrintWriter(printed, true), "up", db, es,
                    Duration.ofSeconds(1), Duration.ofMillis(200));

            assertThat(searchable).isFalse();
            assertThat(printed.toString())
                    .contains("up: waiting until the tables' rows are searchable in Elasticsearch (at most 1 s): "
                            + "orders 8 of 8 documents, users 4 of 5 documents")
                    .contains("up: the snapshot is still being indexed after 1 s: orders 8 of 8 documents, users 4 of 5 "
                            + "documents searchable.");
        }
    }

    @Test
    void waitsUntilEveryRowIsSearchable() throws Exception {
        try (Connection db = SharedServices.connect(postgres, database)) {
            StringWriter printed = new StringWriter();
            CompletableFuture<Void> indexing = CompletableFuture.runAsync(() -> {
                try (Connection other = SharedServices.connect(postgres, database)) {
                    Thread.sleep(1_000); // the job's first writes arrive after up has started waiting
                    indexAll(other);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });

            boolean searchable = SearchableSnapshot.await(new PrintWriter(printed, true), "up", db, es,
                    Duration.ofSeconds(60), Duration.ofMillis(200));

            indexing.get(60, TimeUnit.SECONDS);
            assertThat(searchable).isTrue();
            assertThat(printed.toString())
                    .contains("(at most 60 s): orders 0 of 8 documents, users 0 of 5 documents")
                    .containsPattern("up: the tables' rows are searchable after \\d+ s: orders 8 of 8 documents, "
                            + "users 5 of 5 documents");
        }
    }

    @Test
    void anIndexWhoseShardsDoNotAnswerYetHasNothingSearchable() throws Exception {
        // As just after the job's first write created it: searches answer 503 until a shard is started.
        es.put("/cdc.public.users?wait_for_active_shards=0", Json.parse(
                "{\"settings\":{\"index.routing.allocation.require._name\":\"no-such-node\"}}", "t"));
        try (Connection db = SharedServices.connect(postgres, database)) {
            StringWriter printed = new StringWriter();

            boolean searchable = SearchableSnapshot.await(new PrintWriter(printed, true), "up", db, es,
                    Duration.ofSeconds(1), Duration.ofMillis(200));

            assertThat(searchable).isFalse();
            assertThat(printed.toString()).contains("orders 0 of 8 documents, users 0 of 5 documents searchable.");
        }
    }

    @Test
    void saysNothingWhenAllIsSearchableAlready() throws Exception {
        try (Connection db = SharedServices.connect(postgres, database)) {
            indexAll(db);
            StringWriter printed = new StringWriter();

            assertThat(SearchableSnapshot.await(new PrintWriter(printed, true), "up", db, es, Duration.ofSeconds(1),
                    Duration.ofMillis(200))).isTrue();
            assertThat(printed.toString()).isEmpty();
        }
    }

    private static void indexAll(Connection db) throws Exception {
        for (CapturedTable table : CapturedTable.withPrimaryKey(db, "public")) {
            JobLikeDocuments.index(db, es, table);
            es.refresh(table.index());
        }
    }
}
