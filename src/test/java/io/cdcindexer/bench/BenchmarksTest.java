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
    void aHeapThatCanGrowIsRefusedForTheJobRunsAsInATaskManager() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Benchmarks.requireFixedHeap(384L << 20, 2048L << 20));
        assertTrue(refused.getMessage().contains("-Xms as -Xmx"), refused.getMessage());
        assertTrue(refused.getMessage().contains("starts at 384 MB and may grow to 2048 MB"), refused.getMessage());
        Benchmarks.requireFixedHeap(2048L << 20, 2048L << 20);
    }
}
