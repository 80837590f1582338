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

    /**
     * Resumes the job on a JobManager that was started again: returns what it did, for the state file, or null when it
     * cannot yet (no TaskManager has registered): the supervisor asks again a little later, as it does after a failure.
     */
    @FunctionalInterface
    public interface JobKeeper {
        String resume() throws Exception;
    }

    static final Duration CHECK_INTERVAL = Duration.ofSeconds(1);
    static final Duration FIRST_PAUSE = Duration.ofSeconds(2);
    static final Duration MAX_PAUSE = Duration.ofSeconds(30);
    /** A process that ran at least this long before it died is started again at once; sooner, after a growing pause. */
    static final Duration STABLE_UPTIME = Duration.ofSeconds(10);

    private final Path dataDir;
    private final JobKeeper jobKeeper;
    private final PrintStream log;
    private final Predicate<String> alive;
    private final ProcessStarter starter;
    private final Map<String, Instant> nextAttempt = new HashMap<>();
    private final Map<String, Duration> pause = new HashMap<>();
    private final Map<String, Instant> startedAt = new HashMap<>();
    private boolean resumePending;
    private Instant nextResume = Instant.MIN;
    private Duration resumePause = FIRST_PAUSE;
    private final java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
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
        write();
    }

    /** The hold file of a process: while it exists, the supervisor does not start the process again. */
    public static Path holdFile(Path dataDir, String process) {
        return dataDir.toAbsolutePath().resolve(process + ".hold");
    }

    /** Checks every second until {@link #stop()}; returns then. */
    public void run() throws InterruptedException {
        say("supervising the stack in " + dataDir + " (pid " + ProcessHandle.current().pid() + ")");
        try {
            while (!stopped) {
                try {
                    checkOnce();
                } catch (Throwable e) {
                    // Whatever goes wrong in one round (a full disk, a class changed under us), the next round tries again.
                    say("a round failed: " + e);
                }
                Thread.sleep(CHECK_INTERVAL.toMillis());
            }
            say("stopped");
        } finally {
            finished.countDown();
        }
    }

    public void stop() {
        stopped = true;
    }

    /** Waits until {@link #run()} has returned, at most {@code timeout}. */
    public boolean awaitFinished(Duration timeout) throws InterruptedException {
        return finished.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** One round: starts again each process that died, in start order (Kafka before Connect, ...). */
    void checkOnce() {
        for (String process : Stack.PROCESSES) {
            if (stopped) {
                return;
            }
            SupervisorState.Service service = state.services().getOrDefault(process, SupervisorState.Service.running());
            if (alive.test(process)) {
                Instant started = startedAt.get(process);
                if (started != null && Instant.now().isAfter(started.plus(STABLE_UPTIME))) {
                    startedAt.remove(process); // it stays up: the next death is met at once again
                    pause.remove(process);
                }
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
            if (service.status() == SupervisorState.Status.RUNNING && startedAt.containsKey(process)
                    && now.isBefore(startedAt.get(process).plus(STABLE_UPTIME)) && !nextAttempt.containsKey(process)) {
                // It died right after we started it: a crash loop gets the same growing pause as a failed start.
                Duration wait = nextPause(process);
                say(process + ": died within " + STABLE_UPTIME.toSeconds() + " s of its start; starting it again in "
                        + wait.toSeconds() + " s");
                update(process, new SupervisorState.Service(SupervisorState.Status.FAILED, service.restarts(),
                        now.toString(), "died within " + STABLE_UPTIME.toSeconds() + " s of its start (see its log)"));
                continue;
            }
            if (now.isBefore(nextAttempt.getOrDefault(process, Instant.MIN))) {
                continue;
            }
            restart(process, service, now);
        }
        if (resumePending && !stopped && alive.test("flink/jobmanager") && !Instant.now().isBefore(nextResume)) {
            resumeJob();
        }
    }

    /** The pause before the next attempt to start {@code process}, doubling each time up to {@link #MAX_PAUSE}. */
    private Duration nextPause(String process) {
        Duration wait = pause.getOrDefault(process, FIRST_PAUSE);
        pause.put(process, wait.multipliedBy(2).compareTo(MAX_PAUSE) > 0 ? MAX_PAUSE : wait.multipliedBy(2));
        nextAttempt.put(process, Instant.now().plus(wait));
        return wait;
    }

    private void restart(String process, SupervisorState.Service service, Instant now) {
        boolean firstAttempt = service.status() == SupervisorState.Status.RUNNING
                || service.status() == SupervisorState.Status.HELD;
        String lastExit = firstAttempt ? now.toString() : service.lastExit();
        String reason = firstAttempt
                ? (service.status() == SupervisorState.Status.HELD ? "released after a stop on purpose" : "found not running")
                : service.lastReason();
        say(process + ": " + reason + "; starting it again");
        update(process, new SupervisorState.Service(SupervisorState.Status.RESTARTING, service.restarts(), lastExit,
                reason));
        try {
            starter.start(process);
        } catch (Throwable e) {
            Duration wait = nextPause(process);
            String failure = "could not start it: " + firstLine(e.getMessage());
            say(process + ": " + failure + "; trying again in " + wait.toSeconds() + " s");
            update(process, new SupervisorState.Service(SupervisorState.Status.FAILED, service.restarts(), lastExit,
                    failure));
            return;
        }
        int restarts = service.restarts() + 1; // counted once started: failed attempts are not restarts
        say(process + ": running again (restart " + restarts + ")");
        update(process, new SupervisorState.Service(SupervisorState.Status.RUNNING, restarts, lastExit, reason));
        startedAt.put(process, Instant.now());
        nextAttempt.remove(process);
        if (process.equals("flink/jobmanager")) {
            resumePending = true; // after this round, once the TaskManagers were seen to too
            nextResume = Instant.MIN;
            resumePause = FIRST_PAUSE;
        }
    }

    /**
     * The JobManager came back empty: the keeper resumes the job from its latest state. Not yet possible (no
     * TaskManager registered) or failed: asked again after a growing pause, for as long as the JobManager runs.
     */
    private void resumeJob() {
        String what;
        try {
            what = jobKeeper.resume();
        } catch (Throwable e) {
            what = "could not resume the job: " + firstLine(e.getMessage());
            say("job: " + what + "; trying again in " + resumePause.toSeconds() + " s");
            state = new SupervisorState(state.pid(), Instant.now().toString(), state.services(), state.jobResumes(), what);
            write();
            nextResume = Instant.now().plus(resumePause);
            resumePause = resumePause.multipliedBy(2).compareTo(MAX_PAUSE) > 0 ? MAX_PAUSE : resumePause.multipliedBy(2);
            return;
        }
        if (what == null) {
            nextResume = Instant.now().plus(FIRST_PAUSE);
            return;
        }
        resumePending = false;
        say("job: " + what);
        state = state.withJobResumed(what);
        write();
    }

    private void update(String process, SupervisorState.Service service) {
        state = state.with(process, service);
        write();
    }

    /** Writes the state file; a failure to write (a full disk) must not stop the supervision. */
    private void write() {
        try {
            state.write(dataDir);
        } catch (RuntimeException e) {
            say("could not write " + dataDir.resolve(SupervisorState.FILE) + ": " + e.getMessage());
        }
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
