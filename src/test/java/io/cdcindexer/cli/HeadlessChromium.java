package io.cdcindexer.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * Debian's Chromium, headless, driven through Debian's ChromeDriver. Both are named by path, so Selenium never runs
 * Selenium Manager (which would try to download a driver). Each instance keeps its files in a folder of its own, and
 * {@link #close} makes sure that every process of it has ended.
 */
final class HeadlessChromium implements AutoCloseable {

    static final Path BROWSER = Path.of("/usr/bin/chromium");
    static final Path DRIVER = Path.of("/usr/bin/chromedriver");
    /** The page, and so every screenshot: small enough for a README, wide enough for the web UI's job page. */
    static final int WIDTH = 1280;
    static final int HEIGHT = 800;

    private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(20);

    private final ChromeDriverService service;
    private final ChromeDriver driver;
    /** This instance's folder: profile, crash reports and cache, all fresh. */
    private final Path home;

    private HeadlessChromium(ChromeDriverService service, ChromeDriver driver, Path home) {
        this.service = service;
        this.driver = driver;
        this.home = home;
    }

    /**
     * Skips a test class where Debian's packages chromium and chromium-driver are missing, naming them; under CI
     * ({@code CI=true}), where .ci/run installs them, fails it instead. Checked before any service starts.
     */
    static final class Installed implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            return evaluate(BROWSER, DRIVER, "true".equals(System.getenv("CI")));
        }

        static ConditionEvaluationResult evaluate(Path browser, Path driver, boolean underCi) {
            List<String> missing = Stream.of(browser, driver).filter(path -> !Files.isExecutable(path))
                    .map(Path::toString).toList();
            if (missing.isEmpty()) {
                return ConditionEvaluationResult.enabled("Chromium and ChromeDriver are installed");
            }
            String message = "A headless Chromium is needed to look at the Flink web UI, and " + String.join(" and ",
                    missing) + (missing.size() == 1 ? " is" : " are") + " missing: install Debian's packages chromium "
                    + "and chromium-driver ('apt-get install -y chromium chromium-driver').";
            if (underCi) {
                throw new AssertionError(message + " .ci/run installs them, so under CI they must be there.");
            }
            return ConditionEvaluationResult.disabled(message + " Skipped.");
        }
    }

    /**
     * Starts ChromeDriver and a headless Chromium whose every file (profile, crash reports, cache) lies in {@code dir},
     * fresh for each instance; ChromeDriver's log goes to {@code log}.
     */
    static HeadlessChromium start(Path dir, Path log) {
        Path home = dir.toAbsolutePath();
        try {
            Files.createDirectories(home.resolve("profile"));
            Files.createDirectories(log.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.setProperty(ChromeDriverService.CHROME_DRIVER_EXE_PROPERTY, DRIVER.toString());
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort()
                .withLogFile(log.toFile())
                // Chromium's crash handler writes below $XDG_CONFIG_HOME whatever the profile: keep it out of $HOME.
                .withEnvironment(Map.of("XDG_CONFIG_HOME", home.resolve("config").toString(),
                        "XDG_CACHE_HOME", home.resolve("cache").toString()))
                .build();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(BROWSER.toFile());
        options.addArguments(
                "--headless",
                "--no-sandbox", // containers and CI runners often run as root, where the sandbox cannot start
                "--disable-gpu",
                "--disable-dev-shm-usage", // a container's small /dev/shm crashes tabs; /tmp serves instead
                // A closed network refuses Chromium's own background connections; these keep it from trying.
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=" + home.resolve("profile"),
                "--window-size=" + WIDTH + "," + HEIGHT,
                "--force-device-scale-factor=1",
                "--hide-scrollbars");
        ChromeDriver driver;
        try {
            driver = new ChromeDriver(service, options);
        } catch (RuntimeException e) {
            service.stop();
            throw e;
        }
        HeadlessChromium chromium = new HeadlessChromium(service, driver, home);
        try {
            chromium.fitViewport();
        } catch (RuntimeException e) {
            chromium.close();
            throw e;
        }
        return chromium;
    }

    /**
     * Grows the window so that the page itself (and so every screenshot) is {@link #WIDTH} x {@link #HEIGHT}: headless
     * Chromium still takes room for a browser frame off the size {@code --window-size} gives.
     */
    private void fitViewport() {
        long width = ((Number) driver.executeScript("return window.innerWidth")).longValue();
        long height = ((Number) driver.executeScript("return window.innerHeight")).longValue();
        driver.manage().window().setSize(new Dimension((int) (2 * WIDTH - width), (int) (2 * HEIGHT - height)));
    }

    ChromeDriver driver() {
        return driver;
    }

    /** Saves what the window shows as a PNG at {@code file} (folders created). */
    Path screenshot(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.copy(driver.getScreenshotAs(OutputType.FILE).toPath(), file, StandardCopyOption.REPLACE_EXISTING);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Saves the window and the page's HTML next to {@code file}, to see why a step failed; never throws. */
    void saveEvidence(Path file) {
        try {
            screenshot(file.resolveSibling(file.getFileName() + ".png"));
            Files.writeString(file.resolveSibling(file.getFileName() + ".html"), driver.getPageSource());
        } catch (RuntimeException | IOException e) {
            // best effort: the failure being reported matters more
        }
    }

    /**
     * The processes of this instance still alive: ChromeDriver (a child of this JVM), and every Chromium process,
     * found by its folder in their arguments (the crash handlers are not descendants: they detach).
     */
    List<ProcessHandle> processes() {
        String folder = home.toString();
        return ProcessHandle.allProcesses()
                .filter(process -> isOurDriver(process) || process.info().arguments()
                        .map(args -> Arrays.stream(args).anyMatch(arg -> arg.contains(folder))).orElse(false))
                .toList();
    }

    private static boolean isOurDriver(ProcessHandle process) {
        Optional<String> command = process.info().command();
        return command.isPresent() && Path.of(command.get()).getFileName().toString().equals("chromedriver")
                && process.parent().map(parent -> parent.pid() == ProcessHandle.current().pid()).orElse(false);
    }

    /**
     * Quits the browser and the driver and waits until all their processes have ended; any still alive after
     * {@link #EXIT_TIMEOUT} is killed, and reported as an error: a test must leave no browser behind.
     */
    @Override
    public void close() {
        List<ProcessHandle> running = processes();
        try {
            driver.quit();
        } finally {
            service.stop();
        }
        Instant deadline = Instant.now().plus(EXIT_TIMEOUT);
        while (running.stream().anyMatch(ProcessHandle::isAlive) && Instant.now().isBefore(deadline)) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        List<ProcessHandle> left = new ArrayList<>(running.stream().filter(ProcessHandle::isAlive).toList());
        left.addAll(processes().stream().filter(process -> !running.contains(process)).toList());
        if (!left.isEmpty()) {
            left.forEach(ProcessHandle::destroyForcibly);
            throw new AssertionError("Chromium left " + left.size() + " processes running " + EXIT_TIMEOUT.toSeconds()
                    + " s after it was told to quit (killed now): " + left.stream()
                            .map(process -> process.pid() + " " + process.info().commandLine().orElse("?")).toList());
        }
    }
}
