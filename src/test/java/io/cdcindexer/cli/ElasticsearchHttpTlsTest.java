package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.cdcindexer.elasticsearch.ElasticsearchConnection;
import io.cdcindexer.elasticsearch.TestCertificates;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's TLS trust against a real HTTPS server on loopback whose certificate names {@code localhost} only, reached
 * as {@code 127.0.0.1}: turning hostname verification off is a setting of one client, not of the JVM.
 */
class ElasticsearchHttpTlsTest {

    @TempDir
    static Path dir;

    private static HttpsServer server;
    private static TestCertificates certificates;

    @BeforeAll
    static void start() throws Exception {
        certificates = TestCertificates.make(dir.resolve("certs"));
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(certificates.serverContext()));
        server.createContext("/", exchange -> {
            byte[] body = "{\"tagline\":\"You Know, for Search\"}".getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    private static ElasticsearchHttp client(boolean verifyHostname) {
        return new ElasticsearchHttp(new ElasticsearchConnection(
                List.of("https://127.0.0.1:" + server.getAddress().getPort()), "", "", "",
                certificates.caPem().toString(), verifyHostname));
    }

    // Finding 1: jdk.internal.httpclient.disableHostnameVerification is read once per JVM (a static final in the JDK's
    // client): set by one client it either comes too late (no effect) or turns verification off for every later one.
    @Test
    void hostnameVerificationOffIsOneClientsSettingAndWorks() {
        assertThatThrownBy(() -> client(true).get("/"))
                .as("verifying: the certificate names localhost, not 127.0.0.1")
                .isInstanceOf(ElasticsearchHttp.TlsRefused.class)
                .hasMessageContaining("does not name the host");

        assertThat(client(false).get("/").path("tagline").asText())
                .as("--elasticsearch-verify-hostname false reaches the server").isEqualTo("You Know, for Search");

        assertThatThrownBy(() -> client(true).get("/"))
                .as("a client that verifies, made after one that does not, still verifies")
                .isInstanceOf(ElasticsearchHttp.TlsRefused.class)
                .hasMessageContaining("does not name the host");
    }
}
