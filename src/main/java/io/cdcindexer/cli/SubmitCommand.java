package io.cdcindexer.cli;

import io.cdcindexer.documents.JoinedDocuments;
import io.cdcindexer.job.JobOptions;
import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.ProjectHome;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ./cdc submit}: uploads the job jar to Flink and (re)starts the indexing job, keeping its state. */
@Command(
        name = "submit",
        mixinStandardHelpOptions = true,
        description = {
            "Uploads target/cdc-indexer-job.jar to the Flink JobManager and runs the indexing job from the state of "
                    + "the last one, so no change is lost: a running job is stopped with a savepoint and the new one "
                    + "starts from it; if the savepoint fails, the old job is canceled and the new one starts from its "
                    + "latest retained checkpoint. With no job running, it starts from --resume-from, or else from the "
                    + "newest savepoint or retained checkpoint of the last job of that name on the cluster.",
            "With no state to start from where a job ran before (the consumer group has committed offsets), submit "
                    + "refuses: the transactions the old job held would be lost. --without-state starts anyway, "
                    + "re-reading all Kafka still holds.",
            "Job options go after --, e.g. ./cdc submit -- --parallelism 2 (see JobOptions for the list).",
        })
public final class SubmitCommand implements Callable<Integer> {

    /** The job's main class, also named in the jar's manifest. */
    static final String MAIN_CLASS = "io.cdcindexer.job.CdcIndexerJob";
    static final String JOB_JAR = "target/cdc-indexer-job.jar";

    /** What the refusals offer instead, in the words of the command line. */
    private static final String ALTERNATIVES = "./cdc submit --resume-from PATH starts from a savepoint or retained "
            + "checkpoint you name; ./cdc submit --without-state starts without state, re-reading all that Kafka "
            + "still holds (Elasticsearch versions make the replay harmless)";

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--jar", paramLabel = "FILE", description = "The job jar (default: " + JOB_JAR + " in the repository).")
    Path jar;

    @Option(names = "--job-kafka", paramLabel = "SERVERS",
            description = "Kafka as the job sees it (default: --kafka). The Docker stack's job sees kafka:29092.")
    String jobKafka;

    @Option(names = "--job-elasticsearch", paramLabel = "URLS",
            description = "Elasticsearch as the job sees it (default: --elasticsearch). The Docker stack's job sees "
                    + "https://elasticsearch:9200, with -- --elasticsearch.ca-file /opt/cdc-indexer/certs/ca.crt.")
    String jobElasticsearch;

    @Option(names = "--resume-from", paramLabel = "PATH",
            description = "A savepoint or retained checkpoint to start from when no job of this name runs (default: "
                    + "the newest one of the last job of this name on the cluster).")
    String resumeFrom;

    @Option(names = "--without-state",
            description = "Start without state: the job reads all that Kafka still holds, from the earliest offsets "
                    + "(--kafka.starting-offsets earliest). A running job is still stopped with a savepoint first.")
    boolean withoutState;

    @Option(names = "--allow-non-restored-state",
            description = "Start from the state even though it holds state of stages the new job lacks: those of a "
                    + "joined document, or of a table of one, removed from the declaration (configs/documents.json). "
                    + "Their state is dropped; every other stage is restored. Without it, submit refuses such a start.")
    boolean allowNonRestoredState;

