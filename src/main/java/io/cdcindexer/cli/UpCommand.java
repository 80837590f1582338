package io.cdcindexer.cli;

import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.ServiceProcess;
import io.cdcindexer.stack.Stack;
import io.cdcindexer.stack.StackPorts;
import io.cdcindexer.stack.Supervisor;

import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc up}: starts the local stack, prepares the database and the connector, and submits the job. */
@Command(
        name = "up",
        mixinStandardHelpOptions = true,
        description = {
            "Starts PostgreSQL, Elasticsearch, Kafka, a Flink session cluster and Kafka Connect, each as its own process "
                    + "on the ports of the connection options, then runs setup-db and setup-connectors and submits the "
                    + "indexing job (building it first if needed).",
            "Data and one log per service go to the data folder (default .cdc/). Runs until Ctrl-C, which stops "
                    + "everything; with --detach it returns once all is ready and ./cdc down stops it.",
            "Stopping takes a savepoint of the job (should that fail, its retained checkpoints stay), and the next "
                    + "./cdc up resumes from the newest savepoint or retained checkpoint in the data folder.",
        })
public final class UpCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions connection;

    @Mixin
    DataDirOption dataDir;

    @Option(names = "--detach", description = "Return once the stack is ready and leave it running (stop it with ./cdc down).")
    boolean detach;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = dataDir.resolve();
        Map<String, ProcessHandle> running = Stack.running(dir);
        if (!running.isEmpty()) {
            return completeRunningStack(out, dir, running);
        }

        StackPorts ports = StackPorts.of(connection.pgPort, port(connection.kafka), port(connection.connect),
                port(connection.elasticsearch), port(connection.flink));
        out.println("up: starting PostgreSQL, Elasticsearch, Kafka, Flink and Kafka Connect (data and logs in " + dir + ") ...");
        out.flush();
        long started = System.nanoTime();
        Stack stack = Stack.start(dir, ports);
        String jobNotStarted = null;
        try {
            out.printf("up: services ready in %d s%n", (System.nanoTime() - started) / 1_000_000_000);
            runStep("setup-db");
            runStep("setup-connectors");
            Path jar = SubmitCommand.ensureJobJar(out);
            Optional<Path> state = SubmitCommand.latestSavepointOrCheckpoint(dir.resolve("flink"));
            state.ifPresent(path -> out.println("up: resuming the job from its last "
                    + (path.startsWith(FlinkCluster.savepointDir(dir.resolve("flink"))) ? "savepoint" : "retained checkpoint")
                    + ", " + path));
            try {
                SubmitCommand.submit(out, new FlinkRest(stack.flink().url()),
                        CommittedOffsets.in(stack.kafka().bootstrapServers()), jar, List.of(
                                "--kafka.bootstrap-servers", stack.kafka().bootstrapServers(),
                                "--elasticsearch.hosts", stack.elasticsearch().url()),
                        SubmitCommand.Start.resumingFrom(state.map(path -> path.toUri().toString()).orElse(null)));
            } catch (SubmitCommand.StateWouldBeLostException e) {
                // The stack is fine; only the user can decide to start the job without state.
                jobNotStarted = e.getMessage();
            }
        } catch (Exception | Error e) {
            out.println("up: stopping the stack after the failure below");
            out.flush();
            stack.close();
            throw e;
        }
        awaitSnapshotSearchable(out, stack, jobNotStarted == null);
        printReady(out, stack);
        SuperviseCommand.startInBackground(dir, out);
        if (jobNotStarted != null) {
            out.println("up: the job was not started: " + jobNotStarted);
            out.flush();
        }
        if (detach) {
            out.println("up: running in the background; ./cdc status shows its health, ./cdc down stops it.");
            out.flush();
            return jobNotStarted == null ? 0 : 1;
        }
        awaitCtrlC(out, stack);
        return 0;
    }

    /**
     * {@code up} on a stack that runs, wholly or in part: starts what is missing, on the ports the stack was started on,
     * resumes the job if the JobManager had to be started, and makes sure a supervisor keeps it all running.
     */
    private int completeRunningStack(PrintWriter out, Path dir, Map<String, ProcessHandle> running) throws Exception {
        Optional<StackPorts> ports = Stack.readPorts(dir);
        if (ports.isEmpty()) {
            out.println("up: part of the stack in " + dir + " is running (" + String.join(", ", running.keySet())
                    + ") but it left no record of its ports; run ./cdc down, then ./cdc up");
            out.flush();
            return 1;
        }
        List<String> missing = Stack.PROCESSES.stream().filter(process -> !running.containsKey(process)).toList();
        for (String process : missing) {
            if (java.nio.file.Files.exists(Supervisor.holdFile(dir, process))) {
                Supervisor.release(dir, process);
                out.println("up: " + process + " was stopped on purpose (a hold file); starting it");
            }
        }
        if (missing.isEmpty()) {
            out.println("up: the stack in " + dir + " is already running. ./cdc status shows its health.");
        } else if (Stack.supervised(dir)) {
            // The supervisor is starting them already: two starters of one service would fight over its port.
            out.println("up: part of the stack in " + dir + " is running; its supervisor is starting what is missing: "
                    + String.join(", ", missing));
            out.flush();
            awaitSupervisor(out, dir, missing);
        } else {
            out.println("up: part of the stack in " + dir + " is running; starting what is missing: "
                    + String.join(", ", missing));
            out.flush();
            for (String process : missing) {
                long started = System.nanoTime();
                Stack.startProcess(dir, process);
                out.printf("up: %s started in %d s%n", process, (System.nanoTime() - started) / 1_000_000_000);
                out.flush();
            }
        }
        // The supervisor first: whatever happens to the job below, the stack is kept running.
        SuperviseCommand.startInBackground(dir, out);
        out.println("up: " + SuperviseCommand.resumeJob(dir, ports.get()));
        out.println("ready");
        out.flush();
        return 0;
    }

    /** Waits until the supervisor has started every missing process (5 min at most), saying what it waits for. */
    private static void awaitSupervisor(PrintWriter out, Path dir, List<String> missing) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(5);
        long nextReport = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (true) {
            Map<String, ProcessHandle> now = Stack.running(dir);
            List<String> still = missing.stream().filter(process -> !now.containsKey(process)).toList();
            if (still.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new CliException("the supervisor did not start " + String.join(", ", still) + " within 5 min; see "
                        + dir.resolve("supervisor.log") + " and ./cdc status");
            }
            if (System.nanoTime() > nextReport) {
                out.println("up: still waiting for the supervisor to start " + String.join(", ", still));
                out.flush();
                nextReport = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            }
            Thread.sleep(500);
        }
    }

    /**
     * Runs another ./cdc command with the same connection options, as a user typing it would. This is the one seam
     * with the setup commands (SetupDbCommand, SetupConnectorsCommand).
     */
    private void runStep(String command) {
        PrintWriter out = spec.commandLine().getOut();
        CommandLine step = spec.root().commandLine().getSubcommands().get(command);
        int code = step.execute(connectionArgs().toArray(String[]::new));
        if (code != 0) {
            throw new IllegalStateException("./cdc " + command + " failed (exit code " + code + ")");
        }
    }

    private List<String> connectionArgs() {
        return List.of(
                "--pg-host", connection.pgHost, "--pg-port", Integer.toString(connection.pgPort),
                "--pg-database", connection.pgDatabase, "--pg-user", connection.pgUser,
                "--pg-password", connection.pgPassword, "--kafka", connection.kafka, "--connect", connection.connect,
                "--elasticsearch", connection.elasticsearch, "--flink", connection.flink);
    }

    /** How long {@code up} waits for the tables' snapshot to be searchable before it says ready anyway. */
    static final java.time.Duration SNAPSHOT_WAIT = java.time.Duration.ofSeconds(90);

    /**
     * Waits, for at most {@link #SNAPSHOT_WAIT}, until the rows the connector's snapshot read are searchable, so that a
     * search right after {@code ready} finds them; says so plainly if they are still being indexed. Nothing to wait
     * for when the job was not started.
     */
    private void awaitSnapshotSearchable(PrintWriter out, Stack stack, boolean jobStarted) {
        if (!jobStarted) {
            return;
        }
        try (java.sql.Connection db = Postgres.connect(connection)) {
            SearchableSnapshot.await(out, "up", db, new ElasticsearchHttp(stack.elasticsearch().url()), SNAPSHOT_WAIT,
                    java.time.Duration.ofMillis(500));
        } catch (Exception e) {
            out.println("up: could not check whether the tables' rows are searchable yet (" + e.getMessage() + ")");
            out.flush();
        }
    }

    private static void printReady(PrintWriter out, Stack stack) {
        out.println();
        out.printf("  Flink web UI   %s%n", stack.flink().url());
        List<String> metrics = stack.flink().metricsUrls();
        out.printf("  Prometheus     %s (JobManager), %s (TaskManagers)%n", metrics.get(0),
                String.join(", ", metrics.subList(1, metrics.size())));
        out.printf("  Elasticsearch  %s%n", stack.elasticsearch().url());
        out.printf("  Kafka Connect  %s%n", stack.connect().url());
        out.printf("  Kafka          %s%n", stack.kafka().bootstrapServers());
        out.printf("  PostgreSQL     %s (user postgres, password postgres)%n", stack.postgres().jdbcUrl());
        out.printf("  Data and logs  %s%n", stack.dataDir());
        out.println();
        out.println("ready");
        out.flush();
    }

    /** Blocks until the JVM is asked to stop (Ctrl-C, SIGTERM), then stops the stack before exiting. */
    private static void awaitCtrlC(PrintWriter out, Stack stack) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Thread stop = new Thread(() -> {
            // The supervisor first, or it would start again what is being stopped.
            Stack.stopSupervisor(stack.dataDir());
            SubmitCommand.stopWithSavepoint(out, "up", new FlinkRest(stack.flink().url()),
                    DownCommand.dependencies(stack.dataDir()));
            out.println("up: stopping the stack ...");
            out.flush();
            try {
                // What the supervisor started again is not among this JVM's processes: stop by the recorded PIDs.
                Stack.stopRecorded(stack.dataDir());
                stack.close();
                out.println("up: stopped");
            } finally {
                out.flush();
                stopped.countDown();
            }
        }, "cdc-up-stop");
        Runtime.getRuntime().addShutdownHook(stop);
        out.println("up: press Ctrl-C to stop");
        out.flush();
        while (!stopped.await(1, TimeUnit.SECONDS)) {
            if (Stack.running(stack.dataDir()).isEmpty() && !Stack.supervised(stack.dataDir())) {
                // ./cdc down stopped everything (and took the savepoint): nothing is left for Ctrl-C to do.
                Runtime.getRuntime().removeShutdownHook(stop);
                out.println("up: the stack was stopped from elsewhere (./cdc down); done");
                out.flush();
                return;
            }
        }
    }

    /** The port of {@code host:port} or of a URL. */
    static int port(String address) {
        URI uri = URI.create(address.contains("://") ? address : "tcp://" + address.split(",")[0].trim());
        if (uri.getPort() < 0) {
            throw new CommandLine.ParameterException(new CommandLine(new UpCommand()),
                    "'" + address + "' names no port; the local stack needs one, e.g. localhost:9092");
        }
        return uri.getPort();
    }
}
