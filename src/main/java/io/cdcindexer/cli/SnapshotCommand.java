package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cdcindexer.stack.ProjectHome;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc snapshot}: asks Debezium to read tables again, through its signal table, while changes keep flowing. */
@Command(
        name = "snapshot",
        mixinStandardHelpOptions = true,
        description = {
            "Asks the running connector to read tables again: inserts an execute-snapshot signal (a blocking "
                    + "snapshot) into the signal table that the connector configuration names "
                    + "(signal.data.collection), and creates that table first if it is missing.",
            "Debezium pauses streaming, sends every row of the tables as an op=r event versioned with the WAL "
                    + "position at the start of the snapshot, then streams on from where it paused: no change is lost, "
                    + "and Elasticsearch keeps the newer of a snapshot row and a streamed change (a streamed change is "
                    + "versioned with its transaction's commit position, so it wins even if it was made before the "
                    + "snapshot started and committed after).",
            "It repairs missing and stale documents; it does not remove documents whose rows are gone (./cdc verify "
                    + "reports them as extra; docs/operations.md).",
        })
public final class SnapshotCommand implements Callable<Integer> {

    /** Debezium's signal table layout (id, type, data), as its documentation defines it. */
    static final String SIGNAL_TABLE_COLUMNS =
            "(id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))";

    @Mixin
    ConnectionOptions connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--table", paramLabel = "NAME", required = true,
            description = "A table of schema public to read again (repeatable).")
    List<String> tables = new ArrayList<>();

    @Option(names = "--config", paramLabel = "FILE", defaultValue = "configs/debezium-postgres-connector.json",
            description = "Connector configuration that names the signal table; a relative path is resolved against "
                    + "the repository root (default ${DEFAULT-VALUE}).")
    Path config;

    @Override
    public Integer call() throws SQLException {
        PrintWriter out = spec.commandLine().getOut();
        Path file = config.isAbsolute() ? config : ProjectHome.dir().resolve(config);
        String signalTable = signalTable(KafkaConnectClient.ConnectorConfig.read(file), file);
        try (Connection db = Postgres.connect(connection)) {
            List<String> collections = collections(CapturedTable.withPrimaryKey(db, "public"));
            try (Statement statement = db.createStatement()) {
                statement.execute("CREATE SCHEMA IF NOT EXISTS " + CapturedTable.quote(schemaOf(signalTable)));
                statement.execute("CREATE TABLE IF NOT EXISTS " + quoted(signalTable) + " " + SIGNAL_TABLE_COLUMNS);
            }
            String id = "cdc-snapshot-" + UUID.randomUUID();
            try (PreparedStatement insert = db.prepareStatement(
                    "INSERT INTO " + quoted(signalTable) + " (id, type, data) VALUES (?, 'execute-snapshot', ?)")) {
                insert.setString(1, id);
                insert.setString(2, signalData(collections));
                insert.executeUpdate();
            }
            out.println("snapshot: asked Debezium to read " + String.join(", ", collections) + " again (signal " + id
                    + " in " + signalTable + ")");
            out.println("  Kafka:         the rows arrive as op=r events   (./cdc consume)");
            out.println("  Elasticsearch: missing and stale documents are written again; ./cdc verify --wait 60s "
                    + "checks");
            out.flush();
        }
        return 0;
    }

    /** The signal table the configuration names, as schema.table. */
    static String signalTable(KafkaConnectClient.ConnectorConfig connector, Path file) {
        String table = connector.config().path("signal.data.collection").asText("");
        if (!table.matches("[^.]+\\.[^.]+")) {
            throw new CliException(file + " names no signal table (\"signal.data.collection\": \"<schema>.<table>\"): "
                    + "Debezium then takes no signals");
        }
        return table;
    }

    /** The execute-snapshot signal's data: the tables, and a blocking snapshot (see docs/operations.md for why). */
    static String signalData(List<String> collections) {
        ObjectNode data = Json.object();
        data.putArray("data-collections").addAll(collections.stream().map(Json.MAPPER.getNodeFactory()::textNode).toList());
        data.put("type", "blocking");
        return Json.compact(data);
    }

    /** The requested tables as public.<name>, each checked against the tables that have a primary key. */
    private List<String> collections(List<CapturedTable> captured) {
        List<String> collections = new ArrayList<>();
        for (String name : tables) {
            String table = name.startsWith("public.") ? name.substring("public.".length()) : name;
            if (captured.stream().noneMatch(t -> t.name().equals(table))) {
                throw new CliException("No table public." + table + " with a primary key; tables: "
                        + captured.stream().map(CapturedTable::name).toList());
            }
            collections.add("public." + table);
        }
        return collections;
    }

    private static String schemaOf(String table) {
        return table.substring(0, table.indexOf('.'));
    }

    private static String quoted(String table) {
        int dot = table.indexOf('.');
        return CapturedTable.quote(table.substring(0, dot)) + "." + CapturedTable.quote(table.substring(dot + 1));
    }
}
