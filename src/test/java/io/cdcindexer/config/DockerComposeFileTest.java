package io.cdcindexer.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Validates docker/docker-compose.yml with Docker Compose itself: {@code config -q} checks the file against the Compose
 * schema and interpolates docker/.env, and needs no Docker engine. Never skipped: without Compose it fails and says
 * how to install it.
 */
class DockerComposeFileTest {

    private static final String COMPOSE_FILE = "docker/docker-compose.yml";
    private static final long TIMEOUT_SECONDS = 120;

    @TempDir
    Path temp;

    @Test
    void composeAcceptsTheComposeFile() throws Exception {
        List<String> command = new ArrayList<>(composeCommand());
        command.addAll(List.of("-f", COMPOSE_FILE, "config", "-q"));

        Result result = run(command);

        assertThat(result.exitCode)
                .as("'%s' failed:%n%s", String.join(" ", command), result.output)
                .isZero();
        assertThat(result.output)
                .as("'%s' printed warnings (an unset variable, a deprecated key ...)", String.join(" ", command))
                .isBlank();
    }

    /** Debian's docker-compose (1.29) where installed, else the Compose plugin of a Docker installation. */
    private List<String> composeCommand() throws Exception {
        for (List<String> candidate : List.of(List.of("docker-compose"), List.of("docker", "compose"))) {
            List<String> version = new ArrayList<>(candidate);
            version.add("version");
            if (runs(version)) {
                return candidate;
            }
        }
        throw new AssertionError("Docker Compose is needed to validate " + COMPOSE_FILE + " (no Docker engine is):"
                + " install Debian's package with 'apt-get install -y docker-compose', or Docker's Compose plugin.");
    }

    private boolean runs(List<String> command) throws Exception {
        try {
            return run(command).exitCode == 0;
        } catch (IOException notInstalled) {
            return false;
        }
    }

    private record Result(int exitCode, String output) {}

    private Result run(List<String> command) throws Exception {
        Path output = Files.createTempFile(temp, "compose", ".log");
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        process.getOutputStream().close();
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("'" + String.join(" ", command) + "' did not finish within " + TIMEOUT_SECONDS + " s");
        }
        return new Result(process.exitValue(), Files.readString(output));
    }
}
