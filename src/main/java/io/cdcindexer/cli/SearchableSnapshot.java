package io.cdcindexer.cli;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Waits, for a bounded time, until the rows of every captured table are searchable in its index: the snapshot that
 * Debezium reads when the connector starts has then been indexed, so a search finds what the tables hold. A document
 * is searchable once Elasticsearch has refreshed its index (every second; after the snapshot, when the job filled the
 * index without refresh), which is what {@code _count} sees.
 */
final class SearchableSnapshot {

    /** One table: its rows now, and the documents a search of its index finds now. */
    record Table(String name, long rows, long documents) {
        boolean searchable() {
            return documents >= rows;
        }

        String describe() {
            return name + " " + documents + " of " + Plural.of(rows, "document");
        }
    }

    private SearchableSnapshot() {}

    /** Rows and searchable documents of every table of schema public with a primary key, by name. */
    static List<Table> tables(Connection db, ElasticsearchHttp es) throws SQLException {
        List<Table> tables = new ArrayList<>();
        for (CapturedTable table : CapturedTable.withPrimaryKey(db, CapturedTable.DEFAULT_SCHEMA)) {
            long rows;
            try (Statement statement = db.createStatement();
                    ResultSet rs = statement.executeQuery("SELECT count(*) FROM " + table.quotedName())) {
                rs.next();
                rows = rs.getLong(1);
            }
            tables.add(new Table(table.displayName(), rows, searchable(es, table.index())));
        }
        return tables;
    }

    /** Documents a search of the index finds now: none while it is missing, or too new for its shards to answer. */
    private static long searchable(ElasticsearchHttp es, String index) {
        try {
            return es.count(index);
        } catch (ElasticsearchHttp.ErrorResponse e) {
            if (e.status() == 503) {
                return 0; // created a moment ago by the job's first write: no shard answers searches yet
            }
            throw e;
        }
    }

    /**
     * Waits until every table has at least as many searchable documents as rows, or {@code bound} is up, and says
     * which: {@code true} when searchable. {@code command} starts each line printed.
     */
    static boolean await(PrintWriter out, String command, Connection db, ElasticsearchHttp es, Duration bound,
            Duration poll) throws SQLException, InterruptedException {
        long started = System.nanoTime();
        List<Table> tables = tables(db, es);
        if (tables.stream().allMatch(Table::searchable)) {
            return true;
        }
        out.println(command + ": waiting until the tables' rows are searchable in Elasticsearch (at most "
                + bound.toSeconds() + " s): " + describe(tables));
        out.flush();
        while (true) {
            Thread.sleep(poll.toMillis()); // the poll interval while the job indexes the snapshot
            tables = tables(db, es);
            long waited = Duration.ofNanos(System.nanoTime() - started).toSeconds();
            if (tables.stream().allMatch(Table::searchable)) {
                out.println(command + ": the tables' rows are searchable after " + waited + " s: " + describe(tables));
                out.flush();
                return true;
            }
            if (System.nanoTime() - started >= bound.toNanos()) {
                out.println(command + ": the snapshot is still being indexed after " + waited + " s: "
                        + describe(tables) + " searchable. Searches miss the rest until it is done; ./cdc verify "
                        + "--wait 60s waits for it, ./cdc status shows the job");
                out.flush();
                return false;
            }
        }
    }

    private static String describe(List<Table> tables) {
        return tables.stream().map(Table::describe).collect(Collectors.joining(", "));
    }
}
