import java.util.HashMap;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;

/**
 * The stock Flink SQL pipeline, {@code debezium-json} → {@code elasticsearch-7}, on a local MiniCluster until SIGTERM:
 * the baseline {@code IndexingBenchmark}'s {@code sql-*} scenarios compare the job with.
 *
 * <pre>
 * java -cp "$(cat target/bench/sql-baseline.classpath)" src/bench/sql-baseline/SqlBaseline.java \
 *     --kafka localhost:9092 --elasticsearch http://localhost:9200 [--topic cdc.public.users] [--index sql.public.users] \
 *     [--bulk-actions N] [--fetch-bytes N] [--parallelism 1]
 * </pre>
 *
 * <p>It uses the connectors as a user of the SQL client would: only the options below, the sink's bulk settings left at
 * their defaults unless {@code --bulk-actions} is given, the consumer's {@code max.partition.fetch.bytes} unless
 * {@code --fetch-bytes} is. Prints {@code SqlBaseline started at <epoch ms>} first, so the
 * benchmark can time from the same point as the job's (before the MiniCluster starts), then the plan.
 */
public final class SqlBaseline {

    public static void main(String[] argv) throws Exception {
        System.out.println("SqlBaseline started at " + System.currentTimeMillis());
        Map<String, String> args = new HashMap<>(Map.of("--topic", "cdc.public.users", "--index", "sql.public.users",
                "--parallelism", "1"));
        for (int i = 0; i < argv.length; i += 2) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                System.err.println("Usage: SqlBaseline --kafka HOST:PORT --elasticsearch URL [--topic T] [--index I]"
                        + " [--bulk-actions N] [--fetch-bytes N] [--parallelism N]");
                System.exit(2);
            }
            args.put(argv[i], argv[i + 1]);
        }
        for (String required : new String[] {"--kafka", "--elasticsearch"}) {
            if (!args.containsKey(required)) {
                System.err.println("SqlBaseline: " + required + " is required");
                System.exit(2);
            }
        }

        int parallelism = Integer.parseInt(args.get("--parallelism"));
        Configuration config = new Configuration();
        config.setString("taskmanager.numberOfTaskSlots", Integer.toString(Math.max(2, parallelism)));
        // As the job: checkpoints every 10 s, the sink flushes on each (at-least-once).
        config.setString("execution.checkpointing.interval", "10 s");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, config);
        StreamTableEnvironment tables = StreamTableEnvironment.create(env);

        // The columns of the users rows. balance: Debezium writes NUMERIC as base64 bytes (decimal.handling.mode=precise)
        // and debezium-json cannot read those as DECIMAL (it parses the text as a number), so it is taken as the text.
        // created_at: the ISO-8601 string Debezium writes, passed through as the job passes it.
        tables.executeSql("CREATE TABLE users_source ("
                + " id INT, username STRING, email STRING, balance STRING, created_at STRING, seq INT,"
                + " PRIMARY KEY (id) NOT ENFORCED"
                + ") WITH ("
                + " 'connector' = 'kafka',"
                + " 'topic' = '" + args.get("--topic") + "',"
                + " 'properties.bootstrap.servers' = '" + args.get("--kafka") + "',"
                + " 'properties.group.id' = 'sql-baseline',"
                + " 'scan.startup.mode' = 'earliest-offset',"
                + " 'format' = 'debezium-json',"
                + " 'debezium-json.schema-include' = 'true'"
                + (args.containsKey("--fetch-bytes")
                        ? ", 'properties.max.partition.fetch.bytes' = '" + Long.parseLong(args.get("--fetch-bytes")) + "'"
                        : "")
                + ")");
        String bulk = args.containsKey("--bulk-actions")
                ? ", 'sink.bulk-flush.max-actions' = '" + Integer.parseInt(args.get("--bulk-actions")) + "'"
                : "";
        tables.executeSql("CREATE TABLE users_sink ("
                + " id INT, username STRING, email STRING, balance STRING, created_at STRING, seq INT,"
                + " PRIMARY KEY (id) NOT ENFORCED"
                + ") WITH ("
                + " 'connector' = 'elasticsearch-7',"
                + " 'hosts' = '" + args.get("--elasticsearch") + "',"
                + " 'index' = '" + args.get("--index") + "'"
                + bulk
                + ")");

        String insert = "INSERT INTO users_sink SELECT * FROM users_source";
        System.out.println(tables.explainSql(insert));
        TableResult result = tables.executeSql(insert);
        System.out.println("SqlBaseline running: job " + result.getJobClient().orElseThrow().getJobID());
        try {
            result.await();
        } catch (Exception e) {
            // The MiniCluster's threads would keep the JVM up after the job failed; exit so the failure is seen.
            e.printStackTrace();
            System.exit(1);
        }
    }
}
