package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code down --purge} on a stopped stack: what it deletes and what it refuses to. */
class DownCommandTest {

    @TempDir
    Path parent;

    @Test
    void purgeDeletesAStackFolderWithItsPortsAndSupervisorFiles() throws Exception {
        Path dir = Files.createDirectories(parent.resolve("stack"));
        Files.createDirectories(dir.resolve("kafka/data"));
        Files.writeString(dir.resolve("ports.properties"), "kafka=9092\n");
        Files.writeString(dir.resolve("supervisor.log"), "supervising\n");
        Files.writeString(dir.resolve("supervisor.json"), "{}\n");

        CliRun down = CliRun.of("down", "--purge", "--data-dir", dir.toString());

        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(dir).doesNotExist();
    }

    @Test
    void purgeRefusesAFolderThatHoldsSomethingElse() throws Exception {
        Path dir = Files.createDirectories(parent.resolve("home"));
        Files.createDirectories(dir.resolve("kafka"));
        Files.writeString(dir.resolve("thesis.tex"), "years of work\n");

        CliRun down = CliRun.of("down", "--purge", "--data-dir", dir.toString());

        assertThat(down.exitCode()).isNotZero();
        assertThat(down.toString()).contains("thesis.tex");
        assertThat(dir.resolve("thesis.tex")).exists();
    }
}
