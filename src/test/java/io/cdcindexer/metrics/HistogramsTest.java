package io.cdcindexer.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class HistogramsTest {

    @Test
    void valuesUpdatedAtOnceCountAsTheSameValuesUpdatedOneByOne() {
        AtomicLong clock = new AtomicLong(1_000_000);
        Histograms.Recent oneByOne = Histograms.window(clock::get);
        Histograms.Recent atOnce = Histograms.window(clock::get);
        long[] values = new long[3 * Histograms.WINDOW];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i * 7919L) % 1000;
        }
        for (int from = 0; from < values.length; from += 700) {
            int to = Math.min(values.length, from + 700);
            for (int i = from; i < to; i++) {
                oneByOne.update(values[i], clock.get());
            }
            atOnce.update(values, from, to, clock.get());
            clock.addAndGet(10);
        }

        assertThat(atOnce.getCount()).isEqualTo(oneByOne.getCount()).isEqualTo(values.length);
        assertThat(atOnce.getStatistics().getValues()).containsExactly(oneByOne.getStatistics().getValues());
        assertThat(atOnce.getStatistics().getQuantile(0.99)).isEqualTo(oneByOne.getStatistics().getQuantile(0.99));
    }

    @Test
    void aFewValuesAtOnceAreKeptBesideTheOlderOnes() {
        Histograms.Recent histogram = Histograms.window(() -> 5_000);
        histogram.update(100, 5_000);

        histogram.update(new long[] {1, 2, 3, 4}, 1, 3, 5_000);

        assertThat(histogram.getCount()).isEqualTo(3);
        assertThat(histogram.getStatistics().getValues()).containsExactlyInAnyOrder(100, 2, 3);
    }
}
