package io.cdcindexer.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.kafka.KafkaChangeSource;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class JobOptionsTest {

    @Test
    void defaultsMatchTheLocalStack() {
        JobOptions options = JobOptions.fromArgs();

        assertThat(options.get(JobOptions.KAFKA_BOOTSTRAP_SERVERS)).isEqualTo("localhost:9092");
        assertThat(options.get(JobOptions.ELASTICSEARCH_HOSTS)).isEqualTo("http://localhost:9200");
        assertThat(options.getLong(JobOptions.CHECKPOINT_INTERVAL_MS)).isPositive();
    }

    @Test
    void argumentsOverrideDefaults() {
        JobOptions options = JobOptions.fromArgs("--kafka.bootstrap-servers", "kafka:29092", "--transaction.timeout-ms=500");

        assertThat(options.get(JobOptions.KAFKA_BOOTSTRAP_SERVERS)).isEqualTo("kafka:29092");
        assertThat(options.getLong(JobOptions.TRANSACTION_TIMEOUT_MS)).isEqualTo(500);
        assertThat(options.overrides()).hasSize(2);
    }

    @Test
    void badArgumentsGetAClearError() {
        assertThatThrownBy(() -> JobOptions.fromArgs("--kafka.bootstrap-server", "x"))
                .hasMessageStartingWith("Unknown option --kafka.bootstrap-server");
        assertThatThrownBy(() -> JobOptions.fromArgs("--parallelism"))
                .hasMessage("Option --parallelism needs a value");
        assertThatThrownBy(() -> JobOptions.fromArgs("--elasticsearch.mappings", "dynamic"))
                .hasMessage("Option --elasticsearch.mappings must be derived or none, got 'dynamic'");
        assertThatThrownBy(() -> JobOptions.fromArgs("--checkpoint.interval-ms", "soon"))
                .hasMessage("Option --checkpoint.interval-ms must be a whole number, got 'soon'");
        assertThatThrownBy(() -> JobOptions.fromArgs("--checkpoint.interval-ms", "0"))
                .hasMessage("Option --checkpoint.interval-ms must be positive, got 0");
        assertThatThrownBy(() -> JobOptions.fromArgs("--network.buffer-timeout-ms", "-1"))
                .hasMessage("Option --network.buffer-timeout-ms must be 0 or more, got -1");
        assertThatThrownBy(() -> JobOptions.fromArgs("--kafka.topic-pattern", "cdc\\.(")).hasMessageContaining("regular expression");
        assertThatThrownBy(() -> JobOptions.fromArgs("kafka.group-id")).hasMessageContaining("Expected --name value");
    }

    @Test
    void theBulkIntervalAndTheBufferTimeoutMayBeZeroWhichMeansAtOnce() {
        JobOptions options = JobOptions.fromArgs("--elasticsearch.bulk.interval-ms", "0", "--network.buffer-timeout-ms",
                "0");

        assertThat(options.getLong(JobOptions.BULK_INTERVAL_MS)).isZero();
        assertThat(options.getLong(JobOptions.BUFFER_TIMEOUT_MS)).isZero();
    }

    @Test
    void sourceReadsTheTableTopicsAndTheTransactionTopic() {
        Pattern topics = Pattern.compile(KafkaChangeSource.topicPattern(JobOptions.defaults()));

        assertThat(topics.matcher("cdc.public.users").matches()).isTrue();
        assertThat(topics.matcher("cdc.public.created_later").matches()).isTrue();
        assertThat(topics.matcher("cdc.transaction").matches()).isTrue();
        assertThat(topics.matcher("cdc.dlq").matches()).isFalse();
        assertThat(topics.matcher("cdcXtransaction").matches()).isFalse();
    }

    @Test
    void everyOptionIsDocumented() {
        assertThat(JobOptions.all()).allSatisfy(option -> assertThat(option.description()).isNotBlank());
        assertThat(JobOptions.usage()).contains("--elasticsearch.index");
    }

    @Test
    void noOptionTakesASecretAndContradictoryCredentialsAreRefused() {
        assertThat(JobOptions.all()).extracting(JobOptions.Option::name)
                .noneMatch(name -> name.endsWith("password") || name.endsWith("api-key") || name.endsWith("secret"));
        assertThatThrownBy(() -> JobOptions.fromArgs("--elasticsearch.password", "hunter2"))
                .hasMessageStartingWith("Unknown option --elasticsearch.password;")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
        assertThatThrownBy(() -> JobOptions.fromArgs("--elasticsearch.username", "indexer",
                        "--elasticsearch.api-key-file", "/run/secrets/key"))
                .hasMessage("Options --elasticsearch.*: Elasticsearch: give a user name and password, or an API key, not both");
        assertThatThrownBy(() -> JobOptions.fromArgs("--elasticsearch.verify-hostname", "no"))
                .hasMessage("Option --elasticsearch.verify-hostname must be true or false, got 'no'");
    }
}
