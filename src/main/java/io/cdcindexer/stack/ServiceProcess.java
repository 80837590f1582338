package io.cdcindexer.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One OS process of the local stack: started in a session of its own, its output appended to a log file, its PID
 * recorded next to it (so {@code ./cdc down} can stop it from another JVM), stopped with SIGTERM and killed only after
 * a grace period.
 */
public final class ServiceProcess implements AutoCloseable {

    /** How long a service may take to shut down cleanly before it is killed. */
    public static final Duration STOP_GRACE = Duration.ofSeconds(30);

    private static final Duration POLL_INTERVAL = Duration.ofMillis(250);

    /** How long a process's command line may take to name its folder while the process execs. */
    private static final Duration EXEC_SETTLE = Duration.ofMillis(200);

    /** A readiness check; throwing counts as "not ready yet". */
    @FunctionalInterface
    public interface Probe {
        boolean ready() throws Exception;
    }

    private final String component;
    private final Process process;
    private final Path log;
    private final Path pidFile;

    private ServiceProcess(String component, Process process, Path log, Path pidFile) {
        this.component = component;
        this.process = process;
        this.log = log;
        this.pidFile = pidFile;
    }

    /**
     * Starts {@code command} in {@code dir}, appending its output to {@code dir/<name>.log} and recording its PID and
     * start in {@code dir/<name>.pid} ({@link #recorded}).
     */
    public static ServiceProcess start(String component, Path dir, String name, List<String> command, Map<String, String> env) {
        Path log = dir.resolve(name + ".log");
        Path pidFile = dir.resolve(name + ".pid");
        Optional<ProcessHandle> running = recorded(pidFile);
        if (running.isPresent()) {
            // Two starters at once (./cdc up and the supervisor): the second leaves the first's process and record alone.
            throw new StackException(component + " already runs (pid " + running.get().pid() + ", " + pidFile + ")");
        }
        List<String> full = new ArrayList<>();
        // A session of its own: Ctrl-C in the terminal reaches only the CLI, which stops the services in order, and a
        // detached stack outlives the shell that started it.
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            full.add("/usr/bin/setsid");
        }
        full.addAll(command);
        try {
            Files.createDirectories(dir);
            Files.writeString(log, "==== " + Instant.now() + " starting " + component + ": " + String.join(" ", full)
                    + System.lineSeparator(), StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            ProcessBuilder builder = new ProcessBuilder(full)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            builder.environment().putAll(env);
            Process process = builder.start();
            writeRecord(pidFile, process.pid());
            return new ServiceProcess(component, process, log, pidFile);
        } catch (IOException e) {
            throw new StackException("Could not start " + component + ": " + e.getMessage() + "; see " + log, e);
        }
    }

