package io.cdcindexer.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Validates docker/docker-compose.yml with Docker Compose itself: {@code config -q} checks the file against the Compose
 * schema and interpolates docker/.env, and needs no Docker engine. Where Compose is missing that test is skipped with a
 * message naming Debian's {@code docker-compose} package, so the README's test command passes on a machine with only
 * Java and Maven; under CI ({@code CI=true}, where {@code .ci/run} installs the package) a missing Compose fails it.
 *
 * <p>The stack heals by itself (docs/docker.md, "How the stack recovers"): the tests below read the file and hold it to
 * that: a restart policy on every long-running service, two TaskManagers, Kafka's record size limit, and the job
 * keeper docker/flink/job-keeper.sh, whose decisions they run with bash.
 */
class DockerComposeFileTest {

    private static final String COMPOSE_FILE = "docker/docker-compose.yml";
    private static final String JOB_KEEPER = "docker/flink/job-keeper.sh";
    private static final long TIMEOUT_SECONDS = 120;

    /** Services that do their work once and exit; every other service runs for as long as the stack does. */
    private static final Set<String> ONE_SHOT = Set.of("connector-setup", "elasticsearch-setup");
    /** The policies that bring a dead long-running service back (but not one stopped on purpose, for unless-stopped). */
    private static final Set<String> RESTARTING = Set.of("unless-stopped", "always");
    /** message.max.bytes: records up to 16 MiB, e.g. a row of a few MB. */
    private static final long KAFKA_MAX_MESSAGE_BYTES = 16L * 1024 * 1024;

    private final Map<String, Object> compose = ComposeFileReader.read(ComposeFileReader.COMPOSE_FILE,
            ComposeFileReader.readEnvFile(ComposeFileReader.ENV_FILE));

    @TempDir
    Path temp;

    @Test
    void composeAcceptsTheComposeFile() throws Exception {
        List<String> command = new ArrayList<>(composeCommand());
        command.addAll(List.of("-f", COMPOSE_FILE, "config", "-q"));

        Result result = run(command);

        assertThat(result.exitCode)
                .as("'%s' failed:%n%s", String.join(" ", command), result.output)
                .isZero();
        assertThat(result.output)
                .as("'%s' printed warnings (an unset variable, a deprecated key ...)", String.join(" ", command))
                .isBlank();
    }

    @Test
    void everyLongRunningServiceRestartsWhenItDies() {
        SoftAssertions softly = new SoftAssertions();
        softly.assertThat(services().keySet()).as("one-shot services named in this test").containsAll(ONE_SHOT);
        for (String name : services().keySet()) {
            String restart = String.valueOf(service(name).get("restart"));
            if (ONE_SHOT.contains(name)) {
                softly.assertThat(restart)
                        .as("restart of one-shot service '%s': 'no', or a bounded 'on-failure:N', so it never loops", name)
                        .matches("no|on-failure:[1-9]");
            } else {
                softly.assertThat(restart)
                        .as("restart of long-running service '%s' (a one-shot service belongs in ONE_SHOT)", name)
                        .isIn(RESTARTING);
            }
        }
        softly.assertAll();
    }

    @Test
    void twoTaskManagersRunTheJob() {
        List<String> taskManagers = services().keySet().stream()
                .filter(name -> "taskmanager".equals(service(name).get("command"))).toList();
        assertThat(taskManagers).as("services with command 'taskmanager' in %s", COMPOSE_FILE).hasSize(2);
        assertThat(taskManagers.stream().map(name -> service(name).get("container_name")).distinct())
                .as("container names of %s", taskManagers).hasSize(2);
        assertThat(taskManagers.stream().map(name -> service(name).get("hostname")).distinct())
                .as("host names of %s", taskManagers).hasSize(2);
    }

    @Test
    void theJobKeeperRunsForAsLongAsTheStack() {
        Map<String, Object> keeper = service("submitter");
        assertThat(keeper.get("restart")).as("restart of the job keeper, service 'submitter'").isEqualTo("unless-stopped");
        assertThat(String.valueOf(keeper.get("command"))).as("command of service 'submitter'").contains("job-keeper.sh");
    }

