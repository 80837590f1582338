package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.Stack;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short chaos run that {@code mvn verify} runs: a stack of its own, load at 500 changes/s (updates that leave the
 * TOASTed body alone included, orders moved between users), poison and a 5 MB row, then a TaskManager killed,
 * Elasticsearch stopped for 40 s (longer than the job's transaction timeout), and a column retyped and reindexed with
 * searches on its alias all along; at the end verify finds nothing missing, extra or stale in any table or joined
 * document, the dead-letter topic holds exactly the poison (and the retyped column's changes refused until the
 * reindex), no search failed or missed a row, and the job runs. The full run (every fault, docs/reliability.md) is
 * {@code ./cdc chaos}.
 */
class ChaosITCase {

    @TempDir
    Path dir;

    @Test
    void aTaskManagerKillAndAnElasticsearchOutageUnderLoadLoseNothing() throws Exception {
        Path report = dir.resolve("report.md");
        Path chart = dir.resolve("delay.svg");

        CliRun chaos = CliRun.of("chaos", "--faults", "taskmanager,elasticsearch,reindex", "--rate", "500", "--settle", "15s",
                "--outage", "40s", "--data-dir", dir.resolve("stack").toString(), "--report", report.toString(),
                "--chart", chart.toString());

        assertThat(chaos.exitCode()).as(chaos.toString()).isZero();
        assertThat(chaos.out())
                .containsPattern("searches on cdc.public.chaos_documents during the reindex: [1-9][\\d,]*, failed 0, "
                        + "with a sentinel missing 0")
                .contains("revision is mapped as long now")
                // The users' joined documents reindexed next: the orders read again, one user for its schema, then
                // every user; searched all along for sentinel users that carry an order.
                .contains("asked Debezium for a blocking snapshot of orders (")
                .contains("asked Debezium for a blocking snapshot of users, one row (1 row)")
                .containsPattern("searches on cdc.documents.users during the reindex: [1-9][\\d,]*, failed 0, "
                        + "with a sentinel missing 0")
                .contains("verify: 0 missing, 0 extra, 0 stale")
                // The joined documents (users carrying their orders, orders their user) are verified too, and the
                // load moved orders between users under those faults.
                .containsPattern("verify: 0 missing, 0 extra, 0 stale \\([\\d,]+ rows, [1-9][\\d,]* joined documents\\)")
                .containsPattern("changes by kind: .*[1-9][\\d,]* move,")
                .contains("dead letters: exactly the")
                .contains("chaos: PASSED");
        assertThat(Files.readString(report))
                // The TaskManager killed is the one running the job (the other is a spare): the job restarted.
                .containsPattern("\\| kill -9 of the TaskManager running the job \\|( [^|]+ \\|){6} [1-9]\\d* \\|")
                .contains("| Elasticsearch stopped, then started again |")
                .contains("| a column retyped, then ./cdc reindex of its table and of the users' joined documents, searched all along |")
                .doesNotContain("not recovered");
        assertThat(Files.readString(chart)).startsWith("<svg").contains("1 taskmanager").contains("2 elasticsearch");
        assertThat(Stack.running(dir.resolve("stack"))).as("the run stops its stack").isEmpty();
    }
}
