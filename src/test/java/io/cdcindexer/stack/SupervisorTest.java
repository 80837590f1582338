package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The supervisor's decisions, with the processes' liveness and start-up in the test's hands. */
class SupervisorTest {

    @TempDir
    Path dataDir;

    final Set<String> dead = new HashSet<>();
    final List<String> started = new ArrayList<>();
    final List<String> resumed = new ArrayList<>();
    final ByteArrayOutputStream log = new ByteArrayOutputStream();
    RuntimeException startFailure;

    Supervisor supervisor() {
        return new Supervisor(dataDir, () -> {
            resumed.add("resumed");
            return "resumed job from chk-7";
        }, new PrintStream(log, true, StandardCharsets.UTF_8), process -> !dead.contains(process), process -> {
            started.add(process);
            if (startFailure != null) {
                throw startFailure;
            }
            dead.remove(process);
        });
    }

    @Test
    void startsAgainWhatDiedAndCountsTheRestart() {
        Supervisor supervisor = supervisor();
        dead.add("kafka/kafka");

        supervisor.checkOnce();

        assertThat(started).containsExactly("kafka/kafka");
        SupervisorState.Service kafka = SupervisorState.read(dataDir).orElseThrow().services().get("kafka/kafka");
        assertThat(kafka.status()).isEqualTo(SupervisorState.Status.RUNNING);
        assertThat(kafka.restarts()).isEqualTo(1);
        assertThat(kafka.lastReason()).isEqualTo("found not running");
        assertThat(resumed).as("only a JobManager restart resumes the job").isEmpty();

        supervisor.checkOnce();
        assertThat(started).as("a running process is left alone").hasSize(1);
    }

    @Test
    void resumesTheJobAfterTheJobManagerWasStartedAgain() {
        Supervisor supervisor = supervisor();
        dead.add("flink/jobmanager");

        supervisor.checkOnce();

        assertThat(started).containsExactly("flink/jobmanager");
        assertThat(resumed).hasSize(1);
        SupervisorState state = SupervisorState.read(dataDir).orElseThrow();
        assertThat(state.jobResumes()).isEqualTo(1);
        assertThat(state.lastJobResume()).isEqualTo("resumed job from chk-7");
    }

    @Test
    void leavesAHeldProcessStoppedUntilItIsReleased() throws Exception {
        Supervisor supervisor = supervisor();
        Supervisor.hold(dataDir, "elasticsearch/elasticsearch");
        dead.add("elasticsearch/elasticsearch");

        supervisor.checkOnce();
        assertThat(started).isEmpty();
        assertThat(SupervisorState.read(dataDir).orElseThrow().services().get("elasticsearch/elasticsearch").status())
                .isEqualTo(SupervisorState.Status.HELD);

        Supervisor.release(dataDir, "elasticsearch/elasticsearch");
        supervisor.checkOnce();
        assertThat(started).containsExactly("elasticsearch/elasticsearch");
        assertThat(SupervisorState.read(dataDir).orElseThrow().services().get("elasticsearch/elasticsearch").status())
                .isEqualTo(SupervisorState.Status.RUNNING);
    }

    @Test
    void aFailedStartIsTriedAgainAfterAPauseAndSaysWhy() {
        Supervisor supervisor = supervisor();
        dead.add("connect/connect");
        startFailure = new StackException("Kafka Connect exited with code 1 while starting; see connect.log\nmore");

        supervisor.checkOnce();
        supervisor.checkOnce(); // within the pause: not tried again

        assertThat(started).containsExactly("connect/connect");
        SupervisorState.Service connect = SupervisorState.read(dataDir).orElseThrow().services().get("connect/connect");
        assertThat(connect.status()).isEqualTo(SupervisorState.Status.FAILED);
        assertThat(connect.lastReason())
                .isEqualTo("could not start it: Kafka Connect exited with code 1 while starting; see connect.log");
        assertThat(log.toString(StandardCharsets.UTF_8)).contains("trying again in 2 s");
        assertThat(connect.restarts()).as("a failed attempt is not a restart").isZero();
    }

    @Test
    void aNewSupervisorKeepsTheCountsOfTheLastOne() {
        dead.add("kafka/kafka");
        supervisor().checkOnce();

        Supervisor next = supervisor();

        assertThat(next.state().services().get("kafka/kafka").restarts()).isEqualTo(1);
        assertThat(next.state().pid()).isEqualTo(ProcessHandle.current().pid());
    }

    /**
     * JobManager and both TaskManagers dead at once (OOM killer, a crash of the Flink side): the real keeper
     * (SuperviseCommand.resumeJob) waits up to 3 min for a TaskManager to register, but the supervisor only starts the
     * TaskManagers after the keeper returned, in the same round. The keeper must not run before them.
     */
    @Test
    void theJobIsResumedOnlyAfterTheTaskManagersItWaitsForWereStarted() {
        List<String> startedWhenResuming = new ArrayList<>();
        Supervisor supervisor = new Supervisor(dataDir, () -> {
            startedWhenResuming.addAll(started);
            return "resumed";
        }, new PrintStream(log, true, StandardCharsets.UTF_8), process -> !dead.contains(process), process -> {
            started.add(process);
            dead.remove(process);
        });
        dead.addAll(List.of("flink/jobmanager", "flink/taskmanager-1", "flink/taskmanager-2"));

        supervisor.checkOnce();

        assertThat(startedWhenResuming).as("processes started when the keeper (which waits for a TaskManager) ran")
                .contains("flink/taskmanager-1");
    }

    /** A resume that fails (TaskManagers late, Kafka or the jar missing for a moment) is never tried again. */
    @Test
    void aFailedResumeIsTriedAgainAfterAPause() throws InterruptedException {
        int[] calls = {0};
        Supervisor supervisor = new Supervisor(dataDir, () -> {
            calls[0]++;
            throw new IllegalStateException("no TaskManager registered within 3 min");
        }, new PrintStream(log, true, StandardCharsets.UTF_8), process -> !dead.contains(process), process -> {
            started.add(process);
            dead.remove(process);
        });
        dead.add("flink/jobmanager");

        supervisor.checkOnce();
        supervisor.checkOnce(); // within the pause: not asked again yet
        assertThat(calls[0]).isEqualTo(1);
        assertThat(SupervisorState.read(dataDir).orElseThrow().lastJobResume())
                .isEqualTo("could not resume the job: no TaskManager registered within 3 min");
        assertThat(SupervisorState.read(dataDir).orElseThrow().jobResumes()).as("a failed resume is no resume").isZero();
        Thread.sleep(Supervisor.FIRST_PAUSE.toMillis() + 200);
        supervisor.checkOnce();

        assertThat(calls[0]).as("resume attempts while the JobManager runs without the job").isEqualTo(2);
    }

    /**
     * A process that starts "fine" and dies right after (a TaskManager is "started" as soon as its JVM is spawned;
     * Elasticsearch exiting 20 s in) is restarted on every 1 s round forever: the pause only follows a failed start.
     */
    @Test
    void aProcessThatDiesRightAfterEachStartIsRestartedWithAGrowingPause() {
        Supervisor supervisor = new Supervisor(dataDir, () -> "resumed",
                new PrintStream(log, true, StandardCharsets.UTF_8), process -> !dead.contains(process),
                started::add); // starts, but stays dead
        dead.add("flink/taskmanager-1");

        for (int round = 0; round < 10; round++) {
            supervisor.checkOnce();
        }

        assertThat(started).as("starts in 10 back-to-back rounds").hasSizeLessThan(5);
    }
}
