package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.PostgresServer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(SharedServices.class)
class SetupDbITCase {

    static PostgresServer postgres;
    static String database;

    @BeforeAll
    static void start(PostgresServer server) {
        postgres = server;
    }

    @BeforeEach
    void createEmptyDatabase() throws SQLException {
        database = SharedServices.createDatabase(postgres, "cli_setup_db");
    }

    @Test
    void createsTheSampleSchemaOnceAndThenChangesNothing() throws SQLException {
        CliRun first = setupDb();
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(first.out())
                .contains("created table public.users")
                .contains("created table public.orders")
                .contains("inserted 5 users and 8 orders");
        String before = snapshot();

        CliRun second = setupDb();
        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(second.out())
                .contains("table public.users already exists (5 rows)")
                .contains("nothing to do");
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    void givesTheTablesAFullReplicaIdentityAndAForeignKey() throws SQLException {
        setupDb();
        try (Connection db = SharedServices.connect(postgres, database); Statement statement = db.createStatement()) {
            assertThat(single(statement, "SELECT string_agg(relname || '=' || relreplident::text, ',' ORDER BY relname) "
                    + "FROM pg_class WHERE relname IN ('users', 'orders')")).isEqualTo("orders=f,users=f");
            assertThat(single(statement, "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id")).isEqualTo("8");
            assertThat(single(statement, "SELECT confdeltype FROM pg_constraint WHERE conrelid = 'orders'::regclass "
                    + "AND contype = 'f'")).as("ON DELETE CASCADE").isEqualTo("c");
            assertThat(single(statement, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    + "WHERE attrelid = 'orders'::regclass AND attname = 'amount'")).isEqualTo("numeric(10,2)");
        }
    }

    @Test
    void saysClearlyWhenPostgresIsNotThere() {
        CliRun run = CliRun.of("setup-db", "--pg-port", "1", "--pg-host", "localhost");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("Cannot connect to PostgreSQL at jdbc:postgresql://localhost:1/");
    }

    private static CliRun setupDb() {
        return CliRun.with("setup-db", SharedServices.postgresFlags(postgres, database));
    }

    private static String snapshot() throws SQLException {
        try (Connection db = SharedServices.connect(postgres, database); Statement statement = db.createStatement()) {
            return single(statement, "SELECT (SELECT json_agg(u ORDER BY id) FROM users u)::text || "
                    + "(SELECT json_agg(o ORDER BY id) FROM orders o)::text");
        }
    }

    private static String single(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }
}
