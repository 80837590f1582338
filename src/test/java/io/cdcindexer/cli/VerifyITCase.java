package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.debezium.CapturedEventsRecorder;
import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.debezium.DebeziumEnvelope;
import io.cdcindexer.debezium.DebeziumFixtures;
import io.cdcindexer.debezium.DocumentIds;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.ProjectHome;
import io.cdcindexer.stack.PostgresServer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(SharedServices.class)
class VerifyITCase {

    static final int EXTRA_USERS = 2_000;

    static PostgresServer postgres;
    static ElasticsearchNode elasticsearch;
    static String database;
    static ElasticsearchHttp es;
    static String[] flags;

    @BeforeAll
    static void start(PostgresServer server, ElasticsearchNode node) throws SQLException {
        postgres = server;
        elasticsearch = node;
        es = new ElasticsearchHttp(node.url());
        database = SharedServices.createDatabase(server, "cli_verify");
        String[] pg = SharedServices.postgresFlags(server, database);
        flags = Stream.concat(Arrays.stream(pg),
                Stream.of("--elasticsearch", node.url())).toArray(String[]::new);
        assertThat(CliRun.with("setup-db", pg).exitCode()).isZero();
        try (Connection db = SharedServices.connect(server, database); Statement statement = db.createStatement()) {
            statement.execute("INSERT INTO users (username, email, created_at) SELECT 'user' || i, 'user' || i || "
                    + "'@example.com', now() - i * interval '1.000123 second' FROM generate_series(1, " + EXTRA_USERS + ") i");
            statement.execute("INSERT INTO orders (user_id, amount, status) SELECT id, (id % 1000) + 0.10, 'paid' "
                    + "FROM users");
            statement.execute("""
                    CREATE TABLE readings (
                        sensor text, seq int, taken_at timestamp, day date, payload jsonb, value float8, ok bool,
                        tags text[], PRIMARY KEY (sensor, seq))""");
            statement.execute("""
                    INSERT INTO readings VALUES
                        ('north,1', 1, '2024-01-02 03:04:05.123456', '2024-01-02', '{"t": 21.50, "unit": "C"}', 0.1, true, '{a,b}'),
                        ('north,1', 2, '2024-01-02 03:04:06', '2024-01-02', '{"list": [1.25, 2.50], "x": {"y": null}}', -2.5, false, '{}'),
                        ('50%', 1, NULL, NULL, NULL, NULL, NULL, NULL)""");
            statement.execute("CREATE TABLE no_key (x int)");
        }
    }

    @BeforeEach
    void indexEveryTableAsTheJobWould() throws SQLException {
        es.getIfExists("/cdc.public.*").ifPresent(indices -> es.delete("/cdc.public.*"));
        try (Connection db = SharedServices.connect(postgres, database)) {
            for (CapturedTable table : CapturedTable.withPrimaryKey(db, "public")) {
                JobLikeDocuments.index(db, es, table);
            }
        }
        JobLikeDocuments.indexJoined(es, SHIPPED_DOCUMENTS);
    }

    /** configs/documents.json: users with their orders, orders with their user. */
    static final JoinedDocuments SHIPPED_DOCUMENTS = load();

