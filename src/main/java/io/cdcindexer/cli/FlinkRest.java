package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cdcindexer.stack.Http;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The part of Flink's REST API the CLI uses: jobs and their checkpoints, jar upload and run, stop with a savepoint. */
final class FlinkRest {

    /** Job states in which a job still holds (or will hold) slots: anything but finished, canceled or failed. */
    private static final Set<String> LIVE_STATES =
            Set.of("INITIALIZING", "CREATED", "RUNNING", "RESTARTING", "FAILING", "CANCELLING", "RECONCILING", "SUSPENDED");

    private final String url;

    FlinkRest(String url) {
        this.url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    String url() {
        return url;
    }

    /** One job as {@code /jobs/overview} lists it. */
    record Job(String id, String name, String state) {}

    /** GET /overview: TaskManagers, slots, version. */
    JsonNode overview() throws IOException, InterruptedException {
        return get("/overview");
    }

    /** The live job with this name, if any (the newest, should there be several). */
    Optional<Job> liveJob(String name) throws IOException, InterruptedException {
        Job found = null;
        long newest = Long.MIN_VALUE;
        for (JsonNode job : get("/jobs/overview").path("jobs")) {
            if (job.path("name").asText().equals(name) && LIVE_STATES.contains(job.path("state").asText())
                    && job.path("start-time").asLong() > newest) {
                newest = job.path("start-time").asLong();
                found = new Job(job.path("jid").asText(), name, job.path("state").asText());
            }
        }
        return Optional.ofNullable(found);
    }

    /** The jobs with this name that are no longer live (finished, canceled or failed), newest first. */
    List<Job> earlierJobs(String name) throws IOException, InterruptedException {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode job : get("/jobs/overview").path("jobs")) {
            if (job.path("name").asText().equals(name) && !LIVE_STATES.contains(job.path("state").asText())) {
                found.add(job);
            }
        }
        found.sort(Comparator.comparingLong((JsonNode job) -> job.path("start-time").asLong()).reversed());
        return found.stream().map(job -> new Job(job.path("jid").asText(), name, job.path("state").asText())).toList();
    }

    /** A savepoint or retained checkpoint a job can start from: its path and what it is, in words. */
    record State(String path, String description) {}

    /**
     * The newest state of a job to start its successor from: its latest savepoint or completed checkpoint, whichever
     * came later, or else the state it was itself started from (having completed no checkpoint, it committed no
     * offsets since). Empty when the job has neither.
     */
    Optional<State> latestState(String jobId) throws IOException, InterruptedException {
        JsonNode latest = checkpoints(jobId).path("latest");
        JsonNode newest = null;
        for (String kind : List.of("completed", "savepoint")) {
            JsonNode snapshot = latest.path(kind);
            if (snapshot.hasNonNull("external_path") && !snapshot.path("discarded").asBoolean(false)
                    && (newest == null || snapshot.path("id").asLong() > newest.path("id").asLong())) {
                newest = snapshot;
            }
        }
        if (newest != null) {
            return Optional.of(new State(newest.path("external_path").asText(),
                    (newest.path("is_savepoint").asBoolean() ? "savepoint " : "retained checkpoint ")
                            + newest.path("id").asLong() + " of job " + jobId));
        }
        JsonNode restored = latest.path("restored");
        if (restored.hasNonNull("external_path")) {
            return Optional.of(new State(restored.path("external_path").asText(),
                    "the state job " + jobId + " started from (it completed no checkpoint since)"));
        }
        return Optional.empty();
    }

    /** GET /jobs/{id}/exceptions: the job's most recent failure, in {@code exceptionHistory.entries[0]}. */
    JsonNode exceptions(String jobId) throws IOException, InterruptedException {
        return get("/jobs/" + jobId + "/exceptions?maxExceptions=1");
    }

    /** GET /jobs/{id}: the job's state and its vertices (each with its id and name). */
    JsonNode job(String jobId) throws IOException, InterruptedException {
        return get("/jobs/" + jobId);
    }

