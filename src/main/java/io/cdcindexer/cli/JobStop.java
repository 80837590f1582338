package io.cdcindexer.cli;

import io.cdcindexer.stack.Http;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * Stops the indexing job without losing the state it holds (Kafka offsets and the transactions still waiting for their
 * END): with a savepoint while the services its savepoint needs answer, else by canceling it, which keeps its retained
 * checkpoints. A savepoint cannot complete while Elasticsearch or Kafka is down: the job's sinks write out everything
 * they hold on every checkpoint and savepoint, and wait for those writes. So this checks both before it asks for one,
 * says what it waits for while it waits, and gives up as soon as one of them stops answering.
 */
final class JobStop {

    static final Duration SAVEPOINT_TIMEOUT = Duration.ofMinutes(3);
    private static final Duration CANCEL_TIMEOUT = Duration.ofMinutes(1);
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(3);

    /** A service the job's savepoint needs; {@code problem} says why it does not answer, or is empty when it does. */
    record Dependency(String name, String address, Supplier<Optional<String>> problem) {

        /** Elasticsearch answers when its root URL gives any HTTP answer but a server error. */
        static Dependency elasticsearch(String url) {
            return elasticsearch(new ElasticsearchHttp(url));
        }

        static Dependency elasticsearch(ElasticsearchHttp es) {
            return new Dependency("Elasticsearch", es.baseUrl(), () -> {
                try {
                    es.get("/", PROBE_TIMEOUT);
                    return Optional.empty();
                } catch (ElasticsearchHttp.ErrorResponse e) {
                    return e.status() < 500 ? Optional.empty() : Optional.of("it answered " + e.status());
                } catch (ElasticsearchHttp.Unreachable e) {
                    return Optional.of(e.problem());
                } catch (ElasticsearchHttp.TlsRefused e) {
                    return Optional.of(e.getMessage());
                }
            });
        }

        /** Kafka answers when a broker describes the cluster. */
        static Dependency kafka(String bootstrapServers) {
            return kafka(ConnectionOptions.kafkaClient(bootstrapServers));
        }

