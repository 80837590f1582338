package io.cdcindexer.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A Flink 1.20 session cluster: a JobManager (with the web UI on localhost:{@code restPort}) and two TaskManagers, each
 * its own process, both configured by the repository's {@code flink-conf/config.yaml} plus this instance's ports and
 * folders (written to {@code dir/conf/config.yaml}). Checkpoints and savepoints go to {@code dir/checkpoints} and
 * {@code dir/savepoints}; logs to {@code dir/jobmanager.log} and {@code dir/taskmanager-<n>.log}. Each process serves its
 * metrics for Prometheus on a port of its own ({@link #metricsUrls}).
 */
public final class FlinkCluster implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(180);
    private static final String MEMORY_RESULT_PREFIX = "BASH_JAVA_UTILS_EXEC_RESULT:";

    private final ServiceProcess jobManager;
    private final List<ServiceProcess> taskManagers;
    private final int restPort;
    private final List<Integer> metricsPorts;

    private FlinkCluster(ServiceProcess jobManager, List<ServiceProcess> taskManagers, int restPort,
            List<Integer> metricsPorts) {
        this.jobManager = jobManager;
        this.taskManagers = taskManagers;
        this.restPort = restPort;
        this.metricsPorts = List.copyOf(metricsPorts);
    }

    /** The key of the Prometheus reporter's port, set per process (its -D dynamic property). */
    static final String PROMETHEUS_PORT = "metrics.reporter.prom.port";

    /** How many TaskManagers the local cluster runs: a fault can take one away while the job keeps its slots. */
    public static final int TASK_MANAGERS = 2;

    /** Starts a cluster whose JobManager RPC and metrics endpoints listen on free ports. */
    public static FlinkCluster start(Path dir, int restPort) {
        return start(dir, restPort, FreePorts.next(), StackPorts.freeMetricsPorts());
    }

    /**
     * Starts the JobManager and the TaskManagers and returns once every TaskManager has registered its slots.
     *
     * @param metricsPorts each process's Prometheus port: the JobManager's, then TaskManager 1's, 2's, ...
     */
    public static FlinkCluster start(Path dir, int restPort, int rpcPort, List<Integer> metricsPorts) {
        return start(dir, restPort, rpcPort, metricsPorts, Map.of());
    }

    /**
     * A cluster on free ports whose TaskManagers get these environment variables (such as ELASTICSEARCH_API_KEY: the
     * job reads its secrets where it runs).
     */
    public static FlinkCluster start(Path dir, int restPort, Map<String, String> taskManagerEnvironment) {
        return start(dir, restPort, FreePorts.next(), StackPorts.freeMetricsPorts(), taskManagerEnvironment);
    }

    private static FlinkCluster start(Path dir, int restPort, int rpcPort, List<Integer> metricsPorts,
            Map<String, String> taskManagerEnvironment) {
        ServiceProcess jobManager = startJobManager(dir, restPort, rpcPort, metricsPorts);
        List<ServiceProcess> taskManagers = new ArrayList<>();
        FlinkCluster cluster = new FlinkCluster(jobManager, taskManagers, restPort, metricsPorts);
        try {
            for (int index = 1; index <= TASK_MANAGERS; index++) {
                taskManagers.add(startTaskManager(dir, restPort, rpcPort, metricsPorts, index, taskManagerEnvironment));
            }
            awaitTaskManagers(cluster.url(), taskManagers.get(taskManagers.size() - 1), TASK_MANAGERS);
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    /** The process name of TaskManager {@code index} (1-based): {@code taskmanager-1}, ... */
    public static String taskManagerName(int index) {
        return "taskmanager-" + index;
    }

    /** Writes this instance's configuration and starts the JobManager; returns once its REST API answers. */
    public static ServiceProcess startJobManager(Path dir, int restPort, int rpcPort, List<Integer> metricsPorts) {
        Map<String, String> config = writeConfig(dir, restPort, rpcPort, metricsPorts);
        ServiceProcess jobManager = startProcess("Flink JobManager", dir, "jobmanager", config, metricsPorts.get(0),
                "GET_JM_RESOURCE_PARAMS", "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
                Map.of());
        jobManager.awaitReady(START_TIMEOUT, () -> Http.answers("http://localhost:" + restPort + "/overview"));
        return jobManager;
    }

    /**
     * Starts TaskManager {@code index} (1-based) and returns once it runs; it registers with the JobManager by itself,
     * also with one that starts later (a restarted JobManager).
     */
    public static ServiceProcess startTaskManager(Path dir, int restPort, int rpcPort, List<Integer> metricsPorts,
            int index) {
        return startTaskManager(dir, restPort, rpcPort, metricsPorts, index, Map.of());
    }

    private static ServiceProcess startTaskManager(Path dir, int restPort, int rpcPort, List<Integer> metricsPorts,
            int index, Map<String, String> environment) {
        Map<String, String> config = writeConfig(dir, restPort, rpcPort, metricsPorts);
        return startProcess("Flink TaskManager " + index, dir, taskManagerName(index), config, metricsPorts.get(index),
                "GET_TM_RESOURCE_PARAMS", "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", environment);
    }

    /** Waits until {@code count} TaskManagers have registered (failing early if {@code last} exits). */
    private static void awaitTaskManagers(String url, ServiceProcess last, int count) {
        last.awaitReady(START_TIMEOUT, () -> registeredTaskManagers(url) >= count);
    }

    /** How many TaskManagers have registered with the JobManager whose REST API is at {@code url}. */
    public static int registeredTaskManagers(String url) throws IOException, InterruptedException {
        return Http.get(url + "/overview").json().path("taskmanagers").asInt();
    }

    /** Writes {@code dir/conf/config.yaml}: the checked-in configuration with this instance's ports and folders. */
    private static Map<String, String> writeConfig(Path dir, int restPort, int rpcPort, List<Integer> metricsPorts) {
        Path confDir = dir.resolve("conf");
        try {
            Files.createDirectories(confDir);
            String base = Files.readString(ProjectHome.dir().resolve("flink-conf/config.yaml"));
            String merged = withOverrides(base, localOverrides(dir.toAbsolutePath(), restPort, rpcPort, metricsPorts));
            Path partial = confDir.resolve("config.yaml.partial");
            Files.writeString(partial, merged);
            Files.move(partial, confDir.resolve("config.yaml"), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return parse(merged);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What the local instance changes in the checked-in configuration: loopback addresses, its ports and folders. */
    static Map<String, String> localOverrides(Path dir, int restPort, int rpcPort, List<Integer> metricsPorts) {
        Map<String, String> overrides = new LinkedHashMap<>();
        overrides.put("jobmanager.rpc.address", "localhost");
        overrides.put("jobmanager.rpc.port", Integer.toString(rpcPort));
        overrides.put("jobmanager.bind-host", "localhost");
        overrides.put("taskmanager.bind-host", "localhost");
        overrides.put("taskmanager.host", "localhost");
        overrides.put("rest.address", "localhost");
        overrides.put("rest.bind-address", "localhost");
        overrides.put("rest.port", Integer.toString(restPort));
        // Every process's port (a list Flink reads like a range); each process is started with its own (-D).
        overrides.put(PROMETHEUS_PORT, metricsPorts.stream().map(String::valueOf).collect(Collectors.joining(",")));
        // Smaller than the Docker stack's containers: the whole local stack shares one laptop. One TaskManager holds all
        // of the job's state (parallelism 1): about 1,090 MB of task heap (docs/design.md, "Memory"); the spare's
        // stays mostly untouched until a restart moves the job there.
        overrides.put("jobmanager.memory.process.size", "768m");
        overrides.put("taskmanager.memory.process.size", "2048m");
        overrides.put("io.tmp.dirs", dir.resolve("tmp").toString());
        overrides.put("web.tmpdir", dir.resolve("tmp/web").toString());
        overrides.put("blob.storage.directory", dir.resolve("tmp/blob").toString());
        overrides.put("execution.checkpointing.dir", fileUri(checkpointDir(dir)));
        overrides.put("execution.checkpointing.savepoint-dir", fileUri(savepointDir(dir)));
        return overrides;
    }

    /** {@code file:///...} without the trailing slash {@link Path#toUri()} adds only once the folder exists. */
    private static String fileUri(Path dir) {
        return dir.toAbsolutePath().toUri().toString().replaceAll("/$", "");
    }

    /**
     * Replaces the value of each overridden top-level {@code key: value} line and appends the keys the base does not
     * have, keeping the base's comments and order. The checked-in file uses flat keys only, so this is enough YAML.
     */
    static String withOverrides(String base, Map<String, String> overrides) {
        Map<String, String> remaining = new LinkedHashMap<>(overrides);
        StringBuilder out = new StringBuilder();
        for (String line : base.split("\n", -1)) {
            String key = keyOf(line);
            if (key != null && remaining.containsKey(key)) {
                out.append(key).append(": ").append(remaining.remove(key)).append('\n');
            } else {
                out.append(line).append('\n');
            }
        }
        String merged = out.toString().replaceAll("\n+$", "\n");
        if (!remaining.isEmpty()) {
            StringBuilder tail = new StringBuilder("\n# Local stack instance (written by FlinkCluster)\n");
            remaining.forEach((key, value) -> tail.append(key).append(": ").append(value).append('\n'));
            merged += tail;
        }
        return merged;
    }

    /** The flat {@code key: value} pairs of a configuration file. */
    static Map<String, String> parse(String yaml) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : yaml.split("\n")) {
            String key = keyOf(line);
            if (key != null) {
                values.put(key, line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return values;
    }

    private static String keyOf(String line) {
        if (line.isEmpty() || Character.isWhitespace(line.charAt(0)) || line.startsWith("#")) {
            return null;
        }
        int colon = line.indexOf(": ");
        return colon > 0 ? line.substring(0, colon).trim() : null;
    }

    private static List<String> splitOptions(String options) {
        return Arrays.stream(options.trim().split("\\s+")).filter(option -> !option.isEmpty()).toList();
    }

    /**
     * Starts one Flink process the way flink-dist's scripts do: Flink's own BashJavaUtils derives the JVM memory flags
     * and the matching dynamic properties from the configuration, so heap, direct and metaspace limits agree with it.
     */
    private static ServiceProcess startProcess(String component, Path dir, String name, Map<String, String> config,
            int metricsPort, String memoryCommand, String mainClass, Map<String, String> environment) {
        String classpath = ServiceClasspath.of("flink");
        List<String> javaOpts = splitOptions(config.getOrDefault("env.java.opts.all", ""));
        Path confDir = dir.resolve("conf").toAbsolutePath();
        List<String> memory = memoryParameters(component, dir, classpath, memoryCommand, confDir);
        List<String> jvm = new ArrayList<>(splitOptions(memory.get(0)));
        jvm.addAll(javaOpts);
        jvm.add("-Dlog.file=" + dir.toAbsolutePath().resolve(name + ".log")); // the web UI shows this file
        jvm.add("-Dlog4j.configurationFile=" + ProjectHome.dir().resolve("src/stack/flink/log4j-console.properties"));
        List<String> args = new ArrayList<>(List.of("--configDir", confDir.toString()));
        args.addAll(splitOptions(memory.get(1)));
        args.addAll(List.of("-D", PROMETHEUS_PORT + "=" + metricsPort));
        return ServiceProcess.start(component, dir, name, ServiceProcess.java(classpath, jvm, mainClass, args),
                environment);
    }

    /** Runs BashJavaUtils and returns its two results: the JVM flags and the dynamic properties. */
    private static List<String> memoryParameters(String component, Path dir, String classpath, String command,
            Path confDir) {
        List<String> java = ServiceProcess.java(classpath, List.of("-Xmx128m"),
                "org.apache.flink.runtime.util.bash.BashJavaUtils", List.of(command, "--configDir", confDir.toString()));
        Path output = dir.resolve("tmp").resolve(command + ".out");
        try {
            Files.createDirectories(output.getParent());
            Process process = new ProcessBuilder(java).redirectOutput(output.toFile())
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            List<String> results = Files.readAllLines(output, StandardCharsets.UTF_8).stream()
                    .filter(line -> line.startsWith(MEMORY_RESULT_PREFIX))
                    .map(line -> line.substring(MEMORY_RESULT_PREFIX.length()))
                    .toList();
            if (results.size() < 2) {
                throw new StackException(component + ": invalid memory configuration in " + confDir.resolve("config.yaml")
                        + "; Flink said:\n" + Files.readString(output));
            }
            return results.subList(results.size() - 2, results.size());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException(component + ": interrupted", e);
        }
    }

    /** The REST URL of the cluster last configured in {@code dir} (its generated config.yaml), if there is one. */
    public static Optional<String> configuredUrl(Path dir) {
        Path config = dir.resolve("conf/config.yaml");
        try {
            return Files.isRegularFile(config)
                    ? Optional.ofNullable(parse(Files.readString(config)).get("rest.port")).map(port -> "http://localhost:" + port)
                    : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The folder the local cluster writes checkpoints to, one folder per job. */
    public static Path checkpointDir(Path dir) {
        return dir.toAbsolutePath().resolve("checkpoints");
    }

    /** The folder the local cluster writes savepoints to. */
    public static Path savepointDir(Path dir) {
        return dir.toAbsolutePath().resolve("savepoints");
    }

    public int restPort() {
        return restPort;
    }

    /** The REST API and web UI: {@code http://localhost:<restPort>}. */
    public String url() {
        return "http://localhost:" + restPort;
    }

    /**
     * The Prometheus endpoints, {@code http://localhost:<port>/metrics}: the JobManager's, then each TaskManager's. The
     * job's own metrics are on the TaskManagers'.
     */
    public List<String> metricsUrls() {
        return metricsPorts.stream().map(FlinkCluster::metricsUrl).toList();
    }

    /** A Prometheus endpoint on this host. */
    public static String metricsUrl(int port) {
        return "http://localhost:" + port + "/metrics";
    }

    public ServiceProcess jobManager() {
        return jobManager;
    }

    /** The TaskManagers, in start order. */
    public List<ServiceProcess> taskManagers() {
        return List.copyOf(taskManagers);
    }

    /** Stops the TaskManagers, then the JobManager. */
    @Override
    public void close() {
        try {
            taskManagers.forEach(ServiceProcess::close);
        } finally {
            jobManager.close();
        }
    }
}