    /** A job-level metric (GET /jobs/{id}/metrics?get=...), e.g. {@code numRestarts}; empty when not reported (yet). */
    Optional<Double> jobMetric(String jobId, String metric) throws IOException, InterruptedException {
        for (JsonNode entry : get("/jobs/" + jobId + "/metrics?get=" + encode(metric))) {
            if (entry.path("id").asText().equals(metric)) {
                return number(entry.path("value"));
            }
        }
        return Optional.empty();
    }

    /**
     * An operator metric summed over every subtask of every vertex that reports it: Flink names operator metrics
     * {@code <operator>.<metric>}, so each vertex's list of metrics (GET /jobs/{id}/vertices/{vid}/subtasks/metrics) is
     * searched for the name, then the matches are read with {@code agg=sum}. Empty when no vertex reports it (yet).
     */
    Optional<Double> operatorMetricSum(String jobId, String metric) throws IOException, InterruptedException {
        return operatorMetric(jobId, metric, "sum");
    }

    /**
     * The largest value of an operator metric over every subtask that reports it ({@code agg=max}), e.g. the worst
     * subtask's {@code commitToAcknowledgedMs_p99}. Empty when no vertex reports it (yet).
     */
    Optional<Double> operatorMetricMax(String jobId, String metric) throws IOException, InterruptedException {
        return operatorMetric(jobId, metric, "max");
    }

    private Optional<Double> operatorMetric(String jobId, String metric, String aggregation)
            throws IOException, InterruptedException {
        Double result = null;
        for (JsonNode vertex : job(jobId).path("vertices")) {
            String path = "/jobs/" + jobId + "/vertices/" + vertex.path("id").asText() + "/subtasks/metrics";
            List<String> ids = new ArrayList<>();
            for (JsonNode entry : get(path)) {
                String id = entry.path("id").asText();
                if (id.equals(metric) || (id.endsWith("." + metric) && !labelled(id))) {
                    ids.add(encode(id));
                }
            }
            if (ids.isEmpty()) {
                continue;
            }
            for (JsonNode entry : get(path + "?get=" + String.join(",", ids) + "&agg=" + aggregation)) {
                Optional<Double> value = number(entry.path(aggregation));
                if (value.isPresent()) {
                    result = result == null ? value.get()
                            : aggregation.equals("max") ? Math.max(result, value.get()) : result + value.get();
                }
            }
        }
        return Optional.ofNullable(result);
    }

    /** The labels the job gives some of its metrics (a key/value group: {@code <operator>.table.<t>.<metric>}). */
    private static final List<String> LABELS = List.of(".table.", ".reason.", ".status.");

    // A metric of one table, reason or status, e.g. Elasticsearch__Writer.status.429.actionsRetried: not the total.
    private static boolean labelled(String id) {
        return LABELS.stream().anyMatch(id::contains);
    }

