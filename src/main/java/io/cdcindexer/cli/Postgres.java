package io.cdcindexer.cli;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/** Opens JDBC connections to the configured PostgreSQL, with an error message that says what to check. */
public final class Postgres {

    private Postgres() {}

    /** A new connection; the caller closes it. */
    public static Connection connect(ConnectionOptions options) {
        Properties properties = new Properties();
        properties.setProperty("user", options.pgUser);
        properties.setProperty("password", options.pgPassword);
        properties.setProperty("ApplicationName", "cdc-cli");
        // Turns a batch of single-row INSERTs into multi-row INSERTs: fewer round trips for ./cdc produce.
        properties.setProperty("reWriteBatchedInserts", "true");
        properties.setProperty("connectTimeout", "10");
        try {
            return DriverManager.getConnection(options.jdbcUrl(), properties);
        } catch (SQLException e) {
            throw new CliException("Cannot connect to PostgreSQL at " + options.jdbcUrl() + " as " + options.pgUser
                    + ": " + e.getMessage() + " Is it running? (./cdc status)", e);
        }
    }

    /** Where a connection goes, for messages: user@host:port/database. */
    public static String describe(ConnectionOptions options) {
        return options.pgUser + "@" + options.pgHost + ":" + options.pgPort + "/" + options.pgDatabase;
    }
}
