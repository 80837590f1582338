package io.cdcindexer.stack;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The classpath of one service, resolved by Maven from {@code src/stack/<service>/pom.xml} and cached in
 * {@code target/stack/<service>.classpath}. Each service gets its own so that the Kafka 4.3 broker, Debezium, the
 * Elasticsearch 7.10 server and Flink each run on exactly the versions they were built with. The benchmark's baseline
 * ({@code src/bench/sql-baseline/pom.xml}) is resolved the same way, into {@code target/bench/}.
 */
public final class ServiceClasspath {

    private ServiceClasspath() {}

    /** Returns the local stack service's classpath, resolving it first when the cache is missing or older than the pom. */
    public static String of(String service) {
        return of("stack", service);
    }

    /**
     * Returns the classpath of {@code src/<group>/<service>/pom.xml}, cached in {@code target/<group>/<service>.classpath}
     * and resolved first when the cache is missing or older than the pom.
     */
    public static String of(String group, String service) {
        Path home = ProjectHome.dir();
        Path pom = home.resolve("src").resolve(group).resolve(service).resolve("pom.xml");
        Path cache = home.resolve("target").resolve(group).resolve(service + ".classpath");
        if (!Files.isRegularFile(pom)) {
            throw new StackException("No pom for '" + service + "' at " + pom);
        }
        try {
            if (isStale(pom, cache)) {
                resolve(service, pom, cache);
            }
            return Files.readString(cache).trim();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Whether the cached classpath must be resolved again: it is missing, older than the pom, or names a jar that is
     * gone (a cleaned local Maven repository).
     */
    static boolean isStale(Path pom, Path cache) throws IOException {
        if (!Files.isRegularFile(cache)
                || Files.getLastModifiedTime(pom).compareTo(Files.getLastModifiedTime(cache)) > 0) {
            return true;
        }
        List<String> entries = Arrays.asList(Files.readString(cache).trim().split(File.pathSeparator));
        return entries.isEmpty() || entries.stream().anyMatch(entry -> entry.isBlank() || !Files.exists(Path.of(entry)));
    }

    // One Maven at a time: parallel service start-ups would otherwise download into the same local repository at once.
    private static synchronized void resolve(String service, Path pom, Path cache) throws IOException {
        if (!isStale(pom, cache)) {
            return; // another thread resolved it while this one waited
        }
        Files.createDirectories(cache.getParent());
        Path log = cache.resolveSibling(service + ".resolve.log");
        Path partial = Files.createTempFile(cache.getParent(), service, ".partial");
        List<String> command = List.of("mvn", "-q", "-B", "-f", pom.toString(), "dependency:build-classpath",
                "-Dmdep.outputFile=" + partial);
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean resolved = false;
        try {
            resolved = process.waitFor(15, TimeUnit.MINUTES) && process.exitValue() == 0 && Files.size(partial) > 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (!resolved) {
                process.destroyForcibly();
                Files.deleteIfExists(partial);
            }
        }
        if (!resolved) {
            throw new StackException("Could not resolve the classpath of " + service + " (" + String.join(" ", command)
                    + "); see " + log + ":\n" + ServiceProcess.tail(log, 30));
        }
        Files.move(partial, cache, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
