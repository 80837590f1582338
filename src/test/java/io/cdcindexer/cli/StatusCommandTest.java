package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

class StatusCommandTest {

    @Test
    void rendersAlignedLinesAndAVerdict() {
        String report = StatusCommand.render(List.of(
                new StatusCommand.Check("Kafka", "localhost:9092", true, "1 broker (pid 42)"),
                new StatusCommand.Check("connector", "cdc-postgres", false, "not registered (./cdc setup-connectors)"),
                new StatusCommand.Check("indices", "", true, "cdc.public.orders: 5 documents\ncdc.public.users: 3 documents")));

        assertThat(report).isEqualTo(String.join("\n",
                "  ok    Kafka      localhost:9092  1 broker (pid 42)",
                "  FAIL  connector  cdc-postgres    not registered (./cdc setup-connectors)",
                "  ok    indices                    cdc.public.orders: 5 documents",
                "                                   cdc.public.users: 3 documents",
                "1 not healthy: connector.",
                ""));
    }

    @Test
    void allHealthySaysSo() {
        String report = StatusCommand.render(List.of(new StatusCommand.Check("Flink", "http://localhost:8081", true, "ok")));

        assertThat(report).endsWith("All healthy.\n");
    }

    @Test
    void agesReadAsAHumanWouldSayThem() {
        assertThat(StatusCommand.ago(4_200)).isEqualTo("4 s");
        assertThat(StatusCommand.ago(300_000)).isEqualTo("5 min");
        assertThat(StatusCommand.ago(3 * 3_600_000)).isEqualTo("3 h");
        assertThat(StatusCommand.ago(-5)).isEqualTo("0 s");
    }

    @Test
    void aFailureReadsAsItsRootCause() {
        String trace = String.join("\n",
                "org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy",
                "\tat org.apache.flink.runtime...",
                "Caused by: org.apache.flink.util.FlinkRuntimeException: mailbox",
                "\tat ...",
                "Caused by: java.io.IOException: Elasticsearch at http://es:9200 refused the job's request "
                        + "(authentication or authorization): missing authentication credentials for REST request.",
                "\t... 12 more");

        assertThat(StatusCommand.rootCause(trace)).isEqualTo("java.io.IOException: Elasticsearch at http://es:9200 refused "
                + "the job's request (authentication or authorization): missing authentication credentials for REST request.");
        assertThat(StatusCommand.rootCause("java.lang.IllegalStateException: alone\n\tat x"))
                .isEqualTo("java.lang.IllegalStateException: alone");
    }
}
