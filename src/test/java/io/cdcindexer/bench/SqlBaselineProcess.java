package io.cdcindexer.bench;

import io.cdcindexer.stack.ProjectHome;
import io.cdcindexer.stack.ServiceClasspath;
import io.cdcindexer.stack.ServiceProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The stock Flink SQL pipeline ({@code src/bench/sql-baseline/SqlBaseline.java}) in its own JVM, on the Flink 1.20.3
 * classpath of {@code src/bench/sql-baseline/pom.xml}; its output goes to {@code dir/sql-baseline.log}.
 */
final class SqlBaselineProcess implements AutoCloseable {

    private static final String STARTED = "SqlBaseline started at ";

    private final ServiceProcess process;
    private final long startedAtMillis;

    private SqlBaselineProcess(ServiceProcess process, long startedAtMillis) {
        this.process = process;
        this.startedAtMillis = startedAtMillis;
    }

    /**
     * The benchmark JVM's largest heap, fixed as Flink fixes a TaskManager's, as the job's in the benchmark's JVM;
     * warnings only, as the job's tests log.
     */
    private static List<String> jvm() {
        List<String> jvm = new java.util.ArrayList<>(Benchmarks.heapOfThisJvm());
        jvm.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        return jvm;
    }

    /** Starts the pipeline and returns once its main method runs (the source launcher has compiled it). */
    static SqlBaselineProcess start(Path dir, List<String> args) throws Exception {
        Path home = ProjectHome.dir();
        List<String> command = ServiceProcess.java(ServiceClasspath.of("bench", "sql-baseline"),
                jvm(), home.resolve("src/bench/sql-baseline/SqlBaseline.java").toString(), args);
        ServiceProcess process = ServiceProcess.start("SQL baseline", dir, "sql-baseline", command, Map.of());
        long[] started = new long[1];
        process.awaitReady(Duration.ofSeconds(120), () -> {
            for (String line : Files.readAllLines(process.log(), StandardCharsets.ISO_8859_1)) {
                if (line.startsWith(STARTED)) {
                    started[0] = Long.parseLong(line.substring(STARTED.length()).trim());
                    return true;
                }
            }
            return false;
        });
        return new SqlBaselineProcess(process, started[0]);
    }

    /** Wall-clock time at which the pipeline's main method began: before the planner and the MiniCluster start. */
    long startedAtMillis() {
        return startedAtMillis;
    }

    long pid() {
        return process.pid();
    }

    /** Fails, with the end of its log, if the pipeline has stopped (a SQL pipeline that fails exits). */
    void checkAlive() throws Exception {
        if (!process.isAlive()) {
            List<String> log = Files.readAllLines(process.log(), StandardCharsets.ISO_8859_1);
            throw new IllegalStateException("The SQL baseline stopped; see " + process.log() + ":\n"
                    + String.join("\n", new ArrayList<>(log.subList(Math.max(0, log.size() - 40), log.size()))));
        }
    }

    @Override
    public void close() {
        process.close();
    }
}
