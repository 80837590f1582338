package io.cdcindexer.elasticsearch;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * An HTTP proxy on loopback in front of a real Elasticsearch node that checks requests the way Elasticsearch's security
 * module does: a request without the expected basic-auth credentials gets 401, and one to a refused action (say, a role
 * that may write but not read: {@code _mget}) 403, both with a {@code security_exception}; others are forwarded as they
 * are.
 */
final class CredentialCheckingProxy implements AutoCloseable {

    private final HttpServer server;
    private final HttpClient client = HttpClient.newHttpClient();
    private final String expected;
    private final String refusedPathSuffix;
    private final int targetPort;

    /** Requires these credentials on every request. */
    static CredentialCheckingProxy requiring(int targetPort, String user, String password) throws IOException {
        return new CredentialCheckingProxy(targetPort,
                "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8)), null);
    }

    /** Lets every request through but those whose path ends with {@code refusedPathSuffix} (403). */
    static CredentialCheckingProxy refusing(int targetPort, String refusedPathSuffix) throws IOException {
        return new CredentialCheckingProxy(targetPort, null, refusedPathSuffix);
    }

    private CredentialCheckingProxy(int targetPort, String expected, String refusedPathSuffix) throws IOException {
        this.targetPort = targetPort;
        this.expected = expected;
        this.refusedPathSuffix = refusedPathSuffix;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            if (refusedPathSuffix != null && exchange.getRequestURI().getPath().endsWith(refusedPathSuffix)) {
                exchange.getRequestBody().readAllBytes();
                respond(exchange, 403, "{\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":\"action "
                        + "[indices:data/read/mget] is unauthorized for user [indexer]\"}],\"type\":\"security_exception\","
                        + "\"reason\":\"action [indices:data/read/mget] is unauthorized for user [indexer]\"},\"status\":403}");
                return;
            }
            if (expected != null && !expected.equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                respond(exchange, 401, "{\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":\"missing "
                        + "authentication credentials for REST request\"}],\"type\":\"security_exception\",\"reason\":"
                        + "\"missing authentication credentials for REST request\"},\"status\":401}");
                return;
            }
            byte[] body = exchange.getRequestBody().readAllBytes();
            HttpRequest.Builder forward = HttpRequest.newBuilder(
                            URI.create("http://localhost:" + targetPort + exchange.getRequestURI()))
                    .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.ofByteArray(body));
            String contentType = exchange.getRequestHeaders().getFirst("Content-Type");
            if (contentType != null) {
                forward.header("Content-Type", contentType);
            }
            HttpResponse<String> response = client.send(forward.build(), HttpResponse.BodyHandlers.ofString());
            respond(exchange, response.statusCode(), response.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
