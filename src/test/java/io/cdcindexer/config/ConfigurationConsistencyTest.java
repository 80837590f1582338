package io.cdcindexer.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.cli.ConnectionOptions;
import io.cdcindexer.elasticsearch.IndexNames;
import io.cdcindexer.job.JobOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import picocli.CommandLine.Option;

/**
 * Holds every place that names a port, topic, index, version, jar or main class against the others, so that the
 * local stack, the Docker stack, the connector, the job and the CLI cannot drift apart unnoticed.
 *
 * <p>Reads the files as they are checked in: docker/docker-compose.yml (with docker/.env), docker/Dockerfile,
 * docker/flink/job-keeper.sh, docker/connect/worker.properties, configs/debezium-postgres-connector.json, flink-conf/config.yaml, pom.xml, the
 * service poms under src/stack/, .devcontainer/devcontainer.json, and the defaults of {@link JobOptions} and
 * {@link ConnectionOptions}. Every failure message names both sides of the disagreement.
 */
class ConfigurationConsistencyTest {

    /** The host ports every part agrees on (docs/docker.md and the README list them too). */
    private static final Map<String, Integer> AGREED_PORTS = orderedMap(
            "postgres", 5432,
            "kafka", 9092,
            "connect", 8083,
            "elasticsearch", 9200,
            "jobmanager", 8081,
            "prometheus", 9090,
            "grafana", 3000);

    private static final String CONNECTOR_NAME = "cdc-postgres";
    private static final String DATABASE = "testdb";
    private static final String DB_USER = "postgres";
    private static final String DB_PASSWORD = "postgres";
    private static final String JOB_JAR = "target/cdc-indexer-job.jar";
    private static final List<String> TABLES = List.of("users", "orders");

    private static final Path COMPOSE_FILE = ComposeFileReader.COMPOSE_FILE;
    private static final Path ENV_FILE = ComposeFileReader.ENV_FILE;
    private static final Path DOCKERFILE = Path.of("docker/Dockerfile");
    private static final Path WORKER_PROPERTIES = Path.of("docker/connect/worker.properties");
    private static final Path CONNECTOR_FILE = Path.of("configs/debezium-postgres-connector.json");
    private static final Path FLINK_CONF = Path.of("flink-conf/config.yaml");
    private static final Path POM = Path.of("pom.xml");
    private static final Path KAFKA_STACK_POM = Path.of("src/stack/kafka/pom.xml");
    private static final Path CONNECT_STACK_POM = Path.of("src/stack/connect/pom.xml");
    private static final Path DEVCONTAINER = Path.of(".devcontainer/devcontainer.json");
    private static final String JOB_KEEPER_PATH = "docker/flink/job-keeper.sh";
    private static final Path JOB_KEEPER = Path.of(JOB_KEEPER_PATH);


    private final Map<String, String> env = ComposeFileReader.readEnvFile(ENV_FILE);
    private final Map<String, Object> compose = ComposeFileReader.read(COMPOSE_FILE, env);
    private final JsonNode connector = readJson(CONNECTOR_FILE).path("config");
    private final Map<String, String> flinkConf = readFlinkConf(FLINK_CONF);
    private final Properties worker = readProperties(WORKER_PROPERTIES);

    @Test
    void hostPortsAreTheAgreedPortsEverywhere() {
        SoftAssertions softly = new SoftAssertions();
        for (Map.Entry<String, Integer> agreed : AGREED_PORTS.entrySet()) {
            String service = agreed.getKey();
            softly.assertThat(hostPorts(service))
                    .as("host port of service '%s' in %s (agreed: %d)", service, COMPOSE_FILE, agreed.getValue())
                    .containsExactly(agreed.getValue());
        }

        ConnectionOptions cli = connectionDefaults();
        softly.assertThat(cli.pgPort).as("ConnectionOptions --pg-port default vs the agreed PostgreSQL port")
                .isEqualTo(AGREED_PORTS.get("postgres"));
        softly.assertThat(cli.kafka).as("ConnectionOptions --kafka default vs the agreed Kafka port")
                .isEqualTo("localhost:" + AGREED_PORTS.get("kafka"));
        softly.assertThat(cli.connect).as("ConnectionOptions --connect default vs the agreed Kafka Connect port")
                .isEqualTo("http://localhost:" + AGREED_PORTS.get("connect"));
        softly.assertThat(cli.elasticsearch).as("ConnectionOptions --elasticsearch default vs the agreed Elasticsearch port")
                .isEqualTo("http://localhost:" + AGREED_PORTS.get("elasticsearch"));
        softly.assertThat(cli.flink).as("ConnectionOptions --flink default vs the agreed Flink REST port")
                .isEqualTo("http://localhost:" + AGREED_PORTS.get("jobmanager"));

        softly.assertThat(JobOptions.KAFKA_BOOTSTRAP_SERVERS.defaultValue())
                .as("JobOptions --%s default vs ConnectionOptions --kafka default", JobOptions.KAFKA_BOOTSTRAP_SERVERS.name())
                .isEqualTo(cli.kafka);
        softly.assertThat(JobOptions.ELASTICSEARCH_HOSTS.defaultValue())
                .as("JobOptions --%s default vs ConnectionOptions --elasticsearch default", JobOptions.ELASTICSEARCH_HOSTS.name())
                .isEqualTo(cli.elasticsearch);

        softly.assertThat(flinkConf.get("rest.port"))
                .as("rest.port in %s vs the agreed Flink REST port", FLINK_CONF)
                .isEqualTo(String.valueOf(AGREED_PORTS.get("jobmanager")));
        softly.assertThat(containerPorts("jobmanager"))
                .as("container port published by service 'jobmanager' vs rest.port in %s", FLINK_CONF)
                .containsExactly(Integer.parseInt(flinkConf.getOrDefault("rest.port", "-1")));
        softly.assertThat(containerPorts("connect"))
                .as("container port published by service 'connect' vs listeners in %s", WORKER_PROPERTIES)
                .containsExactly(URI.create(worker.getProperty("listeners", "http://missing:-1")).getPort());

        Map<String, String> advertised = kafkaAdvertisedListeners();
        softly.assertThat(advertised.values())
                .as("KAFKA_ADVERTISED_LISTENERS of service 'kafka' must offer the host address that"
                        + " JobOptions and ConnectionOptions default to")
                .contains(cli.kafka);
        softly.assertAll();
    }