    @Test
    void elasticsearchMakesNoVersionedIndexByItselfAsInTheLocalStack() {
        assertThat(environment("elasticsearch").get("action.auto_create_index"))
                .isEqualTo(io.cdcindexer.elasticsearch.IndexMappingFunction.AUTO_CREATE_INDEX);
    }

    @Test
    void kafkaTakesRecordsOf16MiB() {
        Object limit = environment("kafka").get("KAFKA_MESSAGE_MAX_BYTES");
        assertThat(limit).as("KAFKA_MESSAGE_MAX_BYTES (message.max.bytes) of service 'kafka'").isNotNull();
        assertThat(Long.parseLong(String.valueOf(limit))).as("message.max.bytes of service 'kafka'")
                .isGreaterThanOrEqualTo(KAFKA_MAX_MESSAGE_BYTES);
    }

    @Test
    void theJobKeeperIsValidBash() throws Exception {
        Result result = run(List.of(bash(), "-n", JOB_KEEPER));
        assertThat(result.exitCode).as("bash -n %s:%n%s", JOB_KEEPER, result.output).isZero();
    }

    @ParameterizedTest(name = "remembers [{0}], live job [{1}], JobManager reports [{2}]: {3}")
    @CsvSource(delimiter = '|', emptyValue = "", textBlock = """
            ''              | ''   | ''       | start
            ''              | job2 | ''       | watch
            'running job1'  | job1 | RUNNING  | watch
            'running job1'  | job2 | ''       | watch
            'running job1'  | ''   | ''       | resume
            'running job1'  | ''   | FINISHED | stopped
            'running job1'  | ''   | CANCELED | stopped
            'running job1'  | ''   | FAILED   | stopped
            stopped         | ''   | ''       | idle
            stopped         | job3 | ''       | watch
            """)
    void theJobKeeperResumesOnlyAJobTheJobManagerLost(String memory, String live, String watchedState, String decision)
            throws Exception {
        Result result = run(List.of(bash(), JOB_KEEPER, "decide", memory, live, watchedState));
        assertThat(result.exitCode).as("%s decide:%n%s", JOB_KEEPER, result.output).isZero();
        assertThat(result.output.trim()).isEqualTo(decision);
    }

    @Test
    void theJobKeeperResumesFromTheNewestCompleteState() throws Exception {
        Path data = temp.resolve("flink-data");
        Path older = complete(data.resolve("checkpoints/job1/chk-7"), 300);
        Path savepoint = complete(data.resolve("savepoints/savepoint-job1-1"), 200);
        Path newest = complete(data.resolve("checkpoints/job2/chk-9"), 100);
        Files.createDirectories(data.resolve("checkpoints/job2/chk-10")); // under way: no _metadata yet
        assertThat(newestState(data)).isEqualTo(newest.toString());

        Files.delete(newest.resolve("_metadata"));
        assertThat(newestState(data)).as("without the newest checkpoint").isEqualTo(savepoint.toString());
        Files.delete(savepoint.resolve("_metadata"));
        assertThat(newestState(data)).as("without the savepoint").isEqualTo(older.toString());
        Files.delete(older.resolve("_metadata"));
        assertThat(newestState(data)).as("with no complete state").isEmpty();
    }

    @Test
    void theJobKeeperReadsTheJobManagersJobList() throws Exception {
        if (!runs(List.of("jq", "--version"))) {
            missingPackage("jq is needed to run the job keeper's JSON queries (its image has it): install Debian's "
                    + "package jq ('apt-get install -y jq').");
        }
        String overview = """
                {"jobs":[{"jid":"a1","name":"cdc-indexer","state":"FINISHED"},
                         {"jid":"b2","name":"other","state":"RUNNING"},
                         {"jid":"c3","name":"cdc-indexer","state":"RESTARTING"}]}""";
        assertThat(keeper(overview, "live-job", "cdc-indexer")).as("a job of that name that has not ended").isEqualTo("c3");
        assertThat(keeper(overview, "live-job", "missing")).isEmpty();
        assertThat(keeper(overview, "job-state", "a1")).isEqualTo("FINISHED");
        assertThat(keeper(overview, "job-state", "z9")).as("a job the JobManager never heard of").isEmpty();
        assertThat(keeper("{\"jobs\":[]}", "live-job", "cdc-indexer")).as("a JobManager just restarted").isEmpty();
    }

