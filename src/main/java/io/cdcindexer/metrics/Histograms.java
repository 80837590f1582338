package io.cdcindexer.metrics;

import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/** The histograms the job registers: the distribution of the latest {@link #WINDOW} values of each subtask. */
public final class Histograms {

    /**
     * How many of the latest values each histogram keeps. An update stores a double in a ring (no allocation); the
     * quantiles are computed only when a reporter or the REST API reads them.
     */
    public static final int WINDOW = 1024;

    private Histograms() {}

    /** A new histogram over the latest {@link #WINDOW} values. */
    public static Histogram window() {
        return new DescriptiveStatisticsHistogram(WINDOW);
    }
}