    @Test
    void containersReachEachOtherUnderTheirServiceNames() {
        SoftAssertions softly = new SoftAssertions();
        String internalKafka = internalKafkaAddress();
        softly.assertThat(worker.getProperty("bootstrap.servers"))
                .as("bootstrap.servers in %s vs the in-Docker listener advertised by service 'kafka'", WORKER_PROPERTIES)
                .isEqualTo(internalKafka);

        JobOptions submitted = JobOptions.fromArgs(submitterCommand().programArgs.toArray(String[]::new));
        softly.assertThat(submitted.get(JobOptions.KAFKA_BOOTSTRAP_SERVERS))
                .as("--%s passed by the submitter vs the in-Docker listener advertised by service 'kafka'",
                        JobOptions.KAFKA_BOOTSTRAP_SERVERS.name())
                .isEqualTo(internalKafka);
        URI elasticsearch = URI.create(submitted.get(JobOptions.ELASTICSEARCH_HOSTS));
        softly.assertThat(services()).as("services in %s: the submitter's --%s names host '%s'", COMPOSE_FILE,
                JobOptions.ELASTICSEARCH_HOSTS.name(), elasticsearch.getHost()).containsKey(elasticsearch.getHost());
        softly.assertThat(containerPorts(elasticsearch.getHost()))
                .as("container port of service '%s' vs the submitter's --%s", elasticsearch.getHost(),
                        JobOptions.ELASTICSEARCH_HOSTS.name())
                .contains(elasticsearch.getPort());

        Map<String, String> submitterFlink = flinkProperties("submitter");
        String jobManagerHost = String.valueOf(service("jobmanager").get("hostname"));
        softly.assertThat(submitterFlink.get("rest.address"))
                .as("rest.address in the submitter's FLINK_PROPERTIES (flink run) vs the JobManager's host name")
                .isEqualTo(jobManagerHost);
        URI keeperRest = URI.create(environment("submitter").getOrDefault("FLINK_REST", "http://missing:-1"));
        softly.assertThat(keeperRest.getHost())
                .as("host of FLINK_REST of service 'submitter' (the job keeper's REST calls) vs the JobManager's host name")
                .isEqualTo(jobManagerHost);
        softly.assertThat(String.valueOf(keeperRest.getPort()))
                .as("port of FLINK_REST of service 'submitter' vs rest.port in %s", FLINK_CONF)
                .isEqualTo(flinkConf.get("rest.port"));
        for (String flinkService : clusterServices()) {
            softly.assertThat(flinkProperties(flinkService).get("jobmanager.rpc.address"))
                    .as("jobmanager.rpc.address in the FLINK_PROPERTIES of service '%s' vs the JobManager's host name",
                            flinkService)
                    .isEqualTo(jobManagerHost);
        }
        for (String taskManager : taskManagers()) {
            softly.assertThat(flinkProperties(taskManager).get("taskmanager.host"))
                    .as("taskmanager.host in the FLINK_PROPERTIES of service '%s' vs its host name", taskManager)
                    .isEqualTo(service(taskManager).get("hostname"));
        }
        softly.assertAll();
    }

