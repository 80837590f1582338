package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.ProjectHome;
import io.cdcindexer.stack.StackPorts;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.time.Instant;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole pipeline end to end, as a user meets it: {@code ./cdc up --detach} on free ports (PostgreSQL, Kafka, Kafka
 * Connect with Debezium, Elasticsearch, a Flink cluster running the job jar), then SQL in PostgreSQL and documents in
 * Elasticsearch. Every check polls with a deadline; the stack is stopped afterwards, also when a test fails.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PipelineITCase {

    private static final int DEADLINE_SECONDS = 120;

    @TempDir
    static Path dataDir;

    static StackPorts ports;
    static String[] flags;

    @BeforeAll
    static void up() {
        ports = StackPorts.free();
        flags = ConnectionOptions.flagsFor(ports);
        CliRun up = CliRun.with("up", flags, "--detach", "--data-dir", dataDir.toString());
        assertThat(up.exitCode()).as(up.toString()).isZero();
    }

    @AfterAll
    static void down() {
        CliRun down = CliRun.of("down", "--data-dir", dataDir.toString());
        assertThat(down.exitCode()).as(down.toString()).isZero();
    }

    @Test
    @Order(1)
    void preExistingRowsArriveThroughTheSnapshot() throws Exception {
        long users = count("SELECT count(*) FROM users");
        assertThat(users).as("rows from ./cdc setup-db").isPositive();

        await("every user row indexed", () -> docCount("cdc.public.users") == users);
        JsonNode first = awaitDoc("cdc.public.users", "1", doc -> true);
        try (Connection connection = connect(); Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT username, email FROM users WHERE id = 1")) {
            assertThat(row.next()).isTrue();
            assertThat(first.path("username").asText()).isEqualTo(row.getString(1));
            assertThat(first.path("email").asText()).isEqualTo(row.getString(2));
        }
        // The snapshot filled the index without refresh; its last read put the shipped file's settings back.
        JsonNode settings = Http.get(es() + "/cdc.public.users/_settings?flat_settings=true").json().elements().next()
                .path("settings");
        assertThat(settings.path("index.refresh_interval").asText()).isEqualTo("1s");
        assertThat(settings.path("index.number_of_replicas").asText()).isEqualTo("0");
        JsonNode meta = Http.get(es() + "/cdc.public.users/_mapping").json().elements().next().path("mappings")
                .path("_meta").path("cdc-indexer");
        assertThat(meta.path("initialLoad").has("endedAt")).as("the load ended: " + meta).isTrue();
        try (var logs = java.nio.file.Files.list(dataDir.resolve("flink"))) {
            assertThat(logs.filter(log -> log.getFileName().toString().startsWith("taskmanager")
                    && log.getFileName().toString().endsWith(".log")).anyMatch(log -> {
                        try {
                            return java.nio.file.Files.readString(log).contains(
                                    "Index cdc.public.users_v1: refresh back to");
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    })).as("the task manager's log says the initial load of users ended").isTrue();
        }
    }

    @Test
    @Order(2)
    void insertUpdateAndDeleteFollowTheRow() throws Exception {
        long id = count("INSERT INTO users(username, email) VALUES ('e2e', 'e2e@example.com') RETURNING id");
        awaitDoc("cdc.public.users", id, doc -> doc.path("email").asText().equals("e2e@example.com"));

        execute("UPDATE users SET email = 'changed@example.com' WHERE id = " + id);
        awaitDoc("cdc.public.users", id, doc -> doc.path("email").asText().equals("changed@example.com"));

        execute("DELETE FROM users WHERE id = " + id);
        awaitGone("cdc.public.users", Long.toString(id));
    }

    @Test
    @Order(3)
    void aMultiStatementTransactionLandsWhole() throws Exception {
        long id;
        try (Connection connection = connect()) {
            connection.setAutoCommit(false);
            try (Statement statement = connection.createStatement()) {
                id = single(statement, "INSERT INTO users(username, email) VALUES ('tx', 'v1@example.com') RETURNING id");
                statement.execute("UPDATE users SET email = 'v2@example.com' WHERE id = " + id);
                statement.execute("UPDATE users SET email = 'v3@example.com' WHERE id = " + id);
                statement.execute("INSERT INTO orders(user_id, amount, status) VALUES (" + id + ", 10.00, 'new'), ("
                        + id + ", 20.00, 'new')");
            }
            connection.commit();
        }

        awaitDoc("cdc.public.users", id, doc -> doc.path("email").asText().equals("v3@example.com"));
        await("both orders of the transaction indexed",
                () -> search("cdc.public.orders", "user_id:" + id).path("hits").path("total").path("value").asLong() == 2);
    }

    @Test
    @Order(4)
    void deleteThenReinsertOfTheSameKeyKeepsTheDocument() throws Exception {
        long id = count("INSERT INTO users(username, email) VALUES ('again', 'first@example.com') RETURNING id");
        awaitDoc("cdc.public.users", id, doc -> doc.path("email").asText().equals("first@example.com"));

        // In separate transactions, then within one.
        execute("DELETE FROM users WHERE id = " + id);
        execute("INSERT INTO users(id, username, email) VALUES (" + id + ", 'again', 'second@example.com')");
        awaitDoc("cdc.public.users", id, doc -> doc.path("email").asText().equals("second@example.com"));

        execute("BEGIN; DELETE FROM users WHERE id = " + id + "; INSERT INTO users(id, username, email) VALUES (" + id
                + ", 'again', 'third@example.com'); COMMIT");
        awaitDoc("cdc.public.users", id, doc -> doc.path("email").asText().equals("third@example.com"));
    }

    @Test
    @Order(5)
    void aTableCreatedAfterTheConnectorStartedIsIndexed() throws Exception {
        execute("CREATE TABLE products(id int PRIMARY KEY, name text)");
        execute("INSERT INTO products VALUES (1, 'anvil')");

        awaitDoc("cdc.public.products", "1", doc -> doc.path("name").asText().equals("anvil"));
    }

    @Test
    @Order(6)
    void anAddedColumnAppearsWithTheNextUpdate() throws Exception {
        execute("ALTER TABLE users ADD COLUMN nickname text");
        execute("UPDATE users SET nickname = 'ally' WHERE id = 1");

        awaitDoc("cdc.public.users", "1", doc -> doc.path("nickname").asText().equals("ally"));
    }

    @Test
    @Order(7)
    void aCompositePrimaryKeyGivesItsDocumentId() throws Exception {
        execute("CREATE TABLE order_lines(order_id int, line text, qty int, PRIMARY KEY (order_id, line))");
        execute("INSERT INTO order_lines VALUES (7, 'a,b', 2)");

        // The values joined by ',' with ',' inside a value written %2C (docs/design.md, document ids).
        awaitDoc("cdc.public.order_lines", "7,a%252Cb", doc -> doc.path("qty").asInt() == 2);
    }

    @Test
    @Order(8)
    void numericAndTimestamptzArriveExact() throws Exception {
        long id = count("INSERT INTO orders(user_id, amount, status, created_at) "
                + "VALUES (1, 1234.50, 'paid', '2026-11-27 11:00:00.123456+01') RETURNING id");

        JsonNode order = awaitDoc("cdc.public.orders", id, doc -> doc.path("status").asText().equals("paid"));
        assertThat(order.path("amount").isNumber()).as("a number, not base64 bytes").isTrue();
        assertThat(order.path("amount").decimalValue()).isEqualByComparingTo("1234.50");
        String source = Http.get(es() + "/cdc.public.orders/_source/" + id).body();
        assertThat(source).as("the exact decimal as written").contains("\"amount\":1234.50");
        assertThat(order.path("created_at").asText()).isEqualTo("2026-11-27T10:00:00.123456Z");
    }

    @Test
    @Order(9)
    void aChangeCommittedAfterASnapshotStartedWinsOverTheSnapshotRead() throws Exception {
        long before = Http.get(es() + "/cdc.public.users/_doc/3").json().path("_version").asLong();
        try (Connection open = connect()) {
            open.setAutoCommit(false);
            try (Statement statement = open.createStatement()) {
                statement.execute("UPDATE users SET email = 'held@example.com' WHERE id = 3");
            }
            // While the update is uncommitted, the snapshot reads the old row, at a WAL position after the update's. The
            // signal is inserted by hand: ./cdc snapshot would wait for the open update (it signals under a SHARE lock
            // of the table, SignalTableITCase), so the commit position is what orders them here.
            try (Connection db = connect()) {
                SignalTable signals = SignalTable.of(KafkaConnectClient.ConnectorConfig.read(
                        ProjectHome.dir().resolve("configs/debezium-postgres-connector.json")), null);
                signals.create(db);
                signals.insert(db, "held-update-" + System.nanoTime(), "execute-snapshot",
                        SnapshotCommand.signalData(List.of("public.users")));
            }
            await("the snapshot read of users/3 indexed",
                    () -> Http.get(es() + "/cdc.public.users/_doc/3").json().path("_version").asLong() > before);
            open.commit();
        }

        awaitDoc("cdc.public.users", "3", doc -> doc.path("email").asText().equals("held@example.com"));
    }

    @Test
    @Order(10)
    void verifyPassesThenFindsADocumentRemovedBehindItsBack() throws Exception {
        CliRun inStep = CliRun.with("verify", flags, "--wait", "90s");
        assertThat(inStep.exitCode()).as(inStep.toString()).isZero();
        assertThat(inStep.out()).as("the joined documents the job built, against the same joins in SQL")
                .containsPattern("verify: cdc.documents.users \\d+ rows, \\d+ docs, 0 missing, 0 extra, 0 stale")
                .containsPattern("verify: cdc.documents.orders \\d+ rows, \\d+ docs, 0 missing, 0 extra, 0 stale");

        assertThat(Http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(es() + "/cdc.public.users/_doc/2?refresh=true"))
                .DELETE().build()).status()).isEqualTo(200);

        CliRun different = CliRun.with("verify", flags, "--table", "users");
        assertThat(different.exitCode()).as(different.toString()).isEqualTo(1);
        assertThat(different.out()).contains(", 1 missing, 0 extra, 0 stale").containsPattern("missing +users/2\\b");
    }

    @Test
    @Order(11)
    void aUsersDocumentCarriesItsOrdersAndFollowsAnOrderMovedToAnotherUserAndTheirDeletes() throws Exception {
        // configs/documents.json, which ./cdc up passes to the job: users with their orders, orders with their user.
        long alicesOrders = count("SELECT count(*) FROM orders WHERE user_id = 1");
        awaitDoc("cdc.documents.users", "1", doc -> doc.path("username").asText().equals("alice")
                && doc.path("orders").size() == alicesOrders);
        JsonNode mappings = Http.get(es() + "/cdc.documents.users/_mapping").json().elements().next().path("mappings");
        assertThat(mappings.path("properties").path("orders").path("type").asText()).isEqualTo("nested");

        long first;
        long second;
        long order;
        long other;
        try (Connection connection = connect()) {
            connection.setAutoCommit(false);
            try (Statement statement = connection.createStatement()) {
                first = single(statement, "INSERT INTO users(username, email) VALUES ('joined', 'j@example.com') "
                        + "RETURNING id");
                second = single(statement, "INSERT INTO users(username, email) VALUES ('other', 'o@example.com') "
                        + "RETURNING id");
                order = single(statement, "INSERT INTO orders(user_id, amount, status) VALUES (" + first
                        + ", 12.34, 'new') RETURNING id");
                other = single(statement, "INSERT INTO orders(user_id, amount, status) VALUES (" + first
                        + ", 5.00, 'new') RETURNING id");
            }
            connection.commit();
        }
        awaitDoc("cdc.documents.users", first, doc -> doc.path("orders").size() == 2
                && doc.path("orders").get(0).path("amount").decimalValue().toPlainString().equals("12.34"));
        awaitDoc("cdc.documents.orders", order, doc -> doc.path("user").path("username").asText().equals("joined"));

        execute("UPDATE orders SET user_id = " + second + " WHERE id = " + order);

        awaitDoc("cdc.documents.users", first, doc -> doc.path("orders").size() == 1
                && doc.path("orders").get(0).path("id").asLong() != order);
        awaitDoc("cdc.documents.users", second, doc -> doc.path("orders").size() == 1
                && doc.path("orders").get(0).path("id").asLong() == order);
        awaitDoc("cdc.documents.orders", order, doc -> doc.path("user").path("username").asText().equals("other"));

        // The sample's foreign key cascades: PostgreSQL deletes the users' orders in the same transaction, each a
        // delete event of its own on the orders topic (FINDINGS.md, joined documents).
        execute("DELETE FROM users WHERE id IN (" + first + ", " + second + ")");
        assertThat(count("SELECT count(*) FROM orders WHERE user_id IN (" + first + ", " + second + ")")).isZero();
        awaitGone("cdc.documents.users", Long.toString(first));
        awaitGone("cdc.documents.users", Long.toString(second));
        for (long cascaded : new long[] {order, other}) {
            awaitGone("cdc.documents.orders", Long.toString(cascaded));
            awaitGone("cdc.public.orders", Long.toString(cascaded));
        }
        // users/2, which test 10 removed behind verify's back, comes back with its next change.
        execute("UPDATE users SET email = email WHERE id = 2");
        CliRun verify = CliRun.with("verify", flags, "--wait", "90s");
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        assertThat(verify.out())
                .containsPattern("verify: cdc.documents.users \\d+ rows, \\d+ docs, 0 missing, 0 extra, 0 stale")
                .containsPattern("verify: cdc.documents.orders \\d+ rows, \\d+ docs, 0 missing, 0 extra, 0 stale");
    }

    // --- helpers --------------------------------------------------------------------------------------------------

    private static String es() {
        return "http://localhost:" + ports.elasticsearch();
    }

    private static Connection connect() throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + ports.postgres() + "/testdb", "postgres",
                "postgres");
    }

    private static void execute(String sql) throws SQLException {
        try (Connection connection = connect(); Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static long count(String sql) throws SQLException {
        try (Connection connection = connect(); Statement statement = connection.createStatement()) {
            return single(statement, sql);
        }
    }

    private static long single(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getLong(1);
        }
    }

    private static long docCount(String index) throws Exception {
        Http.Response response = Http.get(es() + "/" + index + "/_count");
        return response.ok() ? response.json().path("count").asLong() : -1;
    }

    private static JsonNode search(String index, String query) throws Exception {
        return Http.get(es() + "/" + index + "/_search?q=" + query).json();
    }

    private static JsonNode awaitDoc(String index, long id, Predicate<JsonNode> until) throws Exception {
        return awaitDoc(index, Long.toString(id), until);
    }

    /** Polls {@code GET index/_doc/id} until the document's source satisfies {@code until}; returns the source. */
    private static JsonNode awaitDoc(String index, String id, Predicate<JsonNode> until) throws Exception {
        Instant deadline = Instant.now().plusSeconds(DEADLINE_SECONDS);
        JsonNode last = null;
        while (Instant.now().isBefore(deadline)) {
            Http.Response response = Http.get(es() + "/" + index + "/_doc/" + id);
            if (response.ok()) {
                last = response.json().path("_source");
                if (until.test(last)) {
                    return last;
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError(index + "/" + id + " did not reach the expected state within " + DEADLINE_SECONDS
                + " s; last seen: " + last);
    }

    private static void awaitGone(String index, String id) throws Exception {
        await(index + "/" + id + " deleted", () -> Http.get(es() + "/" + index + "/_doc/" + id).status() == 404);
    }

    private interface Check {
        boolean holds() throws Exception;
    }

    private static void await(String what, Check check) throws Exception {
        Instant deadline = Instant.now().plusSeconds(DEADLINE_SECONDS);
        while (!check.holds()) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("Not within " + DEADLINE_SECONDS + " s: " + what);
            }
            Thread.sleep(200);
        }
    }
}
