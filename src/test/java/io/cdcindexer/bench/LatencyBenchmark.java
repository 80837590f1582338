package io.cdcindexer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.cli.Cdc;
import io.cdcindexer.cli.ConnectionOptions;
import io.cdcindexer.stack.Http;
import io.cdcindexer.stack.PostgresServer;
import io.cdcindexer.stack.StackPorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Commit → visible latency of the whole pipeline under a steady load: {@code ./cdc up --detach} on free ports (PostgreSQL,
 * Kafka, Kafka Connect with Debezium, Elasticsearch, a Flink cluster running the job jar), then {@code --rate} changes/s
 * for {@code --duration} seconds, in transactions of {@code --tx-size} single-row updates over {@code --rows} users rows.
 *
 * <p>For each transaction, the time its {@code COMMIT} returned is noted with one of its rows and the value it wrote;
 * a poller asks Elasticsearch for the outstanding rows every {@code --poll-ms} ({@code _mget}, which reads the latest
 * version without waiting for a refresh) and notes when each shows its value, or a later one. The first
 * {@code --warmup} seconds are left out. Prints the percentiles of commit → visible, split at the Kafka timestamp of
 * the probe's change event (when Connect wrote it; a consumer of the table topic notes it): commit → in Kafka is
 * PostgreSQL, Debezium and Connect, in Kafka → visible the job and Elasticsearch.
 *
 * <pre>
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/test.classpath -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat target/test.classpath) io.cdcindexer.bench.LatencyBenchmark \
 *     --rate 1000 --runs 5
 * </pre>
 */
public final class LatencyBenchmark {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String INDEX = "cdc.public.users";
    private static final long SETTLING_WINDOW_S = 30;

    /** One transaction's row and value, and when its commit returned (monotonic and wall-clock). */
    private record Probe(long id, long seq, long committedNanos, long committedMillis, boolean measured) {
        /** The consumer's key for this probe's change event. */
        String key() {
            return id + ":" + seq;
        }
    }

    /** When one probe became visible (monotonic and wall-clock). */
    private record Seen(Probe probe, long visibleNanos, long visibleMillis) {}

    private final int rate;
    private final int durationSeconds;
    private final int warmupSeconds;
    private final int txSize;
    private final int rows;
    private final int pollMs;
    private final int runs;
    private final Path out;
    private final boolean jfr;
    private final boolean keep;
    /** The joined documents to resubmit the job with after up (empty: none); null: the project's, as up submits them. */
    private final String documents;

    private LatencyBenchmark(Map<String, String> args) {
        this.rate = Integer.parseInt(args.getOrDefault("--rate", "1000"));
        this.durationSeconds = Integer.parseInt(args.getOrDefault("--duration", "360"));
        this.warmupSeconds = Integer.parseInt(args.getOrDefault("--warmup", "240"));
        this.txSize = Integer.parseInt(args.getOrDefault("--tx-size", "5"));
        this.rows = Integer.parseInt(args.getOrDefault("--rows", "1000"));
        this.pollMs = Integer.parseInt(args.getOrDefault("--poll-ms", "10"));
        this.runs = Integer.parseInt(args.getOrDefault("--runs", "1"));
        this.out = Path.of(args.getOrDefault("--out", "target/latency"));
        this.jfr = Boolean.parseBoolean(args.getOrDefault("--jfr", "false"));
        this.keep = Boolean.parseBoolean(args.getOrDefault("--keep", "false"));
        this.documents = args.get("--documents");
        if (rate <= 0 || txSize <= 0 || rows < txSize || durationSeconds <= warmupSeconds
                || runs <= 0) {
            throw new IllegalArgumentException(
                    "Needs --rate > 0, --tx-size > 0, --rows ≥ --tx-size, --duration > --warmup and --runs > 0");
        }
    }

    public static void main(String[] argv) throws Exception {
        new LatencyBenchmark(Benchmarks.flags(argv, 0, List.of("--rate", "--duration", "--warmup", "--tx-size",
                "--rows", "--poll-ms", "--runs", "--out", "--jfr", "--keep", "--documents"))).runAll();
        System.exit(0);
    }

    /** What one run measured. */
    private record Result(int run, double changesPerSecond, long[] commitToVisible, long[] commitToKafka,
            long[] duringWarmup, int checkpoints, long longestCheckpointMs, String cores) {}