    @Test
    void databaseCoordinatesAgree() {
        SoftAssertions softly = new SoftAssertions();
        Map<String, String> postgresEnv = environment("postgres");
        Map<String, String> connectEnv = environment("connect");
        ConnectionOptions cli = connectionDefaults();

        softly.assertThat(postgresEnv).as("environment of service 'postgres' in %s", COMPOSE_FILE)
                .containsEntry("POSTGRES_DB", DATABASE)
                .containsEntry("POSTGRES_USER", DB_USER)
                .containsEntry("POSTGRES_PASSWORD", DB_PASSWORD);
        softly.assertThat(List.of(cli.pgDatabase, cli.pgUser, cli.pgPassword))
                .as("ConnectionOptions defaults (database, user, password) vs service 'postgres'")
                .containsExactly(DATABASE, DB_USER, DB_PASSWORD);
        for (String key : List.of("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD")) {
            softly.assertThat(connectEnv.get(key))
                    .as("%s of service 'connect' (read by the connector) vs service 'postgres'", key)
                    .isEqualTo(postgresEnv.get(key));
        }
        softly.assertThat(connectEnv.get("POSTGRES_HOST"))
                .as("POSTGRES_HOST of service 'connect' must name the PostgreSQL service").isEqualTo("postgres");
        softly.assertThat(connectEnv.get("POSTGRES_PORT"))
                .as("POSTGRES_PORT of service 'connect' vs the port PostgreSQL listens on in its container")
                .isEqualTo(String.valueOf(containerPorts("postgres").stream().findFirst().orElse(-1)));

        Set<String> referenced = new LinkedHashSet<>();
        Matcher placeholder = Pattern.compile("\\$\\{env:([A-Za-z_][A-Za-z0-9_]*)}").matcher(connector.toString());
        while (placeholder.find()) {
            referenced.add(placeholder.group(1));
        }
        softly.assertThat(referenced).as("${env:...} placeholders in %s", CONNECTOR_FILE).isNotEmpty();
        softly.assertThat(connectEnv.keySet())
                .as("environment of service 'connect' must set every ${env:...} that %s reads", CONNECTOR_FILE)
                .containsAll(referenced);
        softly.assertThat(worker.getProperty("config.providers"))
                .as("config.providers in %s: the connector's ${env:...} placeholders need the env provider",
                        WORKER_PROPERTIES)
                .isEqualTo("env");
        softly.assertThat(worker.getProperty("config.providers.env.class"))
                .as("config.providers.env.class in %s", WORKER_PROPERTIES)
                .isEqualTo("org.apache.kafka.common.config.provider.EnvVarConfigProvider");

        softly.assertThat(String.join(" ", command("postgres")))
                .as("command of service 'postgres': Debezium's pgoutput plugin needs logical decoding")
                .contains("wal_level=logical");
        softly.assertThat(connector.path("plugin.name").asText())
                .as("plugin.name in %s", CONNECTOR_FILE).isEqualTo("pgoutput");
        softly.assertAll();
    }

    @Test
    void topicsAndIndicesAgree() {
        SoftAssertions softly = new SoftAssertions();
        String prefix = connector.path("topic.prefix").asText();
        Pattern tableTopics = Pattern.compile(JobOptions.KAFKA_TOPIC_PATTERN.defaultValue());

        softly.assertThat(readJson(CONNECTOR_FILE).path("name").asText())
                .as("connector name in %s", CONNECTOR_FILE).isEqualTo(CONNECTOR_NAME);
        String schema = connector.path("schema.include.list").asText();
        for (String table : TABLES) {
            String topic = prefix + "." + schema + "." + table;
            softly.assertThat(tableTopics.matcher(topic).matches())
                    .as("JobOptions --%s default '%s' must match '%s', the topic Debezium writes with topic.prefix '%s'"
                            + " from %s", JobOptions.KAFKA_TOPIC_PATTERN.name(), tableTopics, topic, prefix, CONNECTOR_FILE)
                    .isTrue();
            String index = new IndexNames(JobOptions.ELASTICSEARCH_INDEX.defaultValue())
                    .of(topic, schema + "." + table);
            softly.assertThat(index)
                    .as("index that JobOptions --%s default '%s' gives topic '%s' (agreed: the topic name)",
                            JobOptions.ELASTICSEARCH_INDEX.name(), JobOptions.ELASTICSEARCH_INDEX.defaultValue(), topic)
                    .isEqualTo(topic);
        }

        String transactionTopic = prefix + ".transaction";
        softly.assertThat(connector.path("provide.transaction.metadata").asText())
                .as("provide.transaction.metadata in %s: the job collapses transactions", CONNECTOR_FILE)
                .isEqualTo("true");
        softly.assertThat(JobOptions.KAFKA_TRANSACTION_TOPIC.defaultValue())
                .as("JobOptions --%s default vs '<topic.prefix>.transaction' with topic.prefix '%s' from %s",
                        JobOptions.KAFKA_TRANSACTION_TOPIC.name(), prefix, CONNECTOR_FILE)
                .isEqualTo(transactionTopic);

        // Debezium writes the signal table's own rows (./cdc snapshot) to a topic too; they are no data to index.
        String signalTopic = prefix + "." + connector.path("signal.data.collection").asText();
        List<String> notTableTopics = new ArrayList<>(List.of(transactionTopic, JobOptions.KAFKA_DLQ_TOPIC.defaultValue(),
                signalTopic));
        for (String key : List.of("config.storage.topic", "offset.storage.topic", "status.storage.topic")) {
            notTableTopics.add(worker.getProperty(key, ""));
        }
        for (String topic : notTableTopics) {
            softly.assertThat(tableTopics.matcher(topic).matches())
                    .as("JobOptions --%s default '%s' must not match '%s': it is no table topic",
                            JobOptions.KAFKA_TOPIC_PATTERN.name(), tableTopics, topic)
                    .isFalse();
        }
        softly.assertAll();
    }

