package io.cdcindexer.cli;

import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.PostgresServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;

/**
 * How fast verify compares a large table with its index: not a test (no timing is asserted), a measurement to run by
 * hand. Starts PostgreSQL and Elasticsearch, fills users with N rows, indexes them as the job would, then times verify.
 *
 * <pre>
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test.classpath -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat target/test.classpath) io.cdcindexer.cli.VerifyBenchmark 100000
 * </pre>
 */
public final class VerifyBenchmark {

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        Path dir = Files.createTempDirectory("cdc-verify-benchmark");
        try (PostgresServer postgres = PostgresServer.start(dir.resolve("postgres"), FreePorts.next());
                ElasticsearchNode elasticsearch = ElasticsearchNode.start(dir.resolve("elasticsearch"), FreePorts.next())) {
            ElasticsearchHttp es = new ElasticsearchHttp(elasticsearch.url());
            String[] pg = SharedServices.postgresFlags(postgres, PostgresServer.DATABASE);
            if (CliRun.with("setup-db", pg).exitCode() != 0) {
                throw new IllegalStateException("setup-db failed");
            }
            try (Connection db = postgres.connect(); Statement statement = db.createStatement()) {
                statement.execute("INSERT INTO users (username, email) SELECT 'user' || i, 'user' || i || "
                        + "'@example.com' FROM generate_series(1, " + (rows - 5) + ") i");
                long started = System.nanoTime();
                for (CapturedTable table : CapturedTable.withPrimaryKey(db, "public")) {
                    JobLikeDocuments.index(db, es, table);
                }
                System.out.printf("indexed in %.1f s%n", (System.nanoTime() - started) / 1e9);
            }
            String[] flags = new String[pg.length + 4];
            System.arraycopy(pg, 0, flags, 0, pg.length);
            flags[pg.length] = "--elasticsearch";
            flags[pg.length + 1] = elasticsearch.url();
            flags[pg.length + 2] = "--table";
            flags[pg.length + 3] = "users";
            for (int run = 1; run <= 3; run++) {
                long started = System.nanoTime();
                CliRun result = CliRun.with("verify", flags);
                System.out.printf("run %d: %.2f s, exit %d: %s%n", run, (System.nanoTime() - started) / 1e9,
                        result.exitCode(), result.out().lines().findFirst().orElse(""));
            }
        }
    }
}
