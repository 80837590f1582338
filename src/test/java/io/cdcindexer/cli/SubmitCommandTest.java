package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.stack.ProjectHome;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What state {@code submit} starts the new job from, decided against a stand-in for Flink's REST API
 * ({@link FakeFlinkRest}); the real cluster is {@link SubmitCommandITCase}'s.
 */
class SubmitCommandTest {

    private static final String NOT_RUNNING = "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint "
            + "triggering task Source: Kafka (1/2) is not being executed at the moment. Aborting checkpoint.";
    private static final List<String> ARGS =
            List.of("--kafka.bootstrap-servers", "localhost:9092", "--elasticsearch.hosts", "http://localhost:9200");

    @TempDir
    Path dir;

    FakeFlinkRest flink;
    Path jar;
    StringWriter printed = new StringWriter();
    /** The partitions for which the consumer group has committed offsets, as Kafka would answer. */
    int committedPartitions;
    List<String> groupsAsked = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        flink = new FakeFlinkRest();
        jar = Files.writeString(dir.resolve("cdc-indexer-job.jar"), "not really a jar");
    }

    @AfterEach
    void stop() {
        flink.close();
    }

    @Test
    void aRunningJobIsStoppedWithASavepointAndTheNewOneStartsFromIt() throws Exception {
        flink.job("old", "RUNNING", 100);

        String newJob = submit(SubmitCommand.Start.FROM_LAST_JOB);

        assertThat(flink.runs()).singleElement()
                .satisfies(run -> assertThat(run.path("savepointPath").asText()).isEqualTo("file:/savepoints/savepoint-old"));
        assertThat(printed()).contains("submit: job cdc-indexer submitted as " + newJob
                + ", restored from file:/savepoints/savepoint-old");
        assertThat(flink.requests("PATCH", "/jobs/old")).as("no cancel").isEmpty();
        assertThat(printed()).as("the project's documents go on from the state: added ones need a snapshot")
                .contains("submit: joined documents (" + ProjectHome.dir().resolve("configs/documents.json")
                        + ") go on from the state; a document or table added to them since needs ./cdc snapshot");
    }

    @Test
    void aRunningJobThatCannotTakeASavepointIsCanceledAndTheNewOneResumesFromItsRetainedCheckpoint() throws Exception {
        flink.job("old", "RUNNING", 100).savepointFails(NOT_RUNNING)
                .restoredFrom(3, "file:/savepoints/savepoint-older")
                .completedCheckpoint(7, "file:/checkpoints/old/chk-7");

        submit(SubmitCommand.Start.FROM_LAST_JOB);

        assertThat(flink.requests("PATCH", "/jobs/old?mode=cancel")).hasSize(1);
        assertThat(flink.runs()).singleElement()
                .satisfies(run -> assertThat(run.path("savepointPath").asText()).isEqualTo("file:/checkpoints/old/chk-7"));
        assertThat(printed()).contains("not being executed at the moment",
                "submit: canceling job cdc-indexer (old) instead; the cluster keeps its retained checkpoints",
                "submit: the new job resumes from retained checkpoint 7 of job old: file:/checkpoints/old/chk-7",
                "restored from file:/checkpoints/old/chk-7");
    }

    @Test
    void aRunningJobWithoutACheckpointResumesFromTheStateItStartedFrom() throws Exception {
        // e.g. rescaled to more slots than there are: restarting ever since it was restored, no checkpoint completed
        flink.job("old", "RESTARTING", 100).savepointFails(NOT_RUNNING).restoredFrom(3, "file:/savepoints/savepoint-s");

        submit(SubmitCommand.Start.FROM_LAST_JOB);

        assertThat(flink.runs()).singleElement()
                .satisfies(run -> assertThat(run.path("savepointPath").asText()).isEqualTo("file:/savepoints/savepoint-s"));
    }

    @Test
    void aRunningJobWithNoStateAtAllIsLeftRunningAndSubmitRefuses() {
        flink.job("old", "RUNNING", 100).savepointFails(NOT_RUNNING);

        assertThatThrownBy(() -> submit(SubmitCommand.Start.FROM_LAST_JOB))
                .isInstanceOf(SubmitCommand.StateWouldBeLostException.class)
                .hasMessageContaining("no retained checkpoint")
                .hasMessageContaining("it was left running")
                .hasMessageContaining("lose the transactions it holds incomplete")
                .hasMessageContaining("--without-state");
        assertThat(flink.requests("PATCH", "/jobs/old")).as("no cancel").isEmpty();
        assertThat(flink.runs()).isEmpty();
        assertThat(flink.requests("DELETE", "/jars/")).as("the upload is deleted").hasSize(1);
    }

    @Test
    void withNoLiveJobTheNewestStateOfTheLastCanceledJobIsUsed() throws Exception {
        flink.job("first", "FINISHED", 100).savepoint(5, "file:/savepoints/savepoint-first");
        flink.job("second", "CANCELED", 200)
                .savepoint(10, "file:/savepoints/savepoint-second")
                .completedCheckpoint(12, "file:/checkpoints/second/chk-12");

        submit(SubmitCommand.Start.FROM_LAST_JOB);

        assertThat(flink.runs()).singleElement().satisfies(run ->
                assertThat(run.path("savepointPath").asText()).isEqualTo("file:/checkpoints/second/chk-12"));
        assertThat(printed()).contains("resuming from retained checkpoint 12 of job second (canceled)");
    }

    @Test
    void aLastJobThatLeftNoStateIsSkippedForTheOneBefore() throws Exception {
        // the last job failed at start, before it restored anything or completed a checkpoint: it committed no offsets
        flink.job("first", "FINISHED", 100).savepoint(5, "file:/savepoints/savepoint-first");
        flink.job("second", "FAILED", 200);

        submit(SubmitCommand.Start.FROM_LAST_JOB);

        assertThat(flink.runs()).singleElement().satisfies(run ->
                assertThat(run.path("savepointPath").asText()).isEqualTo("file:/savepoints/savepoint-first"));
    }

    @Test
    void earlierJobsWithoutAnyStateMakeSubmitRefuse() {
        flink.job("gone", "CANCELED", 100);

        assertThatThrownBy(() -> submit(SubmitCommand.Start.FROM_LAST_JOB))
                .isInstanceOf(SubmitCommand.StateWouldBeLostException.class)
                .hasMessageContaining("job cdc-indexer ran on this cluster before (gone canceled)")
                .hasMessageContaining("lose the transactions it held incomplete")
                .hasMessageContaining("--without-state");
        assertThat(flink.runs()).isEmpty();
    }

    @Test
    void committedOffsetsWithoutAnyJobOnTheClusterMakeSubmitRefuse() {
        committedPartitions = 6;

        assertThatThrownBy(() -> submit(SubmitCommand.Start.FROM_LAST_JOB))
                .isInstanceOf(SubmitCommand.StateWouldBeLostException.class)
                .hasMessageContaining("consumer group cdc-indexer has committed offsets for 6 partitions")
                .hasMessageContaining("--without-state");
        assertThat(groupsAsked).containsExactly("cdc-indexer");
        assertThat(flink.runs()).isEmpty();
    }

    @Test
    void theFirstStartEverStartsWithoutStateFromTheCommittedOffsets() throws Exception {
        submit(SubmitCommand.Start.FROM_LAST_JOB);

        JsonNode run = flink.runs().get(0);
        assertThat(run.has("savepointPath")).isFalse();
        assertThat(run.path("programArgsList").toString()).doesNotContain("kafka.starting-offsets");
        assertThat(printed()).contains("first start: no job cdc-indexer ran on this cluster and consumer group "
                + "cdc-indexer has committed no offsets");
    }

    @Test
    void aMistakeInTheDocumentsFileFailsBeforeAnythingIsUploaded(@TempDir Path dir) throws Exception {
        Path documents = Files.writeString(dir.resolve("documents.json"), "{\"documents\": [{\"table\": \"public.users\"}]}");

        assertThatThrownBy(() -> submit(SubmitCommand.Start.WITHOUT_STATE, "--documents", documents.toString()))
                .isInstanceOf(CliException.class)
                .hasMessageContaining("document 1: \"index\" must be a non-empty string");
        assertThat(flink.requests("POST", "/jars/upload")).isEmpty();
    }

    @Test
    void theProjectsMappingOverridesAndDocumentsGoToTheJobUnlessItsOptionsNameAFile() throws Exception {
        submit(SubmitCommand.Start.WITHOUT_STATE);

        assertThat(flink.runs().get(0).path("programArgsList").toString()).contains(
                "\"--elasticsearch.mapping-overrides\",\"" + ProjectHome.dir().resolve("configs/index-mappings.json") + "\"");
        assertThat(flink.runs().get(0).path("programArgsList").toString()).contains(
                "\"--documents\",\"" + ProjectHome.dir().resolve("configs/documents.json") + "\"");
    }

    @Test
    void withoutStateStartsFromTheEarliestOffsetsAfterStoppingTheRunningJobWithASavepoint() throws Exception {
        flink.job("old", "RUNNING", 100).completedCheckpoint(7, "file:/checkpoints/old/chk-7");
        committedPartitions = 6;

        submit(SubmitCommand.Start.WITHOUT_STATE);

        assertThat(flink.requests("POST", "/jobs/old/stop")).hasSize(1);
        JsonNode run = flink.runs().get(0);
        assertThat(run.has("savepointPath")).isFalse();
        assertThat(run.path("programArgsList").toString()).contains("\"--kafka.starting-offsets\",\"earliest\"");
        assertThat(groupsAsked).isEmpty();
        assertThat(printed()).contains("savepoint file:/savepoints/savepoint-old (kept, not used: --without-state)",
                "starting without state, as asked (--without-state)");
    }

    @Test
    void withoutStateCancelsARunningJobThatHasNoStateToKeep() throws Exception {
        flink.job("old", "RUNNING", 100).savepointFails(NOT_RUNNING);

        submit(SubmitCommand.Start.WITHOUT_STATE);

        assertThat(flink.requests("PATCH", "/jobs/old?mode=cancel")).hasSize(1);
        assertThat(flink.runs()).singleElement().satisfies(run -> assertThat(run.has("savepointPath")).isFalse());
        assertThat(printed()).contains("canceling it anyway, as the new job starts without state (--without-state)");
    }

    @Test
    void withoutStateRefusesToStartFromTheCommittedOffsets() {
        assertThatThrownBy(() -> submit(SubmitCommand.Start.WITHOUT_STATE, "--kafka.starting-offsets", "committed"))
                .hasMessageContaining("--without-state starts from the earliest offsets Kafka holds");
        assertThat(flink.requests).isEmpty();
    }

    @Test
    void aSavepointHandedInIsUsedWhenNoJobRuns() throws Exception {
        flink.job("earlier", "CANCELED", 100).completedCheckpoint(3, "file:/checkpoints/earlier/chk-3");

        submit(SubmitCommand.Start.resumingFrom("file:/data/savepoints/savepoint-down"));

        assertThat(flink.runs()).singleElement().satisfies(run ->
                assertThat(run.path("savepointPath").asText()).isEqualTo("file:/data/savepoints/savepoint-down"));
    }

    @Test
    void aSavepointThatCannotBeResumedIsAnErrorNotAStartWithoutIt() {
        flink.runFromStateFailure = "org.apache.flink.runtime.client.JobInitializationException: Could not start the JobMaster.";

        assertThatThrownBy(() -> submit(SubmitCommand.Start.resumingFrom("file:/data/savepoints/savepoint-down")))
                .isInstanceOf(CliException.class)
                .hasMessageContaining("could not start job cdc-indexer from the savepoint handed in, "
                        + "file:/data/savepoints/savepoint-down")
                .hasMessageContaining("JobInitializationException")
                .hasMessageContaining("--without-state");
        assertThat(flink.runs()).as("one attempt, from the savepoint; none without it").singleElement()
                .satisfies(run -> assertThat(run.has("savepointPath")).isTrue());
    }

    @Test
    void stateOfAStageTheNewJobLacksIsRefusedAndDroppedOnlyWhenAsked() throws Exception {
        // Flink's answer, cut: a document removed from the declaration since the savepoint
        flink.runFromStateFailure = "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute "
                + "application.\\n\\tat ...\\nCaused by: java.lang.IllegalStateException: Failed to rollback to "
                + "checkpoint/savepoint file:/data/savepoints/savepoint-down. Cannot map checkpoint/savepoint state for "
                + "operator 2a0e8a1b4c7a1f5e0c2d3b4a5f6e7d8c to the new program, because the operator is not available "
                + "in the new program. If you want to allow to skip this, you can set the --allowNonRestoredState "
                + "option on the CLI.";
        flink.failureSkippedByNonRestoredState = true;
        SubmitCommand.Start fromDown = SubmitCommand.Start.resumingFrom("file:/data/savepoints/savepoint-down");

        assertThatThrownBy(() -> submit(fromDown))
                .isInstanceOf(SubmitCommand.StateWouldBeLostException.class) // ./cdc up keeps the stack running
                .hasMessageContaining("holds state of a stage the new job lacks (operator "
                        + "2a0e8a1b4c7a1f5e0c2d3b4a5f6e7d8c; Flink names the first it meets)")
                .hasMessageContaining("a document, or a table of one, removed from "
                        + ProjectHome.dir().resolve(SubmitCommand.DOCUMENTS) + " since")
                .hasMessageContaining("No job was started. If the removal is meant") // none was running
                .hasMessageContaining("./cdc submit --allow-non-restored-state --resume-from "
                        + "file:/data/savepoints/savepoint-down (and the same job options) starts from it without the "
                        + "state of every stage the new job lacks");
        assertThat(flink.runs()).singleElement()
                .satisfies(run -> assertThat(run.path("allowNonRestoredState").asBoolean()).isFalse());

        submit(fromDown.allowingNonRestoredState(true));

        assertThat(flink.runs()).hasSize(2).last().satisfies(run -> {
            assertThat(run.path("savepointPath").asText()).isEqualTo("file:/data/savepoints/savepoint-down");
            assertThat(run.path("allowNonRestoredState").asBoolean()).isTrue();
        });
        assertThat(printed()).contains("restored from file:/data/savepoints/savepoint-down (the state of any stage the "
                + "new job lacks left out, as asked: --allow-non-restored-state)");
    }

    @Test
    void resumesFromTheNewestCompleteSavepoint() throws Exception {
        Path savepoints = dir.resolve("savepoints");
        state(savepoints.resolve("savepoint-old"), Instant.now().minusSeconds(600));
        Path newest = state(savepoints.resolve("savepoint-new"), Instant.now().minusSeconds(60));
        Files.createDirectories(savepoints.resolve("savepoint-unfinished")); // no _metadata: being written or broken

        assertThat(SubmitCommand.latestSavepoint(savepoints)).contains(newest);
    }

    @Test
    void noSavepointFolderMeansNoSavepoint() throws Exception {
        assertThat(SubmitCommand.latestSavepoint(dir.resolve("missing"))).isEmpty();
    }

    @Test
    void upResumesFromARetainedCheckpointNewerThanTheLastSavepoint() throws Exception {
        // ./cdc down could not take a savepoint: the job's checkpoints stayed when the cluster stopped
        Path flinkDir = dir.resolve("flink");
        state(flinkDir.resolve("savepoints/savepoint-old"), Instant.now().minusSeconds(600));
        state(flinkDir.resolve("checkpoints/aaa/chk-40"), Instant.now().minusSeconds(300));
        Path newest = state(flinkDir.resolve("checkpoints/bbb/chk-41"), Instant.now().minusSeconds(60));
        Files.createDirectories(flinkDir.resolve("checkpoints/bbb/chk-42")); // in progress: no _metadata yet
        Files.createDirectories(flinkDir.resolve("checkpoints/bbb/shared"));

        assertThat(SubmitCommand.latestSavepointOrCheckpoint(flinkDir)).contains(newest.toAbsolutePath());
    }

    @Test
    void upResumesFromTheLastSavepointWhenItIsTheNewest() throws Exception {
        Path flinkDir = dir.resolve("flink");
        state(flinkDir.resolve("checkpoints/aaa/chk-40"), Instant.now().minusSeconds(300));
        Path newest = state(flinkDir.resolve("savepoints/savepoint-new"), Instant.now().minusSeconds(60));

        assertThat(SubmitCommand.latestSavepointOrCheckpoint(flinkDir)).contains(newest.toAbsolutePath());
        assertThat(SubmitCommand.latestSavepointOrCheckpoint(dir.resolve("empty"))).isEmpty();
    }

    private String submit(SubmitCommand.Start start, String... moreArgs) throws Exception {
        List<String> args = new ArrayList<>(ARGS);
        args.addAll(List.of(moreArgs));
        CommittedOffsets committed = group -> {
            groupsAsked.add(group);
            return committedPartitions;
        };
        return SubmitCommand.submit(new PrintWriter(printed, true), new FlinkRest(flink.url()), committed, jar, args, start);
    }

    private String printed() {
        return printed.toString();
    }

    private static Path state(Path dir, Instant written) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("_metadata"), "x");
        Files.setLastModifiedTime(dir.resolve("_metadata"), FileTime.from(written));
        return dir;
    }

    @Test
    void theJobGetsTheUserAndTheSecretFilesPathsNeverASecret() {
        ConnectionOptions connection = ConnectionOptions.parse("--elasticsearch", "https://es:9200",
                "--elasticsearch-username", "cdc_indexer", "--elasticsearch-password-file", "secrets/es-password",
                "--elasticsearch-ca", "/etc/ca.pem", "--elasticsearch-verify-hostname", "false",
                "--kafka-properties", "/etc/kafka.properties");

        assertThat(SubmitCommand.securityOptions(connection, true, true)).containsExactly(
                "--elasticsearch.username", "cdc_indexer",
                "--elasticsearch.password-file", Path.of("secrets/es-password").toAbsolutePath().toString(),
                "--elasticsearch.ca-file", "/etc/ca.pem",
                "--elasticsearch.verify-hostname", "false",
                "--kafka.properties-file", "/etc/kafka.properties");
        assertThat(SubmitCommand.securityOptions(connection, false, false))
                .as("a job that sees the services elsewhere (--job-elasticsearch, --job-kafka) runs elsewhere: "
                        + "this machine's paths mean nothing there")
                .containsExactly("--elasticsearch.username", "cdc_indexer");
    }
}