    @Test
    void flinkConfigurationAndDockerOverridesAgree() {
        SoftAssertions softly = new SoftAssertions();
        List<String> withConf = new ArrayList<>(clusterServices());
        withConf.add("submitter");
        for (String flinkService : withConf) {
            softly.assertThat(volumeSources(flinkService))
                    .as("volumes of service '%s': Flink runs with the project's flink-conf/", flinkService)
                    .contains("../flink-conf");
        }
        for (String flinkService : clusterServices()) {
            Map<String, String> overrides = flinkProperties(flinkService);
            for (String key : List.of("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir")) {
                softly.assertThat(flinkConf).as("%s must set %s, which service '%s' overrides for Docker",
                        FLINK_CONF, key, flinkService).containsKey(key);
                softly.assertThat(overrides.get(key))
                        .as("%s in the FLINK_PROPERTIES of service '%s' must lie on its shared volume flink-data",
                                key, flinkService)
                        .startsWith("file://" + volumeTarget(flinkService, "flink-data") + "/");
            }
            softly.assertThat(overrides.keySet())
                    .as("FLINK_PROPERTIES of service '%s' must not set rest.port: the published port follows %s",
                            flinkService, FLINK_CONF)
                    .doesNotContain("rest.port");
        }
        softly.assertThat(flinkConf.get("taskmanager.numberOfTaskSlots"))
                .as("taskmanager.numberOfTaskSlots in %s", FLINK_CONF).isNotBlank();
        softly.assertThat(flinkConf.get("taskmanager.memory.process.size"))
                .as("taskmanager.memory.process.size in %s: Flink's start scripts need a memory size", FLINK_CONF)
                .isNotBlank();
        softly.assertAll();
    }

    @Test
    void checkpointsHoldNoRecordsInFlight() {
        // Records cross the exchanges in ChangeEventSerializer's format, which Flink does not check when it restores
        // records in flight; aligned checkpoints hold none (docs/design.md).
        SoftAssertions softly = new SoftAssertions();
        for (String key : List.of("execution.checkpointing.unaligned", "execution.checkpointing.unaligned.enabled")) {
            softly.assertThat(flinkConf.getOrDefault(key, "false")).as("%s in %s", key, FLINK_CONF).isEqualTo("false");
            for (String flinkService : clusterServices()) {
                softly.assertThat(flinkProperties(flinkService).getOrDefault(key, "false"))
                        .as("%s in the FLINK_PROPERTIES of service '%s'", key, flinkService).isEqualTo("false");
            }
        }
        softly.assertAll();
    }

    @Test
    void theJobFitsOnTheTaskManagersThatRemainWhenOneIsLost() {
        int slots = Integer.parseInt(flinkConf.getOrDefault("taskmanager.numberOfTaskSlots", "0"));
        int parallelism = Integer.parseInt(flinkConf.getOrDefault("parallelism.default", "0"));
        List<String> taskManagers = taskManagers();
        SoftAssertions softly = new SoftAssertions();
        softly.assertThat(parallelism).as("parallelism.default in %s: the job runs at parallelism 1 in both stacks, one "
                + "TaskManager a spare (docs/performance.md, \"Parallelism 1\")", FLINK_CONF).isEqualTo(1);
        softly.assertThat(JobOptions.fromArgs(submitterCommand().programArgs.toArray(String[]::new))
                        .overrides()).as("the submitter's job arguments must leave the parallelism to parallelism.default")
                .doesNotContainKey("parallelism");
        softly.assertThat((taskManagers.size() - 1) * slots)
                .as("slots left when one of the TaskManagers %s (taskmanager.numberOfTaskSlots %d) is lost vs"
                        + " parallelism.default %d: the job should restart at once on the others", taskManagers, slots,
                        parallelism)
                .isGreaterThanOrEqualTo(parallelism);
        softly.assertThat(flinkConf.get("heartbeat.interval"))
                .as("heartbeat.interval in %s: with the job in one TaskManager, the JobManager finds it lost by two failed "
                        + "heartbeats; docs/docker.md and local-stack.md say 2 s apart", FLINK_CONF)
                .isEqualTo("2s");
        softly.assertAll();
    }

    @Test
    void theJobKeeperResumesFromWhereTheClusterKeepsItsState() {
        SoftAssertions softly = new SoftAssertions();
        String data = environment("submitter").getOrDefault("FLINK_DATA", "(FLINK_DATA not set)");
        softly.assertThat(volumeTarget("submitter", "flink-data"))
                .as("where service 'submitter' mounts the volume flink-data vs its FLINK_DATA (where the job keeper"
                        + " looks for savepoints and checkpoints)").isEqualTo(data);
        Map<String, String> jobManager = flinkProperties("jobmanager");
        softly.assertThat(jobManager.get("execution.checkpointing.dir"))
                .as("execution.checkpointing.dir of the JobManager vs <FLINK_DATA>/checkpoints, where the keeper looks")
                .isEqualTo("file://" + data + "/checkpoints");
        softly.assertThat(jobManager.get("execution.checkpointing.savepoint-dir"))
                .as("execution.checkpointing.savepoint-dir of the JobManager vs <FLINK_DATA>/savepoints, where the"
                        + " keeper looks").isEqualTo("file://" + data + "/savepoints");
        softly.assertThat(volumeTarget("jobmanager", "flink-data"))
                .as("where the JobManager mounts flink-data vs where the keeper does: a state path must mean the same"
                        + " file to both").isEqualTo(data);
        softly.assertThat(flinkConf.get("execution.checkpointing.externalized-checkpoint-retention"))
                .as("execution.checkpointing.externalized-checkpoint-retention in %s: the keeper resumes from retained"
                        + " checkpoints", FLINK_CONF).isEqualTo("RETAIN_ON_CANCELLATION");
        softly.assertAll();
    }