    // A histogram without values yet reports its quantiles as NaN: not a number to show.
    private static Optional<Double> number(JsonNode value) {
        try {
            return (value.isNumber() ? Optional.of(value.asDouble())
                    : value.isTextual() ? Optional.of(Double.parseDouble(value.asText())) : Optional.<Double>empty())
                    .filter(number -> !number.isNaN());
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static String encode(String value) {
        return java.net.URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** GET /jobs/{id}/checkpoints: counts and the latest completed checkpoint. */
    JsonNode checkpoints(String jobId) throws IOException, InterruptedException {
        return get("/jobs/" + jobId + "/checkpoints");
    }

    /** Uploads a jar (POST /jars/upload, multipart field {@code jarfile}) and returns its id on the cluster. */
    String uploadJar(Path jar) throws IOException, InterruptedException {
        String boundary = "cdc-" + UUID.randomUUID();
        byte[] head = ("--" + boundary + "\r\n"
                + "Content-Disposition: form-data; name=\"jarfile\"; filename=\"" + jar.getFileName() + "\"\r\n"
                + "Content-Type: application/x-java-archive\r\n\r\n").getBytes(StandardCharsets.UTF_8);
        byte[] tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8);
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/jars/upload"))
                .timeout(Duration.ofMinutes(2))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                // Streamed from the file: the jar (48 MB) is never held in memory.
                .POST(HttpRequest.BodyPublishers.concat(HttpRequest.BodyPublishers.ofByteArray(head),
                        HttpRequest.BodyPublishers.ofFile(jar), HttpRequest.BodyPublishers.ofByteArray(tail)))
                .build();
        JsonNode answer = checked("upload " + jar, send("upload " + jar, request));
        String filename = answer.path("filename").asText();
        if (filename.isEmpty()) {
            throw new IllegalStateException("Flink accepted the jar but named no file: " + answer);
        }
        return Path.of(filename).getFileName().toString();
    }

    /**
     * Flink refused to start a job from a savepoint or checkpoint that holds state of an operator the new job lacks
     * ("Cannot map checkpoint/savepoint state for operator ... because the operator is not available in the new
     * program").
     */
    static final class StateOfMissingOperatorException extends IllegalStateException {
        private static final long serialVersionUID = 1L;
        private static final Pattern OPERATOR = Pattern.compile("state for operator ([0-9a-fA-F]+)");

        final String operator;

        StateOfMissingOperatorException(String message, String flinkAnswer) {
            super(message);
            Matcher matcher = OPERATOR.matcher(flinkAnswer);
            this.operator = matcher.find() ? matcher.group(1) : "?";
        }

        static boolean isIn(String flinkAnswer) {
            return flinkAnswer.contains("is not available in the new program");
        }
    }

    /**
     * Runs an uploaded jar's main class (POST /jars/{id}/run), optionally from a savepoint; returns the job id.
     *
     * @param allowNonRestoredState whether Flink may start from a savepoint that holds state of operators the job
     *     lacks, dropping that state; without it, Flink refuses ({@link StateOfMissingOperatorException})
     */
    String run(String jarId, String entryClass, List<String> programArgs, String savepointPath,
            boolean allowNonRestoredState) throws IOException, InterruptedException {
        ObjectNode body = Http.JSON.createObjectNode();
        body.put("entryClass", entryClass);
        body.putPOJO("programArgsList", programArgs);
        // Without a parallelism in the request, Flink runs the job at 1, not at the cluster's parallelism.default.
        defaultParallelism().ifPresent(parallelism -> body.put("parallelism", parallelism));
        if (savepointPath != null) {
            body.put("savepointPath", savepointPath);
            body.put("allowNonRestoredState", allowNonRestoredState);
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/jars/" + jarId + "/run"))
                .timeout(Duration.ofMinutes(2))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build();
        Http.Response response = send("run " + entryClass, request);
        if (!response.ok() && StateOfMissingOperatorException.isIn(response.body())) {
            throw new StateOfMissingOperatorException("Flink at " + url + " answered " + response.status() + " to run "
                    + entryClass + ": " + abbreviate(response.body()), response.body());
        }
        return checked("run " + entryClass, response).path("jobid").asText();
    }

    /** Deletes an uploaded jar (DELETE /jars/{id}): the running job keeps its own copy of the code. */
    void deleteJar(String jarId) throws IOException, InterruptedException {
        checked("delete jar " + jarId, send("delete jar " + jarId,
                HttpRequest.newBuilder(URI.create(url + "/jars/" + jarId)).timeout(Duration.ofSeconds(10)).DELETE().build()));
    }

    /** GET /jobs/{id}/checkpoints/config: the checkpoint interval and its settings. */
    JsonNode checkpointConfig(String jobId) throws IOException, InterruptedException {
        return get("/jobs/" + jobId + "/checkpoints/config");
    }

    /** The cluster's {@code parallelism.default} (GET /jobmanager/config), if it sets one. */
    Optional<Integer> defaultParallelism() throws IOException, InterruptedException {
        for (JsonNode entry : get("/jobmanager/config")) {
            if (entry.path("key").asText().equals("parallelism.default")) {
                try {
                    return Optional.of(Integer.parseInt(entry.path("value").asText().trim()));
                } catch (NumberFormatException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }

    /**
     * Asks Flink to stop a job with a savepoint in the cluster's savepoint folder (POST /jobs/{id}/stop) and returns
     * the request's id, for {@link #savepointStatus}.
     */
    String triggerStopWithSavepoint(String jobId) throws IOException, InterruptedException {
        JsonNode trigger = checked("stop job " + jobId, send("stop job " + jobId,
                HttpRequest.newBuilder(URI.create(url + "/jobs/" + jobId + "/stop")).timeout(Duration.ofSeconds(10))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"drain\":false}")).build()));
        return trigger.path("request-id").asText();
    }

    /** Where a stop-with-savepoint request stands: under way, done with a location, or failed with a reason. */
    record SavepointStatus(boolean done, String location, String failure) {
        static final SavepointStatus UNDER_WAY = new SavepointStatus(false, null, null);
    }

    /** GET /jobs/{id}/savepoints/{request-id}. */
    SavepointStatus savepointStatus(String jobId, String requestId) throws IOException, InterruptedException {
        JsonNode status = get("/jobs/" + jobId + "/savepoints/" + requestId);
        if (!"COMPLETED".equals(status.path("status").path("id").asText())) {
            return SavepointStatus.UNDER_WAY;
        }
        JsonNode operation = status.path("operation");
        if (operation.hasNonNull("location")) {
            return new SavepointStatus(true, operation.path("location").asText(), null);
        }
        return new SavepointStatus(true, null, "the savepoint failed: "
                + operation.path("failure-cause").path("stack-trace").asText("").lines().findFirst().orElse("?"));
    }

    /** A checkpoint or savepoint under way, with how many of its subtasks have acknowledged it. */
    record InProgress(long id, boolean savepoint, int acknowledged, int subtasks) {
        String describe() {
            return (savepoint ? "savepoint " : "checkpoint ") + id + " in progress, " + acknowledged + "/" + subtasks
                    + " subtasks acknowledged";
        }
    }

    /** The newest checkpoint or savepoint of a job still in progress (from GET /jobs/{id}/checkpoints), if any. */
    Optional<InProgress> inProgress(String jobId) throws IOException, InterruptedException {
        InProgress newest = null;
        for (JsonNode entry : checkpoints(jobId).path("history")) {
            if ("IN_PROGRESS".equals(entry.path("status").asText())
                    && (newest == null || entry.path("id").asLong() > newest.id())) {
                newest = new InProgress(entry.path("id").asLong(), entry.path("is_savepoint").asBoolean(),
                        entry.path("num_acknowledged_subtasks").asInt(), entry.path("num_subtasks").asInt());
            }
        }
        return Optional.ofNullable(newest);
    }

    /**
     * Whether the job's completed checkpoints outlive a cancel (GET /jobs/{id}/checkpoints/config: externalized, not
     * deleted on cancellation), i.e. whether canceling it keeps its state.
     */
    boolean keepsCheckpointsOnCancel(String jobId) throws IOException, InterruptedException {
        JsonNode externalization = checkpointConfig(jobId).path("externalization");
        return externalization.path("enabled").asBoolean(false)
                && !externalization.path("delete_on_cancellation").asBoolean(true);
    }

    /** Cancels a job (PATCH /jobs/{id}?mode=cancel) and waits until it is no longer live. */
    void cancel(String jobId, Duration timeout) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/jobs/" + jobId + "?mode=cancel"))
                .timeout(Duration.ofSeconds(10))
                .method("PATCH", HttpRequest.BodyPublishers.noBody())
                .build();
        checked("cancel job " + jobId, send("cancel job " + jobId, request));
        Instant deadline = Instant.now().plus(timeout);
        while (LIVE_STATES.contains(get("/jobs/" + jobId).path("state").asText())) {
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("job " + jobId + " was not canceled within " + timeout.toSeconds() + " s");
            }
            Thread.sleep(500);
        }
    }

    private JsonNode get(String path) throws IOException, InterruptedException {
        return checked("GET " + path, send("GET " + path,
                HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(10)).GET().build()));
    }

    private Http.Response send(String what, HttpRequest request) throws IOException, InterruptedException {
        try {
            return Http.send(request);
        } catch (java.net.ConnectException e) {
            throw new IllegalStateException("Flink at " + url + " does not answer (" + what + "); is it running? "
                    + "./cdc status shows", e);
        }
    }

    private JsonNode checked(String what, Http.Response response) {
        if (!response.ok()) {
            throw new IllegalStateException("Flink at " + url + " answered " + response.status() + " to " + what + ": "
                    + abbreviate(response.body()));
        }
        return response.body().isBlank() ? Http.JSON.createObjectNode() : response.json();
    }

    private static String abbreviate(String text) {
        return text.length() <= 600 ? text : text.substring(0, 600) + " ...";
    }
}
