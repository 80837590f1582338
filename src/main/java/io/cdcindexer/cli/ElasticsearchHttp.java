package io.cdcindexer.cli;

import io.cdcindexer.elasticsearch.ElasticsearchConnection;
import io.cdcindexer.stack.Http;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import javax.net.ssl.SSLContext;

/** A small Elasticsearch REST client on java.net.http and Jackson: just what the CLI commands need. */
public final class ElasticsearchHttp {

    /** A non-2xx answer from Elasticsearch. */
    public static final class ErrorResponse extends CliException {
        private static final long serialVersionUID = 1L;
        private final int status;

        ErrorResponse(String request, int status, String body) {
            this("Elasticsearch answered " + status + " to " + request + ": " + abbreviate(body, 500), status);
        }

        private ErrorResponse(String message, int status) {
            super(message);
            this.status = status;
        }

        /** A 401 or 403, in one line naming the cause and what to check. */
        static ErrorResponse refused(String baseUrl, String request, int status, String body) {
            if (body != null && body.contains("\"cluster_block_exception\"")) {
                // A read-only cluster or index, or the disk flood stage: no privilege is missing.
                return new ErrorResponse(request, status, body);
            }
            String reason = abbreviate(reasonIn(body), 300);
            return new ErrorResponse(status == 401
                    ? "Elasticsearch at " + baseUrl + " refused the credentials (401): " + reason + ". Check "
                            + "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD, or ELASTICSEARCH_API_KEY (or their "
                            + "--elasticsearch-*-file flags)"
                    : "Elasticsearch at " + baseUrl + " refused " + request + " (403): " + reason + ". The user's "
                            + "role lacks a privilege (docs/security.md)", status);
        }

        private static String reasonIn(String body) {
            try {
                JsonNode reason = Json.parse(body, "Elasticsearch's answer").path("error").path("reason");
                return reason.isTextual() ? reason.asText() : body;
            } catch (RuntimeException notJson) {
                return body;
            }
        }

        public int status() {
            return status;
        }
    }

    /** Elasticsearch did not answer at all: nothing listens, or the connection broke or timed out. */
    public static final class Unreachable extends CliException {
        private static final long serialVersionUID = 1L;
        private final String problem;

        Unreachable(String baseUrl, String problem, Throwable cause) {
            super("Cannot reach Elasticsearch at " + baseUrl + " (" + problem + "). Is it running? (./cdc status)", cause);
            this.problem = problem;
        }

        /** What happened, in a few words (e.g. Connection refused). */
        public String problem() {
            return problem;
        }
    }

    /** The TLS handshake failed for good: an untrusted certificate, or one for another host. */
    public static final class TlsRefused extends CliException {
        private static final long serialVersionUID = 1L;

        TlsRefused(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final String baseUrl;
    private final HttpClient http;
    /** The Authorization header's value, or null. */
    private final String authorization;

    /** Plain HTTP(S) with the JVM's trusted CAs and no credentials (the local stack). */
    public ElasticsearchHttp(String baseUrl) {
        this(ElasticsearchConnection.plain(List.of(baseUrl)), name -> null);
    }

    /** With the connection's credentials (read now, from a file or the environment) and CA. */
    public ElasticsearchHttp(ElasticsearchConnection connection) {
        this(connection, System::getenv);
    }

    private ElasticsearchHttp(ElasticsearchConnection connection, java.util.function.UnaryOperator<String> environment) {
        String url = connection.hosts().get(0);
        this.baseUrl = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        try {
            this.authorization = connection.authorization(environment).orElse(null);
            SSLContext tls = connection.sslContext(); // with hostname verification off, for this client alone
            this.http = tls == null ? Http.CLIENT : HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(2))
                    .sslContext(tls)
                    .build();
        } catch (IOException e) {
            throw new CliException(e.getMessage(), e);
        }
    }

    public String baseUrl() {
        return baseUrl;
    }

    /** The URL of one document, as a user would paste it into curl or a browser. */
    public String documentUrl(String index, String id) {
        return baseUrl + "/" + index + "/_doc/" + encode(id);
    }

    public JsonNode get(String path) {
        return send("GET", path, null, "application/json");
    }

    /** GET with a shorter deadline than the default minute (probes). */
    public JsonNode get(String path, Duration timeout) {
        return send("GET", path, null, "application/json", timeout);
    }

    /** GET that treats 404 (no such index or document) as an empty answer. */
    public Optional<JsonNode> getIfExists(String path) {
        try {
            return Optional.of(get(path));
        } catch (ErrorResponse e) {
            if (e.status() == 404) {
                return Optional.empty();
            }
            throw e;
        }
    }

    public JsonNode post(String path, JsonNode body) {
        return send("POST", path, Json.compact(body), "application/json");
    }

    public JsonNode put(String path, JsonNode body) {
        return send("PUT", path, Json.compact(body), "application/json");
    }

    public JsonNode delete(String path) {
        return send("DELETE", path, null, "application/json");
    }