    @Test
    void kafkaTakesTheRecordsTheConnectorMayWrite() {
        String brokerLimit = environment("kafka").get("KAFKA_MESSAGE_MAX_BYTES");
        assertThat(brokerLimit).as("KAFKA_MESSAGE_MAX_BYTES (message.max.bytes) of service 'kafka'").isNotNull();
        // Kafka's producer default when the connector sets none.
        long requestSize = Long.parseLong(connector.path("producer.override.max.request.size").asText("1048576"));
        assertThat(Long.parseLong(brokerLimit))
                .as("message.max.bytes of service 'kafka' vs producer.override.max.request.size %d in %s: the broker"
                        + " must take every record the connector may send", requestSize, CONNECTOR_FILE)
                .isGreaterThanOrEqualTo(requestSize);
    }

    @Test
    void jobJarAndMainClassAgree() {
        SoftAssertions softly = new SoftAssertions();
        Document pom = readXml(POM);
        String mainClass = pomProperty(pom, "job.main-class");
        SubmitterCommand submit = submitterCommand();

        softly.assertThat(submit.mainClass)
                .as("main class (-c) of the submitter's flink run vs job.main-class in %s", POM).isEqualTo(mainClass);
        softly.assertThat(Path.of("src/main/java/" + mainClass.replace('.', '/') + ".java"))
                .as("source of job.main-class '%s' from %s", mainClass, POM).exists();
        softly.assertThat(pomJarOutputs(pom))
                .as("jars that %s builds (finalName or a plugin's outputFile): the Dockerfile copies %s", POM, JOB_JAR)
                .contains(JOB_JAR);

        List<String[]> copies = dockerfileStage("submitter").stream()
                .filter(line -> line.startsWith("COPY --from=job-build "))
                .map(line -> line.substring("COPY --from=job-build ".length()).trim().split("\\s+"))
                .toList();
        softly.assertThat(copies).as("COPY --from=job-build lines in the submitter stage of %s", DOCKERFILE).hasSize(1);
        if (copies.size() == 1) {
            softly.assertThat(copies.get(0)[0])
                    .as("jar the submitter stage of %s copies vs %s", DOCKERFILE, JOB_JAR).endsWith("/" + JOB_JAR);
            softly.assertThat(copies.get(0)[1])
                    .as("jar path in the submitter's flink run vs where the submitter stage of %s puts it", DOCKERFILE)
                    .isEqualTo(submit.jar);
        }
        softly.assertThat(submit.jobNameGuard)
                .as("job name the submitter looks for before submitting vs JobOptions --%s default",
                        JobOptions.JOB_NAME.name())
                .isEqualTo(JobOptions.JOB_NAME.defaultValue());
        softly.assertThat(submit.detached).as("the submitter's flink run must be detached (-d)").isTrue();
        List<String> keeperCopies = dockerfileStage("submitter").stream()
                .filter(line -> line.startsWith("COPY " + JOB_KEEPER + " "))
                .map(line -> line.split("\\s+")[2]).toList();
        softly.assertThat(keeperCopies).as("COPY %s lines in the submitter stage of %s", JOB_KEEPER, DOCKERFILE).hasSize(1);
        softly.assertThat(command("submitter"))
                .as("command of service 'submitter' vs where the submitter stage of %s puts %s", DOCKERFILE, JOB_KEEPER)
                .isEqualTo(keeperCopies);
        softly.assertAll();
    }

    @Test
    void imagesArePinnedInTheEnvFileAndNameNoRegistryHost() {
        SoftAssertions softly = new SoftAssertions();
        for (Map.Entry<String, String> version : env.entrySet()) {
            if (version.getKey().endsWith("_VERSION")) {
                softly.assertThat(version.getValue())
                        .as("%s in %s must be a pinned version (x.y.z...), not a moving tag", version.getKey(), ENV_FILE)
                        .matches("\\d+\\.\\d+(\\.\\d+)?[-_.\\w]*");
            }
        }
        for (String service : services().keySet()) {
            String image = String.valueOf(service(service).get("image"));
            boolean built = service(service).containsKey("build");
            softly.assertThat(image).as("image of service '%s' must carry a tag", service).contains(":");
            softly.assertThat(namesRegistryHost(image))
                    .as("image '%s' of service '%s' must come from the default registry (no host name)", image, service)
                    .isFalse();
            if (!built) {
                softly.assertThat(rawComposeImages().get(service))
                        .as("image tag of service '%s' must come from %s", service, ENV_FILE).contains("${");
            }
        }
        for (String from : dockerfileLines().stream().filter(l -> l.startsWith("FROM ")).toList()) {
            String base = from.split("\\s+")[1];
            softly.assertThat(base.contains("${") || dockerfileStageNames().contains(base))
                    .as("%s in %s must take its version from a build argument (docker/.env) or a stage", from, DOCKERFILE)
                    .isTrue();
            softly.assertThat(namesRegistryHost(base)).as("%s in %s must name no registry host", from, DOCKERFILE)
                    .isFalse();
        }
        JsonNode devcontainer = readJson(DEVCONTAINER);
        softly.assertThat(devcontainer.path("image").asText())
                .as("image of %s vs MAVEN_VERSION in %s (the image that builds the jar)", DEVCONTAINER, ENV_FILE)
                .isEqualTo("maven:" + env.get("MAVEN_VERSION"));
        devcontainer.path("features").fieldNames().forEachRemaining(feature -> softly.assertThat(namesRegistryHost(feature))
                .as("feature '%s' in %s names a registry host", feature, DEVCONTAINER).isFalse());
        softly.assertAll();
    }

