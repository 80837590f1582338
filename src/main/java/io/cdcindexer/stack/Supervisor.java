package io.cdcindexer.stack;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Keeps a local stack running, as Docker's restart policy keeps containers running: every second it looks at each
 * process the stack recorded, and starts again any that died, on the ports the stack was started on. When the
 * JobManager was started again it has no job (the local stack runs Flink without high availability), so the {@link
 * JobKeeper} resumes the job from its latest retained checkpoint or savepoint. A restart that fails is tried again
 * after a pause that doubles up to {@link #MAX_PAUSE}.
 *
 * <p>A process is left alone while a hold file ({@code <dataDir>/<service>/<name>.hold}) exists: that is how a fault
 * injection (or a user) stops a part on purpose, as {@code docker stop} does. What the supervisor sees and did goes to
 * {@code <dataDir>/supervisor.json} ({@link SupervisorState}) for {@code ./cdc status}.
 */
public final class Supervisor {

    /** Resumes the job on a JobManager that was just started again; returns what it did, for the state file. */
    @FunctionalInterface
    public interface JobKeeper {
        String resume() throws Exception;
    }

    static final Duration CHECK_INTERVAL = Duration.ofSeconds(1);
    static final Duration FIRST_PAUSE = Duration.ofSeconds(2);
    static final Duration MAX_PAUSE = Duration.ofSeconds(30);

    private final Path dataDir;
    private final JobKeeper jobKeeper;
    private final PrintStream log;
    private final Predicate<String> alive;
    private final ProcessStarter starter;
    private final Map<String, Instant> nextAttempt = new HashMap<>();
    private final Map<String, Duration> pause = new HashMap<>();
    private SupervisorState state;
    private volatile boolean stopped;

    /** Starts one process of the stack; {@link Stack#startProcess} outside tests. */
    @FunctionalInterface
    interface ProcessStarter {
        void start(String process);
    }

    public Supervisor(Path dataDir, JobKeeper jobKeeper, PrintStream log) {
        this(dataDir, jobKeeper, log, process -> ServiceProcess.recorded(Stack.pidFile(dataDir, process)).isPresent(),
                process -> Stack.startProcess(dataDir, process));
    }

    Supervisor(Path dataDir, JobKeeper jobKeeper, PrintStream log, Predicate<String> alive, ProcessStarter starter) {
        this.dataDir = dataDir.toAbsolutePath();
        this.jobKeeper = jobKeeper;
        this.log = log;
        this.alive = alive;
        this.starter = starter;
        this.state = SupervisorState.read(this.dataDir)
                .map(previous -> new SupervisorState(ProcessHandle.current().pid(), Instant.now().toString(),
                        previous.services(), previous.jobResumes(), previous.lastJobResume()))
                .orElseGet(() -> SupervisorState.initial(ProcessHandle.current().pid(), Stack.PROCESSES));
        state.write(this.dataDir);
    }

    /** The hold file of a process: while it exists, the supervisor does not start the process again. */
    public static Path holdFile(Path dataDir, String process) {
        return dataDir.toAbsolutePath().resolve(process + ".hold");
    }

    /** Checks every second until {@link #stop()}; returns then. */
    public void run() throws InterruptedException {
        say("supervising the stack in " + dataDir + " (pid " + ProcessHandle.current().pid() + ")");
        while (!stopped) {
            checkOnce();
            Thread.sleep(CHECK_INTERVAL.toMillis());
        }
        say("stopped");
    }

    public void stop() {
        stopped = true;
    }

    /** One round: starts again each process that died, in start order (Kafka before Connect, ...). */
    void checkOnce() {
        for (String process : Stack.PROCESSES) {
            if (stopped) {
                return;
            }
            SupervisorState.Service service = state.services().getOrDefault(process, SupervisorState.Service.running());
            if (alive.test(process)) {
                if (service.status() != SupervisorState.Status.RUNNING) {
                    update(process, new SupervisorState.Service(SupervisorState.Status.RUNNING, service.restarts(),
                            service.lastExit(), service.lastReason()));
                }
                continue;
            }
            if (Files.exists(holdFile(dataDir, process))) {
                if (service.status() != SupervisorState.Status.HELD) {
                    say(process + " is stopped on purpose (" + holdFile(dataDir, process) + "); not starting it");
                    update(process, new SupervisorState.Service(SupervisorState.Status.HELD, service.restarts(),
                            Instant.now().toString(), "stopped on purpose (hold file)"));
                }
                continue;
            }
            Instant now = Instant.now();
            if (now.isBefore(nextAttempt.getOrDefault(process, Instant.MIN))) {
                continue;
            }
            restart(process, service, now);
        }
    }

    private void restart(String process, SupervisorState.Service service, Instant now) {
        boolean firstAttempt = service.status() == SupervisorState.Status.RUNNING
                || service.status() == SupervisorState.Status.HELD;
        String lastExit = firstAttempt ? now.toString() : service.lastExit();
        String reason = firstAttempt
                ? (service.status() == SupervisorState.Status.HELD ? "released after a stop on purpose" : "found not running")
                : service.lastReason();
        int restarts = service.restarts() + 1;
        say(process + ": " + reason + "; starting it again (restart " + restarts + ")");
        update(process, new SupervisorState.Service(SupervisorState.Status.RESTARTING, restarts, lastExit, reason));
        try {
            starter.start(process);
            say(process + ": running again");
            update(process, new SupervisorState.Service(SupervisorState.Status.RUNNING, restarts, lastExit, reason));
            pause.remove(process);
            nextAttempt.remove(process);
            if (process.equals("flink/jobmanager")) {
                resumeJob();
            }
        } catch (RuntimeException e) {
            Duration wait = pause.getOrDefault(process, FIRST_PAUSE);
            pause.put(process, wait.multipliedBy(2).compareTo(MAX_PAUSE) > 0 ? MAX_PAUSE : wait.multipliedBy(2));
            nextAttempt.put(process, Instant.now().plus(wait));
            String failure = "could not start it: " + firstLine(e.getMessage());
            say(process + ": " + failure + "; trying again in " + wait.toSeconds() + " s");
            update(process, new SupervisorState.Service(SupervisorState.Status.FAILED, restarts, lastExit, failure));
        }
    }

    /** The JobManager came back empty: the keeper resumes the job from its latest state. */
    private void resumeJob() {
        String what;
        try {
            what = jobKeeper.resume();
        } catch (Exception e) {
            what = "could not resume the job: " + firstLine(e.getMessage());
        }
        say("job: " + what);
        state = state.withJobResumed(what);
        state.write(dataDir);
    }

    private void update(String process, SupervisorState.Service service) {
        state = state.with(process, service);
        state.write(dataDir);
    }

    SupervisorState state() {
        return state;
    }

    private void say(String message) {
        log.println(Instant.now() + " supervisor: " + message);
        log.flush();
    }

    private static String firstLine(String message) {
        return message == null ? "(no message)" : message.lines().findFirst().orElse("");
    }

    /** Removes a process's hold file (no-op if there is none). */
    public static void release(Path dataDir, String process) throws IOException {
        Files.deleteIfExists(holdFile(dataDir, process));
    }

    /** Creates a process's hold file, so that the supervisor leaves it stopped. */
    public static void hold(Path dataDir, String process) throws IOException {
        Path hold = holdFile(dataDir, process);
        Files.createDirectories(hold.getParent());
        Files.writeString(hold, Instant.now() + "\n");
    }
}