    private void runAll() throws Exception {
        Files.createDirectories(out);
        List<Result> results = new ArrayList<>();
        for (int run = 1; run <= runs; run++) {
            System.out.printf("%n== run %d of %d ==%n", run, runs);
            results.add(run(run));
        }
        System.out.printf("%n%d runs at %d changes/s, transactions of %d, %d s each after %d s of warm-up%n", runs, rate,
                txSize, durationSeconds - warmupSeconds, warmupSeconds);
        System.out.println("| run | changes/s | p50 | p90 | p99 | p99.9 | max | commit → Kafka p99 | warm-up p99 / max "
                + "| checkpoints (longest) | cores |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|");
        for (Result result : results) {
            long[] visible = result.commitToVisible();
            long[] warmup = result.duringWarmup();
            System.out.printf("| %d | %.0f | %d ms | %d ms | %d ms | %d ms | %d ms | %d ms | %d / %d ms | %d (%d ms) | %s |%n",
                    result.run(), result.changesPerSecond(), percentile(visible, 50), percentile(visible, 90),
                    percentile(visible, 99), percentile(visible, 99.9), visible[visible.length - 1] / 1_000_000,
                    percentile(result.commitToKafka(), 99), percentile(warmup, 99),
                    warmup.length == 0 ? -1 : warmup[warmup.length - 1] / 1_000_000, result.checkpoints(),
                    result.longestCheckpointMs(), result.cores());
        }
        Result worst = results.stream()
                .max(java.util.Comparator.comparingLong(r -> percentile(r.commitToVisible(), 99))).orElseThrow();
        System.out.printf("worst run: %d, p99 %d ms, p99.9 %d ms (pictures and samples in %s)%n", worst.run(),
                percentile(worst.commitToVisible(), 99), percentile(worst.commitToVisible(), 99.9), out);
    }

