package io.cdcindexer.cli;

import io.cdcindexer.job.JobOptions;
import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.ProjectHome;
import io.cdcindexer.stack.ServiceProcess;
import io.cdcindexer.stack.Stack;
import io.cdcindexer.stack.StackException;
import io.cdcindexer.stack.StackPorts;
import io.cdcindexer.stack.Supervisor;
import io.cdcindexer.stack.SupervisorState;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code ./cdc supervise}: the local stack's supervisor ({@link Supervisor}), which {@code ./cdc up} starts in the
 * background; not for users to type (hidden from the help).
 */
@Command(
        name = "supervise",
        hidden = true,
        mixinStandardHelpOptions = true,
        description = "Keeps the local stack in the data folder running: starts again what dies and resumes the job "
                + "after a JobManager restart. ./cdc up starts it; ./cdc down stops it.")
public final class SuperviseCommand implements Callable<Integer> {

    /** How long the keeper waits for a TaskManager to register with a JobManager that was started again. */
    private static final Duration SLOTS_TIMEOUT = Duration.ofMinutes(3);

    @Mixin
    DataDirOption dataDir;

    @Override
    public Integer call() throws InterruptedException {
        Path dir = dataDir.resolve();
        StackPorts ports = Stack.readPorts(dir).orElseThrow(() -> new CliException(
                "no stack was started in " + dir + " (no ports file); ./cdc up starts one"));
        Supervisor supervisor = new Supervisor(dir, () -> resumeWhenSlotsAreThere(dir, ports), System.out);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            supervisor.stop();
            try {
                supervisor.awaitFinished(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "supervisor-stop"));
        supervisor.run();
        return 0;
    }

    /**
     * Starts the supervisor of the stack in {@code dir} as a process of its own (so it outlives {@code ./cdc up
     * --detach}), unless one runs already. Its output goes to {@code <dir>/supervisor.log}.
     */
    static void startInBackground(Path dir, PrintWriter out) {
        if (Stack.supervised(dir)) {
            return;
        }
        // The heap holds the 48 MB job jar while it is uploaded to a JobManager that was started again.
        List<String> jvm = List.of("-Xmx512m", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError", "-D" + ProjectHome.PROPERTY + "=" + ProjectHome.dir());
        List<String> command = ServiceProcess.java(ownClasspath(dir), jvm, Cdc.class.getName(),
                List.of("supervise", "--data-dir", dir.toString()));
        ServiceProcess supervisor = ServiceProcess.start("supervisor", dir, Stack.SUPERVISOR, command, Map.of());
        // Ready once it has written its state: from then on ./cdc status shows it, and it watches every process.
        supervisor.awaitReady(Duration.ofSeconds(60), () -> SupervisorState.read(dir)
                .map(state -> state.pid() == supervisor.pid()).orElse(false));
        out.println("up: a supervisor starts again whatever part of the stack dies (log: " + dir.resolve("supervisor.log") + ")");
        out.flush();
    }

    /**
     * This JVM's classpath, with the project's own classes copied to {@code <dir>/supervisor-classes}: a rebuild (mvn
     * package, the upgrade path) rewrites target/classes under a running supervisor, which loads some classes only when
     * it first resumes the job.
     */
    private static String ownClasspath(Path dir) {
        Path classes = ProjectHome.dir().resolve("target/classes").toAbsolutePath().normalize();
        Path copy = dir.resolve("supervisor-classes");
        List<String> entries = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (Path.of(entry).toAbsolutePath().normalize().equals(classes) && Files.isDirectory(classes)) {
                copyTree(classes, copy);
                entries.add(copy.toString());
            } else {
                entries.add(entry);
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    private static void copyTree(Path from, Path to) {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path path : paths.toList()) {
                Path target = to.resolve(from.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(path, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Could not copy " + from + " for the supervisor", e);
        }
    }

    /** The job's program arguments on the local stack: its Kafka and Elasticsearch. */
    static List<String> jobArgs(String kafka, String elasticsearch) {
        return new ArrayList<>(List.of("--" + JobOptions.KAFKA_BOOTSTRAP_SERVERS.name(), kafka,
                "--" + JobOptions.ELASTICSEARCH_HOSTS.name(), elasticsearch));
    }

    /** The supervisor's keeper: null (ask again later) while no TaskManager has registered with the JobManager yet. */
    static String resumeWhenSlotsAreThere(Path dir, StackPorts ports) throws Exception {
        try {
            if (FlinkCluster.registeredTaskManagers("http://localhost:" + ports.flink()) == 0) {
                return null;
            }
        } catch (IOException e) {
            return null; // the JobManager's REST API is not up yet
        }
        return resumeJob(dir, ports);
    }

    /**
     * After the JobManager was started again: once a TaskManager has registered, resubmits the job from the newest
     * savepoint or retained checkpoint in the data folder (never from scratch: submit refuses to start without state
     * once a job ran), unless a job of the name runs already.
     */
    static String resumeJob(Path dir, StackPorts ports) throws Exception {
        FlinkRest flink = new FlinkRest("http://localhost:" + ports.flink());
        awaitSlots(flink.url());
        String name = JobOptions.JOB_NAME.defaultValue();
        if (flink.liveJob(name).isPresent()) {
            return "job " + name + " runs; nothing to resume";
        }
        Optional<Path> state = SubmitCommand.latestSavepointOrCheckpoint(dir.resolve("flink"));
        StringWriter said = new StringWriter();
        PrintWriter out = new PrintWriter(said);
        Path jar = ProjectHome.dir().resolve(SubmitCommand.JOB_JAR);
        String kafka = "localhost:" + ports.kafka();
        String jobId = SubmitCommand.submit(out, flink, CommittedOffsets.in(kafka), jar,
                jobArgs(kafka, "http://localhost:" + ports.elasticsearch()),
                SubmitCommand.Start.resumingFrom(state.map(path -> path.toUri().toString()).orElse(null)));
        out.flush();
        System.out.print(said);
        return "resumed job " + name + " as " + jobId + state.map(path -> " from " + path).orElse(" (no state yet)");
    }

    private static void awaitSlots(String url) throws InterruptedException {
        Instant deadline = Instant.now().plus(SLOTS_TIMEOUT);
        while (Instant.now().isBefore(deadline)) {
            try {
                if (FlinkCluster.registeredTaskManagers(url) > 0) {
                    return;
                }
            } catch (Exception notYet) {
                // The REST API answers once the JobManager is up; TaskManagers register a few seconds later.
            }
            Thread.sleep(1000);
        }
        throw new StackException("no TaskManager registered with the JobManager at " + url + " within "
                + SLOTS_TIMEOUT.toMinutes() + " min (" + FlinkCluster.TASK_MANAGERS + " run; see their logs)");
    }
}
