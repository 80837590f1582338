package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.cdcindexer.stack.Http;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A stand-in for the part of Flink's REST API that {@link FlinkRest} uses, answering in Flink 1.20's shapes, for the
 * decisions of {@link SubmitCommand} and {@link JobStop} and what {@link StatusCommand} reports. Jobs, their checkpoint
 * statistics, whether a savepoint succeeds, their restarts, exceptions and operator metrics are set by the test; every
 * request is recorded.
 */
final class FakeFlinkRest implements AutoCloseable {

    /** One job: its state, whether stop-with-savepoint succeeds, and its {@code latest} checkpoint statistics. */
    static final class FakeJob {
        final String id;
        final String name;
        String state;
        final long startTime;
        String savepointFailure;
        boolean savepointNeverCompletes;
        boolean deleteOnCancellation;
        final ArrayNode history = Http.JSON.createArrayNode();
        final ObjectNode latest = Http.JSON.createObjectNode();
        /** The {@code numRestarts} job metric; null: not reported (yet). */
        Long restarts;
        /** The exception history, newest first: each entry's timestamp and stack trace. */
        final List<ObjectNode> exceptions = new ArrayList<>();
        /** Per vertex (id → name), and per vertex the subtask metrics by id as Flink names them (summed over subtasks). */
        final Map<String, String> vertices = new LinkedHashMap<>();
        final Map<String, Map<String, Double>> vertexMetrics = new LinkedHashMap<>();
        /** Per vertex, metrics given per subtask: answered with min, max, avg and sum. */
        final Map<String, Map<String, double[]>> subtaskMetrics = new LinkedHashMap<>();
        long checkpointInterval = 10_000;

        FakeJob(String id, String name, String state, long startTime) {
            this.id = id;
            this.name = name;
            this.state = state;
            this.startTime = startTime;
            latest.putNull("completed");
            latest.putNull("savepoint");
            latest.putNull("failed");
            latest.putNull("restored");
        }

        /** Stop-with-savepoint fails with this reason (as when not all tasks run, or Elasticsearch is down). */
        FakeJob savepointFails(String reason) {
            savepointFailure = reason;
            return this;
        }

        /** Stop-with-savepoint stays under way, as it does while the job cannot write out what it holds. */
        FakeJob savepointNeverCompletes() {
            savepointNeverCompletes = true;
            return this;
        }

        /** The cluster deletes the job's checkpoints when it is canceled (retention DELETE_ON_CANCELLATION). */
        FakeJob deletesCheckpointsOnCancel() {
            deleteOnCancellation = true;
            return this;
        }

        /** A checkpoint or savepoint under way, as {@code /jobs/{id}/checkpoints} lists it in its history. */
        FakeJob inProgress(long id, boolean savepoint, int acknowledged, int subtasks) {
            history.addObject().put("className", "in_progress").put("id", id).put("status", "IN_PROGRESS")
                    .put("is_savepoint", savepoint).put("num_subtasks", subtasks)
                    .put("num_acknowledged_subtasks", acknowledged);
            return this;
        }

        FakeJob completedCheckpoint(long id, String path) {
            latest.set("completed", snapshot(id, false, path));
            return this;
        }

        /** A completed checkpoint acknowledged at {@code ackTime} (what status reads for "last checkpoint"). */
        FakeJob completedCheckpointAt(long id, long ackTime) {
            ObjectNode completed = snapshot(id, false, "file:/checkpoints/" + this.id + "/chk-" + id);
            completed.put("latest_ack_timestamp", ackTime);
            latest.set("completed", completed);
            return this;
        }

        FakeJob restarts(long n) {
            restarts = n;
            return this;
        }

        /** One more failure, newest first, as the exception history has it. */
        FakeJob failed(long timestamp, String stackTrace) {
            ObjectNode entry = Http.JSON.createObjectNode();
            entry.put("exceptionName", stackTrace.lines().findFirst().orElse(""))
                    .put("stacktrace", stackTrace).put("timestamp", timestamp)
                    .put("taskName", "Elasticsearch: Writer (1/2)");
            exceptions.add(0, entry);
            return this;
        }

        /** A vertex reporting subtask metrics (ids as Flink forms them: {@code <operator>.<metric>}), summed. */
        FakeJob vertex(String vertexId, String name, Map<String, Double> metrics) {
            vertices.put(vertexId, name);
            vertexMetrics.put(vertexId, new LinkedHashMap<>(metrics));
            return this;
        }

        /** A vertex reporting subtask metrics, a value per subtask (NaN: a histogram without values yet). */
        FakeJob vertexSubtasks(String vertexId, String name, Map<String, double[]> metrics) {
            vertices.put(vertexId, name);
            vertexMetrics.put(vertexId, new LinkedHashMap<>());
            subtaskMetrics.put(vertexId, new LinkedHashMap<>(metrics));
            metrics.forEach((id, values) -> vertexMetrics.get(vertexId).put(id, java.util.Arrays.stream(values).sum()));
            return this;
        }