    /** Sends a bulk request (newline-delimited JSON) and fails if any item failed. */
    public JsonNode bulk(String ndjson) {
        JsonNode response = send("POST", "/_bulk", ndjson, "application/x-ndjson");
        if (response.path("errors").asBoolean()) {
            for (JsonNode item : response.path("items")) {
                JsonNode result = item.elements().next();
                if (result.has("error")) {
                    throw new CliException("Bulk item failed: " + Json.compact(result));
                }
            }
        }
        return response;
    }

    /** Open indices whose name matches a pattern such as {@code cdc.*}, sorted by name. */
    public List<String> indices(String pattern) {
        JsonNode rows = get("/_cat/indices/" + encode(pattern) + "?format=json&h=index&s=index&expand_wildcards=open");
        List<String> names = new ArrayList<>();
        rows.forEach(row -> names.add(row.path("index").asText()));
        return names;
    }

    /** Number of primary shards of an index. */
    public int shardCount(String index) {
        JsonNode settings = get("/" + encode(index) + "/_settings/index.number_of_shards");
        return settings.path(index).path("settings").path("index").path("number_of_shards").asInt(1);
    }

    /** Documents in an index as of its last refresh; 0 if the index does not exist. */
    public long count(String index) {
        return getIfExists("/" + encode(index) + "/_count").map(r -> r.path("count").asLong()).orElse(0L);
    }

    public void refresh(String index) {
        send("POST", "/" + encode(index) + "/_refresh", null, "application/json");
    }

    /**
     * Iterates over every hit of a search with the scroll API, page by page, so that only one page is in memory. The
     * scroll is a consistent view of the index as of its start. Close it to free the server-side context early.
     */
    public Scroll scroll(String index, ObjectNode search, int pageSize) {
        return new Scroll(index, search, pageSize);
    }

    /** The hits of one scrolled search; see {@link #scroll}. */
    public final class Scroll implements Iterator<JsonNode>, AutoCloseable {
        private static final String KEEP_ALIVE = "2m";
        private String scrollId;
        private Iterator<JsonNode> page;
        private boolean exhausted;

        private Scroll(String index, ObjectNode search, int pageSize) {
            search.put("size", pageSize);
            Optional<JsonNode> first = sendIfExists("POST",
                    "/" + encode(index) + "/_search?scroll=" + KEEP_ALIVE, Json.compact(search));
            if (first.isEmpty()) {
                exhausted = true;
                page = List.<JsonNode>of().iterator();
            } else {
                accept(first.get());
            }
        }

        private void accept(JsonNode response) {
            scrollId = response.path("_scroll_id").asText(null);
            JsonNode hits = response.path("hits").path("hits");
            exhausted = hits.size() == 0;
            page = hits.iterator();
        }

        @Override
        public boolean hasNext() {
            if (page.hasNext()) {
                return true;
            }
            if (exhausted || scrollId == null) {
                return false;
            }
            ObjectNode next = Json.object().put("scroll", KEEP_ALIVE).put("scroll_id", scrollId);
            accept(post("/_search/scroll", next));
            return page.hasNext();
        }

        @Override
        public JsonNode next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return page.next();
        }

        @Override
        public void close() {
            if (scrollId != null) {
                ObjectNode body = Json.object();
                body.putArray("scroll_id").add(scrollId);
                send("DELETE", "/_search/scroll", Json.compact(body), "application/json");
                scrollId = null;
            }
        }
    }

    private Optional<JsonNode> sendIfExists(String method, String path, String body) {
        try {
            return Optional.of(send(method, path, body, "application/json"));
        } catch (ErrorResponse e) {
            if (e.status() == 404) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private JsonNode send(String method, String path, String body, String contentType) {
        return send(method, path, body, contentType, Duration.ofSeconds(60));
    }

    private JsonNode send(String method, String path, String body, String contentType, Duration timeout) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(timeout)
                .header("Accept", "application/json");
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        if (body == null) {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            request.header("Content-Type", contentType)
                    .method(method, HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            var tls = ElasticsearchConnection.tlsProblem(baseUrl, e, "--elasticsearch-ca (ELASTICSEARCH_CA)",
                    "--elasticsearch-verify-hostname false");
            if (tls.isPresent()) {
                throw new TlsRefused(tls.get(), e);
            }
            throw new Unreachable(baseUrl, unreachable(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("Interrupted while waiting for Elasticsearch", e);
        }
        if (response.statusCode() == 401 || response.statusCode() == 403) {
            throw ErrorResponse.refused(baseUrl, method + " " + path, response.statusCode(), response.body());
        }
        if (response.statusCode() / 100 != 2) {
            throw new ErrorResponse(method + " " + path, response.statusCode(), response.body());
        }
        return response.body().isEmpty() ? Json.object() : Json.parse(response.body(), "Elasticsearch's answer");
    }

    /** Why a service's HTTP API did not answer, in a few words (the JDK names a refused connection by its class). */
    static String unreachable(IOException e) {
        return e instanceof java.net.ConnectException && e.getMessage() == null ? "connection refused" : describe(e);
    }

    static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
    }

    static String encode(String pathPart) {
        return URLEncoder.encode(pathPart, StandardCharsets.UTF_8).replace("+", "%20").replace("%2A", "*")
                .replace("%2C", ",");
    }

    static String abbreviate(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max) + "...";
    }
}
