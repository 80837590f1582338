package io.cdcindexer.cli;

import io.cdcindexer.documents.JoinNode;
import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.stack.ProjectHome;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc verify}: checks that every captured table and its index hold the same data. */
@Command(
        name = "verify",
        mixinStandardHelpOptions = true,
        description = {
            "Compares each table of schema public that has a primary key with its index (cdc.public.<table>), row by "
                    + "row, and reports every document that differs.",
            "Kinds of difference:",
            "  missing  a row has no document (its insert was not indexed yet, or was lost);",
            "  extra    a document has no row (its delete was not indexed);",
            "  stale    the document exists but holds other values than the row (an update was missed or applied out "
                    + "of order), lacks one of the row's non-null columns, or has a field that is no column. A field missing for a "
                    + "NULL column is no difference: rows untouched since ALTER TABLE ... ADD COLUMN have none.",
            "Values are compared the way the job writes them: document id = the primary key as text; numbers as exact "
                    + "numbers (1.5 = 1.50); timestamptz as ISO-8601 instants, timestamp as ISO local date-times; dates "
                    + "as yyyy-MM-dd; json/jsonb as JSON; everything else by its text.",
            "Joined documents (configs/documents.json) are compared with the same documents built by SQL joins of "
                    + "their tables, object by object: the root row's columns, each child array (in the order of the "
                    + "rows' ids) and each parent object; checked when no --table is given.",
            "Run it when the pipeline is idle, or with --wait while it catches up: changes still in flight show up as "
                    + "differences.",
            "Exit code: 0 in step, 1 differences found, 2 could not check.",
        })
public final class VerifyCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--table", paramLabel = "NAME",
            description = "Only this table (repeatable): users or public.users; schema.table for another schema. "
                    + "Default: every table of schema public with a primary key.")
    List<String> tables = new ArrayList<>();

    @Option(names = "--documents", paramLabel = "FILE",
            description = "The joined documents to check (default: the project's configs/documents.json, as ./cdc up "
                    + "passes it to the job; empty: none).")
    String documents;

    @Option(names = "--show", paramLabel = "N", defaultValue = "10",
            description = "Differences to print per table (all are counted; default ${DEFAULT-VALUE}).")
    int show;

    @Option(names = "--ignore-field", paramLabel = "FIELD",
            description = "A document field that is no column but expected there (repeatable).")
    List<String> ignoredFields = new ArrayList<>();

    @Option(names = "--wait", paramLabel = "DURATION", defaultValue = "0", converter = DurationConverter.class,
            description = "Check again until in step or this time is up (e.g. 60s): lets the pipeline catch up. "
                    + "Default: check once.")
    Duration wait;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ElasticsearchHttp es = connection.elasticsearchClient();
        long deadline = System.nanoTime() + wait.toNanos();
        try (Connection db = Postgres.connect(connection)) {
            List<CapturedTable> selected = select(db);
            TableVerifier verifier = new TableVerifier(db, es, show, Set.copyOf(ignoredFields));
            JoinedDocuments joined = tables.isEmpty() ? joinedDocuments() : JoinedDocuments.NONE;
            DocumentVerifier documentVerifier = new DocumentVerifier(db, es, show);
            while (true) {
                long started = System.nanoTime();
                List<TableVerifier.Report> reports = new ArrayList<>();
                for (CapturedTable table : selected) {
                    reports.add(verifier.verify(table));
                }
                List<String> skipped = new ArrayList<>();
                for (JoinNode root : joined.roots()) {
                    try {
                        reports.add(documentVerifier.verify(joined, root));
                    } catch (DocumentVerifier.MissingTable e) {
                        if (documents != null) { // a file given on purpose names a table this database lacks
                            throw new CliException("Document " + root.index + ": " + e.getMessage(), e);
                        }
                        skipped.add("verify: " + root.index + " skipped: " + e.getMessage());
                    }
                }
                boolean inStep = reports.stream().allMatch(TableVerifier.Report::inStep);
                if (inStep || System.nanoTime() >= deadline) {
                    skipped.forEach(out::println);
                    print(out, reports, started);
                    return inStep ? 0 : 1;
                }
                long differences = reports.stream().mapToLong(TableVerifier.Report::differences).sum();
                out.println("verify: " + Plural.of(differences, "difference") + ", checking again (until the --wait time is up)");
                out.flush();
                TimeUnit.SECONDS.sleep(1); // poll interval while the pipeline catches up
            }
        }
    }

    /** The joined documents to check: the file given, or the project's when there is one. */
    private JoinedDocuments joinedDocuments() {
        Path file = documents != null ? Path.of(documents) : ProjectHome.dir().resolve(SubmitCommand.DOCUMENTS);
        if (documents != null && documents.isBlank() || documents == null && !Files.isRegularFile(file)) {
            return JoinedDocuments.NONE;
        }
        return declaration(file);
    }

    /** The declaration in the file, or a clear error: the file cannot be read, or what is wrong in it. */
    static JoinedDocuments declaration(Path file) {
        try {
            return JoinedDocuments.load(file);
        } catch (IOException e) {
            throw new CliException("Cannot read " + file + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage(), e);
        }
    }

    /** Every table of schema public with a primary key, or the tables asked for, each checked to have one. */
    private List<CapturedTable> select(Connection db) throws SQLException {
        if (tables.isEmpty()) {
            List<CapturedTable> captured = CapturedTable.withPrimaryKey(db, CapturedTable.DEFAULT_SCHEMA);
            if (captured.isEmpty()) {
                throw new CliException("No table in schema public has a primary key: nothing to verify (./cdc setup-db "
                        + "creates the sample tables)");
            }
            return captured;
        }
        List<CapturedTable> selected = new ArrayList<>();
        for (String typed : tables) {
            String[] schemaAndName = CapturedTable.schemaAndName(typed);
            List<CapturedTable> inSchema = CapturedTable.withPrimaryKey(db, schemaAndName[0]);
            selected.add(inSchema.stream().filter(t -> t.name().equals(schemaAndName[1])).findFirst().orElseThrow(() ->
                    new CliException("No table " + schemaAndName[0] + "." + schemaAndName[1] + " with a primary key; "
                            + "tables of schema " + schemaAndName[0] + " that have one: "
                            + inSchema.stream().map(CapturedTable::name).toList())));
        }
        return selected;
    }

    private void print(PrintWriter out, List<TableVerifier.Report> reports, long started) {
        for (TableVerifier.Report report : reports) {
            out.println(report.summary());
            for (TableVerifier.Difference difference : report.examples()) {
                String kind = difference.kind().name().toLowerCase();
                out.println("  " + kind + " " + report.table() + "/" + difference.id()
                        + (difference.kind() == TableVerifier.Kind.STALE ? ": " + difference.detail() : ""));
            }
            if (report.differences() > report.examples().size()) {
                out.println("  ... " + (report.differences() - report.examples().size()) + " more (--show N prints more)");
            }
        }
        long rows = reports.stream().mapToLong(TableVerifier.Report::rows).sum();
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        boolean inStep = reports.stream().allMatch(TableVerifier.Report::inStep);
        out.printf("verify: %s (%s, %s in %.1f s)%n", inStep ? "in step" : "DIFFERENCES FOUND",
                Plural.of(reports.size(), "table"), Plural.of(rows, "row"), millis / 1000.0);
        out.flush();
    }
}
