package io.cdcindexer.bench;

import io.cdcindexer.cli.Cdc;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the benchmarks share: reading their flags, the heap of a JVM that runs the job as a TaskManager would, and
 * stopping a local stack one of them started.
 */
final class Benchmarks {

    private Benchmarks() {}

    /**
     * {@code --name value} pairs from {@code argv[from]} on. A name not among {@code known}, or one without a value, is
     * refused: a benchmark that ignored a mistyped option would measure something else than asked, and say nothing.
     */
    static Map<String, String> flags(String[] argv, int from, List<String> known) {
        Map<String, String> flags = new HashMap<>();
        for (int i = from; i < argv.length; i += 2) {
            if (!known.contains(argv[i])) {
                throw new IllegalArgumentException("Unknown option " + argv[i] + "; the options are "
                        + String.join(", ", known));
            }
            if (i + 1 == argv.length) {
                throw new IllegalArgumentException("Option " + argv[i] + " needs a value");
            }
            flags.put(argv[i], argv[i + 1]);
        }
        return flags;
    }

    /**
     * Refuses a heap that can grow or shrink: a benchmark that runs the job in its own JVM runs it as in a TaskManager,
     * which Flink starts with its heap fixed ({@code -Xms} as {@code -Xmx}, from {@code BashJavaUtils}). Started small
     * and grown, the heap made the job's collector pause 1.7 to 3.6 times as long in a run (performance.md, "A heap
     * that grows").
     *
     * @param minBytes the JVM's {@code MinHeapSize} (set by {@code -Xms}, not by {@code -XX:InitialHeapSize})
     * @param initialBytes its {@code InitialHeapSize}
     * @param maxBytes its {@code MaxHeapSize}
     */
    static void requireFixedHeap(long minBytes, long initialBytes, long maxBytes) {
        if (minBytes != maxBytes || initialBytes != maxBytes) {
            throw new IllegalArgumentException("The job runs in this JVM as in a TaskManager, whose heap Flink fixes: "
                    + "start it with -Xms as -Xmx (e.g. java -Xms2g -Xmx2g); its heap starts at " + (initialBytes >> 20)
                    + " MB, may shrink to " + (minBytes >> 20) + " MB and grow to " + (maxBytes >> 20) + " MB");
        }
    }

    /** {@link #requireFixedHeap(long, long, long)} for this JVM. */
    static void requireFixedHeap() {
        requireFixedHeap(heapFlag("MinHeapSize"), heapFlag("InitialHeapSize"), heapFlag("MaxHeapSize"));
    }

    /** The JVM options that give another JVM this one's largest heap, fixed. */
    static List<String> heapOfThisJvm() {
        long max = heapFlag("MaxHeapSize");
        return List.of("-Xms" + max, "-Xmx" + max);
    }

    private static long heapFlag(String name) {
        return Long.parseLong(java.lang.management.ManagementFactory.getPlatformMXBean(
                com.sun.management.HotSpotDiagnosticMXBean.class).getVMOption(name).getValue());
    }

    /** {@code ./cdc down}; the data folder is deleted after a run that completed, unless {@code --keep true}. */
    static void down(Path dir, boolean completed, boolean keep) {
        List<String> down = new ArrayList<>(List.of("down", "--data-dir", dir.toString()));
        if (completed && !keep) {
            down.add("--purge");
        } else {
            System.err.println("Kept the stack's data and logs in " + dir);
        }
        Cdc.run(down.toArray(String[]::new));
    }
}