    @Test
    void versionsAgreeWithThePoms() {
        SoftAssertions softly = new SoftAssertions();
        softly.assertThat(env.get("FLINK_VERSION"))
                .as("FLINK_VERSION in %s (the cluster) vs flink.version in %s (the job is built against it)", ENV_FILE, POM)
                .isEqualTo(pomProperty(readXml(POM), "flink.version"));
        softly.assertThat(env.get("KAFKA_VERSION"))
                .as("KAFKA_VERSION in %s vs the broker version of the local stack in %s", ENV_FILE, KAFKA_STACK_POM)
                .isEqualTo(dependencyVersion(readXml(KAFKA_STACK_POM), "org.apache.kafka", "kafka_2.13"));
        softly.assertThat(dependencyVersion(readXml(CONNECT_STACK_POM), "io.debezium", "debezium-connector-postgres"))
                .as("Debezium connector version in %s (both stacks build Kafka Connect from it)", CONNECT_STACK_POM)
                .isNotBlank();
        softly.assertAll();
    }

    @Test
    void filesTheDockerStackReadsExist() {
        SoftAssertions softly = new SoftAssertions();
        for (String line : dockerfileLines()) {
            if (line.startsWith("COPY ") && !line.startsWith("COPY --from=")) {
                String[] parts = line.split("\\s+");
                for (int i = 1; i < parts.length - 1; i++) {
                    softly.assertThat(Path.of(parts[i]))
                            .as("'%s' in %s: the build context is the repository root", line, DOCKERFILE).exists();
                }
            }
        }
        for (String service : services().keySet()) {
            for (String source : volumeSources(service)) {
                if (source.startsWith("../")) {
                    softly.assertThat(COMPOSE_FILE.getParent().resolve(source).normalize())
                            .as("bind mount '%s' of service '%s' in %s", source, service, COMPOSE_FILE).exists();
                }
            }
        }
        List<String> setup = command("connector-setup");
        String mountedConnector = setup.stream().filter(arg -> arg.endsWith(".json")).findFirst().orElse("");
        softly.assertThat(hostPathOf("connector-setup", mountedConnector))
                .as("connector file that service 'connector-setup' registers vs %s", CONNECTOR_FILE)
                .isEqualTo(CONNECTOR_FILE.toString());
        softly.assertAll();
    }

    @Test
    void devcontainerForwardsTheAgreedPorts() {
        JsonNode devcontainer = readJson(DEVCONTAINER);
        List<Integer> forwarded = new ArrayList<>();
        devcontainer.path("forwardPorts").forEach(port -> forwarded.add(port.asInt()));
        assertThat(forwarded).as("forwardPorts in %s vs the agreed ports", DEVCONTAINER)
                .containsExactlyInAnyOrderElementsOf(AGREED_PORTS.values());
        for (Integer port : AGREED_PORTS.values()) {
            assertThat(devcontainer.path("portsAttributes").path(String.valueOf(port)).path("label").asText())
                    .as("label of port %d in portsAttributes of %s", port, DEVCONTAINER).isNotBlank();
        }
    }

    /** Whether an image or feature reference starts with a registry host ("host.name/...", "host:port/..."). */
    private static boolean namesRegistryHost(String reference) {
        int slash = reference.indexOf('/');
        if (slash < 0) {
            return false;
        }
        String first = reference.substring(0, slash);
        return first.contains(".") || first.contains(":") || first.equals("localhost");
    }

