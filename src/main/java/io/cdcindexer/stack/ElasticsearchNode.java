package io.cdcindexer.stack;

import io.cdcindexer.elasticsearch.IndexMappingFunction;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A single Elasticsearch 7.10.2 node in its own process ({@code src/stack/elasticsearch/ElasticsearchLauncher.java}):
 * HTTP on localhost:{@code port}, indices kept in {@code dir/data}, log in {@code dir/elasticsearch.log}.
 */
public final class ElasticsearchNode implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);

    private final ServiceProcess process;
    private final int port;

    private ElasticsearchNode(ServiceProcess process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Starts the node and returns once the cluster is at least yellow. */
    public static ElasticsearchNode start(Path dir, int port) {
        return start(dir, port, Map.of());
    }

    /**
     * Starts the node with extra node settings (such as {@code http.max_content_length}), and the job's
     * {@code action.auto_create_index} ({@link IndexMappingFunction#AUTO_CREATE_INDEX}) unless they set it.
     */
    public static ElasticsearchNode start(Path dir, int port, Map<String, String> extra) {
        Map<String, String> settings = new java.util.TreeMap<>(extra);
        settings.putIfAbsent("action.auto_create_index", IndexMappingFunction.AUTO_CREATE_INDEX);
        Path home = ProjectHome.dir();
        List<String> command = ServiceProcess.java(ServiceClasspath.of("elasticsearch"),
                // ES 7.10 wants a fixed heap; 512 MiB indexes the demo tables easily.
                List.of("-Xms512m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"),
                home.resolve("src/stack/elasticsearch/ElasticsearchLauncher.java").toString(),
                Stream.concat(Stream.of(Integer.toString(port), dir.toAbsolutePath().toString()),
                        settings.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())).toList());
        ServiceProcess process = ServiceProcess.start("Elasticsearch", dir, "elasticsearch", command, Map.of());
        ElasticsearchNode node = new ElasticsearchNode(process, port);
        process.awaitReady(START_TIMEOUT,
                () -> Http.answers(node.url() + "/_cluster/health?wait_for_status=yellow&timeout=1s"));
        return node;
    }

    public int port() {
        return port;
    }

    /** {@code http://localhost:<port>}. */
    public String url() {
        return "http://localhost:" + port;
    }

    public ServiceProcess process() {
        return process;
    }

    @Override
    public void close() {
        process.close();
    }
}
