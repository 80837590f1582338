package io.cdcindexer.metrics;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricGroup;

/**
 * One metric per value of a label (a table, a reason, a status): {@code group.addGroup(label, value)} with the metric
 * registered in it, made on first use and kept, so that the hot path costs a map lookup. Flink's Prometheus reporter
 * serves it as {@code <scope>_<label>_<name>{<label>="<value>"}}; the REST API as {@code <label>.<value>.<name>}.
 *
 * <p>Used by one task thread only, like the operator that owns it.
 */
public final class LabeledMetric<M extends Metric> {

    /** The value of a label whose value is not known (a change without a table, say). */
    public static final String UNKNOWN = "unknown";

    private final MetricGroup group;
    private final String label;
    private final Function<MetricGroup, M> register;
    private final Map<String, M> byValue = new HashMap<>();

    /**
     * @param label the label's name, e.g. {@code table}
     * @param register registers the metric in a value's group, e.g. {@code g -> g.counter("changesDecoded")}
     */
    public LabeledMetric(MetricGroup group, String label, Function<MetricGroup, M> register) {
        this.group = group;
        this.label = label;
        this.register = register;
    }

    /**
     * Registers the metric of each of these values now, so that each is served (at 0) before its first use: Prometheus's
     * {@code rate()} and {@code increase()} count nothing for a series whose first sample is already 1.
     */
    public LabeledMetric<M> withValues(String... values) {
        for (String value : values) {
            of(value);
        }
        return this;
    }

    /** The metric for this value of the label, registered on first use. */
    public M of(String value) {
        M metric = byValue.get(value == null ? UNKNOWN : value);
        if (metric == null) {
            String key = value == null ? UNKNOWN : value;
            metric = register.apply(group.addGroup(label, key));
            byValue.put(key, metric);
        }
        return metric;
    }
}
