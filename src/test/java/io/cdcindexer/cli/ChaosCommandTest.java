package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/** The chaos command's options as a user types them (parsing only: the run itself is ChaosITCase). */
class ChaosCommandTest {

    private static ChaosCommand parse(String... args) {
        ChaosCommand command = new ChaosCommand();
        new CommandLine(command).parseArgs(args);
        return command;
    }

    @Test
    void theDefaultsAreTheFullRun() {
        ChaosCommand chaos = parse();

        assertThat(chaos.rate).isEqualTo(500);
        assertThat(chaos.faults).isEqualTo("taskmanager,jobmanager,elasticsearch,kafka,connect,postgres,upgrade,reindex");
        assertThat(chaos.outage).isEqualTo(Duration.ofSeconds(90));
        assertThat(chaos.poison).isTrue();
        assertThat(chaos.rebuildJar).isTrue();
        assertThat(chaos.largeRowMegabytes).isEqualTo(5);
    }

    @Test
    void eachPartCanBeLeftOut() {
        ChaosCommand chaos = parse("--no-poison", "--no-rebuild-jar", "--large-row-mb", "0");

        assertThat(chaos.poison).isFalse();
        assertThat(chaos.rebuildJar).isFalse();
        assertThat(chaos.largeRowMegabytes).isZero();
    }

    @Test
    void anUnknownFaultIsOneClearLine() {
        CliRun run = CliRun.of("chaos", "--faults", "taskmanager,zookeeper");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("unknown fault 'zookeeper'").contains("taskmanager");
    }

    @Test
    void aDataFolderThatHoldsMoreThanAStackIsNotEmptied(@TempDir Path parent) throws Exception {
        Path dir = Files.createDirectories(parent.resolve("home"));
        Files.createDirectories(dir.resolve("kafka"));
        Files.writeString(dir.resolve("report.md"), "an earlier run's figures\n");
        Files.writeString(dir.resolve("thesis.tex"), "years of work\n");

        CliRun run = CliRun.of("chaos", "--data-dir", dir.toString());

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("Not emptying " + dir).contains("(thesis.tex)");
        assertThat(dir.resolve("thesis.tex")).exists();
        assertThat(dir.resolve("report.md")).exists();
    }
}
