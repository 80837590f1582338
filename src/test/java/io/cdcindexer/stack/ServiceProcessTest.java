package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stopping a recorded process, with and without the processes it started (real OS processes). */
class ServiceProcessTest {

    @TempDir
    Path dir;

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

        child.onExit().get(5, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(child.isAlive()).isFalse();
    }
}