    /** Debian's docker-compose (1.29) where installed, else the Compose plugin of a Docker installation. */
    private List<String> composeCommand() throws Exception {
        for (List<String> candidate : List.of(List.of("docker-compose"), List.of("docker", "compose"))) {
            List<String> version = new ArrayList<>(candidate);
            version.add("version");
            if (runs(version)) {
                return candidate;
            }
        }
        missingPackage("Docker Compose is needed to validate " + COMPOSE_FILE + " (no Docker engine is): install"
                + " Debian's package docker-compose ('apt-get install -y docker-compose'), or Docker's Compose plugin.");
        return List.of(); // not reached
    }

    /** Skips the test, naming the package; under CI ({@code CI=true}), where .ci/run installs it, fails instead. */
    private static void missingPackage(String missing) {
        if ("true".equals(System.getenv("CI"))) {
            throw new AssertionError(missing + " .ci/run installs it, so under CI it must be there.");
        }
        Assumptions.abort(missing + " Skipped.");
    }

    private boolean runs(List<String> command) throws Exception {
        try {
            return run(command).exitCode == 0;
        } catch (IOException notInstalled) {
            return false;
        }
    }

    private String bash() throws Exception {
        Assumptions.assumeTrue(runs(List.of("bash", "--version")), "bash is needed to check " + JOB_KEEPER);
        return "bash";
    }

    private String newestState(Path data) throws Exception {
        Result result = run(List.of(bash(), JOB_KEEPER, "newest-state", data.toString()));
        assertThat(result.exitCode).as("%s newest-state:%n%s", JOB_KEEPER, result.output).isZero();
        return result.output.trim();
    }

    /** A savepoint or checkpoint folder with its _metadata, written that many seconds ago. */
    private static Path complete(Path dir, long secondsAgo) throws IOException {
        Path metadata = Files.createDirectories(dir).resolve("_metadata");
        Files.writeString(metadata, "metadata");
        Files.setLastModifiedTime(metadata, FileTime.from(Instant.now().minusSeconds(secondsAgo)));
        return dir;
    }

    /** Runs one step of the keeper on an answer of the JobManager's /jobs/overview. */
    private String keeper(String overview, String step, String argument) throws Exception {
        Path input = Files.writeString(Files.createTempFile(temp, "overview", ".json"), overview);
        Result result = run(List.of(bash(), JOB_KEEPER, step, argument), input);
        assertThat(result.exitCode).as("%s %s %s:%n%s", JOB_KEEPER, step, argument, result.output).isZero();
        return result.output.trim();
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> services() {
        return (Map<String, Object>) compose.get("services");
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> service(String name) {
        Object service = services().get(name);
        assertThat(service).as("service '%s' in %s", name, COMPOSE_FILE).isInstanceOf(Map.class);
        return (Map<String, Object>) service;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> environment(String name) {
        Object environment = service(name).get("environment");
        assertThat(environment).as("environment of service '%s': write it as a map", name).isInstanceOf(Map.class);
        return (Map<String, Object>) environment;
    }

    private record Result(int exitCode, String output) {}

    private Result run(List<String> command) throws Exception {
        return run(command, null);
    }

    private Result run(List<String> command, Path input) throws Exception {
        Path output = Files.createTempFile(temp, "command", ".log");
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(output.toFile());
        if (input != null) {
            builder.redirectInput(input.toFile());
        }
        Process process = builder.start();
        if (input == null) {
            process.getOutputStream().close();
        }
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("'" + String.join(" ", command) + "' did not finish within " + TIMEOUT_SECONDS + " s");
        }
        return new Result(process.exitValue(), Files.readString(output));
    }
}
