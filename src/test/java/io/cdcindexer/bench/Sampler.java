package io.cdcindexer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.Stack;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * What a latency run samples besides the probes: the job's checkpoints (Flink's REST history keeps only the last few,
 * so it is read every second), the CPU each process of the stack used, and optionally a JFR recording of each JVM.
 */
final class Sampler implements AutoCloseable {

    private final String flink;
    private final Path dataDir;
    private final Map<Long, long[]> checkpoints = new TreeMap<>();
    private final Map<String, Long> cpuAtStart = new LinkedHashMap<>();
    private final List<String> recorded = new ArrayList<>();
    private Path recordings;
    private Thread thread;
    private volatile boolean stopped;

    Sampler(String flink, Path dataDir) {
        this.flink = flink;
        this.dataDir = dataDir;
    }

    /** Starts a JFR recording (default settings: GC, CPU load, samples every 20 ms) in every JVM of the stack; {@link #close} dumps them there. */
    void startRecordings(Path directory) throws Exception {
        Files.createDirectories(directory);
        recordings = directory;
        for (Map.Entry<String, ProcessHandle> process : Stack.running(dataDir).entrySet()) {
            if (process.getValue().info().command().orElse("").contains("java")) {
                int exit = jcmd(process.getValue().pid(), "JFR.start", "name=bench", "settings=default");
                if (exit == 0) {
                    recorded.add(process.getKey());
                }
            }
        }
    }

    /** Notes each process's CPU time so far; {@link #coresSinceStart} counts from here. */
    void markCpu() {
        cpuAtStart.clear();
        Stack.running(dataDir).forEach((name, process) -> cpuAtStart.put(name, cpu(process)));
    }

    /** Notes each process's CPU time so far and starts reading the checkpoints. */
    void start() {
        markCpu();
        thread = new Thread(this::sample, "latency-sampler");
        thread.setDaemon(true);
        thread.start();
    }

    /** The cores each process used since {@link #start}, over {@code seconds}. */
    String coresSinceStart(double seconds) {
        Map<String, ProcessHandle> running = Stack.running(dataDir);
        return cpuAtStart.entrySet().stream()
                .filter(entry -> running.containsKey(entry.getKey()))
                .map(entry -> String.format("%s %.2f", entry.getKey().substring(entry.getKey().indexOf('/') + 1),
                        (cpu(running.get(entry.getKey())) - entry.getValue()) / 1e9 / seconds))
                .collect(Collectors.joining(", "));
    }

    void stop() throws InterruptedException {
        stopped = true;
        if (thread != null) {
            thread.join();
        }
    }

    /** The completed checkpoints, in ms from {@code originMillis}. */
    synchronized List<DelayChart.Checkpoint> checkpoints(long originMillis) {
        return checkpoints.entrySet().stream()
                .map(entry -> new DelayChart.Checkpoint(entry.getKey(), entry.getValue()[0] - originMillis,
                        entry.getValue()[1] - originMillis))
                .sorted(Comparator.comparingLong(DelayChart.Checkpoint::triggeredMs)).toList();
    }

    @Override
    public void close() throws Exception {
        stop();
        Map<String, ProcessHandle> running = Stack.running(dataDir);
        for (String name : recorded) {
            ProcessHandle process = running.get(name);
            if (process != null) {
                Path file = recordings.resolve(name.replace('/', '-') + ".jfr").toAbsolutePath();
                jcmd(process.pid(), "JFR.stop", "name=bench", "filename=" + file);
            }
        }
        recorded.clear();
    }

    private void sample() {
        String job = null;
        while (!stopped) {
            try {
                if (job == null) {
                    for (JsonNode overview : Http.get(flink + "/jobs/overview").json().path("jobs")) {
                        if ("RUNNING".equals(overview.path("state").asText())) {
                            job = overview.path("jid").asText();
                        }
                    }
                }
                if (job != null) {
                    for (JsonNode entry : Http.get(flink + "/jobs/" + job + "/checkpoints").json().path("history")) {
                        if ("COMPLETED".equals(entry.path("status").asText())) {
                            synchronized (this) {
                                checkpoints.put(entry.path("id").asLong(), new long[] {
                                    entry.path("trigger_timestamp").asLong(),
                                    entry.path("latest_ack_timestamp").asLong()});
                            }
                        }
                    }
                }
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                System.err.println("sampler: " + e.getMessage());
            }
        }
    }

    private static long cpu(ProcessHandle process) {
        return process.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }

    private static int jcmd(long pid, String... command) throws Exception {
        List<String> args = new ArrayList<>(List.of("jcmd", Long.toString(pid)));
        args.addAll(List.of(command));
        Process process = new ProcessBuilder(args).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return process.waitFor();
    }
}
