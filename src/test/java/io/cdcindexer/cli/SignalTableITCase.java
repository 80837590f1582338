package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.PostgresServer;
import io.cdcindexer.stack.ProjectHome;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The snapshot signal against a real PostgreSQL: no transaction writing the table straddles it. */
@ExtendWith(SharedServices.class)
class SignalTableITCase {

    static PostgresServer postgres;

    @BeforeAll
    static void start(PostgresServer server) {
        postgres = server;
    }

    private static long signals(Connection db, String id) throws Exception {
        try (Statement statement = db.createStatement();
                ResultSet rs = statement.executeQuery("SELECT count(*) FROM debezium.signal WHERE id = '" + id + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * A transaction that wrote the table before the signal and commits after it would be versioned, if flushed early or
     * at its timeout, by its own position: below the snapshot rows' (the signal's), though the snapshot could not read
     * its change. So the signal waits until no transaction writing the table is open.
     */
    @Test
    void theSignalWaitsForTheTransactionsWritingTheTableAndSaysWhichTheyAre() throws Exception {
        String database = SharedServices.createDatabase(postgres, "cli_signal_lock");
        try (Connection db = SharedServices.connect(postgres, database);
                Connection open = SharedServices.connect(postgres, database);
                Statement statement = db.createStatement()) {
            statement.execute("CREATE TABLE t (id int PRIMARY KEY)");
            open.setAutoCommit(false);
            try (Statement write = open.createStatement()) {
                write.execute("INSERT INTO t VALUES (1)");
            }
            SignalTable signals = SignalTable.of(KafkaConnectClient.ConnectorConfig.read(
                    ProjectHome.dir().resolve("configs/debezium-postgres-connector.json")), null);
            signals.create(db);
            CapturedTable table = CapturedTable.withPrimaryKey(db, "public").get(0);
            List<String> said = new CopyOnWriteArrayList<>();

            CompletableFuture<Void> signalled = CompletableFuture.runAsync(() -> {
                try (Connection own = SharedServices.connect(postgres, database)) {
                    signals.insertUnderLock(own, List.of(table), "straddle", "execute-snapshot", "{}",
                            System.nanoTime() + TimeUnit.SECONDS.toNanos(60), said::add);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(2_000);
            assertThat(signals(db, "straddle")).as("signalled while a transaction writing the table is open").isZero();
            assertThat(said).anySatisfy(line -> assertThat(line).contains("waiting for transactions writing t")
                    .contains("pid "));

            open.commit();
            signalled.get(30, TimeUnit.SECONDS);
            assertThat(signals(db, "straddle")).isEqualTo(1);
        }
    }
}
