package io.cdcindexer.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchmarksTest {

    private static final List<String> KNOWN = List.of("--events", "--ceiling-answers");

    @Test
    void readsNameValuePairsAfterTheScenario() {
        assertEquals(Map.of("--events", "600000", "--ceiling-answers", "full"), Benchmarks.flags(
                new String[] {"bulk", "--events", "600000", "--ceiling-answers", "full"}, 1, KNOWN));
    }

    @Test
    void aMistypedOptionIsRefusedNotIgnored() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Benchmarks.flags(new String[] {"bulk", "--ceiling-answer", "full"}, 1, KNOWN));
        assertTrue(refused.getMessage().contains("Unknown option --ceiling-answer"), refused.getMessage());
    }

    @Test
    void anOptionWithoutItsValueIsRefused() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Benchmarks.flags(new String[] {"--events"}, 0, KNOWN));
        assertEquals("Option --events needs a value", refused.getMessage());
    }

    @Test
    void aHeapThatCanGrowOrShrinkIsRefusedForTheJobRunsAsInATaskManager() {
        IllegalArgumentException grows = assertThrows(IllegalArgumentException.class,
                () -> Benchmarks.requireFixedHeap(8L << 20, 384L << 20, 2048L << 20));
        assertTrue(grows.getMessage().contains("-Xms as -Xmx"), grows.getMessage());
        assertTrue(grows.getMessage().contains("starts at 384 MB, may shrink to 8 MB and grow to 2048 MB"),
                grows.getMessage());
        // -XX:InitialHeapSize as -Xmx, without -Xms: G1 may still shrink it
        assertThrows(IllegalArgumentException.class,
                () -> Benchmarks.requireFixedHeap(8L << 20, 2048L << 20, 2048L << 20));
        Benchmarks.requireFixedHeap(2048L << 20, 2048L << 20, 2048L << 20);
    }

    @Test
    void theSqlPipelinesJvmGetsThisJvmsLargestHeapFixed() {
        List<String> heap = Benchmarks.heapOfThisJvm();
        assertEquals(2, heap.size(), heap.toString());
        long max = Long.parseLong(heap.get(1).substring("-Xmx".length()));
        assertEquals("-Xms" + max, heap.get(0));
        assertTrue(max >= Runtime.getRuntime().maxMemory(), heap + " against " + Runtime.getRuntime().maxMemory());
    }

    /** The benchmark's idle cores: /proc/stat's idle and I/O wait ticks, in nanoseconds, as /proc/uptime counts it. */
    @Test
    void theMachinesIdleTimeIsReadInNanoseconds() throws Exception {
        long idle = IndexingBenchmark.idleNanos();
        double uptimeIdleSeconds = Double.parseDouble(
                java.nio.file.Files.readString(java.nio.file.Path.of("/proc/uptime")).trim().split("\\s+")[1]);

        assertTrue(idle > 0, "no idle time read");
        assertTrue(idle > uptimeIdleSeconds * 1e9 * 0.5 && idle < uptimeIdleSeconds * 1e9 * 2,
                idle + " ns idle against " + uptimeIdleSeconds + " s in /proc/uptime");
        Thread.sleep(100);
        assertTrue(IndexingBenchmark.idleNanos() >= idle);
    }
}
