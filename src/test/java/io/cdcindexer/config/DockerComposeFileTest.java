package io.cdcindexer.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cdcindexer.elasticsearch.IndexNames;
import io.cdcindexer.job.JobOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
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
 *
 * <p>Elasticsearch runs with security on (docs/docker.md, "Security"): the tests hold the file to TLS and users, the
 * one-shot elasticsearch-setup (docker/elasticsearch/setup.sh, run with bash where it needs no Elasticsearch) before
 * whatever needs its certificates or user, the job connecting over https as its own user, and no secret anywhere but
 * docker/.env.
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

    private static final String SETUP = "elasticsearch-setup";
    private static final String SETUP_SCRIPT = "docker/elasticsearch/setup.sh";
    /** Where Elasticsearch's image resolves relative paths in its settings (xpack.security.*.ssl.*). */
    private static final String ELASTICSEARCH_CONFIG = "/usr/share/elasticsearch/config";
    /** The repository folder the setup writes the certificates to: git-ignored, and kept out of the image builds. */
    private static final Path CERTS = Path.of("docker/certs");
    /** Environment variables that hold a secret, by name. */
    private static final Pattern SECRET_NAME = Pattern.compile("(?i).*(PASSWORD|SECRET|TOKEN|API_KEY).*");
    /** Secrets of docker/.env that are public anyway: the PostgreSQL password is ./cdc's default --pg-password. */
    private static final Set<String> WELL_KNOWN_SECRETS = Set.of("POSTGRES_PASSWORD");

    /** The privileges the job's role needs (docs/security.md), by index pattern; cluster privileges under "". */
    private static final Map<String, Set<String>> JOB_ROLE = Map.of(
            "", Set.of("monitor"),
            "cdc.*", Set.of("create_index", "manage", "write", "read", "view_index_metadata"),
            "cdc-indexer-reindex", Set.of("read", "view_index_metadata"));

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

    @Test
    void elasticsearchRunsWithSecurityAndTls() {
        Map<String, Object> settings = environment("elasticsearch");
        SoftAssertions softly = new SoftAssertions();
        for (String key : List.of("xpack.security.enabled", "xpack.security.http.ssl.enabled",
                "xpack.security.transport.ssl.enabled")) {
            softly.assertThat(String.valueOf(settings.get(key))).as("%s of service 'elasticsearch'", key).isEqualTo("true");
        }
        softly.assertThat(String.valueOf(service("elasticsearch").get("image")))
                .as("image of service 'elasticsearch': security is in the default distribution, not the -oss one")
                .startsWith("elasticsearch:").doesNotContain("-oss");
        softly.assertThat(service(SETUP).get("image")).as("image of service '%s' (its elasticsearch-certutil)", SETUP)
                .isEqualTo(service("elasticsearch").get("image"));
        String health = healthcheck("elasticsearch");
        softly.assertThat(health).as("health check of service 'elasticsearch': https, the stack's CA, credentials")
                .contains("https://localhost:9200").contains("--cacert config/certs/ca/ca.crt").contains("-K -")
                .doesNotContain("http://").doesNotContain("--insecure").doesNotContain(" -k ");
        softly.assertAll();
    }

    @Test
    void elasticsearchUsesTheCertificatesTheSetupMakes() {
        Map<String, Object> setup = environment(SETUP);
        String certsInSetup = String.valueOf(setup.get("CERTS_DIR"));
        Path certs = ComposeFileReader.hostPathOf(service(SETUP), certsInSetup).orElseThrow(() -> new AssertionError(
                "CERTS_DIR " + certsInSetup + " of service '" + SETUP + "' lies on no bind mount"));
        assertThat(certs).as("where service '%s' writes the certificates (CERTS_DIR)", SETUP).isEqualTo(CERTS);
        assertThat(ComposeFileReader.mounts(service(SETUP))).as("mounts of service '%s'", SETUP)
                .anyMatch(m -> m.hostPath().equals(CERTS) && !m.readOnly());

        // What setup.sh writes under CERTS_DIR; Elasticsearch reads the same files (paths relative to its config).
        String script = read(Path.of(SETUP_SCRIPT));
        Map<String, String> files = Map.of(
                "xpack.security.http.ssl.certificate_authorities", "ca/ca.crt",
                "xpack.security.http.ssl.certificate", "elasticsearch/elasticsearch.crt",
                "xpack.security.http.ssl.key", "elasticsearch/elasticsearch.key",
                "xpack.security.transport.ssl.certificate_authorities", "ca/ca.crt",
                "xpack.security.transport.ssl.certificate", "elasticsearch/elasticsearch.crt",
                "xpack.security.transport.ssl.key", "elasticsearch/elasticsearch.key");
        SoftAssertions softly = new SoftAssertions();
        files.forEach((setting, file) -> {
            softly.assertThat(script).as("%s must write $certs/%s", SETUP_SCRIPT, file).contains("\"$certs/" + file + "\"");
            String path = ELASTICSEARCH_CONFIG + "/" + environment("elasticsearch").get(setting);
            softly.assertThat(ComposeFileReader.hostPathOf(service("elasticsearch"), path))
                    .as("%s of service 'elasticsearch' (%s) vs the file %s writes", setting, path, SETUP_SCRIPT)
                    .contains(CERTS.resolve(file));
        });
        softly.assertThat(dependency("elasticsearch", SETUP))
                .as("service 'elasticsearch' must start once '%s' is healthy (its certificates exist)", SETUP)
                .isEqualTo("service_healthy");
        softly.assertThat(healthcheck(SETUP)).as("health check of service '%s'", SETUP)
                .contains(String.valueOf(setup.get("READY_MARKER")));
        softly.assertThat(script).as("%s must mark the certificates ready once they are", SETUP_SCRIPT)
                .contains("touch \"$ready_marker\"");
        softly.assertAll();
    }

    @Test
    void whatNeedsTheCertificatesOrTheJobsUserWaitsForTheSetup() {
        SoftAssertions softly = new SoftAssertions();
        List<String> needing = new ArrayList<>(taskManagers());
        needing.add("submitter");
        for (String name : services().keySet()) {
            boolean mountsCerts = ComposeFileReader.mounts(service(name)).stream()
                    .anyMatch(m -> m.isBindMount() && m.hostPath().startsWith(CERTS));
            if (mountsCerts && !name.equals(SETUP) && !name.equals("elasticsearch")) {
                needing.add(name);
            }
        }
        for (String name : needing.stream().distinct().toList()) {
            softly.assertThat(dependency(name, SETUP))
                    .as("service '%s' must wait until '%s' has made the certificates and the job's user", name, SETUP)
                    .isEqualTo("service_completed_successfully");
        }
        softly.assertAll();
    }

    @Test
    void theJobConnectsOverTlsAsItsOwnUser() {
        JobOptions job = JobOptions.fromArgs(jobArgs().toArray(String[]::new));
        Map<String, Object> setup = environment(SETUP);
        SoftAssertions softly = new SoftAssertions();
        String hosts = job.get(JobOptions.ELASTICSEARCH_HOSTS);
        softly.assertThat(hosts).as("--%s in JOB_ARGS of service 'submitter'", JobOptions.ELASTICSEARCH_HOSTS.name())
                .startsWith("https://");
        softly.assertThat(job.get(JobOptions.ELASTICSEARCH_USERNAME))
                .as("--%s in JOB_ARGS vs the user service '%s' creates", JobOptions.ELASTICSEARCH_USERNAME.name(), SETUP)
                .isEqualTo(setup.get("CDC_INDEXER_USER"));
        softly.assertThat(job.get(JobOptions.ELASTICSEARCH_VERIFY_HOSTNAME)).as("hostname verification of the job")
                .isEqualTo("true");
        String host = java.net.URI.create(hosts).getHost();
        softly.assertThat(certificateNames()).as("names in the node certificate (%s): the job's host, and localhost"
                + " for ./cdc on the host", SETUP_SCRIPT).contains(host, "localhost", "127.0.0.1");

        String ca = job.get(JobOptions.ELASTICSEARCH_CA_FILE);
        Map<String, String> rawSetup = rawEnvironment(SETUP);
        for (String taskManager : taskManagers()) {
            softly.assertThat(ComposeFileReader.hostPathOf(service(taskManager), ca))
                    .as("--%s %s on service '%s' vs the CA that '%s' makes", JobOptions.ELASTICSEARCH_CA_FILE.name(), ca,
                            taskManager, SETUP)
                    .contains(CERTS.resolve("ca/ca.crt"));
            softly.assertThat(ComposeFileReader.mounts(service(taskManager)))
                    .as("service '%s' mounts the certificates read-only, and the CA's folder only", taskManager)
                    .filteredOn(m -> m.isBindMount() && m.hostPath().startsWith(CERTS))
                    .allMatch(m -> m.readOnly() && m.hostPath().equals(CERTS.resolve("ca")));
            softly.assertThat(rawEnvironment(taskManager).get("ELASTICSEARCH_PASSWORD"))
                    .as("ELASTICSEARCH_PASSWORD of service '%s' (the job reads it there) vs CDC_INDEXER_PASSWORD of"
                            + " service '%s' (the user's password)", taskManager, SETUP)
                    .isNotNull().isEqualTo(rawSetup.get("CDC_INDEXER_PASSWORD"));
        }
        softly.assertAll();
    }

    @Test
    void theJobsRoleGrantsWhatTheJobNeeds() throws IOException {
        Map<String, Object> setup = environment(SETUP);
        String roleFile = String.valueOf(setup.get("ROLE_FILE"));
        Path role = ComposeFileReader.hostPathOf(service(SETUP), roleFile).orElseThrow(() -> new AssertionError(
                "ROLE_FILE " + roleFile + " of service '" + SETUP + "' lies on no bind mount"));
        JsonNode json = new ObjectMapper().readTree(read(role));
        Map<String, Set<String>> granted = new LinkedHashMap<>();
        granted.put("", strings(json.path("cluster")));
        json.path("indices").forEach(entry -> entry.path("names").forEach(name ->
                granted.computeIfAbsent(name.asText(), n -> new TreeSet<>()).addAll(strings(entry.path("privileges")))));
        assertThat(granted).as("privileges of the role in %s (cluster under \"\")", role).isEqualTo(JOB_ROLE);

        String index = new IndexNames(JobOptions.ELASTICSEARCH_INDEX.defaultValue()).of("cdc.public.users", "public.users");
        assertThat(index).as("the job's index for topic cdc.public.users must fall under the role's pattern cdc.*")
                .startsWith("cdc.");
        assertThat(setup.get("CDC_INDEXER_ROLE")).as("CDC_INDEXER_ROLE of service '%s'", SETUP).isEqualTo("cdc_indexer");
    }

    @Test
    void noSecretIsWrittenOutsideTheEnvFile() throws IOException {
        Map<String, String> env = ComposeFileReader.readEnvFile(ComposeFileReader.ENV_FILE);
        Set<String> secretNames = env.keySet().stream().filter(n -> SECRET_NAME.matcher(n).matches())
                .collect(Collectors.toCollection(TreeSet::new));
        assertThat(secretNames).as("secrets in %s", ComposeFileReader.ENV_FILE)
                .contains("ELASTIC_PASSWORD", "CDC_INDEXER_PASSWORD", "GRAFANA_ADMIN_PASSWORD");
        String raw = read(ComposeFileReader.COMPOSE_FILE);
        SoftAssertions softly = new SoftAssertions();
        for (String name : services().keySet()) {
            rawEnvironment(name).forEach((key, value) -> {
                if (SECRET_NAME.matcher(key).matches()) {
                    softly.assertThat(value).as("%s of service '%s': a secret comes from %s as ${NAME}", key, name,
                            ComposeFileReader.ENV_FILE).matches("\\$\\{[A-Z_]+}");
                }
            });
            // Outside the environment, a secret would stand in docker inspect's command or health check, and in ps.
            Map<String, Object> rest = new LinkedHashMap<>(rawService(name));
            rest.remove("environment");
            for (String secret : secretNames) {
                softly.assertThat(String.valueOf(rest)).as("service '%s' outside its environment", name)
                        .doesNotContain("${" + secret + "}");
            }
        }
        for (String secret : secretNames) {
            softly.assertThat(raw).as("%s uses ${%s}", ComposeFileReader.COMPOSE_FILE, secret).contains("${" + secret + "}");
            if (!WELL_KNOWN_SECRETS.contains(secret)) {
                for (Path file : filesThatMustHoldNoSecret()) {
                    softly.assertThat(read(file)).as("%s must not hold the value of %s from %s", file, secret,
                            ComposeFileReader.ENV_FILE).doesNotContain(env.get(secret));
                }
            }
        }
        softly.assertAll();
    }

    @Test
    void theCertificatesStayOutOfGitAndOfTheImages() {
        String folder = CERTS.toString().replace('\\', '/') + "/";
        assertThat(read(Path.of(".gitignore")).lines()).as(".gitignore").contains(folder);
        assertThat(read(Path.of("docker/Dockerfile.dockerignore")).lines())
                .as("docker/Dockerfile.dockerignore: the build context must not take the keys").contains(folder);
    }

    @Test
    void theSetupScriptIsValidBash() throws Exception {
        Object command = service(SETUP).get("command");
        assertThat(command).as("command of service '%s'", SETUP).isInstanceOf(List.class);
        String script = String.valueOf(((List<?>) command).get(((List<?>) command).size() - 1));
        assertThat(ComposeFileReader.hostPathOf(service(SETUP), script))
                .as("the script service '%s' runs (%s), as it mounts it", SETUP, script).contains(Path.of(SETUP_SCRIPT));
        Result result = run(List.of(bash(), "-n", SETUP_SCRIPT));
        assertThat(result.exitCode).as("bash -n %s:%n%s", SETUP_SCRIPT, result.output).isZero();
    }

    @ParameterizedTest(name = "[{0}]: {1}")
    @CsvSource(delimiter = '|', textBlock = """
            good-password-1   | accepted
            a.b:c/d#e!f$g     | accepted
            short             | refused
            with space        | refused
            with"quote        | refused
            back\\slash       | refused
            """)
    void theSetupRefusesPasswordsItCannotPassOn(String password, String verdict) throws Exception {
        Result result = run(List.of(bash(), SETUP_SCRIPT, "check-password", "SOME_PASSWORD", password));
        assertThat(result.exitCode == 0 ? "accepted" : "refused").as("%s check-password:%n%s", SETUP_SCRIPT, result.output)
                .isEqualTo(verdict);
        if (result.exitCode != 0) {
            assertThat(result.output).as("the refusal names the variable, never the value")
                    .contains("SOME_PASSWORD").doesNotContain(password);
        }
    }

    @Test
    void theSetupAcceptsThePasswordsOfTheEnvFile() throws Exception {
        Map<String, String> env = ComposeFileReader.readEnvFile(ComposeFileReader.ENV_FILE);
        for (String name : List.of("ELASTIC_PASSWORD", "CDC_INDEXER_PASSWORD")) {
            Result result = run(List.of(bash(), SETUP_SCRIPT, "check-password", name, env.getOrDefault(name, "")));
            assertThat(result.exitCode).as("%s in %s:%n%s", name, ComposeFileReader.ENV_FILE, result.output).isZero();
        }
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

    private List<String> taskManagers() {
        return services().keySet().stream().filter(name -> "taskmanager".equals(service(name).get("command"))).toList();
    }

    /** The condition under which one service waits for another, or null when it does not. */
    private String dependency(String name, String on) {
        Object dependsOn = service(name).get("depends_on");
        if (dependsOn instanceof Map<?, ?> map && map.get(on) instanceof Map<?, ?> condition) {
            return String.valueOf(condition.get("condition"));
        }
        return null;
    }

    private String healthcheck(String name) {
        Object healthcheck = service(name).get("healthcheck");
        assertThat(healthcheck).as("healthcheck of service '%s'", name).isInstanceOf(Map.class);
        Object test = ((Map<?, ?>) healthcheck).get("test");
        return test instanceof List<?> list ? list.stream().map(String::valueOf).collect(Collectors.joining(" "))
                : String.valueOf(test);
    }

    /** The job's program arguments, as the job keeper passes JOB_ARGS (split on white space). */
    private List<String> jobArgs() {
        String args = String.valueOf(environment("submitter").getOrDefault("JOB_ARGS", "")).trim();
        return args.isEmpty() ? List.of() : List.of(args.split("\\s+"));
    }

    /** The DNS names and IP addresses setup.sh puts into the node certificate (its instances.yml). */
    private static Set<String> certificateNames() {
        Set<String> names = new TreeSet<>();
        Matcher lists = Pattern.compile("(?m)^\\s*(?:dns|ip): \\[(.*)]$").matcher(read(Path.of(SETUP_SCRIPT)));
        while (lists.find()) {
            Stream.of(lists.group(1).split(",")).map(String::trim).forEach(names::add);
        }
        return names;
    }

    /** The compose file as written, without interpolation: secrets still read ${NAME}. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> rawService(String name) {
        Map<String, Object> raw = ComposeFileReader.readRaw(ComposeFileReader.COMPOSE_FILE);
        return (Map<String, Object>) ((Map<String, Object>) raw.get("services")).get(name);
    }

    private static Map<String, String> rawEnvironment(String name) {
        Map<String, String> values = new LinkedHashMap<>();
        Object environment = rawService(name).get("environment");
        if (environment instanceof Map<?, ?> map) {
            map.forEach((key, value) -> values.put(String.valueOf(key), String.valueOf(value)));
        }
        return values;
    }

    /** The files of the Docker stack and the job's configuration, all of which are read by someone who needs no secret. */
    private static List<Path> filesThatMustHoldNoSecret() throws IOException {
        List<Path> files = new ArrayList<>(List.of(ComposeFileReader.COMPOSE_FILE, Path.of("docker/Dockerfile"),
                Path.of("flink-conf/config.yaml")));
        try (Stream<Path> docker = Files.walk(Path.of("docker"))) {
            docker.filter(Files::isRegularFile)
                    .filter(f -> !f.equals(ComposeFileReader.ENV_FILE) && !f.startsWith(CERTS))
                    .forEach(files::add);
        }
        return files;
    }

    private static Set<String> strings(JsonNode array) {
        Set<String> values = new TreeSet<>();
        array.forEach(value -> values.add(value.asText()));
        return values;
    }

    private static String read(Path file) {
        assertThat(file).as("file read by %s (run from the repository root)", DockerComposeFileTest.class.getSimpleName())
                .exists();
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + file + ": " + e.getMessage(), e);
        }
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
