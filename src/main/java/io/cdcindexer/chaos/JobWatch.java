package io.cdcindexer.chaos;

import com.fasterxml.jackson.databind.JsonNode;

import io.cdcindexer.stack.Http;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Samples the running job's counters through Flink's REST API every two seconds and keeps their running totals across
 * task restarts and new jobs (a restarted task starts its counters at 0): how many writes Elasticsearch refused as older
 * than what it holds (409, {@code staleWritesSkipped}), how many changes the job itself dropped as stale ({@code
 * staleChangesDropped}), and how often the job restarted ({@code numRestarts}). Totals are lower bounds: what a task
 * counted between its last sample and its failure is not seen.
 */
public final class JobWatch implements AutoCloseable {

    static final List<String> COUNTERS = List.of("staleWritesSkipped", "staleChangesDropped");

    private final String flinkUrl;
    private final String jobName;
    private final Map<String, AtomicLong> totals = new HashMap<>();
    /** The last value seen per job, vertex, subtask and counter. */
    private final Map<String, Long> last = new HashMap<>();
    private volatile String state = "unknown";
    private volatile boolean stopped;
    private Thread thread;

    public JobWatch(String flinkUrl, String jobName) {
        this.flinkUrl = flinkUrl;
        this.jobName = jobName;
        COUNTERS.forEach(counter -> totals.put(counter, new AtomicLong()));
        totals.put("numRestarts", new AtomicLong());
    }

    public void start() {
        thread = new Thread(() -> {
            while (!stopped) {
                sampleOnce();
                try {
                    Thread.sleep(2_000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "chaos-job-watch");
        thread.setDaemon(true);
        thread.start();
    }

    /** One sample; a cluster that does not answer is skipped. */
    synchronized void sampleOnce() {
        try {
            JsonNode jobs = Http.get(flinkUrl + "/jobs/overview").json().path("jobs");
            for (JsonNode job : jobs) {
                if (!job.path("name").asText().equals(jobName) || isTerminal(job.path("state").asText())) {
                    continue;
                }
                String id = job.path("jid").asText();
                state = job.path("state").asText();
                add(id + "/numRestarts", "numRestarts",
                        Http.get(flinkUrl + "/jobs/" + id + "/metrics?get=numRestarts").json().path(0).path("value").asLong());
                for (JsonNode vertex : Http.get(flinkUrl + "/jobs/" + id).json().path("vertices")) {
                    sampleVertex(id, vertex.path("id").asText(), vertex.path("parallelism").asInt());
                }
                return;
            }
            state = "none";
        } catch (Exception e) {
            state = "unreachable";
        }
    }

    private void sampleVertex(String job, String vertex, int parallelism) throws Exception {
        for (int subtask = 0; subtask < parallelism; subtask++) {
            String base = flinkUrl + "/jobs/" + job + "/vertices/" + vertex + "/subtasks/" + subtask + "/metrics";
            JsonNode names = Http.get(base).json();
            StringBuilder wanted = new StringBuilder();
            for (JsonNode name : names) {
                String id = name.path("id").asText();
                if (COUNTERS.stream().anyMatch(counter -> id.endsWith("." + counter))) {
                    wanted.append(wanted.isEmpty() ? "" : ",").append(id);
                }
            }
            if (wanted.isEmpty()) {
                continue;
            }
            for (JsonNode metric : Http.get(base + "?get=" + wanted).json()) {
                String id = metric.path("id").asText();
                String counter = id.substring(id.lastIndexOf('.') + 1);
                add(job + "/" + vertex + "/" + subtask + "/" + id, counter, metric.path("value").asLong());
            }
        }
    }

    /** Adds what a counter grew by since its last sample; a counter that went down was restarted from 0. */
    private void add(String key, String counter, long value) {
        Long previous = last.put(key, value);
        long grown = previous == null || value < previous ? value : value - previous;
        totals.get(counter).addAndGet(grown);
    }

    private static boolean isTerminal(String state) {
        return state.equals("FINISHED") || state.equals("CANCELED") || state.equals("FAILED");
    }

    /** The running total of a counter ({@link #COUNTERS} or numRestarts). */
    public long total(String counter) {
        return totals.get(counter).get();
    }

    /** The live job's state at the last sample: RUNNING, RESTARTING, ..., "none" or "unreachable". */
    public String state() {
        return state;
    }

    @Override
    public void close() {
        stopped = true;
        if (thread != null) {
            thread.interrupt();
        }
    }
}