    @Parameters(paramLabel = "JOB_OPTION", description = "More job options, after --.")
    List<String> jobOptions = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (withoutState && resumeFrom != null) {
            throw new CliException("--without-state and --resume-from exclude each other");
        }
        if (withoutState && allowNonRestoredState) {
            throw new CliException("--without-state and --allow-non-restored-state exclude each other: without state "
                    + "there is nothing to restore");
        }
        Path jarFile = jar != null ? jar : ProjectHome.dir().resolve(JOB_JAR);
        List<String> args = new ArrayList<>(List.of(
                "--" + JobOptions.KAFKA_BOOTSTRAP_SERVERS.name(), jobKafka != null ? jobKafka : connection.kafka,
                "--" + JobOptions.ELASTICSEARCH_HOSTS.name(), jobElasticsearch != null ? jobElasticsearch : connection.elasticsearch));
        args.addAll(securityOptions(connection, jobElasticsearch == null, jobKafka == null));
        args.addAll(jobOptions); // last: they win over the ones above
        submit(out, new FlinkRest(connection.flink), CommittedOffsets.in(connection.kafkaClient()), jarFile, args,
                withoutState ? Start.WITHOUT_STATE : Start.resumingFrom(resumeFrom).allowingNonRestoredState(
                        allowNonRestoredState),
                List.of(JobStop.Dependency.elasticsearch(connection.elasticsearchClient()),
                        JobStop.Dependency.kafka(connection.kafkaClient())));
        return 0;
    }

    /**
     * Where the new job starts: from the state of the last job ({@code resumeFrom}, a savepoint handed in, is used when
     * no job of the name runs), or without state, which only the user asks for. {@code allowNonRestoredState}: the
     * state may hold stages the new job lacks (joined documents removed from the declaration), whose state is dropped.
     */
    record Start(String resumeFrom, boolean withoutState, boolean allowNonRestoredState) {
        static final Start WITHOUT_STATE = new Start(null, true, false);
        static final Start FROM_LAST_JOB = new Start(null, false, false);

        static Start resumingFrom(String savepoint) {
            return new Start(savepoint, false, false);
        }

        Start allowingNonRestoredState(boolean allow) {
            return new Start(resumeFrom, withoutState, allow);
        }
    }

    /**
     * Submit refuses to start without state, or without the state of a stage the new job lacks, which only the user can
     * decide: the transactions the last job held, or that stage's state, would be lost.
     */
    static final class StateWouldBeLostException extends CliException {
        private static final long serialVersionUID = 1L;

        StateWouldBeLostException(String message) {
            super(message);
        }

        StateWouldBeLostException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Submits the job jar with these program arguments and returns the new job's id. The new job resumes from the
     * state of the last one: a live job of the same name is stopped with a savepoint, or, should that fail, canceled,
     * and the new job starts from its latest retained checkpoint. With no live job, it starts from {@code
     * start.resumeFrom()} if given (a savepoint that ./cdc down took), else from the newest savepoint or retained
     * checkpoint of the last job of that name on the cluster. Where there is none, yet a job ran before (an earlier job
     * on the cluster, or offsets committed by the consumer group), it refuses with {@link StateWouldBeLostException},
     * unless {@code start.withoutState()}: then the job starts from the earliest offsets Kafka holds. A resume that
     * fails is an error, never a silent start without state.
     */
    static String submit(PrintWriter out, FlinkRest flink, CommittedOffsets committed, Path jar, List<String> programArgs,
            Start start) throws IOException, InterruptedException {
        return submit(out, flink, committed, jar, programArgs, start, List.of());
    }

    /** Index settings and column mappings over the derived ones, passed to the job unless the options name a file. */
    static final String MAPPING_OVERRIDES = "configs/index-mappings.json";
    /** The joined documents, passed to the job unless the options name a file. */
    static final String DOCUMENTS = "configs/documents.json";

    /**
     * {@link #submit(PrintWriter, FlinkRest, CommittedOffsets, Path, List, Start)}, checking before and while it stops
     * a live job with a savepoint that these services answer: the savepoint cannot complete without them.
     */
    static String submit(PrintWriter out, FlinkRest flink, CommittedOffsets committed, Path jar, List<String> programArgs,
            Start start, List<JobStop.Dependency> dependencies) throws IOException, InterruptedException {
        // Parse here too: a typo fails now, with the list of options, instead of inside the JobManager.
        JobOptions options = JobOptions.fromArgs(programArgs.toArray(String[]::new));
        String name = options.get(JobOptions.JOB_NAME);
        List<String> args = new ArrayList<>(programArgs);
        if (start.withoutState()) {
            String offsets = options.overrides().get(JobOptions.KAFKA_STARTING_OFFSETS.name());
            if (offsets != null && !offsets.equals("earliest")) {
                throw new CliException("--without-state starts from the earliest offsets Kafka holds, so that nothing "
                        + "is lost; drop --" + JobOptions.KAFKA_STARTING_OFFSETS.name() + " " + offsets);
            }
            args.addAll(List.of("--" + JobOptions.KAFKA_STARTING_OFFSETS.name(), "earliest"));
        }
        for (Map.Entry<JobOptions.Option, String> projectFile : List.of(
                Map.entry(JobOptions.ELASTICSEARCH_MAPPING_OVERRIDES, MAPPING_OVERRIDES),
                Map.entry(JobOptions.DOCUMENTS, DOCUMENTS))) {
            Path file = ProjectHome.dir().resolve(projectFile.getValue());
            if (!options.overrides().containsKey(projectFile.getKey().name()) && Files.isRegularFile(file)) {
                // The JobManager runs on this machine in the local stack: it reads the project's file when the job
                // starts.
                args.addAll(List.of("--" + projectFile.getKey().name(), file.toString()));
            }
        }
        int documents = args.lastIndexOf("--" + JobOptions.DOCUMENTS.name());
        String documentsFile = documents >= 0 && !args.get(documents + 1).isBlank() ? args.get(documents + 1) : null;
        if (documents >= 0) {
            try { // a mistake in the declaration fails now, naming the place, instead of inside the JobManager
                JoinedDocuments.of(args.get(documents + 1));
            } catch (IllegalArgumentException e) {
                throw new CliException(e.getMessage(), e);
            }
        }
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("No job jar at " + jar + "; build it with: mvn -DskipTests package");
        }
        out.println("submit: uploading " + jar + " to " + flink.url());
        out.flush();
        String jarId = flink.uploadJar(jar);
        try {
            JobStop stop = new JobStop(out, "submit", flink, dependencies);
            boolean stopsLiveJob = flink.liveJob(name).isPresent();
            FlinkRest.State state = start.withoutState() ? stopForAStartWithoutState(out, flink, stop, name)
                    : stateToResume(out, flink, stop, committed, name, options.get(JobOptions.KAFKA_GROUP_ID),
                            start.resumeFrom());
            String jobId;
            try {
                jobId = flink.run(jarId, MAIN_CLASS, args, state == null ? null : state.path(),
                        state != null && start.allowNonRestoredState());
            } catch (FlinkRest.StateOfMissingOperatorException e) {
                // The stack is fine (./cdc up keeps it running); only the user can decide to drop that state.
                throw new StateWouldBeLostException("could not start job " + name + " from " + state.description() + ", "
                        + state.path() + ": it holds state of a stage the new job lacks (operator " + e.operator
                        + "; Flink names the first it meets): a stage of joined documents the declaration no longer "
                        + "has (a document, or a table of one, removed from " + (documentsFile != null ? documentsFile
                        : "the documents file") + " since), or a stage an "
                        + "older version of the job named otherwise. No job was started" + (stopsLiveJob ? ", and "
                        + "the old one is stopped: nothing is indexed until one starts" : "") + ". If the removal is "
                        + "meant: ./cdc submit --allow-non-restored-state --resume-from " + state.path() + " (and the "
                        + "same job options) starts from it without the state of every stage the new job lacks, "
                        + "restoring all the others. If not, put the document back and submit again", e);
            } catch (IllegalStateException e) {
                if (state == null) {
                    throw e;
                }
                throw new CliException("could not start job " + name + " from " + state.description() + ", "
                        + state.path() + " (" + e.getMessage().lines().findFirst().orElse("") + "). No job was started "
                        + "without it. " + ALTERNATIVES, e);
            }
            out.println("submit: job " + name + " submitted as " + jobId
                    + (state == null ? "" : ", restored from " + state.path()
                            + (start.allowNonRestoredState() ? " (the state of any stage the new job lacks left "
                                    + "out, as asked: --allow-non-restored-state)" : "")));
            if (state != null && documentsFile != null) {
                // The stages of a document the state does not hold start empty; the restored offsets skip the rows.
                out.println("submit: joined documents (" + documentsFile + ") go on from the state; a "
                        + "document or table added to them since needs ./cdc snapshot --table <its tables> "
                        + "(docs/documents.md)");
            }
            out.flush();
            return jobId;
        } finally {
            try {
                flink.deleteJar(jarId); // the job runs from its own copy; don't pile up a 48 MB upload per submit
            } catch (RuntimeException e) {
                out.println("submit: could not delete the uploaded jar " + jarId + " (" + e.getMessage() + ")");
            }
            out.flush();
        }
    }

    /** Stops a live job, keeping its state where possible, and finds the state the new job resumes from. */
    private static FlinkRest.State stateToResume(PrintWriter out, FlinkRest flink, JobStop stop, CommittedOffsets committed,
            String name, String groupId, String resumeFrom) throws IOException, InterruptedException {
        Optional<FlinkRest.Job> live = flink.liveJob(name);
        if (live.isPresent()) {
            String jobId = live.get().id();
            if (resumeFrom != null) {
                out.println("submit: job " + name + " runs: the new job resumes from its state, not from " + resumeFrom);
            }
            JobStop.Outcome outcome = stop.stop(jobId, name);
            if (outcome instanceof JobStop.Outcome.Savepoint savepoint) {
                out.println("submit: savepoint " + savepoint.location());
                return new FlinkRest.State(savepoint.location(), "the savepoint of job " + jobId);
            }
            if (outcome instanceof JobStop.Outcome.Canceled canceled) {
                out.println("submit: the new job resumes from " + canceled.state().description() + ": "
                        + canceled.state().path());
                return canceled.state();
            }
            throw new StateWouldBeLostException("the running job " + name + " (" + jobId + ") could not take a "
                    + "savepoint, and " + ((JobStop.Outcome.LeftRunning) outcome).reason() + "; so it was left "
                    + "running. A new job without its state would lose the transactions it holds incomplete (the "
                    + "offsets it committed are past them). Wait until it completes a checkpoint (./cdc status) and "
                    + "submit again; or " + ALTERNATIVES);
        }
        if (resumeFrom != null) {
            return new FlinkRest.State(resumeFrom, "the savepoint handed in");
        }
        List<FlinkRest.Job> earlier = flink.earlierJobs(name);
        for (FlinkRest.Job job : earlier) {
            Optional<FlinkRest.State> state = flink.latestState(job.id());
            if (state.isPresent()) {
                out.println("submit: resuming from " + state.get().description() + " (" + job.state().toLowerCase()
                        + "): " + state.get().path());
                return state.get();
            }
        }
        if (!earlier.isEmpty()) {
            throw new StateWouldBeLostException("job " + name + " ran on this cluster before ("
                    + earlier.stream().map(job -> job.id() + " " + job.state().toLowerCase()).collect(Collectors.joining(", "))
                    + ") but left no savepoint or retained checkpoint to resume from. Starting from the offsets consumer "
                    + "group " + groupId + " committed would lose the transactions it held incomplete. " + ALTERNATIVES);
        }
        int partitions;
        try {
            partitions = committed.partitions(groupId);
        } catch (Exception e) {
            throw new CliException("could not check whether consumer group " + groupId + " has committed offsets, "
                    + "i.e. whether a job ran before whose state would be lost (" + e.getMessage() + "). " + ALTERNATIVES, e);
        }
        if (partitions > 0) {
            throw new StateWouldBeLostException("consumer group " + groupId + " has committed offsets for "
                    + Plural.of(partitions, "partition") + ", so a job ran before, but this cluster knows no job " + name
                    + " whose state to resume. Starting from those offsets would lose the transactions that job held "
                    + "incomplete. " + ALTERNATIVES);
        }
        out.println("submit: first start: no job " + name + " ran on this cluster and consumer group " + groupId
                + " has committed no offsets");
        return null;
    }

    /** Stops a live job before a start without state, still keeping its state (a savepoint, or its checkpoints). */
    private static FlinkRest.State stopForAStartWithoutState(PrintWriter out, FlinkRest flink, JobStop stop, String name)
            throws IOException, InterruptedException {
        Optional<FlinkRest.Job> live = flink.liveJob(name);
        if (live.isPresent()) {
            JobStop.Outcome outcome = stop.stop(live.get().id(), name);
            if (outcome instanceof JobStop.Outcome.Savepoint savepoint) {
                out.println("submit: savepoint " + savepoint.location() + " (kept, not used: --without-state)");
            } else if (outcome instanceof JobStop.Outcome.Canceled canceled) {
                out.println("submit: kept, not used (--without-state): " + canceled.state().description() + ", "
                        + canceled.state().path());
            } else {
                // Its state is not needed: the new job reads again all that Kafka holds, as asked.
                out.println("submit: " + ((JobStop.Outcome.LeftRunning) outcome).reason() + "; canceling it anyway, "
                        + "as the new job starts without state (--without-state)");
                out.flush();
                flink.cancel(live.get().id(), Duration.ofMinutes(1));
            }
        }
        out.println("submit: starting without state, as asked (--without-state): the job reads all that Kafka still "
                + "holds, from the earliest offsets");
        out.flush();
        return null;
    }

    /**
     * Stops the live indexing job keeping its state, so that the next ./cdc up resumes from it: with a savepoint, or,
     * should that fail, by canceling it, which keeps its retained checkpoints (see {@link JobStop}). Best effort: the
     * caller stops the cluster anyway, which keeps them too. Without {@code dependencies} it cannot tell that
     * Elasticsearch or Kafka is down, and waits for the savepoint until it fails or times out.
     */
    static void stopWithSavepoint(PrintWriter out, String command, FlinkRest flink, List<JobStop.Dependency> dependencies) {
        try {
            String name = JobOptions.JOB_NAME.defaultValue();
            Optional<FlinkRest.Job> job = flink.liveJob(name);
            if (job.isPresent()) {
                JobStop.Outcome outcome = new JobStop(out, command, flink, dependencies).stop(job.get().id(), name);
                if (outcome instanceof JobStop.Outcome.Savepoint savepoint) {
                    out.println(command + ": savepoint " + savepoint.location());
                } else if (outcome instanceof JobStop.Outcome.Canceled canceled) {
                    out.println(command + ": the next ./cdc up resumes from " + canceled.state().description() + ": "
                            + canceled.state().path());
                } else {
                    out.println(command + ": the job was not canceled: " + ((JobStop.Outcome.LeftRunning) outcome).reason()
                            + ". It stops with the cluster; the next ./cdc up resumes from the newest state in the data "
                            + "folder, if there is one");
                }
            }
        } catch (Exception e) {
            out.println(command + ": could not stop the job (" + e.getMessage() + "); it stops with the cluster, which "
                    + "keeps its retained checkpoints: the next ./cdc up resumes from the newest of them");
        }
        out.flush();
    }

    /**
     * The newest state in a local cluster's folder to resume from: a complete savepoint or retained checkpoint (one
     * with its _metadata file), whichever was written last.
     */
    static Optional<Path> latestSavepointOrCheckpoint(Path flinkDir) throws IOException {
        List<Path> candidates = new ArrayList<>();
        latestSavepoint(FlinkCluster.savepointDir(flinkDir)).ifPresent(candidates::add);
        Path checkpoints = FlinkCluster.checkpointDir(flinkDir);
        if (Files.isDirectory(checkpoints)) {
            try (Stream<Path> jobs = Files.list(checkpoints)) {
                for (Path job : jobs.filter(Files::isDirectory).toList()) {
                    try (Stream<Path> checkpointDirs = Files.list(job)) {
                        checkpointDirs.filter(dir -> dir.getFileName().toString().startsWith("chk-"))
                                .filter(dir -> Files.isRegularFile(dir.resolve("_metadata")))
                                .forEach(candidates::add);
                    }
                }
            }
        }
        return candidates.stream().max(Comparator.comparing(SubmitCommand::metadataTime));
    }

    private static FileTime metadataTime(Path dir) {
        try {
            return Files.getLastModifiedTime(dir.resolve("_metadata"));
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }

    /** The newest complete savepoint in a folder (one with its _metadata file), if any. */
    static Optional<Path> latestSavepoint(Path savepointDir) throws IOException {
        if (!Files.isDirectory(savepointDir)) {
            return Optional.empty();
        }
        try (Stream<Path> savepoints = Files.list(savepointDir)) {
            return savepoints.filter(dir -> Files.isRegularFile(dir.resolve("_metadata")))
                    .max(Comparator.comparing(SubmitCommand::metadataTime));
        }
    }

    /** Builds the job jar (mvn package) when it is missing or older than a source file; returns it. */
    static Path ensureJobJar(PrintWriter out) throws IOException, InterruptedException {
        Path home = ProjectHome.dir();
        Path jar = home.resolve(JOB_JAR);
        if (Files.isRegularFile(jar) && !newerThan(home.resolve("src/main"), Files.getLastModifiedTime(jar))
                && Files.getLastModifiedTime(home.resolve("pom.xml")).compareTo(Files.getLastModifiedTime(jar)) <= 0) {
            return jar;
        }
        out.println("up: building the job jar (mvn -DskipTests package) ...");
        out.flush();
        Path log = home.resolve("target/job-build.log");
        Files.createDirectories(log.getParent());
        Process build = new ProcessBuilder("mvn", "-q", "-B", "-DskipTests", "package")
                .directory(home.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (build.waitFor() != 0 || !Files.isRegularFile(jar)) {
            throw new IllegalStateException("Building " + jar + " failed; see " + log);
        }
        return jar;
    }

    private static boolean newerThan(Path dir, FileTime time) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.anyMatch(file -> {
                try {
                    return Files.isRegularFile(file) && Files.getLastModifiedTime(file).compareTo(time) > 0;
                } catch (IOException e) {
                    return true;
                }
            });
        }
    }

    /**
     * The job options that give the job the command's own credentials and trust: the user name and the paths of the
     * secret, CA and Kafka properties files, never a secret (the job reads the files, or ELASTICSEARCH_PASSWORD and
     * ELASTICSEARCH_API_KEY from the TaskManagers' environment). Paths are made absolute. Where the job sees a service
     * at another address ({@code --job-elasticsearch}, {@code --job-kafka}: Docker), it runs elsewhere and this
     * machine's paths mean nothing there: they are not passed, and job options after {@code --} give the job's own.
     */
    static List<String> securityOptions(ConnectionOptions connection, boolean sameElasticsearch, boolean sameKafka) {
        List<String> options = new ArrayList<>();
        addIfSet(options, JobOptions.ELASTICSEARCH_USERNAME, connection.elasticsearchUsername, false);
        if (sameElasticsearch) {
            addIfSet(options, JobOptions.ELASTICSEARCH_PASSWORD_FILE, connection.elasticsearchPasswordFile, true);
            addIfSet(options, JobOptions.ELASTICSEARCH_API_KEY_FILE, connection.elasticsearchApiKeyFile, true);
            addIfSet(options, JobOptions.ELASTICSEARCH_CA_FILE, connection.elasticsearchCa, true);
            if (!connection.elasticsearchVerifyHostname) {
                options.addAll(List.of("--" + JobOptions.ELASTICSEARCH_VERIFY_HOSTNAME.name(), "false"));
            }
        }
        if (sameKafka) {
            addIfSet(options, JobOptions.KAFKA_PROPERTIES_FILE, connection.kafkaProperties, true);
        }
        return options;
    }

    private static void addIfSet(List<String> options, JobOptions.Option option, String value, boolean path) {
        if (value != null && !value.isBlank()) {
            options.addAll(List.of("--" + option.name(),
                    path ? Path.of(value.trim()).toAbsolutePath().toString() : value.trim()));
        }
    }
}
