package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stopping a recorded process, with and without the processes it started (real OS processes). */
class ServiceProcessTest {

    @TempDir
    Path dir;

    /** A service whose command line names its folder, as the real services' do. */
    private static final java.util.function.Function<Path, List<String>> SERVICE =
            folder -> List.of("/bin/sh", "-c", "sleep 60; true", folder.toString());

    /** A parent that starts a child (as the supervisor starts a service again) and records the child's PID. */
    private ProcessHandle startParentWithChild() throws Exception {
        Path childPid = dir.resolve("child.pid");
        ServiceProcess.start("parent", dir, "parent",
                List.of("bash", "-c", "sleep 300 & echo $! > " + childPid + "; wait"), Map.of());
        for (int i = 0; i < 100 && (!Files.exists(childPid) || Files.readString(childPid).isBlank()); i++) {
            Thread.sleep(50);
        }
        return ProcessHandle.of(Long.parseLong(Files.readString(childPid).trim())).orElseThrow();
    }

    @Test
    void stoppingTheSupervisorLeavesTheServicesItStartedRunning() throws Exception {
        ProcessHandle child = startParentWithChild();

        assertThat(ServiceProcess.stopRecorded(dir.resolve("parent.pid"), Duration.ofSeconds(5), false)).isTrue();

        assertThat(child.isAlive()).isTrue();
        child.destroyForcibly();
    }

    @Test
    void stoppingAServiceStopsWhatItStarted() throws Exception {
        ProcessHandle child = startParentWithChild();

        assertThat(ServiceProcess.stopRecorded(dir.resolve("parent.pid"), Duration.ofSeconds(5))).isTrue();

        child.onExit().get(5, TimeUnit.SECONDS);
        assertThat(child.isAlive()).isFalse();
    }

    /** ./cdc up and the supervisor starting the same service at once: the second start leaves the first alone. */
    @Test
    void aSecondStartOfARunningServiceFailsAndLeavesTheFirstRecorded() {
        List<String> command = SERVICE.apply(dir);
        ServiceProcess first = ServiceProcess.start("Kafka", dir, "kafka", command, Map.of());
        try {
            org.assertj.core.api.Assertions.assertThatThrownBy(
                    () -> ServiceProcess.start("Kafka", dir, "kafka", command, Map.of()))
                    .isInstanceOf(StackException.class).hasMessageContaining("Kafka already runs (pid " + first.pid());

            assertThat(first.isAlive()).isTrue();
            assertThat(ServiceProcess.recorded(dir.resolve("kafka.pid"))).map(ProcessHandle::pid).contains(first.pid());
        } finally {
            first.close();
        }
        assertThat(dir.resolve("kafka.pid")).as("its own record goes with it").doesNotExist();
    }

    /**
     * A service execs right after it starts ({@code setsid} becoming {@code /bin/sh} here, as it becomes Kafka), and
     * for a moment its command line reads empty, or cut short to {@code /} by a read that straddles the exec: it is
     * ours all the same, or the supervisor, asking then, would start a second one. About one start in five read
     * {@code /} once when this was written, with only the command line to go by.
     */
    @Test
    void aServiceIsRecordedAsOursThroughoutItsExec() throws Exception {
        List<String> command = SERVICE.apply(dir);
        for (int start = 0; start < 40; start++) {
            ServiceProcess service = ServiceProcess.start("Kafka", dir, "kafka", command, Map.of());
            try {
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
                while (System.nanoTime() < until) {
                    assertThat(ServiceProcess.recorded(dir.resolve("kafka.pid"))).as("start %d", start)
                            .map(ProcessHandle::pid).contains(service.pid());
                }
            } finally {
                service.close();
            }
        }
    }

    @Test
    void aServiceIsRecordedByItsPidAndStart() {
        ServiceProcess service = ServiceProcess.start("Kafka", dir, "kafka", SERVICE.apply(dir), Map.of());
        try {
            assertThat(dir.resolve("kafka.pid")).hasContent(
                    service.pid() + " " + ServiceProcess.startTicks(service.pid()).orElseThrow());
            assertThat(dir).as("the record is written aside, then moved").isDirectoryNotContaining("glob:**.partial");
        } finally {
            service.close();
        }
    }

    /** The PID taken since by another process that names the folder: not ours, and not stopped. */
    @Test
    void aProcessWithTheRecordedPidButAnotherStartIsNotOurs() throws Exception {
        ServiceProcess service = ServiceProcess.start("Kafka", dir, "kafka", SERVICE.apply(dir), Map.of());
        try {
            Path record = dir.resolve("kafka.pid");
            long start = ServiceProcess.startTicks(service.pid()).orElseThrow();
            Files.writeString(record, service.pid() + " " + (start + 1));

            assertThat(ServiceProcess.recorded(record)).isEmpty();
            assertThat(ServiceProcess.stopRecorded(record, Duration.ofSeconds(5))).isFalse();
            assertThat(service.isAlive()).isTrue();
        } finally {
            service.close();
        }
    }

    /** The same PID and start are the same process, whatever its command line says (or, while it execs, does not). */
    @Test
    void theRecordedPidAndStartAreOursWhateverTheCommandLine() throws Exception {
        long self = ProcessHandle.current().pid();
        Files.writeString(dir.resolve("kafka.pid"), self + " " + ServiceProcess.startTicks(self).orElseThrow());

        assertThat(ServiceProcess.recorded(dir.resolve("kafka.pid"))).map(ProcessHandle::pid).contains(self);
    }

    /** A record of the PID alone, as written before start times were: ours while the command line names the folder. */
    @Test
    void aRecordOfThePidAloneIsOursWhileTheCommandLineNamesTheFolder() throws Exception {
        ServiceProcess service = ServiceProcess.start("Kafka", dir, "kafka", SERVICE.apply(dir), Map.of());
        try {
            Files.writeString(dir.resolve("kafka.pid"), Long.toString(service.pid()));

            assertThat(ServiceProcess.recorded(dir.resolve("kafka.pid"))).map(ProcessHandle::pid)
                    .contains(service.pid());
        } finally {
            service.close();
        }
        Files.writeString(dir.resolve("kafka.pid"), Long.toString(ProcessHandle.current().pid()));
        assertThat(ServiceProcess.recorded(dir.resolve("kafka.pid"))).as("this JVM names no such folder").isEmpty();
    }

    @Test
    void theStartIsReadPastANameWithSpacesAndParentheses() {
        String stat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 987654 12345 67 "
                + "18446744073709551615";

        assertThat(ServiceProcess.startTicks(stat)).isEqualTo(987654L);
    }

    @Test
    void aRecordedProcessMustNameTheFolderAsAPathNotAsAPrefix() {
        assertThat(ServiceProcess.namesFolder("java -cp x Cdc supervise --data-dir /x/.cdc", "/x/.cdc")).isTrue();
        assertThat(ServiceProcess.namesFolder("java -Dlog.file=/x/.cdc/flink/jobmanager.log Main", "/x/.cdc/flink")).isTrue();
        assertThat(ServiceProcess.namesFolder("java Main /x/.cdc/kafka/server.properties", "/x/.cdc/kafka")).isTrue();
        assertThat(ServiceProcess.namesFolder("java Cdc supervise --data-dir /x/.cdc2", "/x/.cdc")).isFalse();
        assertThat(ServiceProcess.namesFolder("java Main /x/.cdc2/kafka/server.properties", "/x/.cdc")).isFalse();
    }
}
