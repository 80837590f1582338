package io.cdcindexer.debezium;

import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.cdcindexer.chaos.ChaosSchema;
import io.cdcindexer.cli.SampleSchema;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.KafkaConnectWorker;
import io.cdcindexer.stack.PostgresServer;
import io.cdcindexer.stack.ProjectHome;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Captures real change events from PostgreSQL 17 → Debezium (with {@code configs/debezium-postgres-connector.json} as
 * shipped) → Kafka, scenario by scenario, and writes the events that {@code docs/FINDINGS.md} shows to
 * {@code src/test/resources/debezium/captured/}. Run it again after upgrading Debezium or PostgreSQL, then run
 * {@code CapturedEventsTest} to see what changed:
 *
 * <pre>
 * mvn -q -B test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test.classpath
 * java -cp target/test-classes:target/classes:$(cat target/test.classpath) \
 *     io.cdcindexer.debezium.CapturedEventsRecorder /tmp/cdc-capture
 * </pre>
 *
 * The services run on free ports with their data in the scratch folder (the argument), and are stopped at the end.
 * Every event received is also written, readable, to {@code events.txt} there; what Elasticsearch answers to the
 * decoded documents goes to {@code elasticsearch.txt}.
 *
 * <p>Names of scenarios after the scratch folder run only those, on a fresh stack with the connector registered first
 * (the other fixtures stay as they are): {@code ... CapturedEventsRecorder /tmp/cdc-capture key-types}. The scenarios
 * that can run alone are listed in {@link #SCENARIOS}.
 */
public final class CapturedEventsRecorder implements AutoCloseable {

    private static final ObjectMapper JSON = JsonMapper.builder()
            .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(StreamWriteFeature.WRITE_BIGDECIMAL_AS_PLAIN)
            .build();
    private static final DefaultPrettyPrinter PRETTY = new DefaultPrettyPrinter()
            .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
            .withObjectIndenter(new DefaultIndenter(" ", "\n"))
            .withArrayIndenter(new DefaultIndenter(" ", "\n"));
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final String CONNECTOR = "cdc-postgres";
    private static final String PLACEHOLDER = "__debezium_unavailable_value";

    private final Path scratch;
    private final Path fixtures;
    private final PrintStream report;
    private PostgresServer postgres;
    private KafkaBroker kafka;
    private KafkaConnectWorker connect;
    private int connectPort;
    private EventLog log;
    private Connection sql;

    private CapturedEventsRecorder(Path scratch, Path fixtures) throws IOException {
        this.scratch = scratch;
        this.fixtures = fixtures;
        Files.createDirectories(scratch);
        Files.createDirectories(fixtures);
        this.report = new PrintStream(Files.newOutputStream(scratch.resolve("events.txt")), true, StandardCharsets.UTF_8);
    }

    /** The scenarios that can run on their own, by the name given on the command line. */
    static final List<String> SCENARIOS = List.of("key-types", "mapping-types", "joined");

    public static void main(String[] args) throws Exception {
        Path scratch = (args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("cdc-capture")).toAbsolutePath();
        Path fixtures = ProjectHome.dir().resolve("src/test/resources/debezium/captured");
        List<String> scenarios = args.length > 1 ? List.of(args).subList(1, args.length) : List.of();
        for (String scenario : scenarios) {
            if (!SCENARIOS.contains(scenario)) {
                throw new IllegalArgumentException("Unknown scenario '" + scenario + "'; known: " + SCENARIOS);
            }
        }
        try (CapturedEventsRecorder recorder = new CapturedEventsRecorder(scratch, fixtures)) {
            if (scenarios.isEmpty()) {
                recorder.run();
            } else {
                recorder.runAlone(scenarios);
            }
        }
        System.out.println("Fixtures in " + fixtures + "; every event in " + scratch.resolve("events.txt"));
    }

    private void run() throws Exception {
        start();
        snapshot();
        insertUpdateDelete();
        replicaIdentityFull();
        toast();
        types();
        transactions();
        schemaChanges();
        primaryKeyUpdate();
        tableWithoutPrimaryKey();
        replicaIdentityUsingIndex();
        truncateAndMessages();
        restarts();
        specialValues();
        keyTypes();
        mappingTypes();
        elasticsearchMappings();
        joined();
    }

    /** Runs only the named scenarios, on a fresh stack with the connector registered (no snapshot). */
    private void runAlone(List<String> scenarios) throws Exception {
        start();
        ddl("CREATE TABLE marker(id serial PRIMARY KEY, label text)");
        heading("connector registered before the scenarios: " + scenarios);
        registerConnector();
        for (String scenario : scenarios) {
            if (scenario.equals("key-types")) {
                keyTypes();
            } else if (scenario.equals("mapping-types")) {
                mappingTypes();
            } else if (scenario.equals("joined")) {
                joined();
            }
        }
    }

    // --- the stack -------------------------------------------------------------------------------------------------

    private void start() throws Exception {
        postgres = PostgresServer.start(scratch.resolve("postgres"), FreePorts.next());
        kafka = KafkaBroker.start(scratch.resolve("kafka"), FreePorts.next());
        connectPort = FreePorts.next();
        connect = KafkaConnectWorker.start(scratch.resolve("connect"), connectPort, kafka.bootstrapServers(), postgres.port());
        sql = postgres.connect();
        log = new EventLog(kafka.bootstrapServers(), report);
        note("Stack: PostgreSQL " + single("SHOW server_version") + " on " + postgres.port() + ", Kafka "
                + kafka.bootstrapServers() + ", Connect " + connect.url() + " "
                + Http.get(connect.url() + "/").body());
    }

    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>();
        all.add(log);
        all.add(sql);
        all.add(connect);
        all.add(kafka);
        all.add(postgres);
        for (AutoCloseable closeable : all) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception e) {
                System.err.println("Could not stop " + closeable + ": " + e);
            }
        }
        report.close();
    }

    private void registerConnector() throws Exception {
        String config = Files.readString(ProjectHome.dir().resolve("configs/debezium-postgres-connector.json"));
        Http.Response created = Http.post(connect.url() + "/connectors", config);
        if (created.status() != 201) {
            throw new IllegalStateException("Connector not created: " + created.status() + " " + created.body());
        }
        awaitConnectorRunning();
    }

    private void awaitConnectorRunning() throws Exception {
        Instant deadline = Instant.now().plus(WAIT);
        String last = "";
        while (Instant.now().isBefore(deadline)) {
            Http.Response status = Http.get(connect.url() + "/connectors/" + CONNECTOR + "/status");
            last = status.body();
            if (status.ok()) {
                JsonNode json = status.json();
                JsonNode tasks = json.path("tasks");
                if (json.path("connector").path("state").asText().equals("RUNNING") && tasks.size() == 1
                        && tasks.get(0).path("state").asText().equals("RUNNING")) {
                    return;
                }
                if (tasks.size() == 1 && tasks.get(0).path("state").asText().equals("FAILED")) {
                    throw new IllegalStateException("The connector task failed: " + last);
                }
            }
            log.poll(Duration.ofMillis(250));
        }
        throw new IllegalStateException("The connector did not run within " + WAIT + ": " + last);
    }

    // --- scenarios -------------------------------------------------------------------------------------------------

    private void snapshot() throws Exception {
        ddl("CREATE TABLE users(id serial PRIMARY KEY, username text, email text, created_at timestamptz)",
                "CREATE TABLE orders(id serial PRIMARY KEY, user_id int REFERENCES users, amount numeric(10,2), "
                        + "status text, created_at timestamptz)",
                "CREATE TABLE marker(id serial PRIMARY KEY, label text)",
                "INSERT INTO users(username, email, created_at) VALUES "
                        + "('alice', 'alice@example.com', '2026-11-27 10:00:00.123456+00'), "
                        + "('bob', 'bob@example.com', '2026-11-27 11:00:00+01'), "
                        + "('erin', 'erin@example.com', '2026-11-27 12:00:00+00')",
                "INSERT INTO orders(user_id, amount, status, created_at) VALUES (1, 1234.50, 'new', '2026-11-27 10:05:00+00')");
        heading("snapshot: 3 users and 1 order exist before the connector is registered");
        int mark = log.size();
        note("slot before registering: " + single("SELECT count(*) FROM pg_replication_slots"));
        registerConnector();
        List<Captured> events = log.await(mark, e -> e.stream().anyMatch(c -> "last".equals(c.snapshot())));
        log.drain();
        events = log.since(mark);
        note("slot: " + single("SELECT slot_name || ' ' || plugin || ' confirmed_flush_lsn=' || confirmed_flush_lsn "
                + "FROM pg_replication_slots"));
        note("publication: " + single("SELECT pubname || ' all_tables=' || puballtables || ' truncate=' || pubtruncate "
                + "FROM pg_publication"));
        List<Captured> reads = select(events, c -> "r".equals(c.op()));
        for (Captured read : reads) {
            save("snapshot-" + read.table() + "-" + read.snapshot().replace('_', '-'), read);
        }
    }

    private void insertUpdateDelete() throws Exception {
        List<Captured> insert = step("insert c",
                "INSERT INTO users(username, email, created_at) VALUES ('carol', 'carol@example.com', '2026-11-28 09:15:00+00')");
        save("users-insert", only(insert, "cdc.public.users", "c"));
        save("transaction-begin-single", only(insert, "cdc.transaction", "BEGIN"));
        save("transaction-end-single", only(insert, "cdc.transaction", "END"));
        List<Captured> update = step("update u under the default REPLICA IDENTITY",
                "UPDATE users SET email = 'carol@new.example.com' WHERE username = 'carol'");
        save("users-update", only(update, "cdc.public.users", "u"));
        List<Captured> delete = step("delete d + tombstone under the default REPLICA IDENTITY",
                "DELETE FROM users WHERE username = 'carol'");
        save("users-delete", only(delete, "cdc.public.users", "d"));
        save("users-tombstone", only(delete, "cdc.public.users", "tombstone"));
    }

    private void replicaIdentityFull() throws Exception {
        ddl("CREATE TABLE users_full(id serial PRIMARY KEY, username text, email text, created_at timestamptz)",
                "ALTER TABLE users_full REPLICA IDENTITY FULL");
        step("REPLICA IDENTITY FULL: insert",
                "INSERT INTO users_full(username, email, created_at) VALUES ('dora', 'dora@example.com', '2026-11-28 10:00:00+00')");
        List<Captured> update = step("REPLICA IDENTITY FULL: update", "UPDATE users_full SET email = 'dora@new.example.com'");
        save("full-update", only(update, "cdc.public.users_full", "u"));
        List<Captured> delete = step("REPLICA IDENTITY FULL: delete", "DELETE FROM users_full");
        save("full-delete", only(delete, "cdc.public.users_full", "d"));
        save("full-tombstone", only(delete, "cdc.public.users_full", "tombstone"));
    }

    private void toast() throws Exception {
        // Random hex does not compress: stored out of line (TOASTed). repeat('x', 10000) compresses to a few bytes and
        // stays in the row, so it is always sent.
        String random = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, %d))";
        String columns = "(id serial PRIMARY KEY, title text, body text, body_repeated text, payload jsonb, blob bytea, "
                + "tags text[])";
        String insert = "INSERT INTO %s(title, body, body_repeated, payload, blob, tags) VALUES ('First title', "
                + random.formatted(100) + ", repeat('x', 10000), jsonb_build_object('data', " + random.formatted(100)
                + "), decode(" + random.formatted(200) + ", 'hex'), ARRAY(SELECT md5(random()::text) FROM generate_series(1, 100)))";
        ddl("CREATE TABLE documents" + columns, "CREATE TABLE documents_full" + columns,
                "ALTER TABLE documents_full REPLICA IDENTITY FULL");
        for (String table : List.of("documents", "documents_full")) {
            List<Captured> inserted = step("TOAST " + table + ": insert", insert.formatted(table));
            note("stored sizes: " + single("SELECT 'body=' || pg_column_size(body) || ' body_repeated=' "
                    + "|| pg_column_size(body_repeated) || ' payload=' || pg_column_size(payload) || ' blob=' "
                    + "|| pg_column_size(blob) || ' tags=' || pg_column_size(tags) FROM " + table));
            List<Captured> updated = step("TOAST " + table + ": update the title only",
                    "UPDATE " + table + " SET title = 'Second title'");
            String name = table.equals("documents") ? "toast" : "toast-full";
            save(name + "-insert", only(inserted, "cdc.public." + table, "c"));
            save(name + "-update", only(updated, "cdc.public." + table, "u"));
            List<Captured> deleted = step("TOAST " + table + ": delete", "DELETE FROM " + table);
            save(name + "-delete", only(deleted, "cdc.public." + table, "d"));
        }
    }

    private void types() throws Exception {
        ddl("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
                "CREATE TABLE all_types(id serial PRIMARY KEY, price numeric(10,2), ratio numeric, born date, alarm time, "
                        + "alarm_tz timetz, seen_at timestamp, seen_at_ms timestamp(3), paid_at timestamptz, took interval, "
                        + "attrs json, doc jsonb, uid uuid, ints int[], words text[], prices numeric(10,2)[], days date[], "
                        + "blob bytea, active boolean, score float8, small real, big bigint, feeling mood, code char(5), "
                        + "cash money)");
        List<Captured> insert = step("types", "INSERT INTO all_types(price, ratio, born, alarm, alarm_tz, seen_at, seen_at_ms, "
                + "paid_at, took, attrs, doc, uid, ints, words, prices, days, blob, active, score, small, big, feeling, code, cash) "
                + "VALUES (1234.50, 3.14159265358979323846, '2022-01-08', '09:30:00.123456', '09:30:00+02', "
                + "'2025-11-27 10:00:00.123456', '2025-11-27 10:00:00.123', '2026-11-27 10:00:00.5+01', "
                + "'1 year 2 mons 3 days 04:05:06.789', '{\"size\": \"L\", \"tags\": [\"a\", \"b\"]}', "
                + "'[1, 2.50, {\"x\": null}]', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,NULL}', '{\"a,b\",c}', "
                + "'{1.5,2.25}', '{1970-01-01,2022-01-08}', '\\x0001ff'::bytea, true, 0.1, 1.5, 9007199254740993, 'happy', "
                + "'ab', 12.34)");
        save("types-insert", only(insert, "cdc.public.all_types", "c"));
    }

    private void transactions() throws Exception {
        List<Captured> tx = step("one transaction over two tables",
                "INSERT INTO users(id, username, email, created_at) VALUES (10, 'dave', 'dave@example.com', '2026-11-28 12:00:00+00')",
                "INSERT INTO orders(user_id, amount, status, created_at) VALUES (10, 10.00, 'new', now()), (10, 20.00, 'new', now())",
                "UPDATE users SET email = 'dave@new.example.com' WHERE id = 10");
        save("tx-begin", only(tx, "cdc.transaction", "BEGIN"));
        save("tx-users-insert", only(tx, "cdc.public.users", "c"));
        List<Captured> orders = select(tx, c -> c.topic.equals("cdc.public.orders"));
        save("tx-orders-insert-1", orders.get(0));
        save("tx-orders-insert-2", orders.get(1));
        save("tx-users-update", only(tx, "cdc.public.users", "u"));
        save("tx-end", only(tx, "cdc.transaction", "END"));

        List<Captured> updates = step("three updates of one row in one transaction",
                "UPDATE users SET email = 'alice1@example.com' WHERE id = 1",
                "UPDATE users SET email = 'alice2@example.com' WHERE id = 1",
                "UPDATE users SET email = 'alice3@example.com' WHERE id = 1");
        List<Captured> three = select(updates, c -> "u".equals(c.op()));
        for (int i = 0; i < three.size(); i++) {
            save("same-row-update-" + (i + 1), three.get(i));
        }
        save("same-row-end", only(updates, "cdc.transaction", "END"));
    }

    /**
     * What joined documents meet (docs/documents.md, FINDINGS.md): a user and its orders in one transaction, an order
     * moved to another user, a user deleted with its orders by ON DELETE CASCADE; default replica identity, so updates
     * and deletes carry no old row beyond the key.
     */
    private void joined() throws Exception {
        ddl("CREATE TABLE shop_users(id int PRIMARY KEY, name text)",
                "CREATE TABLE shop_orders(id int PRIMARY KEY, user_id int REFERENCES shop_users ON DELETE CASCADE, "
                        + "amount numeric(10,2))");
        List<Captured> insert = step("joined: a user and two orders in one transaction",
                "INSERT INTO shop_users VALUES (1, 'ann'), (2, 'ben')",
                "INSERT INTO shop_orders VALUES (10, 1, 5.00), (11, 1, 7.50)");
        // By key: a table's topic has several partitions, so its events come back in any order.
        save("joined-insert-user-1", row(insert, "cdc.public.shop_users", 1));
        save("joined-insert-user-2", row(insert, "cdc.public.shop_users", 2));
        save("joined-insert-order-10", row(insert, "cdc.public.shop_orders", 10));
        save("joined-insert-order-11", row(insert, "cdc.public.shop_orders", 11));
        save("joined-insert-end", only(insert, "cdc.transaction", "END"));

        List<Captured> move = step("joined: an order moved to another user",
                "UPDATE shop_orders SET user_id = 2 WHERE id = 10");
        save("joined-move-order-10", only(move, "cdc.public.shop_orders", "u"));
        save("joined-move-end", only(move, "cdc.transaction", "END"));

        List<Captured> cascade = step("joined: a user deleted, its order deleted by ON DELETE CASCADE",
                "DELETE FROM shop_users WHERE id = 1");
        save("joined-cascade-order-11", only(cascade, "cdc.public.shop_orders", "d"));
        save("joined-cascade-user-1", only(cascade, "cdc.public.shop_users", "d"));
        save("joined-cascade-end", only(cascade, "cdc.transaction", "END"));
        note("cascade: events in this order: " + cascade.stream().map(c -> c.topic + " " + (c.isTombstone()
                ? "tombstone" : c.op() != null ? c.op() : c.status())).toList());
    }

    private void schemaChanges() throws Exception {
        ddl("CREATE TABLE products(id serial PRIMARY KEY, name text, qty integer, price integer, note text)");
        save("schema-0-insert", only(step("schema: insert",
                "INSERT INTO products(name, qty, price, note) VALUES ('widget', 5, 12, 'first')"), "cdc.public.products", "c"));
        ddl("ALTER TABLE products ADD COLUMN color text NOT NULL DEFAULT 'red'");
        save("schema-1-added-column", only(step("schema: ADD COLUMN color, then update",
                "UPDATE products SET note = 'second'"), "cdc.public.products", "u"));
        ddl("ALTER TABLE products DROP COLUMN note");
        save("schema-2-dropped-column", only(step("schema: DROP COLUMN note, then update",
                "UPDATE products SET qty = 6"), "cdc.public.products", "u"));
        ddl("ALTER TABLE products ALTER COLUMN qty TYPE text");
        save("schema-3-integer-to-text", only(step("schema: qty integer -> text, then update",
                "UPDATE products SET qty = 'six'"), "cdc.public.products", "u"));
        ddl("ALTER TABLE products ALTER COLUMN price TYPE numeric(10,2)");
        save("schema-4-integer-to-numeric", only(step("schema: price integer -> numeric(10,2), then update",
                "UPDATE products SET price = 12.75"), "cdc.public.products", "u"));
        ddl("ALTER TABLE products ALTER COLUMN name TYPE jsonb USING to_jsonb(name)");
        save("schema-5-text-to-jsonb", only(step("schema: name text -> jsonb, then update",
                "UPDATE products SET name = '{\"en\": \"Widget\", \"fr\": \"Bidule\"}'"), "cdc.public.products", "u"));
        save("schema-6-insert-after-changes", only(step("schema: a new row after the changes",
                "INSERT INTO products(name, qty, price) VALUES ('\"gadget\"', '7', 3.5)"), "cdc.public.products", "c"));
    }

    private void primaryKeyUpdate() throws Exception {
        List<Captured> events = step("primary key update", "UPDATE users SET id = 100 WHERE id = 2");
        save("pk-update-delete", only(events, "cdc.public.users", "d"));
        save("pk-update-tombstone", only(events, "cdc.public.users", "tombstone"));
        save("pk-update-create", only(events, "cdc.public.users", "c"));
        save("pk-update-end", only(events, "cdc.transaction", "END"));
    }

    private void tableWithoutPrimaryKey() throws Exception {
        ddl("CREATE TABLE audit_log(message text, logged_at timestamptz)");
        save("nopk-insert", only(step("no primary key: insert",
                "INSERT INTO audit_log VALUES ('hello', '2026-11-28 12:00:00+00')"), "cdc.public.audit_log", "c"));
        try {
            tx("UPDATE audit_log SET message = 'changed'");
            note("UPDATE without replica identity succeeded");
        } catch (SQLException e) {
            note("UPDATE without primary key or replica identity, table in a FOR ALL TABLES publication: "
                    + e.getSQLState() + " " + e.getMessage().replace('\n', ' '));
        }
        ddl("ALTER TABLE audit_log REPLICA IDENTITY FULL");
        save("nopk-update-full", only(step("no primary key, REPLICA IDENTITY FULL: update",
                "UPDATE audit_log SET message = 'changed'"), "cdc.public.audit_log", "u"));
        List<Captured> delete = step("no primary key, REPLICA IDENTITY FULL: delete", "DELETE FROM audit_log");
        save("nopk-delete-full", only(delete, "cdc.public.audit_log", "d"));
        note("tombstones after a keyless delete: " + select(delete, Captured::isTombstone).size());
    }

    private void replicaIdentityUsingIndex() throws Exception {
        ddl("CREATE TABLE skus(id serial PRIMARY KEY, code text NOT NULL UNIQUE, name text)",
                "ALTER TABLE skus REPLICA IDENTITY USING INDEX skus_code_key");
        step("REPLICA IDENTITY USING INDEX (code): insert", "INSERT INTO skus(code, name) VALUES ('A-1', 'anvil')");
        save("ri-index-update-name", only(step("REPLICA IDENTITY USING INDEX: update another column",
                "UPDATE skus SET name = 'big anvil'"), "cdc.public.skus", "u"));
        List<Captured> code = step("REPLICA IDENTITY USING INDEX: update the indexed column", "UPDATE skus SET code = 'A-2'");
        save("ri-index-update-code-delete", only(code, "cdc.public.skus", "d"));
        save("ri-index-update-code-tombstone", only(code, "cdc.public.skus", "tombstone"));
        save("ri-index-update-code-create", only(code, "cdc.public.skus", "c"));
        List<Captured> delete = step("REPLICA IDENTITY USING INDEX: delete", "DELETE FROM skus");
        save("ri-index-delete", only(delete, "cdc.public.skus", "d"));
    }

    private void truncateAndMessages() throws Exception {
        ddl("CREATE TABLE scratch_rows(id serial PRIMARY KEY, v text)");
        step("truncate: two rows first", "INSERT INTO scratch_rows(v) VALUES ('a'), ('b')");
        heading("TRUNCATE scratch_rows, then a marker transaction");
        int mark = log.size();
        long truncateTx = tx("TRUNCATE scratch_rows");
        List<Captured> events = marker(mark);
        note("events after the TRUNCATE (txId " + truncateTx + "), apart from the marker's: " + events.size());
        for (Captured event : events) {
            if (event.status() != null && event.payload().path("id").asText().startsWith(truncateTx + ":")) {
                save("truncate-" + event.status().toLowerCase(Locale.ROOT), event);
            }
        }

        heading("pg_logical_emit_message, transactional and not");
        mark = log.size();
        tx("SELECT pg_logical_emit_message(true, 'cdc-indexer', 'hello in a transaction')",
                "INSERT INTO scratch_rows(v) VALUES ('c')");
        ddl("SELECT pg_logical_emit_message(false, 'cdc-indexer', 'hello outside')");
        events = marker(mark);
        for (Captured message : select(events, c -> c.topic.endsWith(".message"))) {
            save("logical-message-" + (message.payload().path("transaction").isNull() ? "outside" : "in-transaction"),
                    message);
        }
        for (Captured end : select(events, c -> "END".equals(c.status()))) {
            if (end.payload().path("data_collections").toString().contains("LogicalDecodingMessage")) {
                save("logical-message-end", end);
            }
        }
    }

    private void restarts() throws Exception {
        ddl("CREATE TABLE ticks(id serial PRIMARY KEY, n int)");
        restart("task restart over REST", () -> {
            Http.Response restarted = Http.post(connect.url() + "/connectors/" + CONNECTOR
                    + "/restart?includeTasks=true&onlyFailed=false", null);
            note("POST restart: " + restarted.status() + " " + restarted.body());
            awaitConnectorRunning();
        });
        restart("Connect worker stopped (SIGTERM) and started again", () -> {
            connect.close();
            connect = KafkaConnectWorker.start(scratch.resolve("connect"), connectPort, kafka.bootstrapServers(),
                    postgres.port());
            awaitConnectorRunning();
        });
        restart("Connect worker killed (SIGKILL) and started again", () -> {
            ProcessHandle worker = ProcessHandle.of(connect.process().pid()).orElseThrow();
            worker.destroyForcibly();
            worker.onExit().get();
            // Writes while the connector is down are streamed after the restart.
            tx("INSERT INTO ticks(n) SELECT -1");
            connect.close();
            connect = KafkaConnectWorker.start(scratch.resolve("connect"), connectPort, kafka.bootstrapServers(),
                    postgres.port());
            awaitConnectorRunning();
        });
    }

    /** Writes 20 transactions, waits until they are in Kafka, restarts as told, writes one more, and finds duplicates. */
    private void restart(String how, ThrowingRunnable restart) throws Exception {
        heading("restart: " + how);
        int mark = log.size();
        long last = 0;
        for (int n = 1; n <= 20; n++) {
            last = tx("INSERT INTO ticks(n) VALUES (" + n + ")");
        }
        awaitTransaction(mark, last);
        note("20 transactions in Kafka; restarting: " + how);
        restart.run();
        long after = tx("INSERT INTO ticks(n) VALUES (21)");
        awaitTransaction(mark, after);
        List<Captured> events = log.since(mark);
        Map<String, List<Captured>> byChange = new LinkedHashMap<>();
        for (Captured c : events) {
            if (c.topic.equals("cdc.public.ticks") && !c.isTombstone()) {
                byChange.computeIfAbsent(c.keyText() + " " + c.op() + " lsn " + c.lsn(), k -> new ArrayList<>()).add(c);
            } else if (c.topic.equals("cdc.transaction")) {
                byChange.computeIfAbsent(c.payload().path("status").asText() + " " + c.payload().path("id").asText(),
                        k -> new ArrayList<>()).add(c);
            }
        }
        int duplicated = 0;
        for (Map.Entry<String, List<Captured>> change : byChange.entrySet()) {
            if (change.getValue().size() > 1) {
                duplicated++;
                note("delivered " + change.getValue().size() + " times: " + change.getKey() + " at "
                        + change.getValue().stream().map(c -> c.partition + "@" + c.offset).toList());
            }
        }
        note(how + ": " + duplicated + " of " + byChange.size() + " changes and transaction events delivered more than once");
        String name = how.contains("SIGKILL") ? "restart-kill" : how.contains("SIGTERM") ? "restart-stop" : "restart-rest";
        for (List<Captured> copies : byChange.values()) {
            if (copies.size() > 1 && copies.get(0).topic.equals("cdc.public.ticks")) {
                save(name + "-first-delivery", copies.get(0));
                save(name + "-second-delivery", copies.get(1));
                break;
            }
        }
    }

    private void specialValues() throws Exception {
        try {
            specialValueRows();
        } catch (IllegalStateException e) {
            note("special values: " + e.getMessage());
        }
        note("connector status after special values: " + Http.get(connect.url() + "/connectors/" + CONNECTOR + "/status").body());
    }

    private void specialValueRows() throws Exception {
        ddl("CREATE TABLE special_values(id serial PRIMARY KEY, amount numeric, price numeric(10,2), score float8, "
                + "small real, born date, alarm time, seen_at timestamp, paid_at timestamptz, took interval)");
        List<Captured> events = step("special values: NaN, infinity, 24:00, far dates",
                "INSERT INTO special_values(amount, score, small, born, alarm, seen_at, paid_at, took) VALUES "
                        + "('NaN', 'NaN', 'Infinity', '1900-01-01', '24:00:00', 'infinity', '-infinity', '-3 days')",
                "INSERT INTO special_values(amount, price, born, seen_at, paid_at) VALUES "
                        + "('Infinity', 99999999.99, '0044-03-15 BC', '0001-01-01 00:00:00', '2262-04-12 00:00:00+00')",
                "INSERT INTO special_values(amount) VALUES (1e-20)");
        List<Captured> rows = select(events, c -> "c".equals(c.op()));
        for (int i = 0; i < rows.size(); i++) {
            save("special-values-" + (i + 1), rows.get(i));
        }
    }

    /**
     * One table per type PostgreSQL allows in a primary key (and Debezium captures), and composite keys that mix them:
     * each row inserted, updated and deleted, each step one transaction over every table. Fixtures
     * {@code keys-<table>-insert}, {@code -update}, {@code -delete}, and one tombstone.
     */
    private void keyTypes() throws Exception {
        ddl(keyTypesSchema().toArray(String[]::new));
        List<String> inserts = keyTypesInserts("first");
        List<String> tables = keyTypesTables();

        List<Captured> inserted = step("key types: insert one row into each table", inserts.toArray(String[]::new));
        List<Captured> updated = step("key types: update each row", tables.stream()
                .map(table -> "UPDATE " + table + " SET v = 'second'").toArray(String[]::new));
        List<Captured> deleted = step("key types: delete each row", tables.stream()
                .map(table -> "DELETE FROM " + table).toArray(String[]::new));
        for (String table : tables) {
            String topic = "cdc.public." + table;
            String name = "keys-" + table.substring("key_".length()).replace('_', '-');
            save(name + "-insert", only(inserted, topic, "c"));
            save(name + "-update", only(updated, topic, "u"));
            save(name + "-delete", only(deleted, topic, "d"));
        }
        save("keys-text-empty-tombstone", only(deleted, "cdc.public.key_text_empty", "tombstone"));
        save("keys-update-end", only(updated, "cdc.transaction", "END"));
    }

    // name, key column type, key literal
    private static final String[][] KEY_TYPES = {
            {"int2", "int2", "-7"},
            {"int4", "int4", "2147483647"},
            {"int8", "int8", "9007199254740993"},
            {"numeric_scaled", "numeric(10,2)", "1234.50"},
            {"numeric", "numeric", "12.3400"},
            {"money", "money", "12.34"},
            {"text_empty", "text", "''"},
            {"varchar", "varchar(20)", "'a,b 50%'"},
            {"char", "char(5)", "'ab'"},
            {"uuid", "uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"},
            {"date", "date", "'2022-01-08'"},
            {"time", "time", "'09:30:00.123456'"},
            {"timestamp", "timestamp", "'2025-11-27 10:00:00.123456'"},
            {"timestamptz", "timestamptz", "'2026-11-27 10:00:00.5+01'"},
            {"bool", "bool", "true"},
            {"enum", "key_mood", "'happy'"},
            {"bytea", "bytea", "'\\x0001ff'::bytea"},
    };

    /** The tables of the key-types scenario (also used by VerifyITCase): key_&lt;type&gt;(k PRIMARY KEY, v text), two composites. */
    public static List<String> keyTypesSchema() {
        List<String> ddl = new ArrayList<>();
        ddl.add("CREATE TYPE key_mood AS ENUM ('sad', 'ok', 'happy')");
        for (String[] key : KEY_TYPES) {
            ddl.add("CREATE TABLE key_" + key[0] + "(k " + key[1] + " PRIMARY KEY, v text)");
        }
        ddl.add("CREATE TABLE key_composite_1(day date, amount numeric(6,2), code text, v text, PRIMARY KEY (day, amount, code))");
        ddl.add("CREATE TABLE key_composite_2(at timestamptz, flag bool, blob bytea, label text, mood key_mood, n int8, "
                + "v text, PRIMARY KEY (at, flag, blob, label, mood, n))");
        return ddl;
    }

    /** One row per key-types table, with {@code v} as given. */
    public static List<String> keyTypesInserts(String v) {
        List<String> inserts = new ArrayList<>();
        for (String[] key : KEY_TYPES) {
            inserts.add("INSERT INTO key_" + key[0] + "(k, v) VALUES (" + key[2] + ", '" + v + "')");
        }
        inserts.add("INSERT INTO key_composite_1(day, amount, code, v) VALUES ('2022-01-08', 10.50, 'x,y%', '" + v + "')");
        inserts.add("INSERT INTO key_composite_2(at, flag, blob, label, mood, n, v) VALUES ('2026-11-27 10:00:00+00', "
                + "false, '\\x00'::bytea, '', 'ok', -1, '" + v + "')");
        return inserts;
    }

    /** The key-types tables, in the order of {@link #keyTypesInserts}. */
    public static List<String> keyTypesTables() {
        List<String> tables = new ArrayList<>();
        for (String[] key : KEY_TYPES) {
            tables.add("key_" + key[0]);
        }
        tables.add("key_composite_1");
        tables.add("key_composite_2");
        return tables;
    }

    /**
     * The rows the derived Elasticsearch mappings are tested on (docs/mappings.md): {@code mapping_types} holds a column
     * of every type the mapping covers, six rows inserted in one transaction: typical values whose first numeric is a
     * whole number and whose first text looks like a date; edge values (negative numbers, minimums, dates before 1970,
     * empty arrays) that Elasticsearch's dynamic mapping of the first row still takes; a second typical row with a jsonb
     * scalar; all nulls; NaN, infinities, 24:00 and a jsonb array of mixed numbers; maximums, a huge float8 and the
     * first day PostgreSQL knows. Then one row of each sample and chaos table, created with their own DDL. Fixtures {@code mapping-types-<id>} and {@code mapping-<table>}.
     */
    private void mappingTypes() throws Exception {
        ddl("CREATE TYPE mapping_mood AS ENUM ('sad', 'ok', 'happy')",
                "CREATE TABLE mapping_types(id serial PRIMARY KEY, small_n int2, n int4, big_n int8, amount numeric(12,2), "
                        + "wide numeric(20,4), ratio numeric, cash money, score float8, small real, active bool, body text, "
                        + "title varchar(40), code char(5), uid uuid, mood mapping_mood, born date, alarm time, alarm_tz timetz, "
                        + "seen_at timestamp, seen_at_ms timestamp(3), paid_at timestamptz, took interval, attrs json, doc jsonb, "
                        + "blob bytea, addr inet, ints int4[], words text[], amounts numeric(12,2)[], days date[], uids uuid[], "
                        + "codes char(2)[], addrs inet[], moods mapping_mood[])");
        String columns = "INSERT INTO mapping_types(small_n, n, big_n, amount, wide, ratio, cash, score, small, active, body, "
                + "title, code, uid, mood, born, alarm, alarm_tz, seen_at, seen_at_ms, paid_at, took, attrs, doc, blob, addr, "
                + "ints, words, amounts, days, uids, codes, addrs, moods) VALUES ";
        List<Captured> rows = step("mapping types: six rows of every type",
                columns + "(7, 42, 9007199254740993, 1234567.89, 1234567890123456.7891, 12, 12.34, 0.1, 1.5, true, "
                        + "'2026-11-27', 'Quick Brown Fox', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy', '2022-01-08', "
                        + "'09:30:00.123456', '09:30:00+02', '2025-11-27 10:00:00.123456', '2025-11-27 10:00:00.123', "
                        + "'2026-11-27 10:00:00.5+01', '1 year 2 mons 3 days 04:05:06.789', "
                        + "'{\"size\": \"L\", \"tags\": [\"a\", \"b\"]}', '{\"k\": 1}', '\\x0001ff'::bytea, '192.168.0.1', "
                        + "'{1,2,NULL}', '{\"a,b\",c}', '{1.50,2.25}', '{1970-01-01,2022-01-08}', "
                        + "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{ab,c}', '{10.0.0.1,::1}', '{ok,sad}')",
                columns + "(-32768, -2147483648, -9223372036854775808, -0.01, -0.0001, 3.14159265358979323846, -12.34, "
                        + "-1.5, -3.4e38, false, NULL, 'Ünïcödé ☃', 'xyz', '00000000-0000-0000-0000-000000000000', 'sad', "
                        + "'1969-07-20', '00:00:00', '23:59:59.999999-05', '1901-01-01 00:00:00.5', '1950-06-01 12:00:00', "
                        + "'1950-06-01 12:00:00+02', '-3 days', '[]', '{\"k\": 2}', '\\x'::bytea, '10.1.2.3/8', '{}', '{}', "
                        + "'{-0.01}', '{1900-01-01,1969-12-31}', '{}', '{}', '{}', '{}')",
                columns + "(0, 0, 0, 0.10, 1.5, 0.5, 0, 2.5, 0.25, true, 'The quick brown fox jumps over the lazy dog', "
                        + "'Lazy Dog', 'ab', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ok', '2000-02-29', '09:30:00.5', "
                        + "'09:30:00.5+00', '2025-11-27 10:00:00', '2025-11-27 10:00:00', '2026-11-27 09:00:00+00', '1 hour', "
                        + "'{\"size\": 3}', '\"scalar\"', '\\xff'::bytea, '::1', '{3}', '{quick}', '{0.10}', "
                        + "'{2000-02-29}', NULL, '{xy}', NULL, '{happy}')",
                "INSERT INTO mapping_types(id) VALUES (DEFAULT)",
                "INSERT INTO mapping_types(amount, ratio, score, small, body, born, alarm, seen_at, paid_at, doc) VALUES "
                        + "(0.20, 'NaN', 'NaN', 'Infinity', 'Sphinx of black quartz', 'infinity', '24:00:00', 'infinity', "
                        + "'-infinity', '[1, 2.50, {\"x\": null}]')",
                "INSERT INTO mapping_types(small_n, n, big_n, amount, wide, score, small, born, seen_at, paid_at) VALUES "
                        + "(32767, 2147483647, 9223372036854775807, 9999999999.99, 9999999999999999.9999, -1.5e300, 3.4e38, "
                        + "'4713-01-01 BC', '294276-12-31 23:59:59.999999', '4713-01-01 00:00:00+00 BC')");
        for (Captured row : select(rows, c -> c.topic.equals("cdc.public.mapping_types") && "c".equals(c.op()))) {
            save("mapping-types-" + row.payload().at("/after/id").asInt(), row);
        }

        ddl(SampleSchema.USERS_DDL, SampleSchema.ORDERS_DDL);
        ChaosSchema.create(sql);
        List<Captured> tables = step("mapping types: one row of each sample and chaos table",
                "WITH u AS (INSERT INTO users(username, email) VALUES ('mapping', 'mapping@example.com') RETURNING id) "
                        + "INSERT INTO orders(user_id, amount, status) SELECT id, 19.99, 'paid' FROM u",
                "INSERT INTO chaos_order_lines(order_id, line_no, sku, quantity, price) VALUES (1, 1, 'SKU-1', 2, 19.99)",
                "INSERT INTO chaos_daily_totals(day, shard, hits, note) VALUES ('2026-11-27', 0, 5, 'first')",
                "INSERT INTO chaos_documents(id, revision, title, body) VALUES (1, 1, 'Title', 'Body')",
                "INSERT INTO chaos_ledger(worker, changes) VALUES (1, 4)");
        for (String table : List.of("users", "orders", "chaos_order_lines", "chaos_daily_totals", "chaos_documents",
                "chaos_ledger")) {
            save("mapping-" + table.replace('_', '-'), only(tables, "cdc.public." + table, "c"));
        }
    }

    /** Indexes the decoded products and types documents in a real Elasticsearch 7.10, as the job would. */
    private void elasticsearchMappings() throws Exception {
        try (ElasticsearchNode elasticsearch = ElasticsearchNode.start(scratch.resolve("elasticsearch"), FreePorts.next());
                PrintStream out = new PrintStream(Files.newOutputStream(scratch.resolve("elasticsearch.txt")), true,
                        StandardCharsets.UTF_8)) {
            DebeziumDecoder decoder = new DebeziumDecoder(PLACEHOLDER);
            for (Captured c : log.since(0)) {
                if (!(c.topic.equals("cdc.public.products") || c.topic.equals("cdc.public.all_types")
                        || c.topic.equals("cdc.public.special_values") || c.topic.equals("cdc.public.orders"))
                        || c.isTombstone()) {
                    continue;
                }
                ChangeEvent change;
                try {
                    change = DecodeFunction.toChange(new KafkaRecord(c.topic, c.partition, c.offset, 0, c.key, c.value),
                            decoder.decode(c.topic, c.key, c.value));
                } catch (MalformedChangeException | RuntimeException e) {
                    out.println(c.topic + " " + c.partition + "@" + c.offset + ": decoding failed: " + e);
                    continue;
                }
                String url = elasticsearch.url() + "/" + change.topic + "/_doc/" + change.documentId + "?version="
                        + change.version + "&version_type=external";
                String document = change.document == null ? null : new String(change.document, StandardCharsets.UTF_8);
                Http.Response response = document == null
                        ? Http.send(HttpRequest.newBuilder(URI.create(url)).DELETE().build())
                        : Http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                                .PUT(HttpRequest.BodyPublishers.ofString(document)).build());
                out.println(change.action + " " + change.topic + "/" + change.documentId + " v" + change.version + " "
                        + document + "\n  -> " + response.status() + " " + response.body());
            }
            // The types row is refused as a whole (its jsonb array mixes numbers); without that column its mapping shows.
            ObjectNode types = (ObjectNode) JSON.readTree(decodeFixture("types-insert", decoder).document);
            types.remove("doc");
            out.println("types without 'doc' -> " + put(elasticsearch, "types_without_doc", "1", types.toString()));
            // The special-values row that cannot be decoded (time 24:00:00), without that column, as the job would index it.
            ObjectNode special = (ObjectNode) JSON.readTree(fixtures.resolve("special-values-1.json").toFile());
            ((ObjectNode) special.at("/value/payload/after")).putNull("alarm");
            Files.writeString(scratch.resolve("special-values-1-without-alarm.json"), special.toString());
            ChangeEvent row = decodeFixture(scratch.resolve("special-values-1-without-alarm.json"), decoder);
            out.println("special values row 1 without 'alarm': " + new String(row.document, StandardCharsets.UTF_8)
                    + "\n  -> " + put(elasticsearch, "cdc.public.special_values", "1", new String(row.document, StandardCharsets.UTF_8)));
            for (String field : List.of("\"score\":\"NaN\"", "\"small\":\"Infinity\"", "\"paid_at\":\"-infinity\"",
                    "\"seen_at\":\"+294247-01-10T04:00:25.2\"", "\"born\":\"-0043-03-15\"")) {
                out.println("special value {" + field + "} -> " + put(elasticsearch, "cdc.public.special_values", "probe",
                        "{" + field + "}"));
            }
            for (String index : List.of("cdc.public.products", "types_without_doc", "cdc.public.special_values")) {
                out.println("mapping " + index + ": " + Http.get(elasticsearch.url() + "/" + index + "/_mapping").body());
            }
            out.println("search products price:3 -> " + Http.send(HttpRequest.newBuilder(URI.create(elasticsearch.url()
                    + "/cdc.public.products/_search?q=price:3")).GET().build()).body());
            out.println("search products price:12 -> " + Http.send(HttpRequest.newBuilder(URI.create(elasticsearch.url()
                    + "/cdc.public.products/_search?q=price:12")).GET().build()).body());
        }
    }

    private ChangeEvent decodeFixture(String name, DebeziumDecoder decoder) throws Exception {
        return decodeFixture(fixtures.resolve(name + ".json"), decoder);
    }

    private static ChangeEvent decodeFixture(Path file, DebeziumDecoder decoder) throws Exception {
        JsonNode fixture = JSON.readTree(file.toFile());
        KafkaRecord record = new KafkaRecord(fixture.get("topic").asText(), 0, 0, 0,
                JSON.writeValueAsBytes(fixture.get("key")), JSON.writeValueAsBytes(fixture.get("value")));
        return DecodeFunction.toChange(record, decoder.decode(record.topic, record.key, record.value));
    }

    private static String put(ElasticsearchNode elasticsearch, String index, String id, String document) throws Exception {
        Http.Response response = Http.send(HttpRequest.newBuilder(URI.create(elasticsearch.url() + "/" + index + "/_doc/" + id))
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(document)).build());
        return response.status() + " " + response.body();
    }

    // --- steps -----------------------------------------------------------------------------------------------------

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Runs the statements in one transaction and returns the events it caused, once all of them are in Kafka. */
    private List<Captured> step(String title, String... statements) throws Exception {
        heading(title);
        for (String statement : statements) {
            report.println("  SQL> " + statement.substring(0, Math.min(300, statement.length())));
        }
        int mark = log.size();
        long txId = tx(statements);
        return awaitTransaction(mark, txId);
    }

    private long tx(String... statements) throws SQLException {
        sql.setAutoCommit(false);
        try (Statement statement = sql.createStatement()) {
            long txId;
            try (ResultSet rs = statement.executeQuery("SELECT txid_current()")) {
                rs.next();
                txId = rs.getLong(1);
            }
            for (String s : statements) {
                statement.execute(s);
            }
            sql.commit();
            return txId;
        } catch (SQLException e) {
            sql.rollback();
            throw e;
        } finally {
            sql.setAutoCommit(true);
        }
    }

    private void ddl(String... statements) throws SQLException {
        try (Statement statement = sql.createStatement()) {
            for (String s : statements) {
                report.println("  SQL> " + s);
                statement.execute(s);
            }
        }
    }

    private String single(String query) throws SQLException {
        try (Statement statement = sql.createStatement(); ResultSet rs = statement.executeQuery(query)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /**
     * Waits until the END event of {@code txId} and as many data events per table as it counts are in, then until every
     * partition is read to its end (tombstones and events of other transactions).
     */
    private List<Captured> awaitTransaction(int mark, long txId) {
        String prefix = txId + ":";
        log.await(mark, events -> {
            Captured end = events.stream().filter(c -> "END".equals(c.status()) && c.payload().path("id").asText().startsWith(prefix))
                    .findFirst().orElse(null);
            if (end == null) {
                return false;
            }
            for (JsonNode collection : end.payload().path("data_collections")) {
                String topic = "cdc." + collection.path("data_collection").asText();
                long received = events.stream().filter(c -> c.topic.equals(topic) && prefix.equals(c.transactionPrefix()))
                        .count();
                if (received < collection.path("event_count").asLong()) {
                    return false;
                }
            }
            return true;
        });
        log.drain();
        return log.since(mark);
    }

    /**
     * A marker transaction after a step that may emit nothing: once its events are in, everything before them is too.
     * Returns the events since {@code mark} without the marker's own.
     */
    private List<Captured> marker(int mark) throws Exception {
        String prefix = tx("INSERT INTO marker(label) VALUES ('marker')") + ":";
        return select(awaitTransaction(mark, Long.parseLong(prefix.substring(0, prefix.length() - 1))),
                c -> !prefix.equals(c.transactionPrefix()) && !c.payload().path("id").asText().startsWith(prefix));
    }

    private static List<Captured> select(List<Captured> events, Predicate<Captured> predicate) {
        return events.stream().filter(predicate).toList();
    }

    /** The one event of a topic with an op (c, u, d, r, tombstone) or a status (BEGIN, END). */
    private static Captured only(List<Captured> events, String topic, String what) {
        List<Captured> matching = select(events, c -> c.topic.equals(topic)
                && (what.equals("tombstone") ? c.isTombstone() : what.equals(c.op()) || what.equals(c.status())));
        if (matching.size() != 1) {
            throw new IllegalStateException("Expected one " + what + " on " + topic + ", got " + matching.size());
        }
        return matching.get(0);
    }

    /** The one event of a topic whose key's {@code id} is {@code id}. */
    private static Captured row(List<Captured> events, String topic, int id) {
        List<Captured> matching = select(events, c -> c.topic.equals(topic) && c.keyJson() != null
                && c.keyJson().path("payload").path("id").asInt(Integer.MIN_VALUE) == id);
        if (matching.size() != 1) {
            throw new IllegalStateException("Expected one event of row " + id + " on " + topic + ", got "
                    + matching.size());
        }
        return matching.get(0);
    }

    private void save(String name, Captured event) throws IOException {
        ObjectNode fixture = JSON.createObjectNode();
        fixture.put("topic", event.topic);
        fixture.set("key", event.keyJson());
        fixture.set("value", event.valueJson());
        Files.writeString(fixtures.resolve(name + ".json"), JSON.writer(PRETTY).writeValueAsString(fixture) + "\n");
        report.println("  saved " + name + ".json <- " + event.topic + " " + event.partition + "@" + event.offset);
    }

    private void heading(String title) {
        report.println();
        report.println("### " + title);
        System.out.println("### " + title);
    }

    private void note(String text) {
        report.println("  NOTE " + text);
        System.out.println("  " + text);
    }

    // --- the events ------------------------------------------------------------------------------------------------

    /** One Kafka record as received. */
    static final class Captured {
        final String topic;
        final int partition;
        final long offset;
        final byte[] key;
        final byte[] value;
        final Map<String, String> headers;
        private final JsonNode keyJson;
        private final JsonNode valueJson;

        Captured(ConsumerRecord<byte[], byte[]> record) {
            topic = record.topic();
            partition = record.partition();
            offset = record.offset();
            key = record.key();
            value = record.value();
            headers = new LinkedHashMap<>();
            for (Header header : record.headers()) {
                headers.put(header.key(), header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8));
            }
            keyJson = parse(key);
            valueJson = parse(value);
        }

        private static JsonNode parse(byte[] bytes) {
            if (bytes == null) {
                return null;
            }
            try {
                return JSON.readTree(bytes);
            } catch (IOException e) {
                return TextNode.valueOf(new String(bytes, StandardCharsets.UTF_8));
            }
        }

        JsonNode keyJson() {
            return keyJson;
        }

        JsonNode valueJson() {
            return valueJson;
        }

        JsonNode payload() {
            if (valueJson == null) {
                return JSON.missingNode();
            }
            return valueJson.has("payload") ? valueJson.get("payload") : valueJson;
        }

        String keyText() {
            if (keyJson == null) {
                return "null";
            }
            return (keyJson.has("payload") ? keyJson.get("payload") : keyJson).toString();
        }

        boolean isTombstone() {
            return value == null;
        }

        String op() {
            return payload().path("op").textValue();
        }

        String status() {
            return payload().path("status").textValue();
        }

        String snapshot() {
            return payload().path("source").path("snapshot").textValue();
        }

        String table() {
            return payload().path("source").path("table").asText();
        }

        long lsn() {
            return payload().path("source").path("lsn").asLong();
        }

        String transactionPrefix() {
            String id = payload().path("transaction").path("id").textValue();
            return id == null ? null : id.substring(0, id.indexOf(':') + 1);
        }

        /** A readable line, long strings shortened. */
        String describe() {
            StringBuilder s = new StringBuilder(topic).append(' ').append(partition).append('@').append(offset)
                    .append(" key=").append(keyText());
            if (!headers.isEmpty()) {
                s.append(" headers=").append(headers);
            }
            if (value == null) {
                return s.append(" value=null (tombstone)").toString();
            }
            return s.append("\n      ").append(shorten(payload().deepCopy())).toString();
        }

        private static String shorten(JsonNode node) {
            shortenInPlace(node);
            return node.toString();
        }

        private static void shortenInPlace(JsonNode node) {
            if (node instanceof ObjectNode object) {
                for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> field = it.next();
                    if (field.getValue().isTextual() && field.getValue().textValue().length() > 80) {
                        String text = field.getValue().textValue();
                        field.setValue(TextNode.valueOf(text.substring(0, 40) + "...(" + text.length() + " chars)"));
                    } else {
                        shortenInPlace(field.getValue());
                    }
                }
            } else if (node != null && node.isArray()) {
                if (node.size() > 5) {
                    int size = node.size();
                    while (node.size() > 3) {
                        ((ArrayNode) node).remove(node.size() - 1);
                    }
                    ((ArrayNode) node).add("...(" + size + " items)");
                }
                node.forEach(CapturedEventsRecorder.Captured::shortenInPlace);
            }
        }
    }

    /** Reads every topic of the connector (manually assigned, new topics picked up), from the beginning. */
    static final class EventLog implements AutoCloseable {

        private final KafkaConsumer<byte[], byte[]> consumer;
        private final PrintStream report;
        private final List<Captured> records = new ArrayList<>();
        private Set<TopicPartition> assigned = new HashSet<>();

        EventLog(String bootstrapServers, PrintStream report) {
            this.report = report;
            this.consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrapServers, "enable.auto.commit", false,
                    "auto.offset.reset", "earliest"), new ByteArrayDeserializer(), new ByteArrayDeserializer());
        }

        int size() {
            return records.size();
        }

        List<Captured> since(int mark) {
            return List.copyOf(records.subList(mark, records.size()));
        }

        void poll(Duration timeout) {
            refresh();
            if (assigned.isEmpty()) {
                return;
            }
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(timeout)) {
                Captured captured = new Captured(record);
                records.add(captured);
                report.println("    " + captured.describe());
            }
        }

        /** Polls until {@code done} holds for the records received since {@code mark}. */
        List<Captured> await(int mark, Predicate<List<Captured>> done) {
            Instant deadline = Instant.now().plus(WAIT);
            while (!done.test(since(mark))) {
                if (Instant.now().isAfter(deadline)) {
                    throw new IllegalStateException("Events not received within " + WAIT + "; got " + since(mark).size());
                }
                poll(Duration.ofMillis(200));
            }
            return since(mark);
        }

        /** Reads every partition up to its current end. */
        void drain() {
            refresh();
            Map<TopicPartition, Long> ends = consumer.endOffsets(assigned);
            Instant deadline = Instant.now().plus(WAIT);
            while (ends.entrySet().stream().anyMatch(end -> consumer.position(end.getKey()) < end.getValue())) {
                if (Instant.now().isAfter(deadline)) {
                    throw new IllegalStateException("Partitions not read to their end within " + WAIT);
                }
                poll(Duration.ofMillis(200));
            }
        }

        private void refresh() {
            Set<TopicPartition> all = new HashSet<>();
            for (Map.Entry<String, List<PartitionInfo>> topic : consumer.listTopics(Duration.ofSeconds(10)).entrySet()) {
                if (!topic.getKey().startsWith("connect-") && !topic.getKey().startsWith("__consumer")) {
                    for (PartitionInfo partition : topic.getValue()) {
                        all.add(new TopicPartition(partition.topic(), partition.partition()));
                    }
                }
            }
            if (!all.equals(assigned)) {
                Set<TopicPartition> added = new HashSet<>(all);
                added.removeAll(assigned);
                consumer.assign(all);
                consumer.seekToBeginning(added);
                assigned = all;
            }
        }

        @Override
        public void close() {
            consumer.close();
        }
    }
}
