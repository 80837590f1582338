package io.cdcindexer.metrics;

import java.util.Arrays;
import java.util.function.LongSupplier;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.HistogramStatistics;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogramStatistics;

/**
 * The histograms the job registers: the distribution of the latest {@link #WINDOW} values of each subtask that are at
 * most {@link #MAX_AGE_MS} old. The age bound is what an SRE reads a delay as: how far behind the index is now, not how
 * far behind it was the last time a quiet table was written (Prometheus's own summaries age their values out likewise).
 */
public final class Histograms {

    /**
     * How many of the latest values each histogram keeps. An update stores a double and a time in a ring (no
     * allocation); the quantiles are computed only when a reporter or the REST API reads them.
     */
    public static final int WINDOW = 1024;
    /** How old a value may be and still count towards the quantiles, ms. */
    public static final long MAX_AGE_MS = 5 * 60_000;

    private Histograms() {}

    /** A new histogram over the latest {@link #WINDOW} values of the last {@link #MAX_AGE_MS}, by the system clock. */
    public static Recent window() {
        return window(System::currentTimeMillis);
    }

    /** The same, by this clock (epoch ms; read by the task thread and the reporter's). */
    public static Recent window(LongSupplier clock) {
        return new Recent(WINDOW, MAX_AGE_MS, clock);
    }

    /** A ring of the latest values with the time each came; the statistics leave out those older than the age bound. */
    public static final class Recent implements Histogram {

        private final double[] values;
        private final long[] times;
        private final long maxAgeMs;
        private final LongSupplier clock;
        private int next;
        private int size;
        private long count;

        Recent(int window, long maxAgeMs, LongSupplier clock) {
            this.values = new double[window];
            this.times = new long[window];
            this.maxAgeMs = maxAgeMs;
            this.clock = clock;
        }

        @Override
        public void update(long value) {
            update(value, clock.getAsLong());
        }

        /** A value that came at {@code at} (epoch ms): for a caller that knows the time already (no clock read). */
        // Synchronized: the task thread updates, a reporter's thread reads (uncontended but for a scrape).
        public synchronized void update(long value, long at) {
            values[next] = value;
            times[next] = at;
            next = (next + 1) % values.length;
            size = Math.min(size + 1, values.length);
            count++;
        }

        /**
         * {@code values[from, to)}, each as by {@link #update(long, long)}, under one lock: a writer's answer
         * acknowledges a request's worth of changes at once.
         */
        public synchronized void update(long[] values, int from, int to, long at) {
            for (int i = from; i < to; i++) {
                this.values[next] = values[i];
                times[next] = at;
                next = next + 1 == this.values.length ? 0 : next + 1;
            }
            size = Math.min(size + to - from, this.values.length);
            count += to - from;
        }

        /** Every value since the histogram was made, as the summary's {@code _count}. */
        @Override
        public synchronized long getCount() {
            return count;
        }

        @Override
        public HistogramStatistics getStatistics() {
            return new DescriptiveStatisticsHistogramStatistics(recent());
        }

        private synchronized double[] recent() {
            long oldest = clock.getAsLong() - maxAgeMs;
            double[] recent = new double[size];
            int kept = 0;
            for (int i = 0; i < size; i++) {
                if (times[i] >= oldest) {
                    recent[kept++] = values[i];
                }
            }
            return kept == size ? recent : Arrays.copyOf(recent, kept);
        }
    }
}
