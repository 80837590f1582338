package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cdcindexer.stack.ProjectHome;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

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
                    + "(signal.data.collection), and creates that table first if it is missing. The insert holds the "
                    + "tables in SHARE mode for a moment, so that no transaction writing them straddles the signal "
                    + "(each try waits at most 500 ms; writers of the tables wait at most that long).",
            "Debezium pauses streaming, sends every row of the tables as an op=r event versioned with the WAL "
                    + "position at the start of the snapshot, then streams on from where it paused: no change is lost, "
                    + "and Elasticsearch keeps the newer of a snapshot row and a streamed change (a streamed change is "
                    + "versioned with its transaction's commit position, so it wins even if it was made before the "
                    + "snapshot started and committed after).",
            "It repairs missing and stale documents; it does not remove documents whose rows are gone (./cdc verify "
                    + "reports them as extra; docs/operations.md).",
        })
public final class SnapshotCommand implements Callable<Integer> {

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
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path file = config.isAbsolute() ? config : ProjectHome.dir().resolve(config);
        SignalTable signals = SignalTable.of(KafkaConnectClient.ConnectorConfig.read(file), file);
        try (Connection db = Postgres.connect(connection)) {
            List<CapturedTable> captured = CapturedTable.withPrimaryKey(db, "public");
            List<CapturedTable> selected = selected(captured);
            List<String> collections = selected.stream().map(t -> "public." + t.name()).toList();
            signals.create(db);
            String id = "cdc-snapshot-" + UUID.randomUUID();
            signals.insertUnderLock(db, selected, id, "execute-snapshot", signalData(collections),
                    System.nanoTime() + TimeUnit.MINUTES.toNanos(10), line -> {
                        out.println(line);
                        out.flush();
                    });
            out.println("snapshot: asked Debezium to read " + String.join(", ", collections) + " again (signal " + id
                    + " in " + signals.name() + ")");
            out.println("  Kafka:         the rows arrive as op=r events   (./cdc consume)");
            out.println("  Elasticsearch: missing and stale documents are written again; ./cdc verify --wait 60s "
                    + "checks");
            out.flush();
        }
        return 0;
    }

    /** The execute-snapshot signal's data: the tables, and a blocking snapshot (see docs/operations.md for why). */
    static String signalData(List<String> collections) {
        ObjectNode data = Json.object();
        data.putArray("data-collections").addAll(collections.stream().map(Json.MAPPER.getNodeFactory()::textNode).toList());
        data.put("type", "blocking");
        return Json.compact(data);
    }

    /** The requested tables, each checked to be a table of schema public with a primary key. */
    private List<CapturedTable> selected(List<CapturedTable> captured) {
        List<CapturedTable> selected = new ArrayList<>();
        for (String name : tables) {
            String table = name.startsWith("public.") ? name.substring("public.".length()) : name;
            selected.add(captured.stream().filter(t -> t.name().equals(table)).findFirst().orElseThrow(() ->
                    new CliException("No table public." + table + " with a primary key; tables: "
                            + captured.stream().map(CapturedTable::name).toList())));
        }
        return selected;
    }
}
