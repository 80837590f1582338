package io.cdcindexer.metrics;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobID;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.apache.flink.runtime.clusterframework.types.ResourceID;
import org.apache.flink.runtime.executiongraph.ExecutionAttemptID;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.metrics.groups.AbstractMetricGroup;
import org.apache.flink.runtime.metrics.groups.InternalSinkWriterMetricGroup;
import org.apache.flink.runtime.metrics.groups.TaskManagerMetricGroup;
import org.apache.flink.runtime.metrics.groups.TaskMetricGroup;
import org.apache.flink.runtime.metrics.util.TestingMetricRegistry;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;

/**
 * Real Flink metric groups whose metrics are kept by the names Flink's Prometheus reporter serves them under: {@code
 * flink_taskmanager_job_task_operator_table_changesDecoded{table=public.users}}, with only the labels the job adds
 * (Flink's own, such as {@code operator_name}, are left out), their values as they are
 * ({@code metrics.reporter.prom.filterLabelValueCharacters: false} in flink-conf/config.yaml). So a test checks the
 * names the dashboard relies on.
 */
public final class MetricsRecorder {

    /** The variables Flink itself puts on every task and operator metric. */
    private static final Set<String> FLINK_VARIABLES = Set.of("host", "tm_id", "job_id", "job_name", "task_id",
            "task_attempt_id", "task_name", "task_attempt_num", "subtask_index", "operator_id", "operator_name");

    private final Map<String, Metric> metrics = new ConcurrentHashMap<>();
    private final TaskMetricGroup task;

    public MetricsRecorder() {
        TestingMetricRegistry registry = TestingMetricRegistry.builder()
                .setRegisterConsumer((metric, name, group) -> metrics.put(prometheusName(name, group), metric))
                .build();
        task = TaskManagerMetricGroup.createTaskManagerMetricGroup(registry, "localhost", ResourceID.generate())
                .addJob(new JobID(), "cdc-indexer").addTask(ExecutionAttemptID.randomId(), "task");
    }

    /** As {@code AbstractPrometheusReporter} names a metric: its group's logical scope, its name and its labels. */
    private static String prometheusName(String name, AbstractMetricGroup<?> group) {
        String scoped = "flink_" + group.getLogicalScope(MetricsRecorder::filter, '_') + "_" + filter(name);
        Map<String, String> labels = new TreeMap<>();
        group.getAllVariables().forEach((variable, value) -> {
            String label = variable.substring(1, variable.length() - 1); // <table> → table
            if (!FLINK_VARIABLES.contains(label)) {
                labels.put(label, value);
            }
        });
        return labels.isEmpty() ? scoped : scoped + labels.entrySet().stream()
                .map(label -> label.getKey() + "=" + label.getValue()).collect(Collectors.joining(",", "{", "}"));
    }

    private static String filter(String text) {
        return text.replaceAll("[^a-zA-Z0-9:_]", "_");
    }

    /** An operator test harness's environment whose task metric group is this recorder's. */
    public MockEnvironment environment() {
        return new MockEnvironmentBuilder().setMetricGroup(task).build();
    }

    /** A sink writer's metric group, as Flink hands it to a writer, recorded here. */
    public SinkWriterMetricGroup sinkWriterGroup(String operatorName) {
        return InternalSinkWriterMetricGroup.wrap(task.getOrAddOperator(new OperatorID(), operatorName));
    }

    /** The names of every metric registered so far, sorted. */
    public Set<String> names() {
        return new TreeSet<>(metrics.keySet());
    }

    /** A counter's count by its Prometheus name; 0 when no such counter was registered. */
    public long count(String name) {
        Metric metric = metrics.get(name);
        return metric == null ? 0 : ((Counter) metric).getCount();
    }

    /** A histogram by its Prometheus name, or null. */
    public Histogram histogram(String name) {
        return (Histogram) metrics.get(name);
    }
}
