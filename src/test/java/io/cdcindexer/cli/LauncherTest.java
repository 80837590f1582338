package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.stack.ProjectHome;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * The {@code ./cdc} launcher's build output, byte for byte: the Maven it runs (with the environment it sets up) prints
 * nothing with {@code -q}, in particular no colour codes (Maven 3.8 writes ESC[0m on exit unless told not to).
 */
class LauncherTest {

    @Test
    void theLaunchersMavenPrintsNoColourCodes() throws Exception {
        Path home = ProjectHome.dir();
        List<String> environment = Files.readAllLines(home.resolve("cdc")).stream()
                .filter(line -> line.startsWith("export MAVEN_OPTS=")).toList();
        assertThat(environment).as("the launcher sets MAVEN_OPTS").hasSize(1);
        // The launcher's own settings and flags; validate, the first phase of its build, builds nothing.
        String script = environment.get(0) + "\nexec mvn -q -B -o -Dstyle.color=never -f \"" + home.resolve("pom.xml")
                + "\" validate";
        Process mvn = new ProcessBuilder("bash", "-c", script).redirectErrorStream(true).start();
        byte[] output = mvn.getInputStream().readAllBytes();
        assertThat(mvn.waitFor(120, TimeUnit.SECONDS)).isTrue();

        assertThat(mvn.exitValue()).as(new String(output, StandardCharsets.UTF_8)).isZero();
        assertThat(new String(output, StandardCharsets.UTF_8)).as("everything Maven printed").isEmpty();
    }
}
