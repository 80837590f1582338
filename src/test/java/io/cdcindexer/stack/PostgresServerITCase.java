package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PostgresServerITCase {

    @TempDir
    static Path dir;

    static PostgresServer postgres;

    @BeforeAll
    static void start() {
        postgres = PostgresServer.start(dir, FreePorts.next());
    }

    @AfterAll
    static void stop() {
        if (postgres != null) {
            postgres.close();
            assertThat(postgres.process().isAlive()).isFalse();
        }
    }

    @Test
    void isReadyForLogicalDecoding() throws SQLException {
        try (Connection connection = postgres.connect(); Statement statement = connection.createStatement()) {
            assertThat(single(statement, "SHOW wal_level")).isEqualTo("logical");
            assertThat(single(statement, "SHOW max_replication_slots")).isEqualTo("10");
            assertThat(single(statement, "SELECT current_database()")).isEqualTo("testdb");

            statement.execute("SELECT pg_create_logical_replication_slot('it_slot', 'pgoutput')");
            assertThat(single(statement, "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'it_slot'"))
                    .isEqualTo("pgoutput");
            statement.execute("SELECT pg_drop_replication_slot('it_slot')");
        }
    }

    @Test
    void checksThePasswordOverTcp() {
        assertThatThrownBy(() -> DriverManager.getConnection(postgres.jdbcUrl(), "postgres", "wrong").close())
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("password authentication failed");
    }

    private static String single(Statement statement, String sql) throws SQLException {
        try (ResultSet rs = statement.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }
}
