package io.cdcindexer.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;

/**
 * The whole local stack: PostgreSQL, Elasticsearch, Kafka, a Flink session cluster and Kafka Connect, each its own
 * process, with data and logs under one folder ({@code <dataDir>/<service>/}).
 */
public final class Stack implements AutoCloseable {

    /** Every process the stack starts, as {@code <service folder>/<name>}, in start order. */
    public static final List<String> PROCESSES = List.of(
            "postgres/postgres", "elasticsearch/elasticsearch", "kafka/kafka",
            "flink/jobmanager", "flink/taskmanager-1", "flink/taskmanager-2", "connect/connect");

    /** The files the stack keeps in its data folder next to the service folders: its ports and its supervisor's. */
    public static final List<String> FILES = List.of("ports.properties", "supervisor.log", "supervisor.pid",
            "supervisor.json", "supervisor.json.partial", "supervisor-classes");

    /** The file in the data folder that keeps the ports a stack was started on, so parts restart on the same ones. */
    static final String PORTS_FILE = "ports.properties";

    /** The folders the stack creates in its data folder, one per service. */
    public static final List<String> SERVICE_FOLDERS =
            PROCESSES.stream().map(process -> process.substring(0, process.indexOf('/'))).distinct().toList();

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
        writePorts(dir, ports);
        releaseHolds(dir);
        ExecutorService executor = Executors.newFixedThreadPool(4, runnable -> {
            Thread thread = new Thread(runnable, "stack-start");
            thread.setDaemon(true);
            return thread;
        });
        try {
            CompletableFuture<PostgresServer> postgres =
                    CompletableFuture.supplyAsync(() -> PostgresServer.start(dir.resolve("postgres"), ports.postgres()),
                            executor);
            CompletableFuture<ElasticsearchNode> elasticsearch =
                    CompletableFuture.supplyAsync(() -> ElasticsearchNode.start(dir.resolve("elasticsearch"),
                            ports.elasticsearch()), executor);
            CompletableFuture<KafkaBroker> kafka = CompletableFuture.supplyAsync(
                    () -> KafkaBroker.start(dir.resolve("kafka"), ports.kafka(), ports.kafkaController()), executor);
            CompletableFuture<FlinkCluster> flink =
                    CompletableFuture.supplyAsync(() -> FlinkCluster.start(dir.resolve("flink"), ports.flink(),
                            ports.flinkRpc(), ports.flinkMetrics()), executor);
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
        // The supervisor first: it would start again what is being stopped.
        if (stopSupervisor(dataDir)) {
            stopped.add(SUPERVISOR);
        }
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

    static Path pidFile(Path dataDir, String process) {
        return dataDir.toAbsolutePath().resolve(process + ".pid");
    }

    /** The supervisor's name in {@link #stopRecorded} and its PID file, {@code <dataDir>/supervisor.pid}. */
    public static final String SUPERVISOR = "supervisor";

    public static Path supervisorPidFile(Path dataDir) {
        return dataDir.toAbsolutePath().resolve(SUPERVISOR + ".pid");
    }

    /**
     * Stops the supervisor of the stack in {@code dataDir}, if one runs, leaving the services it started again running;
     * returns whether one ran.
     */
    public static boolean stopSupervisor(Path dataDir) {
        return ServiceProcess.stopRecorded(supervisorPidFile(dataDir), ServiceProcess.STOP_GRACE, false);
    }

    /** Whether a supervisor keeps the stack in {@code dataDir} running. */
    public static boolean supervised(Path dataDir) {
        return ServiceProcess.recorded(supervisorPidFile(dataDir)).isPresent();
    }

    /**
     * Starts one process of a stack whose other parts may be running, on the ports the stack was started on, and
     * returns once it is ready (a TaskManager: once it runs; it registers by itself). Used to start again what died.
     */
    public static ServiceProcess startProcess(Path dataDir, String process) {
        Path dir = dataDir.toAbsolutePath();
        StackPorts ports = readPorts(dir).orElseThrow(() -> new StackException(
                "Cannot start " + process + ": " + dir.resolve(PORTS_FILE) + " is missing (was the stack started here?)"));
        String kafka = "localhost:" + ports.kafka();
        ServiceProcess.recorded(pidFile(dir, process)).ifPresent(running -> {
            throw new StackException(process + " already runs (pid " + running.pid() + ")");
        });
        return switch (process) {
            case "postgres/postgres" -> {
                // A launcher killed hard leaves its postmaster behind, holding the port and the data folder.
                PostgresServer.stopLeftovers(dir.resolve("postgres"));
                yield PostgresServer.start(dir.resolve("postgres"), ports.postgres()).process();
            }
            case "elasticsearch/elasticsearch" ->
                    ElasticsearchNode.start(dir.resolve("elasticsearch"), ports.elasticsearch()).process();
            case "kafka/kafka" -> KafkaBroker.start(dir.resolve("kafka"), ports.kafka(), ports.kafkaController()).process();
            case "flink/jobmanager" -> FlinkCluster.startJobManager(dir.resolve("flink"), ports.flink(), ports.flinkRpc(),
                    ports.flinkMetrics());
            case "connect/connect" ->
                    KafkaConnectWorker.start(dir.resolve("connect"), ports.connect(), kafka, ports.postgres()).process();
            default -> {
                String prefix = "flink/taskmanager-";
                if (process.startsWith(prefix)) {
                    int index = Integer.parseInt(process.substring(prefix.length()));
                    yield FlinkCluster.startTaskManager(dir.resolve("flink"), ports.flink(), ports.flinkRpc(),
                            ports.flinkMetrics(), index);
                }
                throw new IllegalArgumentException("Not a process of the stack: " + process);
            }
        };
    }

    /** A new start begins with every part supervised: hold files of an earlier run go. */
    private static void releaseHolds(Path dir) {
        for (String process : PROCESSES) {
            try {
                Supervisor.release(dir, process);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Keeps the ports in {@code <dataDir>/ports.properties}. */
    static void writePorts(Path dir, StackPorts ports) {
        Properties properties = new Properties();
        properties.setProperty("postgres", Integer.toString(ports.postgres()));
        properties.setProperty("kafka", Integer.toString(ports.kafka()));
        properties.setProperty("connect", Integer.toString(ports.connect()));
        properties.setProperty("elasticsearch", Integer.toString(ports.elasticsearch()));
        properties.setProperty("flink", Integer.toString(ports.flink()));
        properties.setProperty("kafka-controller", Integer.toString(ports.kafkaController()));
        properties.setProperty("flink-rpc", Integer.toString(ports.flinkRpc()));
        properties.setProperty("flink-metrics", ports.flinkMetrics().stream().map(String::valueOf)
                .collect(Collectors.joining(",")));
        try {
            Files.createDirectories(dir);
            try (var writer = Files.newBufferedWriter(dir.resolve(PORTS_FILE))) {
                properties.store(writer, "The ports this stack was started on (written by ./cdc up)");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The ports a stack in {@code dataDir} was started on, if it recorded them. */
    public static Optional<StackPorts> readPorts(Path dataDir) {
        Path file = dataDir.toAbsolutePath().resolve(PORTS_FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties properties = new Properties();
        StackPorts ports;
        try (var reader = Files.newBufferedReader(file)) {
            properties.load(reader);
            ports = new StackPorts(port(properties, "postgres"), port(properties, "kafka"),
                    port(properties, "connect"), port(properties, "elasticsearch"), port(properties, "flink"),
                    port(properties, "kafka-controller"), port(properties, "flink-rpc"), metricsPorts(properties));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        if (properties.getProperty("flink-metrics") == null) {
            // Started before the Flink processes had metrics ports: the free ones chosen now are recorded, so that every
            // later reader (status, the supervisor restarting a process) agrees on them.
            try {
                writePorts(dataDir.toAbsolutePath(), ports);
            } catch (UncheckedIOException e) {
                // A folder this reader may not write (status run by another user): the ports are still these, for now.
            }
        }
        return Optional.of(ports);
    }

    // A stack started before the Flink processes had metrics ports has none recorded: they get free ones when started.
    private static List<Integer> metricsPorts(Properties properties) {
        String ports = properties.getProperty("flink-metrics");
        if (ports == null) {
            return StackPorts.freeMetricsPorts();
        }
        return Arrays.stream(ports.split(",")).map(port -> Integer.parseInt(port.trim())).toList();
    }

    private static int port(Properties properties, String key) {
        return Integer.parseInt(properties.getProperty(key).trim());
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
        List<ServiceProcess> processes = new ArrayList<>(List.of(postgres.process(), elasticsearch.process(),
                kafka.process(), flink.jobManager()));
        processes.addAll(flink.taskManagers());
        processes.add(connect.process());
        return processes;
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
