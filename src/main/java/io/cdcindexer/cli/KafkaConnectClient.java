package io.cdcindexer.cli;

import io.cdcindexer.stack.Http;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Kafka Connect's REST API, as far as registering a connector and following its state go. */
public final class KafkaConnectClient {

    /** A connector configuration file: {@code {"name": ..., "config": {...}}}. */
    public record ConnectorConfig(String name, JsonNode config) {

        /** Reads and checks a configuration file. */
        public static ConnectorConfig read(Path file) {
            if (!Files.isRegularFile(file)) {
                throw new CliException("No connector configuration at " + file);
            }
            JsonNode json;
            try {
                json = Json.parse(Files.readString(file), file.toString());
            } catch (IOException e) {
                throw new CliException("Cannot read " + file + ": " + e.getMessage(), e);
            }
            String name = json.path("name").asText("");
            if (name.isBlank() || !json.path("config").isObject()
                    || !json.path("config").hasNonNull("connector.class")) {
                throw new CliException(file + " is no connector configuration: it needs \"name\" and a \"config\" "
                        + "object with \"connector.class\"");
            }
            return new ConnectorConfig(name, json.get("config"));
        }
    }

    /** One state in a connector's status: the connector's own, or one task's. */
    public record State(String what, String state, String workerId, String trace) {}

    /** The connector and its tasks, as {@code GET /connectors/<name>/status} reports them. */
    public record Status(State connector, List<State> tasks) {

        static Status of(JsonNode json) {
            JsonNode c = json.path("connector");
            State connector = new State("connector", c.path("state").asText("UNKNOWN"), c.path("worker_id").asText(""),
                    c.path("trace").asText(null));
            List<State> tasks = new ArrayList<>();
            for (JsonNode task : json.path("tasks")) {
                tasks.add(new State("task " + task.path("id").asText(), task.path("state").asText("UNKNOWN"),
                        task.path("worker_id").asText(""), task.path("trace").asText(null)));
            }
            return new Status(connector, tasks);
        }

        /** The connector and at least one task run, and no task does anything else. */
        public boolean running() {
            return connector.state().equals("RUNNING") && !tasks.isEmpty()
                    && tasks.stream().allMatch(task -> task.state().equals("RUNNING"));
        }

        /** The first failed part, if any: waiting longer will not help then. */
        public Optional<State> failure() {
            if (connector.state().equals("FAILED")) {
                return Optional.of(connector);
            }
            return tasks.stream().filter(task -> task.state().equals("FAILED")).findFirst();
        }

        /** One line: {@code connector RUNNING, task 0 RUNNING}. */
        public String summary() {
            StringBuilder line = new StringBuilder("connector " + connector.state());
            tasks.forEach(task -> line.append(", ").append(task.what()).append(' ').append(task.state()));
            if (tasks.isEmpty()) {
                line.append(", no task yet");
            }
            return line.toString();
        }
    }

    private final String baseUrl;
    private final HttpClient http = Http.CLIENT;

    public KafkaConnectClient(String baseUrl) {
        this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    }

    /** Creates or updates a connector; true if it was created. */
    public boolean putConfig(ConnectorConfig connector) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/connectors/" + connector.name() + "/config"))
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(Json.compact(connector.config()), StandardCharsets.UTF_8)));
        if (response.statusCode() / 100 != 2) {
            throw new CliException("Kafka Connect refused the configuration of " + connector.name() + " ("
                    + response.statusCode() + "): " + errorMessage(response.body()));
        }
        return response.statusCode() == 201;
    }

    /** The connector's status; empty while the worker does not know it (yet). */
    public Optional<Status> status(String name) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/connectors/" + name + "/status")).GET());
        if (response.statusCode() == 404) {
            return Optional.empty();
        }
        if (response.statusCode() / 100 != 2) {
            throw new CliException("Kafka Connect answered " + response.statusCode() + " for the status of " + name
                    + ": " + errorMessage(response.body()));
        }
        return Optional.of(Status.of(Json.parse(response.body(), "connector status")));
    }

    private URI uri(String path) {
        return URI.create(baseUrl + path);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return http.send(request.timeout(Duration.ofSeconds(30)).header("Accept", "application/json").build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new CliException("Cannot reach Kafka Connect at " + baseUrl + " (" + ElasticsearchHttp.describe(e)
                    + "). Is it running? (./cdc status)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("Interrupted while waiting for Kafka Connect", e);
        }
    }

    /** Connect's errors are {@code {"error_code":400,"message":"..."}}; anything else is shown as it is. */
    static String errorMessage(String body) {
        try {
            JsonNode json = Json.MAPPER.readTree(body);
            if (json != null && json.hasNonNull("message")) {
                return json.get("message").asText();
            }
        } catch (IOException e) {
            // not JSON: fall through
        }
        return ElasticsearchHttp.abbreviate(body, 1_000);
    }
}
