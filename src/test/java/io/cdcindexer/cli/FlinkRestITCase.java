package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.client.program.ClusterClient;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectClusterClient;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The metrics {@code ./cdc status} reads, through a real JobManager's REST API: a sink named "Elasticsearch" whose writer
 * registers what ElasticsearchIndexWriter registers for 429s, at parallelism 2, found by {@link FlinkRest} under the
 * name Flink gives operator metrics and summed over the subtasks.
 */
class FlinkRestITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    /** A writer that counts every record as a 429, as ElasticsearchIndexWriter registers the counter and its meter. */
    private static final class CountingSink implements Sink<Long> {
        @Override
        @SuppressWarnings("deprecation")
        public SinkWriter<Long> createWriter(InitContext context) {
            throw new UnsupportedOperationException("Flink 1.20 calls createWriter(WriterInitContext)");
        }

        @Override
        public SinkWriter<Long> createWriter(WriterInitContext context) {
            Counter counter = context.metricGroup().counter("rejectedTooManyRequests");
            context.metricGroup().meter("rejectedTooManyRequestsPerSecond", new MeterView(counter));
            return new SinkWriter<>() {
                @Override
                public void write(Long element, Context writeContext) throws InterruptedException {
                    counter.inc();
                    Thread.sleep(5);
                }

                @Override
                public void flush(boolean endOfInput) {}

                @Override
                public void close() {}
            };
        }
    }

    @Test
    void operatorMetricsAreFoundByNameAndSummedOverSubtasks(@InjectClusterClient ClusterClient<?> cluster)
            throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        env.fromSequence(0, Long.MAX_VALUE).name("numbers").sinkTo(new CountingSink()).name("Elasticsearch");
        JobClient job = env.executeAsync("cdc-indexer");
        JobID id = job.getJobID();
        FlinkRest flink = new FlinkRest(cluster.getWebInterfaceURL());
        try {
            // The REST API fetches metrics from the TaskManagers when asked, at most every 10 s: poll.
            Optional<Double> total = Optional.empty();
            Optional<Double> perSecond = Optional.empty();
            Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
            while ((total.isEmpty() || total.get() == 0 || perSecond.isEmpty()) && Instant.now().isBefore(deadline)) {
                Thread.sleep(500);
                total = flink.operatorMetricSum(id.toHexString(), "rejectedTooManyRequests");
                perSecond = flink.operatorMetricSum(id.toHexString(), "rejectedTooManyRequestsPerSecond");
            }

            assertThat(total).hasValueSatisfying(n -> assertThat(n).isPositive());
            assertThat(perSecond).as("the meter is read by its own name, not as the counter's").isPresent();
            assertThat(flink.jobMetric(id.toHexString(), "numRestarts")).hasValue(0.0);
            assertThat(flink.job(id.toHexString()).path("vertices")).hasSizeGreaterThanOrEqualTo(1);
            assertThat(flink.liveJob("cdc-indexer")).hasValueSatisfying(live -> assertThat(live.state()).isEqualTo("RUNNING"));
        } finally {
            job.cancel().get();
        }
    }
}
