package io.cdcindexer.elasticsearch;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
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
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;

/**
 * A proxy on loopback in front of a real Elasticsearch node that checks requests the way Elasticsearch's security
 * module does: a request without accepted credentials (basic auth or an API key) gets 401, and one to a refused action
 * (say, a role that may write but not read: {@code _mget}) 403, both with a {@code security_exception}; others are
 * forwarded as they are. With {@link #secure} it also terminates TLS with a real certificate chain, as an Elasticsearch
 * node with {@code xpack.security.http.ssl} does: the node we run from Maven has no security module (docs/security.md).
 */
public final class CredentialCheckingProxy implements AutoCloseable {

    private final HttpServer server;
    private final HttpClient client = HttpClient.newHttpClient();
    private final Set<String> accepted;
    private final String refusedPathSuffix;
    private final int targetPort;
    private final AtomicInteger forwarded = new AtomicInteger();
    private final AtomicInteger refused = new AtomicInteger();

    /** Requires these credentials on every request. */
    static CredentialCheckingProxy requiring(int targetPort, String user, String password) throws IOException {
        return new CredentialCheckingProxy(targetPort, Set.of(basic(user, password)), null, null);
    }

    /** Lets every request through but those whose path ends with {@code refusedPathSuffix} (403). */
    static CredentialCheckingProxy refusing(int targetPort, String refusedPathSuffix) throws IOException {
        return new CredentialCheckingProxy(targetPort, null, refusedPathSuffix, null);
    }

    /**
     * Serves HTTPS with the certificates' server certificate and requires one of these Authorization header values
     * ({@link #basic}, {@link #apiKey}).
     */
    public static CredentialCheckingProxy secure(int targetPort, TestCertificates certificates, String... authorizations)
            throws IOException {
        return new CredentialCheckingProxy(targetPort, Set.of(authorizations), null, certificates.serverContext());
    }

    /** The header value of basic authentication. */
    public static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** The header value of an API key ({@code encoded}, as Elasticsearch returns it). */
    public static String apiKey(String encoded) {
        return "ApiKey " + encoded;
    }

    private CredentialCheckingProxy(int targetPort, Set<String> accepted, String refusedPathSuffix, SSLContext tls)
            throws IOException {
        this.targetPort = targetPort;
        this.accepted = accepted;
        this.refusedPathSuffix = refusedPathSuffix;
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        if (tls == null) {
            this.server = HttpServer.create(address, 0);
        } else {
            HttpsServer https = HttpsServer.create(address, 0);
            https.setHttpsConfigurator(new HttpsConfigurator(tls));
            this.server = https;
        }
        server.setExecutor(Executors.newFixedThreadPool(8, runnable -> {
            Thread thread = new Thread(runnable, "credential-checking-proxy");
            thread.setDaemon(true);
            return thread;
        }));
        server.createContext("/", this::handle);
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    /** Its address by the name its certificate holds. */
    public String url() {
        return (server instanceof HttpsServer ? "https" : "http") + "://localhost:" + port();
    }

    /** Requests passed on to Elasticsearch. */
    public int forwarded() {
        return forwarded.get();
    }

    /** Requests refused for their credentials (401). */
    public int refused() {
        return refused.get();
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
            String authorization = exchange.getRequestHeaders().getFirst("Authorization");
            // Set.of(...).contains(null) throws: a request without credentials would lose its connection, not get 401.
            if (accepted != null && (authorization == null || !accepted.contains(authorization))) {
                exchange.getRequestBody().readAllBytes();
                refused.incrementAndGet();
                exchange.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\"");
                exchange.getResponseHeaders().add("WWW-Authenticate", "ApiKey");
                String reason = unauthenticated(exchange.getRequestHeaders().getFirst("Authorization"),
                        exchange.getRequestURI().getPath());
                respond(exchange, 401, "{\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":\""
                        + reason + "\"}],\"type\":\"security_exception\",\"reason\":\"" + reason + "\"},\"status\":401}");
                return;
            }
            forwarded.incrementAndGet();
            byte[] body = exchange.getRequestBody().readAllBytes();
            HttpRequest.Builder forward = HttpRequest.newBuilder(
                            URI.create("http://localhost:" + targetPort + exchange.getRequestURI()))
                    .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.ofByteArray(body));
            String contentType = exchange.getRequestHeaders().getFirst("Content-Type");
            if (contentType != null) {
                forward.header("Content-Type", contentType);
            }
            HttpResponse<String> response = client.send(forward.build(), HttpResponse.BodyHandlers.ofString());
            respond(exchange, response.statusCode(), exchange.getRequestMethod().equals("HEAD") ? "" : response.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // Elasticsearch's own reasons for a 401.
    private static String unauthenticated(String authorization, String path) {
        if (authorization == null) {
            return "missing authentication credentials for REST request [" + path + "]";
        }
        if (authorization.startsWith("Basic ")) {
            String user = new String(Base64.getDecoder().decode(authorization.substring(6)), StandardCharsets.UTF_8);
            return "unable to authenticate user [" + user.substring(0, Math.max(0, user.indexOf(':'))) + "] for REST request ["
                    + path + "]";
        }
        return "unable to authenticate with provided credentials and anonymous access is not allowed for this request";
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
