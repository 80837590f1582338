package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.io.TempDir;

/** Where Chromium or its driver is missing, the browser test is skipped naming Debian's packages, or fails under CI. */
class HeadlessChromiumTest {

    @TempDir
    Path dir;

    @Test
    void bothInstalledLetsTheTestRun() throws Exception {
        ConditionEvaluationResult result = HeadlessChromium.Installed.evaluate(executable("chromium"),
                executable("chromedriver"), true);

        assertThat(result.isDisabled()).isFalse();
    }

    @Test
    void aMissingDriverSkipsTheTestNamingThePackages() throws Exception {
        Path driver = dir.resolve("chromedriver");

        ConditionEvaluationResult result = HeadlessChromium.Installed.evaluate(executable("chromium"), driver, false);

        assertThat(result.isDisabled()).isTrue();
        assertThat(result.getReason()).hasValueSatisfying(reason -> assertThat(reason)
                .contains(driver + " is missing", "Debian's packages chromium and chromium-driver",
                        "apt-get install -y chromium chromium-driver", "Skipped."));
    }

    @Test
    void underCiAMissingBrowserFailsTheTest() throws Exception {
        Path browser = dir.resolve("chromium");
        Files.writeString(browser, "not executable");

        assertThatThrownBy(() -> HeadlessChromium.Installed.evaluate(browser, executable("chromedriver"), true))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining(browser + " is missing")
                .hasMessageContaining(".ci/run installs them");
    }

    private Path executable(String name) throws Exception {
        Path file = dir.resolve("bin").resolve(name);
        Files.createDirectories(file.getParent());
        Files.writeString(file, "#!/bin/sh\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }
}
