package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;

import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.ProjectHome;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code submit} against a real Flink 1.20 session cluster and Kafka broker, with the real job jar: a job that cannot
 * take a savepoint is replaced by one that resumes from its retained checkpoint, and with no job running the newest
 * retained checkpoint of the canceled one is used. The savepoint fails because the savepoint folder cannot be created
 * (a file stands in its place), as it fails during an Elasticsearch outage, only sooner; checkpoints go elsewhere and
 * keep completing. Needs {@code target/cdc-indexer-job.jar} (mvn package).
 */
@ExtendWith(SharedServices.class)
class SubmitCommandITCase {

    @TempDir
    static Path dir;

    static KafkaBroker kafka;
    static FlinkCluster flink;

    @BeforeAll
    static void start(KafkaBroker broker) {
        kafka = broker;
        flink = FlinkCluster.start(dir.resolve("flink"), FreePorts.next());
    }

    @AfterAll
    static void stop() {
        if (flink != null) {
            flink.close();
        }
    }

    @Test
    void aJobThatCannotTakeASavepointIsReplacedFromItsRetainedCheckpoint() throws Exception {
        Path jar = ProjectHome.dir().resolve(SubmitCommand.JOB_JAR);
        assertThat(jar).as("the job jar; build it with mvn -DskipTests package").isRegularFile();
        List<String> args = List.of("--kafka.bootstrap-servers", kafka.bootstrapServers(),
                "--elasticsearch.hosts", "http://localhost:" + FreePorts.next(), // no records arrive: never called
                "--kafka.group-id", "submit-it", "--checkpoint.interval-ms", "1000", "--parallelism", "1",
                "--kafka.topic-pattern", "submit-it\\.none"); // other classes write cdc.public.* on the shared broker
        CommittedOffsets committed = CommittedOffsets.in(kafka.bootstrapServers());

        String first = SubmitCommand.submit(new PrintWriter(new StringWriter()), rest(), committed, jar, args,
                SubmitCommand.Start.FROM_LAST_JOB);
        awaitCompletedCheckpoint(first);
        Path savepoints = FlinkCluster.savepointDir(dir.resolve("flink"));
        DownCommand.deleteRecursively(savepoints); // another test's savepoints may be there
        Files.writeString(savepoints, "a file where the savepoint folder should be");

        StringWriter printed = new StringWriter();
        String second;
        try {
            second = SubmitCommand.submit(new PrintWriter(printed, true), rest(), committed, jar, args,
                    SubmitCommand.Start.FROM_LAST_JOB);
        } finally {
            Files.delete(savepoints); // the folder back, for the other tests
            Files.createDirectories(savepoints);
        }

        assertThat(jobState(first)).isEqualTo("CANCELED");
        String retained = checkpoints(first).path("latest").path("completed").path("external_path").asText();
        assertThat(retained).as("the first job's latest completed checkpoint").contains("/chk-");
        assertThat(Path.of(URI.create(retained)).resolve("_metadata")).as("retained on cancellation").isRegularFile();
        assertThat(restored(second).path("external_path").asText()).as(printed.toString()).isEqualTo(retained);
        assertThat(printed.toString()).contains("submit: canceling job cdc-indexer (" + first + ") instead",
                "submit: the new job resumes from retained checkpoint",
                "restored from " + retained);

        // No job live now: the newest retained checkpoint of the canceled one is what the next one starts from.
        rest().cancel(second, Duration.ofMinutes(1));
        String retainedOfSecond = retainedCheckpointOf(second);
        StringWriter printedThird = new StringWriter();
        String third = SubmitCommand.submit(new PrintWriter(printedThird, true), rest(), committed, jar, args,
                SubmitCommand.Start.FROM_LAST_JOB);

        assertThat(restored(third).path("external_path").asText()).as(printedThird.toString()).isEqualTo(retainedOfSecond);
        assertThat(printedThird.toString()).contains("of job " + second + " (canceled)");
    }

    @Test
    void stoppingWithElasticsearchDownCancelsAtOnceAndKeepsTheRetainedCheckpoint() throws Exception {
        Path jar = ProjectHome.dir().resolve(SubmitCommand.JOB_JAR);
        String nobody = "http://localhost:" + FreePorts.next();
        List<String> args = List.of("--kafka.bootstrap-servers", kafka.bootstrapServers(),
                "--elasticsearch.hosts", nobody, // no records arrive: never called
                "--kafka.group-id", "stop-it", "--checkpoint.interval-ms", "1000", "--parallelism", "1",
                "--kafka.topic-pattern", "stop-it\\.none"); // other classes write cdc.public.* on the shared broker
        String job = SubmitCommand.submit(new PrintWriter(new StringWriter()), rest(), CommittedOffsets.in(kafka.bootstrapServers()),
                jar, args, SubmitCommand.Start.WITHOUT_STATE);
        awaitCompletedCheckpoint(job);

        StringWriter printed = new StringWriter();
        Instant started = Instant.now();
        SubmitCommand.stopWithSavepoint(new PrintWriter(printed, true), "down", rest(),
                List.of(JobStop.Dependency.elasticsearch(nobody), JobStop.Dependency.kafka(kafka.bootstrapServers())));

        assertThat(Duration.between(started, Instant.now())).as(printed.toString()).isLessThan(Duration.ofSeconds(30));
        assertThat(jobState(job)).isEqualTo("CANCELED");
        JsonNode latest = checkpoints(job).path("latest");
        assertThat(latest.path("savepoint").isNull()).as("no savepoint was taken: %s", latest).isTrue();
        String retained = latest.path("completed").path("external_path").asText();
        assertThat(Path.of(URI.create(retained)).resolve("_metadata")).as("retained on cancellation").isRegularFile();
        assertThat(printed.toString()).contains("down: Elasticsearch at " + nobody + " does not answer",
                "down: canceling job cdc-indexer (" + job + ") instead",
                "down: the next ./cdc up resumes from retained checkpoint " + latest.path("completed").path("id").asLong()
                        + " of job " + job + ": " + retained);
    }