    private static JoinedDocuments load() {
        try {
            return JoinedDocuments.load(ProjectHome.dir().resolve("configs/documents.json"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void findsNoDifferenceWhenTheIndexMatches() {
        CliRun run = CliRun.with("verify", flags);

        assertThat(run.exitCode()).as(run.toString()).isZero();
        int users = 5 + EXTRA_USERS;
        assertThat(run.out())
                .contains("verify: users " + users + " rows, " + users + " docs, 0 missing, 0 extra, 0 stale")
                .contains("verify: orders " + (8 + users) + " rows, " + (8 + users) + " docs, 0 missing, 0 extra, 0 stale")
                .contains("verify: readings 3 rows, 3 docs, 0 missing, 0 extra, 0 stale")
                .contains("verify: cdc.documents.users " + users + " rows, " + users + " docs, 0 missing, 0 extra, "
                        + "0 stale")
                .contains("verify: cdc.documents.orders " + (8 + users) + " rows, " + (8 + users) + " docs, 0 missing, "
                        + "0 extra, 0 stale")
                .contains("verify: in step")
                .doesNotContain("no_key");
    }

    @Test
    void reportsMissingExtraAndStaleDocumentsAndExitsNonZero() {
        es.delete("/cdc.public.users/_doc/3");
        es.post("/cdc.public.users/_update/4", Json.parse("{\"doc\":{\"email\":\"old@example.com\"}}", "t"));
        es.post("/cdc.public.users/_update/5", Json.parse("{\"doc\":{\"nickname\":\"x\"}}", "t"));
        es.put("/cdc.public.users/_doc/999999", Json.parse("{\"id\":999999}", "t"));
        es.post("/cdc.public.readings/_update/" + ElasticsearchHttp.encode("north%2C1,2"),
                Json.parse("{\"doc\":{\"value\":-3.5}}", "t"));
        es.refresh("cdc.public.*");

        CliRun run = CliRun.with("verify", flags);

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        int users = 5 + EXTRA_USERS;
        assertThat(run.out())
                .contains("verify: users " + users + " rows, " + users + " docs, 1 missing, 1 extra, 2 stale")
                .contains("  missing users/3")
                .contains("  stale users/4: email: database \"dave@example.com\", index \"old@example.com\"")
                .contains("  stale users/5: has field nickname, which is no column")
                .contains("  extra users/999999")
                .contains("verify: readings 3 rows, 3 docs, 0 missing, 0 extra, 1 stale")
                .contains("  stale readings/north%2C1,2: value: database -2.5, index -3.5")
                .contains("verify: DIFFERENCES FOUND");
    }

    @Test
    void findsTheJoinedDocumentsAnOrderMovedBehindTheirBackLeftStale() throws Exception {
        // Alice's first order (id 1) moves to bob in the database only: both users' documents and the order's own
        // document no longer match what the tables join to. (Each user also has an order of id 8 + its id.)
        execute("UPDATE orders SET user_id = 2 WHERE id = 1");
        try {
            es.delete("/cdc.documents.users/_doc/5");
            es.refresh("cdc.documents.*");

            CliRun run = CliRun.with("verify", flags);

            assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
            int users = 5 + EXTRA_USERS;
            assertThat(run.out())
                    .contains("verify: cdc.documents.users " + users + " rows, " + (users - 1) + " docs, 1 missing, "
                            + "0 extra, 2 stale")
                    .contains("  stale cdc.documents.users/1: orders: database 2 (ids 2, 9), index 3")
                    .contains("  stale cdc.documents.users/2: orders: database 3 (ids 1, 3, 10), index 2")
                    .contains("  missing cdc.documents.users/5")
                    .contains("verify: cdc.documents.orders")
                    .containsPattern("stale cdc.documents.orders/1: user_id: database 2, index 1; user.id: database 2, "
                            + "index 1; user.username: database \"bob\", index \"alice\"; .*");
        } finally {
            execute("UPDATE orders SET user_id = 1 WHERE id = 1");
        }
    }

    @Test
    void aDocumentsFileOfOneOwnIsCheckedAndAnEmptyOneChecksNone() throws Exception {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("documents", ".json");
        java.nio.file.Files.writeString(file, """
                {"documents": [{"index": "cdc.documents.users", "table": "public.users", "columns": ["id"]}]}""");

        CliRun own = CliRun.with("verify", flags, "--documents", file.toString());
        CliRun none = CliRun.with("verify", flags, "--documents", "");

        assertThat(own.out()).as("the shipped index carries more than the id").contains(
                "verify: cdc.documents.users " + (5 + EXTRA_USERS) + " rows").contains("has field username, which is no "
                + "column").doesNotContain("cdc.documents.orders");
        assertThat(none.exitCode()).as(none.toString()).isZero();
        assertThat(none.out()).doesNotContain("cdc.documents");
    }

    @Test
    void aDocumentTwoLevelsDeepThroughASharedParentWithATextForeignKeyIsInStep() throws Exception {
        // buyers ⊃ line_items → product ⊃ images: two line items of buyer 1 point to product 5, whose images join up
        // once per line item; line_items.product_code is text, products.id an integer, linked as the job links them.
        String shop = SharedServices.createDatabase(postgres, "cli_verify_shop");
        try (Connection db = SharedServices.connect(postgres, shop); Statement statement = db.createStatement()) {
            statement.execute("CREATE TABLE buyers (id int PRIMARY KEY, name text)");
            statement.execute("CREATE TABLE products (id int PRIMARY KEY, title text)");
            statement.execute("CREATE TABLE line_items (id int PRIMARY KEY, buyer_id int, product_code text, qty int)");
            statement.execute("CREATE TABLE images (id int PRIMARY KEY, product_id int, url text)");
            statement.execute("INSERT INTO buyers VALUES (1, 'ann'), (2, 'ben')");
            statement.execute("INSERT INTO products VALUES (5, 'lamp'), (6, 'desk')");
            statement.execute("INSERT INTO line_items VALUES (10, 1, '5', 1), (11, 1, '5', 2), (12, 2, '6', 1), "
                    + "(13, 2, '99', 1)");
            statement.execute("INSERT INTO images VALUES (50, 5, 'a.png'), (51, 5, 'b.png')");
            for (CapturedTable table : CapturedTable.withPrimaryKey(db, "public")) {
                JobLikeDocuments.index(db, es, table);
            }
        }
        java.nio.file.Path file = java.nio.file.Files.createTempFile("documents", ".json");
        java.nio.file.Files.writeString(file, """
                {"documents": [{"index": "cdc.documents.buyers", "table": "public.buyers",
                  "children": [{"field": "items", "table": "public.line_items", "foreignKey": ["buyer_id"],
                    "columns": ["id", "qty"],
                    "parents": [{"field": "product", "table": "public.products", "foreignKey": ["product_code"],
                      "children": [{"field": "images", "table": "public.images", "foreignKey": ["product_id"]}]}]}]}]}""");
        JobLikeDocuments.indexJoined(es, JoinedDocuments.load(file));
        String[] shopFlags = Stream.concat(Arrays.stream(SharedServices.postgresFlags(postgres, shop)),
                Stream.of("--elasticsearch", elasticsearch.url(), "--documents", file.toString())).toArray(String[]::new);

        CliRun run = CliRun.with("verify", shopFlags);

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("verify: cdc.documents.buyers 2 rows, 2 docs, 0 missing, 0 extra, 0 stale");
        assertThat(es.getIfExists("/cdc.documents.buyers/_doc/1").orElseThrow().path("_source").toString())
                .as("the document verify accepted").isEqualTo("{\"id\":1,\"name\":\"ann\",\"items\":["
                        + "{\"id\":10,\"qty\":1,\"product\":{\"id\":5,\"title\":\"lamp\",\"images\":["
                        + "{\"id\":50,\"product_id\":5,\"url\":\"a.png\"},{\"id\":51,\"product_id\":5,"
                        + "\"url\":\"b.png\"}]}},{\"id\":11,\"qty\":2,\"product\":{\"id\":5,\"title\":\"lamp\","
                        + "\"images\":[{\"id\":50,\"product_id\":5,\"url\":\"a.png\"},{\"id\":51,"
                        + "\"product_id\":5,\"url\":\"b.png\"}]}}]}");

        try (Connection db = SharedServices.connect(postgres, shop); Statement statement = db.createStatement()) {
            statement.execute("UPDATE images SET url = 'c.png' WHERE id = 51");
        }
        CliRun stale = CliRun.with("verify", shopFlags);

        assertThat(stale.out()).contains("verify: cdc.documents.buyers 2 rows, 2 docs, 0 missing, 0 extra, 1 stale")
                .contains("stale cdc.documents.buyers/1: items[0].product.images[1].url: database \"c.png\", index "
                        + "\"b.png\"");
        es.delete("/cdc.public.buyers,cdc.public.products,cdc.public.line_items,cdc.public.images,cdc.documents.buyers");
    }

    private static void execute(String sql) throws SQLException {
        try (Connection db = SharedServices.connect(postgres, database); Statement statement = db.createStatement()) {
            statement.execute(sql);
        }
    }

    @Test
    void checksOnlyTheTablesAskedFor() {
        es.delete("/cdc.public.users");

        CliRun run = CliRun.with("verify", flags, "--table", "orders");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("verify: orders").doesNotContain("verify: users");
    }

    @Test
    void takesATableWithOrWithoutItsSchema() {
        CliRun run = CliRun.with("verify", flags, "--table", "public.orders", "--table", "users");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("verify: orders", "verify: users", "verify: in step (2 tables,");
    }

    @Test
    void aTableOfAnotherSchemaIsLookedForThere() {
        CliRun run = CliRun.with("verify", flags, "--table", "sales.orders");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("No table sales.orders with a primary key; tables of schema sales that have one: []");
    }

    @Test
    void aMissingIndexMeansEveryRowIsMissing() {
        es.delete("/cdc.public.readings");

        CliRun run = CliRun.with("verify", flags, "--table", "readings", "--show", "1");

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.out())
                .contains("verify: readings 3 rows, 0 docs, 3 missing, 0 extra, 0 stale (index cdc.public.readings does "
                        + "not exist)")
                .contains("... 2 more");
    }

    @Test
    void namesTheTablesItKnowsWhenAskedForAnother() {
        CliRun run = CliRun.with("verify", flags, "--table", "nope");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("No table public.nope with a primary key").contains("users");
    }

    @Test
    void waitsForThePipelineToCatchUp() throws Exception {
        es.delete("/cdc.public.users/_doc/2?refresh=true");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        var verify = CliRun.start(out, Stream.concat(Stream.of("verify"),
                Stream.concat(Arrays.stream(flags),
                        Stream.of("--table", "users", "--wait", "60s"))).toArray(String[]::new));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!out.toString(StandardCharsets.UTF_8).contains("checking again")) {
            assertThat(System.nanoTime()).as("verify noticed the difference").isLessThan(deadline);
            LockSupport.parkNanos(50_000_000); // poll interval
        }
        es.put("/cdc.public.users/_doc/2?refresh=true", Json.parse(
                "{\"id\":2,\"username\":\"bob\",\"email\":\"bob@example.com\",\"created_at\":\""
                        + createdAt(2) + "\"}", "t"));

        CliRun run = verify.get(60, TimeUnit.SECONDS);

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("verify: 1 difference, checking again").contains("verify: in step");
    }

    private static String createdAt(int userId) throws SQLException {
        try (Connection db = SharedServices.connect(postgres, database); Statement statement = db.createStatement();
                ResultSet rs = statement.executeQuery("SELECT created_at FROM users WHERE id = " + userId)) {
            rs.next();
            return rs.getObject(1, OffsetDateTime.class).toInstant().toString();
        }
    }

    /**
     * Tables keyed by every primary key type, composite keys mixing them, and a text key '' (the key-types scenario of
     * CapturedEventsRecorder), their rows as the captured update events left them, indexed with the documents and ids
     * the job's decoder made of those real events.
     */
    @Test
    void findsTheDocumentsOfKeysOfEveryTypeTheEmptyStringIncluded() throws Exception {
        String keysDatabase = SharedServices.createDatabase(postgres, "cli_verify_keys");
        try (Connection db = SharedServices.connect(postgres, keysDatabase); Statement statement = db.createStatement()) {
            for (String sql : CapturedEventsRecorder.keyTypesSchema()) {
                statement.execute(sql);
            }
            for (String sql : CapturedEventsRecorder.keyTypesInserts("second")) {
                statement.execute(sql);
            }
        }
        DebeziumDecoder decoder = new DebeziumDecoder("__debezium_unavailable_value");
        StringBuilder bulk = new StringBuilder();
        List<String> tables = CapturedEventsRecorder.keyTypesTables();
        for (String table : tables) {
            KafkaRecord update = DebeziumFixtures.record(
                    "captured/keys-" + table.substring("key_".length()).replace('_', '-') + "-update");
            DebeziumEnvelope envelope = decoder.decode(update.topic, update.key, update.value);
            ObjectNode action = Json.object();
            action.putObject("index").put("_index", update.topic).put("_id", DocumentIds.of(envelope.key()));
            bulk.append(Json.compact(action)).append('\n')
                    .append(new String(DebeziumDecoder.toJson(envelope.after()), StandardCharsets.UTF_8)).append('\n');
        }
        es.bulk(bulk.toString());
        es.refresh("cdc.public.key_*");
        String[] keysFlags = Stream.concat(Arrays.stream(SharedServices.postgresFlags(postgres, keysDatabase)),
                Stream.of("--elasticsearch", elasticsearch.url())).toArray(String[]::new);

        CliRun run = CliRun.with("verify", keysFlags);

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(tables).hasSize(19).allSatisfy(table -> assertThat(run.out())
                .contains("verify: " + table + " 1 row, 1 doc, 0 missing, 0 extra, 0 stale"));
        assertThat(run.out()).contains("verify: in step");

        // The ids are really compared: without the documents of '' and of a composite key, both rows are missing.
        es.delete("/cdc.public.key_text_empty/_doc/" + ElasticsearchHttp.encode("%00") + "?refresh=true");
        es.delete("/cdc.public.key_composite_1/_doc/" + ElasticsearchHttp.encode("2022-01-08,10.50,x%2Cy%25")
                + "?refresh=true");
        CliRun after = CliRun.with("verify", keysFlags);

        assertThat(after.exitCode()).as(after.toString()).isEqualTo(1);
        assertThat(after.out())
                .contains("verify: key_text_empty 1 row, 0 docs, 1 missing, 0 extra, 0 stale")
                .contains("  missing key_text_empty/%00")
                .contains("verify: key_composite_1 1 row, 0 docs, 1 missing, 0 extra, 0 stale")
                .contains("  missing key_composite_1/2022-01-08,10.50,x%2Cy%25");
    }

    @Test
    void helpExplainsWhatStaleMeans() {
        CliRun run = CliRun.of("verify", "--help");

        assertThat(run.out()).contains("stale    the document exists but holds other values than the row");
    }
}