    private Result run(int run) throws Exception {
        Path dir = Files.createTempDirectory("cdc-latency-bench");
        StackPorts ports = StackPorts.free();
        String elasticsearch = "http://localhost:" + ports.elasticsearch();
        List<String> upArgs = new ArrayList<>(List.of("up"));
        upArgs.addAll(List.of(ConnectionOptions.flagsFor(ports)));
        upArgs.addAll(List.of("--detach", "--data-dir", dir.toString()));
        int up = Cdc.run(upArgs.toArray(String[]::new));
        if (up != 0) {
            throw new IllegalStateException("./cdc up failed (exit " + up + "); logs in " + dir);
        }
        boolean done = false;
        Sampler sampler = new Sampler("http://localhost:" + ports.flink(), dir);
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://localhost:" + ports.postgres() + "/"
                + PostgresServer.DATABASE, PostgresServer.USER, PostgresServer.PASSWORD)) {
            if (documents != null) {
                // The job again, with other joined documents ('' for none). Without state: Flink refuses a savepoint
                // that holds state of stages the new job lacks, and Kafka holds only the sample rows yet.
                List<String> submitArgs = new ArrayList<>(List.of("submit", "--without-state"));
                submitArgs.addAll(List.of(ConnectionOptions.flagsFor(ports)));
                submitArgs.addAll(List.of("--", "--documents", documents));
                int submitted = Cdc.run(submitArgs.toArray(String[]::new));
                if (submitted != 0) {
                    throw new IllegalStateException("./cdc submit --documents failed (exit " + submitted + ")");
                }
            }
            long[] ids = seed(connection, elasticsearch);
            sampler.markCpu();
            Thread.sleep(10_000);
            System.out.printf("  cores used by the idle stack: %s%n", sampler.coresSinceStart(10));
            if (jfr) {
                sampler.startRecordings(out.resolve("run-" + run));
            }
            Result result = measure(run, connection, elasticsearch, "localhost:" + ports.kafka(), ids, sampler);
            done = true;
            return result;
        } finally {
            sampler.close();
            Benchmarks.down(dir, done, keep);
        }
    }

    /** Adds rows until the table has {@code --rows}, waits until all are indexed, and returns their ids. */
    private long[] seed(Connection connection, String elasticsearch) throws Exception {
        try (Statement statement = connection.createStatement()) {
            statement.execute("INSERT INTO users(username, email) SELECT 'latency' || g, 'v0@example.com'"
                    + " FROM generate_series(1, GREATEST(0, " + rows + " - (SELECT count(*) FROM users))) g");
            List<Long> ids = new ArrayList<>();
            try (ResultSet result = statement.executeQuery("SELECT id FROM users ORDER BY id LIMIT " + rows)) {
                while (result.next()) {
                    ids.add(result.getLong(1));
                }
            }
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (count(elasticsearch) < ids.size()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("The " + ids.size() + " rows were not all indexed within 3 minutes");
                }
                Thread.sleep(200);
            }
            return ids.stream().mapToLong(Long::longValue).toArray();
        }
    }

    private Result measure(int run, Connection connection, String elasticsearch, String kafka, long[] ids,
            Sampler sampler) throws Exception {
        ConcurrentLinkedQueue<Probe> committed = new ConcurrentLinkedQueue<>();
        List<Seen> all = new ArrayList<>();
        long[] lateProbes = new long[1];
        Thread poller = new Thread(() -> poll(elasticsearch, committed, all, lateProbes), "latency-poller");
        Map<String, Long> kafkaTimestamps = new ConcurrentHashMap<>();
        AtomicBoolean stop = new AtomicBoolean();
        Thread consumer = new Thread(() -> consume(kafka, kafkaTimestamps, stop), "latency-consumer");
        consumer.start();
        poller.start();

        long periodNanos = TimeUnit.SECONDS.toNanos(1) * txSize / rate;
        long startedMillis = System.currentTimeMillis();
        long started = System.nanoTime();
        sampler.start();
        long measureFrom = started + TimeUnit.SECONDS.toNanos(warmupSeconds);
        long end = started + TimeUnit.SECONDS.toNanos(durationSeconds);
        long transactions = 0;
        long next = started;
        int row = 0;
        Map<String, JsonNode> statsAtMeasure = new ConcurrentHashMap<>();
        Thread statsTaker = null;
        try (PreparedStatement update = connection.prepareStatement("UPDATE users SET email = ? WHERE id = ?")) {
            connection.setAutoCommit(false);
            while (next < end) {
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
                long seq = ++transactions;
                if (next >= measureFrom && statsTaker == null) { // off the writer's thread: it keeps the pace
                    statsTaker = new Thread(() -> statsAtMeasure.putAll(indexStats(elasticsearch)), "index-stats");
                    statsTaker.start();
                }
                long probeId = ids[row];
                for (int i = 0; i < txSize; i++) {
                    update.setString(1, "v" + seq + "@example.com");
                    update.setLong(2, ids[row]);
                    update.addBatch();
                    row = (row + 1) % ids.length;
                }
                update.executeBatch();
                connection.commit();
                long committedAt = System.nanoTime();
                committed.add(new Probe(probeId, seq, committedAt, System.currentTimeMillis(), committedAt >= measureFrom));
                next += periodNanos;
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        String cores = sampler.coresSinceStart(seconds);
        if (statsTaker != null) {
            statsTaker.join(10_000);
        }
        printIndexWork(statsAtMeasure, indexStats(elasticsearch), durationSeconds - warmupSeconds);
        committed.add(new Probe(-1, -1, 0, 0, false)); // tells the poller that no more will come
        poller.join(TimeUnit.SECONDS.toMillis(60));
        poller.interrupt();
        poller.join();
        stop.set(true);
        consumer.join();
        sampler.stop();

        System.out.printf("latency: %d transactions of %d updates in %.1f s: %.0f changes/s (asked %d)%n", transactions,
                txSize, seconds, transactions * txSize / seconds, rate);
        long[] duringWarmup = all.stream().filter(s -> !s.probe().measured())
                .mapToLong(s -> s.visibleNanos() - s.probe().committedNanos()).sorted().toArray();
        List<Seen> seen = all.stream().filter(s -> s.probe().measured()).toList();
        if (seen.isEmpty()) {
            throw new IllegalStateException("No change became visible");
        }
        System.out.printf("  %d transactions after %d s of warm-up, visible through _mget:%n", seen.size(), warmupSeconds);
        long[] visible = seen.stream().mapToLong(s -> s.visibleNanos() - s.probe().committedNanos()).sorted().toArray();
        List<Seen> inKafka = seen.stream().filter(s -> kafkaTimestamps.containsKey(s.probe().key())).toList();
        long[] toKafka = inKafka.stream().mapToLong(s -> 1_000_000L
                * (kafkaTimestamps.get(s.probe().key()) - s.probe().committedMillis())).sorted().toArray();
        print("commit → visible", visible);
        print("during warm-up", duringWarmup);
        print("commit → in Kafka", toKafka);
        print("in Kafka → visible", inKafka.stream().mapToLong(s -> 1_000_000L
                * (s.visibleMillis() - kafkaTimestamps.get(s.probe().key()))).sorted().toArray());
        printSettling(all, started);
        if (lateProbes[0] > 0) {
            System.out.printf("  %d transactions were not visible 60 s after the load ended%n", lateProbes[0]);
        }
        List<DelayChart.Checkpoint> checkpoints = sampler.checkpoints(startedMillis);
        System.out.printf("  cores used during the load: %s%n", cores);
        System.out.printf("  checkpoints: %s%n", checkpoints.stream()
                .map(c -> c.id() + " at " + c.triggeredMs() / 1000 + " s: " + (c.completedMs() - c.triggeredMs())
                        + " ms").collect(java.util.stream.Collectors.joining(", ")));
        List<DelayChart.Point> points = all.stream().map(s -> new DelayChart.Point(
                s.probe().committedMillis() - startedMillis, (s.visibleNanos() - s.probe().committedNanos()) / 1_000_000,
                s.probe().measured())).sorted(java.util.Comparator.comparingLong(DelayChart.Point::atMs)).toList();
        StringBuilder csv = new StringBuilder("committed_ms,commit_to_visible_ms,commit_to_kafka_ms,measured\n");
        for (Seen s : all) {
            Long inKafkaAt = kafkaTimestamps.get(s.probe().key());
            csv.append(s.probe().committedMillis() - startedMillis).append(',')
                    .append((s.visibleNanos() - s.probe().committedNanos()) / 1_000_000).append(',')
                    .append(inKafkaAt == null ? "" : Long.toString(inKafkaAt - s.probe().committedMillis())).append(',')
                    .append(s.probe().measured()).append('\n');
        }
        Files.writeString(out.resolve("run-" + run + ".csv"), csv);
        Files.writeString(out.resolve("run-" + run + ".start"), Long.toString(startedMillis)); // the CSV's time 0
        Path svg = out.resolve("run-" + run + ".svg");
        DelayChart.write(svg, String.format("run %d: %d changes/s, p99 %d ms, p99.9 %d ms", run, rate,
                percentile(visible, 99), percentile(visible, 99.9)), points, checkpoints, 300, durationSeconds * 1000L);
        System.out.printf("  picture: %s%n", svg);
        return new Result(run, transactions * txSize / seconds, visible, toKafka, duringWarmup, checkpoints.size(),
                checkpoints.stream().mapToLong(c -> c.completedMs() - c.triggeredMs()).max().orElse(0), cores);
    }

    /**
     * p99 and max commit → visible for each 30 s of load, warm-up included: shows when a freshly started stack has
     * settled (its JVMs compile their hot paths for minutes on a small machine).
     */
    private static void printSettling(List<Seen> all, long startedNanos) {
        java.util.TreeMap<Long, List<Long>> byWindow = new java.util.TreeMap<>();
        for (Seen s : all) {
            long window = TimeUnit.NANOSECONDS.toSeconds(s.probe().committedNanos() - startedNanos) / SETTLING_WINDOW_S;
            byWindow.computeIfAbsent(window, w -> new ArrayList<>()).add(s.visibleNanos() - s.probe().committedNanos());
        }
        StringBuilder line = new StringBuilder("  p99 / max by " + SETTLING_WINDOW_S + " s of load:");
        byWindow.forEach((window, delays) -> {
            long[] sorted = delays.stream().mapToLong(Long::longValue).sorted().toArray();
            line.append(String.format(" %d–%d s %d/%d ms;", window * SETTLING_WINDOW_S, (window + 1) * SETTLING_WINDOW_S,
                    percentile(sorted, 99), sorted[sorted.length - 1] / 1_000_000));
        });
        System.out.println(line);
    }

    private static void print(String what, long[] sorted) {
        if (sorted.length == 0) {
            System.out.printf("  %-20s no samples%n", what);
            return;
        }
        System.out.printf("  %-20s p50 %4d ms, p90 %4d ms, p99 %4d ms, p99.9 %4d ms, max %4d ms%n", what,
                percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99), percentile(sorted, 99.9),
                sorted[sorted.length - 1] / 1_000_000);
    }

    /** Notes the Kafka timestamp of each change event of the users topic, by row and transaction number. */
    private static void consume(String kafka, Map<String, Long> timestamps, AtomicBoolean stop) {
        Properties config = new Properties();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(INDEX).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            while (!stop.get()) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                    if (record.value() == null) {
                        continue;
                    }
                    JsonNode after = MAPPER.readTree(record.value()).path("payload").path("after");
                    String email = after.path("email").asText("");
                    if (email.startsWith("v") && email.endsWith("@example.com")) {
                        timestamps.put(after.path("id").asLong() + ":" + email.substring(1, email.indexOf('@')),
                                record.timestamp());
                    }
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException("Reading " + INDEX + " failed", e);
        }
    }

    /** Polls Elasticsearch for the committed probes until the end marker arrives and every probe is seen. */
    private void poll(String elasticsearch, ConcurrentLinkedQueue<Probe> committed, List<Seen> seen, long[] lateProbes) {
        List<Probe> outstanding = new ArrayList<>();
        boolean last = false;
        try {
            while (!last || !outstanding.isEmpty()) {
                Probe probe;
                while ((probe = committed.poll()) != null) {
                    if (probe.id() < 0) {
                        last = true;
                    } else {
                        outstanding.add(probe);
                    }
                }
                if (!outstanding.isEmpty()) {
                    Map<Long, Long> visible = visibleSeqs(elasticsearch, outstanding);
                    long nanos = System.nanoTime();
                    long millis = System.currentTimeMillis();
                    outstanding.removeIf(p -> {
                        Long seq = visible.get(p.id());
                        if (seq == null || seq < p.seq()) {
                            return false;
                        }
                        seen.add(new Seen(p, nanos, millis));
                        return true;
                    });
                }
                Thread.sleep(pollMs);
            }
        } catch (InterruptedException e) {
            lateProbes[0] = outstanding.size();
        } catch (Exception e) {
            throw new IllegalStateException("Polling Elasticsearch failed", e);
        }
    }

    /** The value each row's document shows now: the transaction number in its e-mail address. */
    private static Map<Long, Long> visibleSeqs(String elasticsearch, List<Probe> probes) throws Exception {
        ObjectNode request = MAPPER.createObjectNode();
        ArrayNode docs = request.putArray("ids");
        probes.stream().mapToLong(Probe::id).distinct().forEach(docs::add);
        Http.Response response = Http.post(elasticsearch + "/" + INDEX + "/_mget",
                request.toString());
        Map<Long, Long> seqs = new HashMap<>();
        for (JsonNode doc : response.json().path("docs")) {
            String email = doc.path("_source").path("email").asText("");
            if (email.startsWith("v") && email.endsWith("@example.com")) {
                seqs.put(doc.path("_id").asLong(), Long.parseLong(email.substring(1, email.indexOf('@'))));
            }
        }
        return seqs;
    }

    /**
     * Each index's refresh, merge and get statistics (index name → its {@code total} section); none, with a word, when
     * Elasticsearch does not give them: they are context, not the measurement.
     */
    private static Map<String, JsonNode> indexStats(String elasticsearch) {
        Map<String, JsonNode> stats = new HashMap<>();
        try {
            Http.get(elasticsearch + "/cdc.*/_stats/refresh,merge,get,indexing").json().path("indices").fields()
                    .forEachRemaining(index -> stats.put(index.getKey(), index.getValue().path("total")));
        } catch (Exception e) {
            System.out.printf("  index statistics not read: %s%n", e);
        }
        return stats;
    }

    /**
     * What Elasticsearch did for each index in the measured part of the load: refreshes (the poller's realtime
     * {@code _mget} forces one whenever it asks for a document changed since the last), merges and their time.
     */
    private static void printIndexWork(Map<String, JsonNode> from, Map<String, JsonNode> to, int seconds) {
        to.forEach((index, now) -> {
            JsonNode then = from.get(index);
            if (then == null) {
                return;
            }
            System.out.printf("  %s over the measured %d s: %.1f refreshes/s, %d docs indexed, %d merges of %d docs"
                    + " in %d ms of merge time, %d gets%n", index, seconds,
                    (now.at("/refresh/total").asLong() - then.at("/refresh/total").asLong()) / (double) seconds,
                    now.at("/indexing/index_total").asLong() - then.at("/indexing/index_total").asLong(),
                    now.at("/merges/total").asLong() - then.at("/merges/total").asLong(),
                    now.at("/merges/total_docs").asLong() - then.at("/merges/total_docs").asLong(),
                    now.at("/merges/total_time_in_millis").asLong() - then.at("/merges/total_time_in_millis").asLong(),
                    now.at("/get/total").asLong() - then.at("/get/total").asLong());
        });
    }

    private static long count(String elasticsearch) throws Exception {
        Http.Response response = Http.get(elasticsearch + "/" + INDEX + "/_count");
        return response.ok() ? response.json().path("count").asLong() : 0;
    }

    private static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return -1;
        }
        int index = (int) Math.ceil(p / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1_000_000;
    }
}
