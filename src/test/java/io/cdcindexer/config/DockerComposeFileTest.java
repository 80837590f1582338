package io.cdcindexer.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Validates docker/docker-compose.yml with Docker Compose itself: {@code config -q} checks the file against the Compose
 * schema and interpolates docker/.env, and needs no Docker engine. Where Compose is missing the test is skipped with a
 * message naming Debian's {@code docker-compose} package, so the README's test command passes on a machine with only
 * Java and Maven; under CI ({@code CI=true}, where {@code .ci/run} installs the package) a missing Compose fails it.
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
        String missing = "Docker Compose is needed to validate " + COMPOSE_FILE + " (no Docker engine is): install"
                + " Debian's package docker-compose ('apt-get install -y docker-compose'), or Docker's Compose plugin.";
        if ("true".equals(System.getenv("CI"))) {
            throw new AssertionError(missing + " .ci/run installs it, so under CI it must be there.");
        }
        Assumptions.abort(missing + " Skipped.");
        return List.of(); // not reached

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