        FakeJob savepoint(long id, String path) {
            latest.set("savepoint", snapshot(id, true, path));
            return this;
        }

        FakeJob restoredFrom(long id, String path) {
            ObjectNode restored = Http.JSON.createObjectNode();
            restored.put("id", id).put("restore_timestamp", 1L).put("is_savepoint", true).put("external_path", path);
            latest.set("restored", restored);
            return this;
        }

        private static ObjectNode snapshot(long id, boolean savepoint, String path) {
            ObjectNode node = Http.JSON.createObjectNode();
            node.put("className", "completed").put("id", id).put("status", "COMPLETED").put("is_savepoint", savepoint)
                    .put("external_path", path).put("discarded", false);
            return node;
        }
    }

    /** A request as the fake saw it. */
    record Request(String method, String path, String body) {
        JsonNode json() {
            try {
                return Http.JSON.readTree(body);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    final Map<String, FakeJob> jobs = new LinkedHashMap<>();
    final List<Request> requests = new ArrayList<>();
    /** When set, POST /jars/{id}/run with a savepointPath answers 500 with this message. */
    String runFromStateFailure;
    /** With {@link #runFromStateFailure}: a run that allows non-restored state starts all the same, as Flink's does. */
    boolean failureSkippedByNonRestoredState;
    private final HttpServer server;
    private int submitted;

    FakeFlinkRest() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    String url() {
        return "http://localhost:" + server.getAddress().getPort();
    }

    FakeJob job(String id, String state, long startTime) {
        FakeJob job = new FakeJob(id, "cdc-indexer", state, startTime);
        jobs.put(id, job);
        return job;
    }

    synchronized List<Request> requests(String method, String pathPrefix) {
        return requests.stream().filter(r -> r.method().equals(method) && r.path().startsWith(pathPrefix)).toList();
    }

    /** The bodies of every POST /jars/{id}/run. */
    List<JsonNode> runs() {
        return requests("POST", "/jars/").stream().filter(r -> r.path().endsWith("/run")).map(Request::json).toList();
    }

    private synchronized void handle(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getPath();
        String query = exchange.getRequestURI().getQuery();
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        requests.add(new Request(method, path + (query == null ? "" : "?" + query), body));
        String[] parts = path.substring(1).split("/");
        try {
            if (method.equals("POST") && path.equals("/jars/upload")) {
                answer(exchange, 200, "{\"filename\":\"/tmp/flink-web-upload/abc_cdc-indexer-job.jar\",\"status\":\"success\"}");
            } else if (method.equals("POST") && parts[0].equals("jars") && path.endsWith("/run")) {
                JsonNode run = Http.JSON.readTree(body);
                if (runFromStateFailure != null && run.has("savepointPath")
                        && !(failureSkippedByNonRestoredState && run.path("allowNonRestoredState").asBoolean())) {
                    answer(exchange, 500, "{\"errors\":[\"" + runFromStateFailure + "\"]}");
                } else {
                    String id = "new-job-" + (++submitted);
                    job(id, "RUNNING", 1_000_000L + submitted);
                    answer(exchange, 200, "{\"jobid\":\"" + id + "\"}");
                }
            } else if (method.equals("DELETE") && parts[0].equals("jars")) {
                answer(exchange, 200, "{}");
            } else if (method.equals("GET") && path.equals("/jobmanager/config")) {
                answer(exchange, 200, "[{\"key\":\"parallelism.default\",\"value\":\"2\"}]");
            } else if (method.equals("GET") && path.equals("/overview")) {
                answer(exchange, 200, "{\"taskmanagers\":2,\"slots-total\":4,\"slots-available\":1,"
                        + "\"jobs-running\":1,\"flink-version\":\"1.20.5\"}");
            } else if (method.equals("GET") && path.equals("/jobs/overview")) {
                ObjectNode overview = Http.JSON.createObjectNode();
                ArrayNode list = overview.putArray("jobs");
                jobs.values().forEach(job -> list.addObject().put("jid", job.id).put("name", job.name)
                        .put("state", job.state).put("start-time", job.startTime));
                answer(exchange, 200, overview.toString());
            } else if (parts[0].equals("jobs") && jobs.containsKey(parts[1])) {
                handleJob(exchange, method, parts, query, jobs.get(parts[1]));
            } else {
                answer(exchange, 404, "{\"errors\":[\"Not found: " + path + "\"]}");
            }
        } catch (RuntimeException e) {
            answer(exchange, 500, "{\"errors\":[\"fake: " + e + "\"]}");
        }
    }

    private void handleJob(HttpExchange exchange, String method, String[] parts, String query, FakeJob job)
            throws IOException {
        if (parts.length == 2 && method.equals("PATCH") && "mode=cancel".equals(query)) {
            job.state = "CANCELED";
            answer(exchange, 202, "{}");
        } else if (parts.length == 2 && method.equals("GET")) {
            ObjectNode details = Http.JSON.createObjectNode();
            details.put("jid", job.id).put("name", job.name).put("state", job.state).put("start-time", job.startTime);
            ArrayNode vertices = details.putArray("vertices");
            job.vertices.forEach((id, name) -> vertices.addObject().put("id", id).put("name", name).put("status", job.state));
            answer(exchange, 200, details.toString());
        } else if (parts.length == 3 && parts[2].equals("exceptions") && method.equals("GET")) {
            ObjectNode exceptions = Http.JSON.createObjectNode();
            ObjectNode history = exceptions.putObject("exceptionHistory");
            ArrayNode entries = history.putArray("entries");
            int max = query != null && query.startsWith("maxExceptions=")
                    ? Integer.parseInt(query.substring("maxExceptions=".length())) : job.exceptions.size();
            job.exceptions.stream().limit(max).forEach(entries::add);
            history.put("truncated", job.exceptions.size() > max);
            answer(exchange, 200, exceptions.toString());
        } else if (parts.length == 3 && parts[2].equals("metrics") && method.equals("GET")) {
            ArrayNode metrics = Http.JSON.createArrayNode();
            if (job.restarts != null && query != null && query.contains("numRestarts")) {
                metrics.addObject().put("id", "numRestarts").put("value", job.restarts.toString());
            }
            answer(exchange, 200, metrics.toString());
        } else if (parts.length == 4 && parts[2].equals("checkpoints") && parts[3].equals("config")) {
            ObjectNode config = Http.JSON.createObjectNode();
            config.put("mode", "exactly_once").put("interval", job.checkpointInterval).put("timeout", 300_000);
            config.putObject("externalization").put("enabled", true)
                    .put("delete_on_cancellation", job.deleteOnCancellation);
            answer(exchange, 200, config.toString());
        } else if (parts.length == 6 && parts[2].equals("vertices") && parts[4].equals("subtasks")
                && parts[5].equals("metrics") && job.vertexMetrics.containsKey(parts[3])) {
            Map<String, Double> metrics = job.vertexMetrics.get(parts[3]);
            ArrayNode answer = Http.JSON.createArrayNode();
            String get = query == null ? null : queryParameter(exchange, "get");
            if (get == null) {
                metrics.keySet().forEach(id -> answer.addObject().put("id", id));
            } else {
                double[] none = null;
                for (String id : get.split(",")) {
                    double[] values = job.subtaskMetrics.getOrDefault(parts[3], Map.of()).getOrDefault(id, none);
                    if (values != null) {
                        // As Flink aggregates: over the subtasks' values, NaN included.
                        java.util.DoubleSummaryStatistics stats = java.util.Arrays.stream(values).summaryStatistics();
                        ObjectNode entry = answer.addObject().put("id", id);
                        put(entry, "min", stats.getMin());
                        put(entry, "max", stats.getMax());
                        put(entry, "avg", stats.getAverage());
                        put(entry, "sum", stats.getSum());
                    } else if (metrics.containsKey(id)) {
                        answer.addObject().put("id", id).put("sum", metrics.get(id));
                    }
                }
            }
            answer(exchange, 200, answer.toString());
        } else if (parts.length == 3 && parts[2].equals("stop") && method.equals("POST")) {
            answer(exchange, 202, "{\"request-id\":\"stop-" + job.id + "\"}");
        } else if (parts.length == 4 && parts[2].equals("savepoints")) {
            ObjectNode status = Http.JSON.createObjectNode();
            status.putObject("status").put("id", job.savepointNeverCompletes ? "IN_PROGRESS" : "COMPLETED");
            if (job.savepointNeverCompletes) {
                status.putNull("operation");
            } else if (job.savepointFailure != null) {
                status.putObject("operation").putObject("failure-cause")
                        .put("class", "java.util.concurrent.CompletionException")
                        .put("stack-trace", job.savepointFailure + "\n\tat somewhere");
            } else {
                String location = "file:/savepoints/savepoint-" + job.id;
                status.putObject("operation").put("location", location);
                job.state = "FINISHED";
                job.savepoint(99, location);
            }
            answer(exchange, 200, status.toString());
        } else if (parts.length == 3 && parts[2].equals("checkpoints") && method.equals("GET")) {
            ObjectNode checkpoints = Http.JSON.createObjectNode();
            checkpoints.putObject("counts");
            checkpoints.set("latest", job.latest);
            checkpoints.set("history", job.history);
            answer(exchange, 200, checkpoints.toString());
        } else {
            answer(exchange, 404, "{\"errors\":[\"Not found\"]}");
        }
    }

    // Flink's REST API writes a NaN aggregate as the string "NaN" (JSON has no NaN), other values as numbers.
    private static void put(ObjectNode entry, String field, double value) {
        if (Double.isNaN(value)) {
            entry.put(field, "NaN");
        } else {
            entry.put(field, value);
        }
    }

    /** A query parameter, decoded as Flink's REST server decodes it. */
    private static String queryParameter(HttpExchange exchange, String name) {
        for (String pair : exchange.getRequestURI().getRawQuery().split("&")) {
            int equals = pair.indexOf('=');
            if (equals > 0 && pair.substring(0, equals).equals(name)) {
                return java.net.URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    private static void answer(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
