package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.ElasticsearchNode;
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
    void checksOnlyTheTablesAskedFor() {
        es.delete("/cdc.public.users");

        CliRun run = CliRun.with("verify", flags, "--table", "orders");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("verify: orders").doesNotContain("verify: users");
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
        assertThat(run.out()).contains("verify: 1 differences, checking again").contains("verify: in step");
    }

    private static String createdAt(int userId) throws SQLException {
        try (Connection db = SharedServices.connect(postgres, database); Statement statement = db.createStatement();
                ResultSet rs = statement.executeQuery("SELECT created_at FROM users WHERE id = " + userId)) {
            rs.next();
            return rs.getObject(1, OffsetDateTime.class).toInstant().toString();
        }
    }

    @Test
    void helpExplainsWhatStaleMeans() {
        CliRun run = CliRun.of("verify", "--help");

        assertThat(run.out()).contains("stale    the document exists but holds other values than the row");
    }
}