    /** Runs a one-off command (e.g. formatting storage) to completion, appending its output to the service's log. */
    static void run(String component, Path dir, String name, List<String> command, Duration timeout) {
        ServiceProcess step = start(component, dir, name, command, Map.of());
        try {
            if (!step.process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw step.failure("did not finish within " + timeout.toSeconds() + " s");
            }
            if (step.process.exitValue() != 0) {
                throw step.failure("failed with exit code " + step.process.exitValue());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException(component + " interrupted", e);
        } finally {
            step.close();
        }
    }

    /**
     * Polls {@code probe} until it answers true. Fails early when the process exits, and after {@code timeout}; either
     * way the process is stopped and the error names the component and its log.
     */
    public void awaitReady(Duration timeout, Probe probe) {
        Instant deadline = Instant.now().plus(timeout);
        try {
            while (true) {
                if (!process.isAlive()) {
                    throw failure("exited with code " + process.exitValue() + " while starting");
                }
                try {
                    if (probe.ready()) {
                        return;
                    }
                } catch (Exception notYet) {
                    // Expected while the service starts: connection refused, 404, ...
                }
                if (Instant.now().isAfter(deadline)) {
                    throw failure("was not ready within " + timeout.toSeconds() + " s");
                }
                Thread.sleep(POLL_INTERVAL.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new StackException(component + ": interrupted while waiting for it to start", e);
        } catch (StackException e) {
            close();
            throw e;
        }
    }

    private StackException failure(String what) {
        return new StackException(component + " " + what + "; see " + log + ". Last lines:\n" + tail(log, 25));
    }

    public String component() {
        return component;
    }

    public long pid() {
        return process.pid();
    }

    public Path log() {
        return log;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Stops the process (SIGTERM, then SIGKILL after {@link #STOP_GRACE}) and removes its PID file. */
    @Override
    public void close() {
        stop(process.toHandle(), STOP_GRACE);
        try {
            // Only our own record: a process started meanwhile by someone else (the supervisor) keeps its PID file.
            if (Files.isRegularFile(pidFile) && record(pidFile)[0].equals(Long.toString(process.pid()))) {
                Files.delete(pidFile);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Stops the process {@code pidFile} records, if it still runs and is ours ({@link #recorded}: a reused PID is left
     * alone). Returns whether a process was stopped.
     */
    public static boolean stopRecorded(Path pidFile, Duration grace) {
        return stopRecorded(pidFile, grace, true);
    }

    /**
     * As {@link #stopRecorded(Path, Duration)}; with {@code descendantsToo} false, processes it started are left
     * running (the stack's supervisor: the services it started again are stopped in order by their own PID files).
     */
    public static boolean stopRecorded(Path pidFile, Duration grace, boolean descendantsToo) {
        Optional<ProcessHandle> process = recorded(pidFile);
        process.ifPresent(handle -> stop(handle, grace, descendantsToo));
        try {
            Files.deleteIfExists(pidFile);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return process.isPresent();
    }

    /**
     * The live process a PID file records, if it is still running and is ours: the same PID and the same start (in
     * clock ticks since boot), which no later process with that PID has, and which its exec (setsid becoming the
     * service) leaves as it was. A record of the PID alone (written before start times were, or where there is no
     * /proc) is ours while the process's command line names the PID file's folder.
     */
    public static Optional<ProcessHandle> recorded(Path pidFile) {
        try {
            if (!Files.isRegularFile(pidFile)) {
                return Optional.empty();
            }
            String[] record = record(pidFile);
            long pid = Long.parseLong(record[0]);
            Optional<ProcessHandle> live = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
            if (record.length > 1) {
                long start = Long.parseLong(record[1]);
                return live.filter(handle -> startTicks(pid).map(ticks -> ticks == start).orElse(false));
            }
            String folder = pidFile.toAbsolutePath().getParent().toString();
            return live.filter(handle -> namesFolderOnceExecd(handle, folder));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** A PID file's fields: the PID, then its start where one was recorded. */
    private static String[] record(Path pidFile) throws IOException {
        return Files.readString(pidFile).trim().split("\\s+");
    }

    /**
     * Records a process as {@code <pid> <start>} ({@link #startTicks}), or its PID alone where there is no /proc. Moved
     * into place whole, so that a reader never finds the file empty or half written; each writer from a file of its
     * own, so that two starters at once cannot move each other's.
     */
    private static void writeRecord(Path pidFile, long pid) throws IOException {
        String record = startTicks(pid).map(start -> pid + " " + start).orElse(Long.toString(pid));
        Path partial = Files.createTempFile(pidFile.getParent(), pidFile.getFileName().toString(), ".partial");
        try {
            Files.writeString(partial, record);
            Files.move(partial, pidFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    /**
     * When a process started, in clock ticks since boot (field 22 of {@code /proc/<pid>/stat}): unlike the JDK's
     * {@code startInstant()}, not moved by a change of the wall clock. Empty where there is no /proc.
     */
    static Optional<Long> startTicks(long pid) {
        try {
            return Optional.of(startTicks(Files.readString(Path.of("/proc", Long.toString(pid), "stat"))));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Field 22 of a {@code /proc/<pid>/stat} line, {@code "pid (name) state ppid ..."}. */
    static long startTicks(String stat) {
        // The name may hold spaces and parentheses: the fields after its last ')' are the third on.
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[22 - 3]);
    }

    /**
     * Whether the process's command line names {@code folder}, asked again for up to {@link #EXEC_SETTLE} while it
     * does not: a service execs right after it starts ({@code setsid} becoming the service), and its command line reads
     * empty for a moment then, or cut short (a read that straddles the exec). A process of someone else's that took
     * the PID costs the wait.
     */
    private static boolean namesFolderOnceExecd(ProcessHandle process, String folder) {
        long deadline = System.nanoTime() + EXEC_SETTLE.toNanos();
        try {
            while (!namesFolder(commandLine(process), folder)) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    return false;
                }
                Thread.sleep(5);
            }
            return process.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Whether a command line names {@code folder} as a path: the folder itself or something in it, so that
     * {@code /x/.cdc} does not match a process of {@code /x/.cdc2}.
     */
    static boolean namesFolder(String commandLine, String folder) {
        return java.util.regex.Pattern.compile("(^|[\\s=:])" + java.util.regex.Pattern.quote(folder) + "(/|\\s|$)")
                .matcher(commandLine).find();
    }

    /**
     * The full command line. Read from /proc where there is one: the JDK's {@code info().commandLine()} comes back empty
     * for command lines as long as these classpaths.
     */
    private static String commandLine(ProcessHandle process) {
        try {
            byte[] line = Files.readAllBytes(Path.of("/proc", Long.toString(process.pid()), "cmdline"));
            return new String(line, StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException | RuntimeException e) {
            return process.info().commandLine().orElse("");
        }
    }

    private static void stop(ProcessHandle process, Duration grace) {
        stop(process, grace, true);
    }

    private static void stop(ProcessHandle process, Duration grace, boolean descendantsToo) {
        if (!process.isAlive()) {
            return;
        }
        List<ProcessHandle> descendants = descendantsToo ? process.descendants().toList() : List.of();
        process.destroy();
        try {
            process.onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception timeoutOrInterrupt) {
            process.destroyForcibly();
        }
        // A launcher killed hard leaves its own children (e.g. pg_ctl's) behind.
        descendants.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }

    /** The last {@code lines} lines of a log file, or a note that there is none. */
    static String tail(Path file, int lines) {
        try {
            if (!Files.isRegularFile(file)) {
                return "(no log at " + file + ")";
            }
            List<String> all = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
            return String.join(System.lineSeparator(), all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    /** {@code java} of the running JDK, with the given options, classpath, main class or source file, and arguments. */
    public static List<String> java(String classpath, List<String> jvmOptions, String main, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(classpath);
        command.add(main);
        command.addAll(args);
        return command;
    }
}
