package io.cdcindexer.bench;

import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;
import org.apache.flink.metrics.reporter.Scheduled;

/**
 * A metric reporter for the benchmark's own MiniCluster: the most transactions the collapse held at once
 * ({@code transactionsPending}, summed over its subtasks), looked at every {@code interval} of the reporter, and how
 * often the source paused a split to read in step ({@code readPacingPauses}). Found by Flink through
 * {@code META-INF/services}; only a configuration that names it makes one.
 */
public final class PeakPending implements MetricReporter, Scheduled {

    private static final List<Gauge<?>> PENDING = new CopyOnWriteArrayList<>();
    private static final AtomicLong PEAK = new AtomicLong();
    private static final List<Counter> PAUSES = new CopyOnWriteArrayList<>();

    /** The most seen since the last {@link #reset}. */
    static long peak() {
        return PEAK.get();
    }

    /** Splits paused to read in step, so far. */
    static long pauses() {
        return PAUSES.stream().mapToLong(Counter::getCount).sum();
    }

    static void reset() {
        PENDING.clear();
        PAUSES.clear();
        PEAK.set(0);
    }

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    @Override
    public void notifyOfAddedMetric(Metric metric, String name, MetricGroup group) {
        if (name.equals("transactionsPending") && metric instanceof Gauge<?> gauge) {
            PENDING.add(gauge);
        } else if (name.equals("readPacingPauses") && metric instanceof Counter counter) {
            PAUSES.add(counter);
        }
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {
        PENDING.remove(metric);
        PAUSES.remove(metric);
    }

    @Override
    public void report() {
        long pending = 0;
        for (Gauge<?> gauge : PENDING) {
            if (gauge.getValue() instanceof Number number) {
                pending += number.longValue();
            }
        }
        PEAK.accumulateAndGet(pending, Math::max);
    }

    /** Named by {@code metrics.reporter.<name>.factory.class}. */
    public static final class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new PeakPending();
        }
    }
}
