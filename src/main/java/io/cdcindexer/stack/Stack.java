package io.cdcindexer.stack;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The whole local stack: PostgreSQL, Elasticsearch, Kafka, a Flink session cluster and Kafka Connect, each its own
 * process, with data and logs under one folder ({@code <dataDir>/<service>/}).
 */
public final class Stack implements AutoCloseable {

    /** Every process the stack starts, as {@code <service folder>/<name>}, in start order. */
    static final List<String> PROCESSES = List.of(
            "postgres/postgres", "elasticsearch/elasticsearch", "kafka/kafka",
            "flink/jobmanager", "flink/taskmanager", "connect/connect");

    /** The folders the stack creates in its data folder, one per service. */
    public static final List<String> SERVICE_FOLDERS = List.of("postgres", "elasticsearch", "kafka", "flink", "connect");

    private final Path dataDir;
    private final StackPorts ports;
    private final PostgresServer postgres;
    private final ElasticsearchNode elasticsearch;
    private final KafkaBroker kafka;
    private final FlinkCluster flink;
    private final KafkaConnectWorker connect;

    private Stack(Path dataDir, StackPorts ports, PostgresServer postgres, ElasticsearchNode elasticsearch,
            KafkaBroker kafka, FlinkCluster flink, KafkaConnectWorker connect) {
        this.dataDir = dataDir;
        this.ports = ports;
        this.postgres = postgres;
        this.elasticsearch = elasticsearch;
        this.kafka = kafka;
        this.flink = flink;
        this.connect = connect;
    }

    /**
     * Starts every service and returns once all are ready. PostgreSQL, Elasticsearch, Kafka and Flink start side by
     * side; Kafka Connect follows Kafka, which holds its state. If any service fails, the others are stopped and the
     * error names the failed one and its log.
     */
    public static Stack start(Path dataDir, StackPorts ports) {
        Path dir = dataDir.toAbsolutePath();
        checkPortsFree(ports);
        ExecutorService executor = Executors.newFixedThreadPool(4, runnable -> {
            Thread thread = new Thread(runnable, "stack-start");
            thread.setDaemon(true);
            return thread;
        });
        try {
            CompletableFuture<PostgresServer> postgres =
                    async(executor, () -> PostgresServer.start(dir.resolve("postgres"), ports.postgres()));
            CompletableFuture<ElasticsearchNode> elasticsearch =
                    async(executor, () -> ElasticsearchNode.start(dir.resolve("elasticsearch"), ports.elasticsearch()));
            CompletableFuture<KafkaBroker> kafka = async(executor,
                    () -> KafkaBroker.start(dir.resolve("kafka"), ports.kafka(), ports.kafkaController()));
            CompletableFuture<FlinkCluster> flink =
                    async(executor, () -> FlinkCluster.start(dir.resolve("flink"), ports.flink(), ports.flinkRpc()));
            CompletableFuture<KafkaConnectWorker> connect = kafka.thenApplyAsync(broker -> KafkaConnectWorker.start(
                    dir.resolve("connect"), ports.connect(), broker.bootstrapServers(), ports.postgres()), executor);

            List<CompletableFuture<? extends AutoCloseable>> all = List.of(postgres, elasticsearch, kafka, flink, connect);
            try {
                CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
            } catch (CompletionException e) {
                throw stopStarted(all);
            }
            return new Stack(dir, ports, postgres.join(), elasticsearch.join(), kafka.join(), flink.join(),
                    connect.join());
        } finally {
            executor.shutdown();
        }
    }

    private static <T> CompletableFuture<T> async(ExecutorService executor, Supplier<T> start) {
        return CompletableFuture.supplyAsync(start, executor);
    }

    /** After a failed start: waits for every start-up to end, stops those that succeeded, and returns the failure. */
    static RuntimeException stopStarted(List<CompletableFuture<? extends AutoCloseable>> all) {
        // A set: Connect's start-up fails with the very exception of the Kafka start-up it waited for.
        Set<Throwable> failures = new LinkedHashSet<>();
        for (CompletableFuture<? extends AutoCloseable> future : all) {
            try {
                future.join().close();
            } catch (CompletionException e) {
                failures.add(e.getCause());
            } catch (Exception e) {
                failures.add(e);
            }
        }
        Throwable cause = failures.iterator().next();
        RuntimeException first = cause instanceof RuntimeException runtime ? runtime
                : new StackException(cause.getMessage(), cause);
        failures.stream().skip(1).forEach(first::addSuppressed);
        return first;
    }

    private static void checkPortsFree(StackPorts ports) {
        List<String> busy = new ArrayList<>();
        ports.byComponent().forEach((component, port) -> {
            if (FreePorts.inUse(port)) {
                busy.add(component + " port " + port);
            }
        });
        if (!busy.isEmpty()) {
            throw new StackException("Cannot start the stack: " + String.join(", ", busy)
                    + " already in use (is a stack already running? see ./cdc status, ./cdc down)");
        }
    }

    /** How many processes a complete stack runs. */
    public static int processCount() {
        return PROCESSES.size();
    }

    /** The live processes that a stack in {@code dataDir} recorded, by {@code <service>/<name>}, in start order. */
    public static Map<String, ProcessHandle> running(Path dataDir) {
        Map<String, ProcessHandle> running = new LinkedHashMap<>();
        for (String process : PROCESSES) {
            ServiceProcess.recorded(pidFile(dataDir, process)).ifPresent(handle -> running.put(process, handle));
        }
        return running;
    }

    /**
     * Stops the processes a stack in {@code dataDir} recorded (one started by {@code ./cdc up --detach}, in another
     * JVM), in reverse start order. Returns what it stopped.
     */
    public static List<String> stopRecorded(Path dataDir) {
        List<String> stopped = new ArrayList<>();
        List<String> reverse = new ArrayList<>(PROCESSES);
        Collections.reverse(reverse);
        for (String process : reverse) {
            if (ServiceProcess.stopRecorded(pidFile(dataDir, process), ServiceProcess.STOP_GRACE)) {
                stopped.add(process);
            }
        }
        PostgresServer.stopLeftovers(dataDir.toAbsolutePath().resolve("postgres"));
        return stopped;
    }

    private static Path pidFile(Path dataDir, String process) {
        return dataDir.toAbsolutePath().resolve(process + ".pid");
    }

    public Path dataDir() {
        return dataDir;
    }

    public StackPorts ports() {
        return ports;
    }

    public PostgresServer postgres() {
        return postgres;
    }

    public ElasticsearchNode elasticsearch() {
        return elasticsearch;
    }

    public KafkaBroker kafka() {
        return kafka;
    }

    public FlinkCluster flink() {
        return flink;
    }

    public KafkaConnectWorker connect() {
        return connect;
    }

    /** Every process of the stack. */
    public List<ServiceProcess> processes() {
        return List.of(postgres.process(), elasticsearch.process(), kafka.process(), flink.jobManager(),
                flink.taskManager(), connect.process());
    }

    /** Stops every service, in reverse start order; a failure to stop one does not keep the others running. */
    @Override
    public void close() {
        List<AutoCloseable> services = List.of(connect, flink, kafka, elasticsearch, postgres);
        StackException failure = null;
        for (AutoCloseable service : services) {
            try {
                service.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new StackException("Could not stop every service of the stack in " + dataDir, e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
