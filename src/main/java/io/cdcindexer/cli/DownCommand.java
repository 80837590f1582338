package io.cdcindexer.cli;

import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.Stack;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc down}: stops the local stack that {@code ./cdc up --detach} started. */
@Command(
        name = "down",
        mixinStandardHelpOptions = true,
        description = {
            "Stops the services that ./cdc up --detach started (found by the PIDs recorded in the data folder), "
                    + "in reverse start order, each with SIGTERM and a grace period. Data stays unless --purge.",
            "The indexing job is first stopped with a savepoint, which the next ./cdc up resumes from. A savepoint "
                    + "needs Elasticsearch and Kafka: if one of them does not answer (before or while it waits), or the "
                    + "savepoint fails or takes more than 3 minutes, the job is canceled instead, which keeps its "
                    + "retained checkpoints, and down names the one the next ./cdc up resumes from.",
        })
public final class DownCommand implements Callable<Integer> {

    @Mixin
    DataDirOption dataDir;

    @Option(names = "--purge", description = "Also delete the data folder: databases, topics, indices, checkpoints and logs.")
    boolean purge;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = dataDir.resolve();
        if (Stack.running(dir).containsKey("flink/jobmanager")) {
            FlinkCluster.configuredUrl(dir.resolve("flink")).ifPresent(url ->
                    SubmitCommand.stopWithSavepoint(out, "down", new FlinkRest(url), dependencies(dir)));
        }
        List<String> stopped = Stack.stopRecorded(dir);
        out.println(stopped.isEmpty() ? "down: nothing of the stack in " + dir + " was running"
                : "down: stopped " + String.join(", ", stopped));
        if (purge && Files.isDirectory(dir)) {
            checkIsStackFolder(dir, "purging", Set.of());
            deleteRecursively(dir);
            out.println("down: deleted " + dir);
        }
        out.flush();
        return 0;
    }

    /**
     * The services a savepoint of the job needs, where the stack in {@code dir} runs them (the ports it recorded):
     * Elasticsearch and Kafka. None for a stack that recorded no ports.
     */
    static List<JobStop.Dependency> dependencies(Path dir) {
        return Stack.readPorts(dir).map(ports -> List.of(
                        JobStop.Dependency.elasticsearch("http://localhost:" + ports.elasticsearch()),
                        JobStop.Dependency.kafka("localhost:" + ports.kafka())))
                .orElse(List.of());
    }

    /**
     * A mistyped --data-dir must not delete someone's home folder: only the stack's own folders and files, and the
     * names in {@code alsoAllowed}, may be in it. {@code doing} names the refused action in the error.
     */
    static void checkIsStackFolder(Path dir, String doing, Set<String> alsoAllowed) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            List<String> foreign = entries.map(entry -> entry.getFileName().toString())
                    .filter(name -> !Stack.SERVICE_FOLDERS.contains(name) && !Stack.FILES.contains(name)
                            && !alsoAllowed.contains(name))
                    .sorted()
                    .toList();
            if (!foreign.isEmpty()) {
                throw new IllegalStateException("Not " + doing + " " + dir + ": it holds more than the stack's folders ("
                        + String.join(", ", foreign) + ")");
            }
        }
    }

    /** Deletes {@code dir} and everything in it. */
    public static void deleteRecursively(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