    @Test
    void aDocumentRemovedSinceTheSavepointIsRefusedAndItsStateDroppedOnlyWhenAsked() throws Exception {
        Path jar = ProjectHome.dir().resolve(SubmitCommand.JOB_JAR);
        List<String> common = List.of("--kafka.bootstrap-servers", kafka.bootstrapServers(),
                "--elasticsearch.hosts", "http://localhost:" + FreePorts.next(), // no records arrive: never called
                "--kafka.group-id", "documents-it", "--checkpoint.interval-ms", "1000", "--parallelism", "1",
                "--kafka.topic-pattern", "documents-it\\.none", "--job.name", "documents-it");
        List<String> withDocuments = new java.util.ArrayList<>(common);
        withDocuments.addAll(List.of("--documents", ProjectHome.dir().resolve(SubmitCommand.DOCUMENTS).toString()));
        List<String> withoutDocuments = new java.util.ArrayList<>(common);
        withoutDocuments.addAll(List.of("--documents", ""));
        CommittedOffsets committed = CommittedOffsets.in(kafka.bootstrapServers());
        String first = SubmitCommand.submit(new PrintWriter(new StringWriter()), rest(), committed, jar, withDocuments,
                SubmitCommand.Start.FROM_LAST_JOB);
        awaitCompletedCheckpoint(first);

        StringWriter refused = new StringWriter();
        Throwable refusal = org.assertj.core.api.Assertions.catchThrowable(() -> SubmitCommand.submit(
                new PrintWriter(refused, true), rest(), committed, jar, withoutDocuments,
                SubmitCommand.Start.FROM_LAST_JOB));
        String savepoint = refused.toString().lines().filter(line -> line.startsWith("submit: savepoint "))
                .map(line -> line.substring("submit: savepoint ".length())).findFirst().orElseThrow();
        assertThat(refusal).isInstanceOf(SubmitCommand.StateWouldBeLostException.class)
                .hasMessageContaining("holds state of a stage the new job lacks")
                .hasMessageContaining("the old one is stopped: nothing is indexed until one starts")
                .hasMessageContaining("./cdc submit --allow-non-restored-state --resume-from " + savepoint
                        + " (and the same job options) starts");
        assertThat(rest().liveJob("documents-it")).as("no job was started without the state").isEmpty();

        // What the refusal says to run:
        StringWriter printed = new StringWriter();
        String second = SubmitCommand.submit(new PrintWriter(printed, true), rest(), committed, jar, withoutDocuments,
                SubmitCommand.Start.resumingFrom(savepoint).allowingNonRestoredState(true));

        assertThat(restored(second).path("external_path").asText()).as(printed.toString()).isEqualTo(savepoint);
        assertThat(printed.toString()).contains("(the state of any stage the new job lacks left out, as asked");
        awaitCompletedCheckpoint(second);
        rest().cancel(second, Duration.ofMinutes(1));
    }

    private static FlinkRest rest() {
        return new FlinkRest(flink.url());
    }

    private static JsonNode checkpoints(String job) throws Exception {
        return Http.get(flink.url() + "/jobs/" + job + "/checkpoints").json();
    }

    private static String jobState(String job) throws Exception {
        return Http.get(flink.url() + "/jobs/" + job).json().path("state").asText();
    }

    private static void awaitCompletedCheckpoint(String job) throws Exception {
        Instant deadline = Instant.now().plusSeconds(120);
        while (!checkpoints(job).path("latest").path("completed").hasNonNull("external_path")) {
            assertThat(Instant.now()).as("job %s completes a checkpoint within 120 s", job).isBefore(deadline);
            Thread.sleep(500);
        }
    }

    /** The checkpoint a canceled job left, as its statistics name it (the cluster still answers for the job). */
    private static String retainedCheckpointOf(String job) throws Exception {
        JsonNode completed = checkpoints(job).path("latest").path("completed");
        assertThat(completed.hasNonNull("external_path")).as("job %s completed a checkpoint: %s", job, completed).isTrue();
        return completed.path("external_path").asText();
    }

    /**
     * What a job reports it started from (its {@code latest.restored}), read once it has completed a checkpoint of its
     * own, by which time a restore would show. Flink reports any state restored from a path as {@code "is_savepoint":
     * true}, a retained checkpoint too.
     */
    private static JsonNode restored(String job) throws Exception {
        awaitCompletedCheckpoint(job);
        return checkpoints(job).path("latest").path("restored");
    }
}