    // ---- The compose file ------------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private Map<String, Object> services() {
        return (Map<String, Object>) compose.get("services");
    }

    /** The services that run a Flink TaskManager (command {@code taskmanager}). */
    private List<String> taskManagers() {
        List<String> taskManagers = services().keySet().stream()
                .filter(name -> command(name).equals(List.of("taskmanager"))).sorted().toList();
        assertThat(taskManagers).as("services of %s with command 'taskmanager'", COMPOSE_FILE).isNotEmpty();
        return taskManagers;
    }

    /** The Flink cluster: the JobManager and every TaskManager. */
    private List<String> clusterServices() {
        List<String> cluster = new ArrayList<>(List.of("jobmanager"));
        cluster.addAll(taskManagers());
        return cluster;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> service(String name) {
        Object service = services().get(name);
        assertThat(service).as("service '%s' in %s", name, COMPOSE_FILE).isNotNull();
        return (Map<String, Object>) service;
    }

    /** Ports as compose lists them: "[ip:]host:container". */
    private List<String[]> portMappings(String service) {
        List<String[]> mappings = new ArrayList<>();
        for (Object port : (List<?>) service(service).getOrDefault("ports", List.of())) {
            String[] parts = String.valueOf(port).split(":");
            assertThat(parts.length).as("port '%s' of service '%s': write it as \"host:container\"", port, service)
                    .isGreaterThanOrEqualTo(2);
            mappings.add(new String[] {parts[parts.length - 2], parts[parts.length - 1]});
        }
        return mappings;
    }

    private List<Integer> hostPorts(String service) {
        return portMappings(service).stream().map(m -> Integer.parseInt(m[0])).toList();
    }

    private List<Integer> containerPorts(String service) {
        return portMappings(service).stream().map(m -> Integer.parseInt(m[1])).toList();
    }

    private Map<String, String> environment(String service) {
        Object environment = service(service).get("environment");
        assertThat(environment).as("environment of service '%s' in %s: write it as a map", service, COMPOSE_FILE)
                .isInstanceOf(Map.class);
        Map<String, String> values = new LinkedHashMap<>();
        ((Map<?, ?>) environment).forEach((key, value) -> values.put(String.valueOf(key), String.valueOf(value)));
        return values;
    }

    private Map<String, String> flinkProperties(String service) {
        Map<String, String> properties = new LinkedHashMap<>();
        for (String line : environment(service).getOrDefault("FLINK_PROPERTIES", "").split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                properties.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
            }
        }
        return properties;
    }

    private List<String> command(String service) {
        Object command = service(service).get("command");
        if (command instanceof List<?> list) {
            return list.stream().map(String::valueOf).toList();
        }
        return command == null ? List.of() : List.of(String.valueOf(command).split("\\s+"));
    }

    private List<String> volumeSources(String service) {
        return volumes(service).stream().map(v -> v[0]).toList();
    }

    private String volumeTarget(String service, String source) {
        return volumes(service).stream().filter(v -> v[0].equals(source)).map(v -> v[1]).findFirst()
                .orElseThrow(() -> new AssertionError("service '" + service + "' mounts no volume '" + source + "'"));
    }

    private List<String[]> volumes(String service) {
        List<String[]> volumes = new ArrayList<>();
        for (Object volume : (List<?>) service(service).getOrDefault("volumes", List.of())) {
            String[] parts = String.valueOf(volume).split(":");
            volumes.add(new String[] {parts[0].replaceAll("/$", ""), parts.length > 1 ? parts[1].replaceAll("/$", "") : ""});
        }
        return volumes;
    }

    /** The repository path (relative to the root) behind a path inside a service's container. */
    private String hostPathOf(String service, String containerPath) {
        for (Object volume : (List<?>) service(service).getOrDefault("volumes", List.of())) {
            String[] parts = String.valueOf(volume).split(":");
            if (parts.length > 1 && parts[0].startsWith("../") && containerPath.startsWith(parts[1] + "/")) {
                return parts[0].substring(3) + containerPath.substring(parts[1].length());
            }
        }
        return "(not under any bind mount of service '" + service + "': " + containerPath + ")";
    }

    private Map<String, String> kafkaAdvertisedListeners() {
        Map<String, String> listeners = new LinkedHashMap<>();
        for (String listener : environment("kafka").getOrDefault("KAFKA_ADVERTISED_LISTENERS", "").split(",")) {
            int scheme = listener.indexOf("://");
            if (scheme > 0) {
                listeners.put(listener.substring(0, scheme), listener.substring(scheme + 3));
            }
        }
        return listeners;
    }

    private String internalKafkaAddress() {
        String interBroker = environment("kafka").get("KAFKA_INTER_BROKER_LISTENER_NAME");
        String address = kafkaAdvertisedListeners().get(interBroker);
        assertThat(address).as("advertised address of the listener KAFKA_INTER_BROKER_LISTENER_NAME (%s) names,"
                + " used by the other containers", interBroker).isNotNull();
        return address;
    }

    /** What the job keeper's {@code flink run} submits, and the job name it watches. */
    private record SubmitterCommand(boolean detached, String mainClass, String jar, List<String> programArgs,
            String jobNameGuard) {}

    /**
     * The job keeper (service 'submitter', {@value #JOB_KEEPER_PATH}) takes the job from its environment: JOB_NAME,
     * JOB_MAIN_CLASS, JOB_JAR and JOB_ARGS; its script passes -d, -c and the jar.
     */
    private SubmitterCommand submitterCommand() {
        Map<String, String> keeper = environment("submitter");
        String script = read(JOB_KEEPER);
        String args = keeper.getOrDefault("JOB_ARGS", "").trim();
        assertThat(script).as("%s must submit with -c $JOB_MAIN_CLASS $JOB_JAR and the words of JOB_ARGS", JOB_KEEPER)
                .contains("-c \"$JOB_MAIN_CLASS\" \"$JOB_JAR\"").contains("<<<\"${JOB_ARGS:-}\"");
        return new SubmitterCommand(script.contains("flink run -d"), keeper.get("JOB_MAIN_CLASS"), keeper.get("JOB_JAR"),
                args.isEmpty() ? List.of() : List.of(args.split("\\s+")), keeper.get("JOB_NAME"));
    }

    @SuppressWarnings("unchecked")
    private Map<String, String> rawComposeImages() {
        Map<String, Object> raw = ComposeFileReader.readRaw(COMPOSE_FILE);
        Map<String, String> images = new LinkedHashMap<>();
        ((Map<String, Object>) raw.get("services")).forEach(
                (name, service) -> images.put(name, String.valueOf(((Map<String, Object>) service).get("image"))));
        return images;
    }

    // ---- The Dockerfile --------------------------------------------------------------------------------------------

    /** Instructions with continuation lines joined and comments dropped. */
    private static List<String> dockerfileLines() {
        String joined = read(DOCKERFILE).replaceAll("\\\\\\n", " ");
        return joined.lines().map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    }

    private static Set<String> dockerfileStageNames() {
        return dockerfileLines().stream().filter(l -> l.startsWith("FROM ") && l.contains(" AS "))
                .map(l -> l.substring(l.indexOf(" AS ") + 4).trim()).collect(Collectors.toSet());
    }

    private static List<String> dockerfileStage(String stage) {
        List<String> lines = new ArrayList<>();
        boolean inStage = false;
        for (String line : dockerfileLines()) {
            if (line.startsWith("FROM ")) {
                inStage = line.endsWith(" AS " + stage);
            } else if (inStage) {
                lines.add(line);
            }
        }
        assertThat(lines).as("stage '%s' in %s", stage, DOCKERFILE).isNotEmpty();
        return lines;
    }

    // ---- Poms ------------------------------------------------------------------------------------------------------

    private static String pomProperty(Document pom, String name) {
        NodeList properties = pom.getDocumentElement().getElementsByTagName("properties");
        for (int i = 0; i < properties.getLength(); i++) {
            NodeList matches = ((Element) properties.item(i)).getElementsByTagName(name);
            if (matches.getLength() > 0) {
                return matches.item(0).getTextContent().trim();
            }
        }
        throw new AssertionError("pom property " + name + " is missing");
    }

    private static String dependencyVersion(Document pom, String groupId, String artifactId) {
        NodeList dependencies = pom.getElementsByTagName("dependency");
        for (int i = 0; i < dependencies.getLength(); i++) {
            Element dependency = (Element) dependencies.item(i);
            if (groupId.equals(text(dependency, "groupId")) && artifactId.equals(text(dependency, "artifactId"))) {
                return text(dependency, "version");
            }
        }
        throw new AssertionError("no dependency " + groupId + ":" + artifactId + " in its pom");
    }

    /** target/NAME.jar for every finalName and every ${project.build.directory}/... outputFile in the pom. */
    private static Set<String> pomJarOutputs(Document pom) {
        Set<String> jars = new LinkedHashSet<>();
        NodeList finalNames = pom.getElementsByTagName("finalName");
        for (int i = 0; i < finalNames.getLength(); i++) {
            jars.add("target/" + finalNames.item(i).getTextContent().trim() + ".jar");
        }
        NodeList outputFiles = pom.getElementsByTagName("outputFile");
        for (int i = 0; i < outputFiles.getLength(); i++) {
            jars.add(outputFiles.item(i).getTextContent().trim().replace("${project.build.directory}", "target"));
        }
        return jars;
    }

    private static String text(Element parent, String child) {
        NodeList nodes = parent.getElementsByTagName(child);
        return nodes.getLength() == 0 ? "" : nodes.item(0).getTextContent().trim();
    }

    private static Document readXml(Path file) {
        assertThat(file).as("file read by %s", ConfigurationConsistencyTest.class.getSimpleName()).exists();
        try {
            return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file.toFile());
        } catch (Exception e) {
            throw new AssertionError(file + " is not well-formed XML: " + e.getMessage(), e);
        }
    }

    // ---- Java defaults ---------------------------------------------------------------------------------------------

    /** The defaults ConnectionOptions falls back to when no flag and no environment variable is set. */
    private static ConnectionOptions connectionDefaults() {
        ConnectionOptions defaults = new ConnectionOptions();
        Pattern fallback = Pattern.compile("\\$\\{env:[A-Z_]+:-(.*)}");
        for (var field : ConnectionOptions.class.getFields()) {
            Option option = field.getAnnotation(Option.class);
            if (option == null) {
                continue;
            }
            Matcher matcher = fallback.matcher(option.defaultValue());
            assertThat(matcher.matches()).as("ConnectionOptions.%s defaultValue '%s': expected ${env:NAME:-default}",
                    field.getName(), option.defaultValue()).isTrue();
            try {
                field.set(defaults, field.getType() == int.class ? Integer.parseInt(matcher.group(1))
                        : field.getType() == boolean.class ? Boolean.parseBoolean(matcher.group(1)) : matcher.group(1));
            } catch (IllegalAccessException e) {
                throw new AssertionError(e);
            }
        }
        return defaults;
    }

    // ---- Files -----------------------------------------------------------------------------------------------------

    /** Flink 1.20's config.yaml, flattened to dotted keys (Flink accepts both nested and flat forms). */
    private static Map<String, String> readFlinkConf(Path file) {
        return ConfigFiles.flatten(ConfigFiles.yaml(ConfigFiles.read(file)));
    }

    private static JsonNode readJson(Path file) {
        return ConfigFiles.readJson(file);
    }

    private static Properties readProperties(Path file) {
        Properties properties = new Properties();
        try (var reader = Files.newBufferedReader(file)) {
            properties.load(reader);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + file + ": " + e.getMessage(), e);
        }
        return properties;
    }

    private static String read(Path file) {
        return ConfigFiles.read(file);
    }

    private static Map<String, Integer> orderedMap(Object... keysAndValues) {
        Map<String, Integer> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], (Integer) keysAndValues[i + 1]);
        }
        return map;
    }
}