        /** The same with a client's properties (ConnectionOptions.kafkaClient). */
        static Dependency kafka(Properties client) {
            return new Dependency("Kafka", client.getProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG), () -> {
                Properties config = new Properties();
                config.putAll(client);
                config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) PROBE_TIMEOUT.toMillis());
                config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) PROBE_TIMEOUT.toMillis());
                config.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
                Admin admin = Admin.create(config);
                try {
                    return admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) PROBE_TIMEOUT.toMillis()))
                            .nodes().get(PROBE_TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS).isEmpty()
                            ? Optional.of("no broker") : Optional.empty();
                } catch (ExecutionException | TimeoutException | RuntimeException e) {
                    return Optional.of("no answer within " + PROBE_TIMEOUT.toSeconds() + " s");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return Optional.of("interrupted");
                } finally {
                    admin.close(Duration.ZERO);
                }
            });
        }

        /** The first of these that does not answer, if any. */
        static Optional<Down> firstDown(List<Dependency> dependencies) {
            for (Dependency dependency : dependencies) {
                Optional<String> problem = dependency.problem().get();
                if (problem.isPresent()) {
                    return Optional.of(new Down(dependency.name() + " at " + dependency.address(), problem.get()));
                }
            }
            return Optional.empty();
        }
    }

    /** A service that does not answer ({@code who}: its name and address) and what happened when asked. */
    record Down(String who, String problem) {}

    /** How a stop ended. */
    sealed interface Outcome {
        /** Stopped with a savepoint, at this location. */
        record Savepoint(String location) implements Outcome {}

        /** No savepoint; canceled, keeping its retained checkpoints, of which this is the newest. */
        record Canceled(FlinkRest.State state) implements Outcome {}

        /** No savepoint, and canceling would have lost its state: left running. */
        record LeftRunning(String reason) implements Outcome {}
    }

    private final PrintWriter out;
    private final String command;
    private final FlinkRest flink;
    private final List<Dependency> dependencies;
    private Duration timeout = SAVEPOINT_TIMEOUT;
    private Duration progressInterval = Duration.ofSeconds(10);
    private Duration checkInterval = Duration.ofSeconds(5);
    private Duration pollInterval = Duration.ofMillis(500);

    /**
     * @param command the command that stops the job, which starts every line it prints ({@code down}, {@code submit})
     * @param dependencies the services a savepoint needs, as this machine reaches them; none: not checked
     */
    JobStop(PrintWriter out, String command, FlinkRest flink, List<Dependency> dependencies) {
        this.out = out;
        this.command = command;
        this.flink = flink;
        this.dependencies = List.copyOf(dependencies);
    }

    /** Other waits than the defaults (3 min in all; progress every 10 s; services checked every 5 s), for tests. */
    JobStop timing(Duration timeout, Duration progressInterval, Duration checkInterval, Duration pollInterval) {
        this.timeout = timeout;
        this.progressInterval = progressInterval;
        this.checkInterval = checkInterval;
        this.pollInterval = pollInterval;
        return this;
    }

    /**
     * Stops a live job, keeping its state: with a savepoint if the services it needs answer and the savepoint
     * completes in time; otherwise by canceling it, if its retained checkpoints survive a cancel and it has one (or was
     * started from a state); otherwise it leaves the job running and says why.
     */
    Outcome stop(String jobId, String name) throws IOException, InterruptedException {
        String job = "job " + name + " (" + jobId + ")";
        Optional<Down> down = Dependency.firstDown(dependencies);
        String noSavepoint;
        if (down.isPresent()) {
            noSavepoint = down.get().who() + " does not answer (" + down.get().problem() + "): a savepoint cannot "
                    + "complete without it (the job writes out all it holds on every savepoint), so none is taken";
        } else {
            say("stopping " + job + " with a savepoint" + (dependencies.isEmpty() ? "" : " ("
                    + dependencies.stream().map(Dependency::name).collect(Collectors.joining(" and ")) + " answer)")
                    + " ...");
            Savepoint savepoint = awaitSavepoint(jobId);
            if (savepoint.location() != null) {
                return new Outcome.Savepoint(savepoint.location());
            }
            noSavepoint = savepoint.problem();
        }
        say(noSavepoint);
        Optional<FlinkRest.State> retained = flink.latestState(jobId);
        if (retained.isEmpty()) {
            return new Outcome.LeftRunning(job + " has no retained checkpoint and was started from none, so canceling "
                    + "it would lose the transactions it holds");
        }
        if (!flink.keepsCheckpointsOnCancel(jobId)) {
            return new Outcome.LeftRunning("the cluster deletes " + job + "'s checkpoints when it is canceled "
                    + "(execution.checkpointing.externalized-checkpoint-retention is not RETAIN_ON_CANCELLATION), so "
                    + "canceling it would lose its state");
        }
        say("canceling " + job + " instead; the cluster keeps its retained checkpoints (RETAIN_ON_CANCELLATION)");
        flink.cancel(jobId, CANCEL_TIMEOUT);
        // A checkpoint may have completed meanwhile; after the cancel, none can.
        return new Outcome.Canceled(flink.latestState(jobId).orElse(retained.get()));
    }

    /** A savepoint's location, or why there is none. */
    private record Savepoint(String location, String problem) {}

    private Savepoint awaitSavepoint(String jobId) throws IOException, InterruptedException {
        String request = flink.triggerStopWithSavepoint(jobId);
        long started = System.nanoTime();
        long nextProgress = started + progressInterval.toNanos();
        long nextCheck = started + checkInterval.toNanos();
        while (true) {
            FlinkRest.SavepointStatus status = flink.savepointStatus(jobId, request);
            if (status.done()) {
                return new Savepoint(status.location(), status.failure());
            }
            long now = System.nanoTime();
            long waited = Duration.ofNanos(now - started).toSeconds();
            if (now - started >= timeout.toNanos()) {
                return new Savepoint(null, "the savepoint did not complete within " + timeout.toSeconds() + " s");
            }
            if (now >= nextCheck) {
                Optional<Down> down = Dependency.firstDown(dependencies);
                if (down.isPresent()) {
                    return new Savepoint(null, down.get().who() + " stopped answering (" + down.get().problem()
                            + ") while the savepoint was under way (" + waited + " s): it cannot complete without it");
                }
                nextCheck = System.nanoTime() + checkInterval.toNanos();
            }
            if (now >= nextProgress) {
                say("still waiting for the savepoint (" + waited + " s of at most " + timeout.toSeconds() + "): "
                        + flink.inProgress(jobId).map(FlinkRest.InProgress::describe).orElse("no checkpoint in progress"));
                nextProgress += progressInterval.toNanos();
            }
            Thread.sleep(pollInterval.toMillis()); // the poll interval of the savepoint's status
        }
    }

    private void say(String line) {
        out.println(command + ": " + line);
        out.flush();
    }
}
