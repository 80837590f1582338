package io.cdcindexer.cli;

import io.cdcindexer.job.JobOptions;
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
import java.util.Optional;
import java.util.concurrent.Callable;
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
            "Uploads target/cdc-indexer-job.jar to the Flink JobManager and runs the indexing job.",
            "If the job already runs, it is first stopped with a savepoint and the new one starts from it, so no change "
                    + "is lost or indexed twice; if the savepoint fails, the old job is canceled and the new one starts "
                    + "from the Kafka offsets the old one committed.",
            "Job options go after --, e.g. ./cdc submit -- --parallelism 1 (see JobOptions for the list).",
        })
public final class SubmitCommand implements Callable<Integer> {

    /** The job's main class, also named in the jar's manifest. */
    static final String MAIN_CLASS = "io.cdcindexer.job.CdcIndexerJob";
    static final String JOB_JAR = "target/cdc-indexer-job.jar";

    private static final Duration SAVEPOINT_TIMEOUT = Duration.ofMinutes(3);
    private static final Duration CANCEL_TIMEOUT = Duration.ofMinutes(1);

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--jar", paramLabel = "FILE", description = "The job jar (default: " + JOB_JAR + " in the repository).")
    Path jar;

    @Option(names = "--job-kafka", paramLabel = "SERVERS",
            description = "Kafka as the job sees it (default: --kafka). The Docker stack's job sees kafka:29092.")
    String jobKafka;

    @Option(names = "--job-elasticsearch", paramLabel = "URLS",
            description = "Elasticsearch as the job sees it (default: --elasticsearch). The Docker stack's job sees "
                    + "http://elasticsearch:9200.")
    String jobElasticsearch;

    @Parameters(paramLabel = "JOB_OPTION", description = "More job options, after --.")
    List<String> jobOptions = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path jarFile = jar != null ? jar : ProjectHome.dir().resolve(JOB_JAR);
        List<String> args = new ArrayList<>(List.of(
                "--" + JobOptions.KAFKA_BOOTSTRAP_SERVERS.name(), jobKafka != null ? jobKafka : connection.kafka,
                "--" + JobOptions.ELASTICSEARCH_HOSTS.name(), jobElasticsearch != null ? jobElasticsearch : connection.elasticsearch));
        args.addAll(jobOptions);
        submit(out, new FlinkRest(connection.flink), jarFile, args, null);
        return 0;
    }

    /**
     * Submits the job jar with these program arguments. A live job of the same name is stopped with a savepoint first
     * and the new job starts from it; with no live job, it starts from {@code resumeFrom} if given (a savepoint that
     * ./cdc down took), or fresh should that savepoint not fit the job. Returns the new job's id.
     */
    static String submit(PrintWriter out, FlinkRest flink, Path jar, List<String> programArgs, String resumeFrom)
            throws IOException, InterruptedException {
        // Parse here too: a typo fails now, with the list of options, instead of inside the JobManager.
        String name = JobOptions.fromArgs(programArgs.toArray(String[]::new)).get(JobOptions.JOB_NAME);
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("No job jar at " + jar + "; build it with: mvn -DskipTests package");
        }
        out.println("submit: uploading " + jar + " to " + flink.url());
        out.flush();
        String jarId = flink.uploadJar(jar);

        String savepoint = null;
        Optional<FlinkRest.Job> live = flink.liveJob(name);
        if (live.isPresent()) {
            String jobId = live.get().id();
            out.println("submit: stopping the running job " + name + " (" + jobId + ") with a savepoint ...");
            out.flush();
            try {
                savepoint = flink.stopWithSavepoint(jobId, SAVEPOINT_TIMEOUT);
                out.println("submit: savepoint " + savepoint);
            } catch (IllegalStateException e) {
                out.println("submit: " + e.getMessage() + "; canceling the job instead (the new one resumes from the "
                        + "Kafka offsets it committed)");
                out.flush();
                flink.cancel(jobId, CANCEL_TIMEOUT);
            }
        }
        String jobId;
        if (savepoint == null && resumeFrom != null) {
            savepoint = resumeFrom;
            try {
                jobId = flink.run(jarId, MAIN_CLASS, programArgs, savepoint);
            } catch (IllegalStateException e) {
                out.println("submit: cannot resume from " + savepoint + " (" + e.getMessage().lines().findFirst().orElse("")
                        + "); starting without it");
                savepoint = null;
                jobId = flink.run(jarId, MAIN_CLASS, programArgs, null);
            }
        } else {
            jobId = flink.run(jarId, MAIN_CLASS, programArgs, savepoint);
        }
        out.println("submit: job " + name + " submitted as " + jobId + (savepoint == null ? "" : ", restored from " + savepoint));
        out.flush();
        try {
            flink.deleteJar(jarId); // the job runs from its own copy; don't pile up a 48 MB upload per submit
        } catch (RuntimeException e) {
            out.println("submit: could not delete the uploaded jar " + jarId + " (" + e.getMessage() + ")");
        }
        return jobId;
    }

    /**
     * Stops the live indexing job with a savepoint, so that the next start resumes with its Kafka offsets and state.
     * Best effort (the caller stops the cluster anyway): without it the next job resumes from the offsets the job
     * last committed to Kafka.
     */
    static void stopWithSavepoint(PrintWriter out, String command, FlinkRest flink) {
        try {
            Optional<FlinkRest.Job> job = flink.liveJob(JobOptions.JOB_NAME.defaultValue());
            if (job.isPresent()) {
                out.println(command + ": stopping job " + job.get().name() + " with a savepoint ...");
                out.flush();
                out.println(command + ": savepoint " + flink.stopWithSavepoint(job.get().id(), SAVEPOINT_TIMEOUT));
            }
        } catch (Exception e) {
            out.println(command + ": no savepoint (" + e.getMessage() + "); the next job resumes from the committed Kafka offsets");
        }
        out.flush();
    }

    /** The newest complete savepoint in a folder (one with its _metadata file), if any. */
    static Optional<Path> latestSavepoint(Path savepointDir) throws IOException {
        if (!Files.isDirectory(savepointDir)) {
            return Optional.empty();
        }
        try (Stream<Path> savepoints = Files.list(savepointDir)) {
            return savepoints.filter(dir -> Files.isRegularFile(dir.resolve("_metadata")))
                    .max(Comparator.comparing(dir -> {
                        try {
                            return Files.getLastModifiedTime(dir.resolve("_metadata"));
                        } catch (IOException e) {
                            return FileTime.fromMillis(0);
                        }
                    }));
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
}
