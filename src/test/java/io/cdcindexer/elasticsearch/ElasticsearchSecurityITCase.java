package io.cdcindexer.elasticsearch;

import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.kafka.CollectingDeadLetterQueue;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's Elasticsearch clients (the writer and the index-mapping step) through a TLS-terminating, credential-checking
 * proxy in front of a real node: a real handshake against a real certificate chain, basic auth and API keys, and the
 * one clear line a wrong password, an unknown CA or a certificate for another host gives.
 */
class ElasticsearchSecurityITCase {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberSlotsPerTaskManager(1).build());

    private static final String PASSWORD = "s3cret-Pa55word";
    private static final String API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";

    @TempDir
    static Path dir;

    private static ElasticsearchNode elasticsearch;
    private static TestCertificates certificates;
    private static CredentialCheckingProxy proxy;
    private static Path passwordFile;
    private static Path apiKeyFile;

    @BeforeAll
    static void start() throws Exception {
        elasticsearch = ElasticsearchNode.start(dir.resolve("es"), FreePorts.next());
        certificates = TestCertificates.make(dir.resolve("certs"));
        proxy = CredentialCheckingProxy.secure(elasticsearch.port(), certificates,
                CredentialCheckingProxy.basic("indexer", PASSWORD), CredentialCheckingProxy.apiKey(API_KEY));
        passwordFile = Files.writeString(dir.resolve("password"), PASSWORD + "\n");
        apiKeyFile = Files.writeString(dir.resolve("api-key"), API_KEY + "\n");
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (elasticsearch != null) {
            elasticsearch.close();
        }
    }

    private static ElasticsearchConnection connection(String host, String user, Path password, Path apiKey, Path ca,
            boolean verifyHostname) {
        return new ElasticsearchConnection(List.of(host), user, password == null ? "" : password.toString(),
                apiKey == null ? "" : apiKey.toString(), ca == null ? "" : ca.toString(), verifyHostname);
    }

    private static JobClient start(String name, ElasticsearchConnection connection, ChangeEvent... changes)
            throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.fromData(TypeInformation.of(ChangeEvent.class), changes)
                .sinkTo(new ElasticsearchIndexSink(new BulkOptions(connection, 100, 5 << 20, 50, 2, 50, 500),
                        new ChangeEventEmitter(new IndexNames(name + "-{table}")), new CollectingDeadLetterQueue(name)));
        return env.executeAsync(name);
    }

    private static void write(String name, ElasticsearchConnection connection) throws Exception {
        start(name, connection, upsert("users", "1", 100, "{\"id\":1,\"name\":\"" + name + "\"}", null))
                .getJobExecutionResult().get(2, TimeUnit.MINUTES);
    }

    private static String stored(String name) throws Exception {
        return Http.get(elasticsearch.url() + "/" + name + "-users/_source/1").body();
    }

    @Test
    void theWriterAuthenticatesWithAPasswordFromAFileOverVerifiedTls() throws Exception {
        int before = proxy.forwarded();

        write("basic", connection(proxy.url(), "indexer", passwordFile, null, certificates.caPem(), true));

        assertThat(stored("basic")).isEqualTo("{\"id\":1,\"name\":\"basic\"}");
        assertThat(proxy.forwarded()).as("the writes went through the proxy").isGreaterThan(before);
    }

    @Test
    void theWriterAuthenticatesWithAnApiKeyFromAFile() throws Exception {
        write("apikey", connection(proxy.url(), "", null, apiKeyFile, certificates.caPem(), true));

        assertThat(stored("apikey")).isEqualTo("{\"id\":1,\"name\":\"apikey\"}");
    }

    @Test
    void aWrongPasswordFailsTheJobWithOneLineNamingTheUserAndTheCause() throws Exception {
        Path wrong = Files.writeString(dir.resolve("wrong"), "not-the-password");
        JobClient job = start("wrong", connection(proxy.url(), "indexer", wrong, null, certificates.caPem(), true),
                upsert("users", "1", 100, "{\"id\":1}", null));

        assertThatThrownBy(() -> job.getJobExecutionResult().get(2, TimeUnit.MINUTES))
                .hasStackTraceContaining("Elasticsearch at " + proxy.url() + " refused the job's request (authentication "
                        + "or authorization): unable to authenticate user [indexer]")
                .satisfies(e -> assertThat(stackTrace(e)).doesNotContain("not-the-password").doesNotContain(PASSWORD));
    }

    @Test
    void anUnknownCaFailsTheJobInsteadOfRetryingForever() throws Exception {
        JobClient job = start("unknownca", connection(proxy.url(), "indexer", passwordFile, null, null, true),
                upsert("users", "1", 100, "{\"id\":1}", null));

        assertThatThrownBy(() -> job.getJobExecutionResult().get(2, TimeUnit.MINUTES))
                .hasStackTraceContaining("Elasticsearch at " + proxy.url() + ": its TLS certificate is not trusted")
                .hasStackTraceContaining("Set --elasticsearch.ca-file to the CA that signed it");
    }

    @Test
    void aCertificateForAnotherHostFailsUnlessHostnameVerificationIsOff() throws Exception {
        String byAddress = "https://127.0.0.1:" + proxy.port(); // the certificate names localhost only
        JobClient job = start("hostname", connection(byAddress, "indexer", passwordFile, null, certificates.caPem(), true),
                upsert("users", "1", 100, "{\"id\":1}", null));

        assertThatThrownBy(() -> job.getJobExecutionResult().get(2, TimeUnit.MINUTES))
                .hasStackTraceContaining("Elasticsearch at " + byAddress + ": its TLS certificate does not name the host")
                .hasStackTraceContaining("--elasticsearch.verify-hostname false");

        write("unverified", connection(byAddress, "indexer", passwordFile, null, certificates.caPem(), false));
        assertThat(stored("unverified")).isEqualTo("{\"id\":1,\"name\":\"unverified\"}");
    }

    @Test
    void theIndexMappingStepCreatesTheIndexThroughTheProxy() throws Exception {
        IndexMappingFunction function = new IndexMappingFunction(
                connection(proxy.url(), "", null, apiKeyFile, certificates.caPem(), true), new IndexNames("tls-{table}"),
                "", "", 30_000);
        try (OneInputStreamOperatorTestHarness<ChangeEvent, ChangeEvent> harness =
                ProcessFunctionTestHarnesses.forProcessFunction(function)) {
            harness.processElement(IndexMappingFunctionITCase.change("schema-0-insert"), 0);
        }

        assertThat(Http.get(elasticsearch.url() + "/_alias/tls-products").json().has("tls-products_v1")).isTrue();
    }

    @Test
    void theIndexMappingStepFailsAtOnceOnAnUnknownCa() throws Exception {
        IndexMappingFunction function = new IndexMappingFunction(
                connection(proxy.url(), "", null, apiKeyFile, null, true), new IndexNames("tlsfail-{table}"), "", "",
                30_000);
        try (OneInputStreamOperatorTestHarness<ChangeEvent, ChangeEvent> harness =
                ProcessFunctionTestHarnesses.forProcessFunction(function)) {
            long started = System.nanoTime();
            assertThatThrownBy(() -> harness.processElement(IndexMappingFunctionITCase.change("schema-0-insert"), 0))
                    .hasStackTraceContaining("its TLS certificate is not trusted");
            assertThat((System.nanoTime() - started) / 1_000_000_000).as("not retried for the 30 s limit").isLessThan(20);
        }
    }

    @Test
    void theCommandLinesClientVerifiesTheCertificateAndTheHostUnlessToldNotTo() throws Exception {
        String byAddress = "https://127.0.0.1:" + proxy.port();
        var verified = new io.cdcindexer.cli.ElasticsearchHttp(
                connection(proxy.url(), "indexer", passwordFile, null, certificates.caPem(), true));
        var wrongHost = new io.cdcindexer.cli.ElasticsearchHttp(
                connection(byAddress, "indexer", passwordFile, null, certificates.caPem(), true));
        var unknownCa = new io.cdcindexer.cli.ElasticsearchHttp(
                connection(proxy.url(), "indexer", passwordFile, null, null, true));
        var unverifiedHost = new io.cdcindexer.cli.ElasticsearchHttp(
                connection(byAddress, "indexer", passwordFile, null, certificates.caPem(), false));

        assertThat(verified.get("/").path("version").path("number").asText()).isEqualTo("7.10.2");
        assertThatThrownBy(() -> wrongHost.get("/"))
                .isInstanceOf(io.cdcindexer.cli.ElasticsearchHttp.TlsRefused.class)
                .hasMessageStartingWith("Elasticsearch at " + byAddress + ": its TLS certificate does not name the host");
        assertThatThrownBy(() -> unknownCa.get("/"))
                .hasMessageStartingWith("Elasticsearch at " + proxy.url() + ": its TLS certificate is not trusted")
                .hasMessageContaining("--elasticsearch-ca (ELASTICSEARCH_CA)");
        assertThat(unverifiedHost.get("/").path("version").path("number").asText()).isEqualTo("7.10.2");
        assertThatThrownBy(() -> wrongHost.get("/")).as("verification stays on for the other clients")
                .isInstanceOf(io.cdcindexer.cli.ElasticsearchHttp.TlsRefused.class);
    }

    private static String stackTrace(Throwable e) {
        java.io.StringWriter out = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(out));
        return out.toString();
    }
}
