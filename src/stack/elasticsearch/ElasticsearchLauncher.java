import org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs a single Elasticsearch 7.10.2 node for the local stack until SIGTERM:
 * {@code java -cp <elasticsearch classpath> ElasticsearchLauncher.java HTTP_PORT DIR [SETTING=VALUE ...]}; the optional
 * node settings (tests use {@code http.max_content_length}) are applied last.
 *
 * <p>The node is the real server with its standard modules (the cluster runner only assembles it), listens on
 * localhost only, and keeps its indices in {@code DIR/data} across restarts. Prints {@code Elasticsearch ready ...} once
 * the cluster is yellow.
 */
public final class ElasticsearchLauncher {

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("Usage: ElasticsearchLauncher HTTP_PORT DATA_DIR [SETTING=VALUE ...]");
            System.exit(2);
        }
        int httpPort = Integer.parseInt(args[0]);
        Path base = Path.of(args[1]).toAbsolutePath().resolve("data");
        Files.createDirectories(base);

        ElasticsearchClusterRunner runner = new ElasticsearchClusterRunner();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("Elasticsearch stopping");
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
            stopped.countDown();
        }, "elasticsearch-stop"));

        runner.onBuild((number, settings) -> {
            settings.put("http.port", String.valueOf(httpPort));
            settings.put("network.host", "127.0.0.1");
            // The transport port only matters between nodes; any free one will do for a single node.
            settings.put("transport.port", "0");
            settings.put("discovery.type", "single-node");
            // The runner prepares a multi-node cluster; a single node must not name seed hosts or initial masters.
            settings.remove("discovery.seed_hosts");
            settings.remove("cluster.initial_master_nodes");
            // A laptop disk that is 90 % full must not turn every index read-only.
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            settings.put("action.auto_create_index", "true"); // ElasticsearchNode passes the job's setting
            for (int i = 2; i < args.length; i++) {
                int eq = args[i].indexOf('=');
                settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
            }
        }).build(ElasticsearchClusterRunner.newConfigs()
                .basePath(base.toString())
                .numOfNode(1)
                .clusterName("cdc-indexer"));
        runner.ensureYellow();

        System.out.println("Elasticsearch ready on http://localhost:" + httpPort + ", data in " + base);
        stopped.await();
    }
}
