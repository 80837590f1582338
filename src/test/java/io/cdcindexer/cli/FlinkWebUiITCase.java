package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;

import io.cdcindexer.cli.DebeziumEvents.Order;
import io.cdcindexer.kafka.TestProducers;
import io.cdcindexer.stack.ElasticsearchNode;
import io.cdcindexer.stack.FlinkCluster;
import io.cdcindexer.stack.FreePorts;
import io.cdcindexer.stack.KafkaBroker;
import io.cdcindexer.stack.ProjectHome;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.Rectangle;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The Flink web UI as a user sees it, in Debian's headless Chromium: the real job on a real session cluster, reading
 * Debezium-shaped events from Kafka and indexing them in Elasticsearch, is found in the job list by its name; its
 * graph shows the job's named operators; and a vertex's Metrics tab lists the job's own metrics. Screenshots of both
 * go to {@code target/}; with {@code -Dcdc.update-readme-images=true} they also replace the README's, in
 * {@code docs/images/}. Skipped (naming the packages) where Chromium is not installed, failed under CI.
 * Needs {@code target/cdc-indexer-job.jar} (mvn package).
 */
@ExtendWith({HeadlessChromium.Installed.class, SharedServices.class})
class FlinkWebUiITCase {

    /** The names CdcIndexerJob gives its operators; the UI shows a sink's as "name: Writer". */
    private static final List<String> OPERATORS = List.of("Kafka: Debezium topics", "Decode Debezium events",
            "Index mappings", "Collapse transactions", "Drop stale changes", "Elasticsearch", "Dead-letter queue");
    /**
     * The chains the UI shows as its boxes: operators joined by a forward edge at equal parallelism chain (at
     * parallelism 1 the collapse's input too, keyed as it comes); the keyBys cut the chain, and so do the unions: the
     * dead letters' (a sink with two inputs, from two operators) and the version check's (the tables' changes and the
     * joined documents').
     */
    private static final List<String> VERTICES = List.of(
            "Source: Kafka: Debezium topics -> Decode Debezium events -> Index mappings -> Collapse transactions"
                    + " -> Joined documents: rows",
            "Dead-letter queue: Writer",
            // The joined documents of configs/documents.json, which submit passes: a stage per table of each.
            "Assemble cdc.documents.users.orders",
            "Assemble cdc.documents.users -> Documents of cdc.documents.users",
            "Assemble cdc.documents.orders.user",
            "Links of cdc.documents.orders.user",
            "Fan-out of cdc.documents.orders.user",
            "Assemble cdc.documents.orders -> Documents of cdc.documents.orders",
            "Drop stale changes -> Elasticsearch: Writer");
    private static final String TOPIC_PREFIX = "webui";
    private static final String TABLE_TOPIC = TOPIC_PREFIX + ".public.orders";
    private static final String TRANSACTION_TOPIC = TOPIC_PREFIX + ".transaction";
    private static final int TRANSACTIONS = 25;
    private static final int ORDERS_PER_TRANSACTION = 4;
    /** Each order in cdc.public.orders, and as its joined document in cdc.documents.orders (configs/documents.json). */
    private static final int DOCUMENTS = 2 * TRANSACTIONS * ORDERS_PER_TRANSACTION;
    private static final Duration UI_TIMEOUT = Duration.ofSeconds(60);
    private static final Path TARGET = ProjectHome.dir().resolve("target");
    /** With {@code -Dcdc.update-readme-images=true} the screenshots replace the README's. */
    private static final String UPDATE_README_IMAGES = "cdc.update-readme-images";
    private static final Path README_IMAGES = ProjectHome.dir().resolve("docs/images");
    /** How much of its pane the graph fills in the screenshot: as large as fits, with a margin. */
    private static final double GRAPH_FILL = 0.95;
    /** The web UI's zoom slider: from 0.1 to 5, in steps of 0.01. */
    private static final double ZOOM_MIN = 0.1;
    private static final double ZOOM_MAX = 5;
    private static final double ZOOM_STEP = 0.01;
    /** Below this "Busy (max)" on every node the job is idle: it has indexed all there was. */
    private static final int IDLE_BUSY_PERCENT = 50;

    @TempDir
    static Path dir;

    static FlinkCluster flink;
    static FlinkRest rest;
    static String jobId;
    static HeadlessChromium browser;

    @BeforeAll
    static void start(KafkaBroker kafka, ElasticsearchNode elasticsearch) throws Exception {
        kafka.createTopic(TABLE_TOPIC, 2);
        kafka.createTopic(TRANSACTION_TOPIC, 1);
        produceOrders(kafka);
        flink = FlinkCluster.start(dir.resolve("flink"), FreePorts.next());
        rest = new FlinkRest(flink.url());
        Path jar = ProjectHome.dir().resolve(SubmitCommand.JOB_JAR);
        assertThat(jar).as("the job jar; build it with mvn -DskipTests package").isRegularFile();
        List<String> args = List.of("--kafka.bootstrap-servers", kafka.bootstrapServers(),
                "--elasticsearch.hosts", elasticsearch.url(),
                "--kafka.topic-pattern", TOPIC_PREFIX + "\\.public\\..*",
                "--kafka.transaction-topic", TRANSACTION_TOPIC,
                "--kafka.dlq-topic", TOPIC_PREFIX + ".dlq",
                "--kafka.group-id", "web-ui-it",
                "--checkpoint.interval-ms", "2000");
        jobId = SubmitCommand.submit(new PrintWriter(new StringWriter()), rest,
                CommittedOffsets.in(kafka.bootstrapServers()), jar, args, SubmitCommand.Start.WITHOUT_STATE);
        awaitDocumentsIndexed(DOCUMENTS);
        browser = HeadlessChromium.start(dir.resolve("chromium"), TARGET.resolve("flink-web-ui-chromedriver.log"));
    }

    @AfterAll
    static void stop() {
        try {
            if (browser != null) {
                browser.close(); // fails the class if a Chromium process outlives it
                assertThat(browser.processes()).as("Chromium processes left behind").isEmpty();
            }
        } finally {
            if (flink != null) {
                flink.close();
            }
        }
    }

    @Test
    void theRunningJobShowsItsOperatorsAndItsOwnMetrics() throws Exception {
        WebDriver page = browser.driver();
        try {
            openJobFromTheJobList(page);

            List<String> vertices = vertexNames();
            assertThat(vertices).as("the job's vertices").containsExactlyInAnyOrderElementsOf(VERTICES);
            List<String> nodes = graphNodes(page, label -> label.matches("(?s).*Backpressured \\(max\\): \\d+%.*"));
            for (String vertex : vertices) {
                assertThat(nodes).as("the node of vertex %s", vertex).anySatisfy(label -> assertThat(label)
                        .startsWith(vertex + "\nParallelism: "));
            }
            for (String operator : OPERATORS) {
                assertThat(nodes).as("nodes naming operator '%s'", operator)
                        .filteredOn(label -> label.contains(operator)).hasSize(1);
            }

            openMetricsTab(page, "Kafka: Debezium topics");
            // The job runs at parallelism 1 (parallelism.default): one subtask, numbered 0.
            assertThat(searchMetrics(page, "changesDecoded")).as("the decoder's changesDecoded, of its one subtask")
                    .contains("0.Decode_Debezium_events.changesDecoded")
                    .doesNotContain("1.Decode_Debezium_events.changesDecoded");

            closeVertexPanel(page);
            openMetricsTab(page, "Elasticsearch: Writer");
            assertThat(searchMetrics(page, "documentsIndexed")).as("the writer's documentsIndexed, of its one subtask")
                    .contains("0.Elasticsearch__Writer.documentsIndexed");
            assertThat(searchMetrics(page, "commitToAcknowledgedMs_p99"))
                    .as("the writer's commit → acknowledged delay histogram, as the web UI lists it")
                    .contains("0.Elasticsearch__Writer.commitToAcknowledgedMs_p99");
            long shown = showMetric(page, "0.Elasticsearch__Writer.documentsIndexed");
            assertThat(shown).as("documents indexed, as the Metrics tab shows them")
                    .isEqualTo(DOCUMENTS)
                    .isEqualTo(rest.operatorMetricSum(jobId, "documentsIndexed").orElseThrow().longValue());
            // The panel scrolls to the chart added last: back to the first, so that both numbers show.
            browser.driver().executeScript("arguments[0].scrollIntoView(true); window.scrollTo(0, 0)",
                    page.findElement(By.cssSelector("flink-job-chart")));
            Path metrics = browser.screenshot(TARGET.resolve("flink-web-ui-metrics.png"));

            // The graph once the job idles (every change indexed), as large as its pane holds it whole.
            closeVertexPanel(page);
            graphNodes(page, label -> busy(label) < IDLE_BUSY_PERCENT);
            zoomGraphToFit(page);
            Path graph = browser.screenshot(TARGET.resolve("flink-web-ui-job-graph.png"));

            if (Boolean.getBoolean(UPDATE_README_IMAGES)) {
                Files.copy(graph, README_IMAGES.resolve("flink-web-ui.png"), StandardCopyOption.REPLACE_EXISTING);
                Files.copy(metrics, README_IMAGES.resolve("flink-web-ui-metrics.png"), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (Throwable failure) {
            browser.saveEvidence(TARGET.resolve("flink-web-ui-failure"));
            throw failure;
        }
    }

    /** Running Jobs, then the row named cdc-indexer, with the menu folded so that the job's page gets the width. */
    private static void openJobFromTheJobList(WebDriver page) {
        page.get(flink.url() + "/#/job/running");
        await("the menu's fold button", () -> page.findElements(By.cssSelector("i.trigger.anticon-menu-fold")).stream()
                .findFirst()).click();
        await("the job list shows cdc-indexer", () -> page.findElements(
                By.xpath("//tbody/tr[td[normalize-space()='cdc-indexer']]")).stream().findFirst()).click();
        await("the job's page opens", () -> Optional.of(page.getCurrentUrl()).filter(url -> url.contains(jobId)));
    }

    /**
     * The labels of the job graph's nodes, once there is one per vertex and each satisfies {@code ready}. A node shows
     * its vertex's back-pressure and busy time once the UI has fetched them.
     */
    private static List<String> graphNodes(WebDriver page, Predicate<String> ready) throws Exception {
        int vertices = vertexNames().size();
        return await("the graph shows a node per vertex, each ready", () -> {
            List<String> labels = page.findElements(By.cssSelector("flink-dagre g.node-group")).stream()
                    .map(WebElement::getText).toList();
            return Optional.of(labels).filter(all -> all.size() == vertices && all.stream().allMatch(ready));
        });
    }

    /** A node's "Busy (max)" percentage; 100 while the UI shows none yet. */
    private static int busy(String label) {
        Matcher busy = Pattern.compile("Busy \\(max\\): (\\d+)%").matcher(label);
        return busy.find() ? Integer.parseInt(busy.group(1)) : 100;
    }

    /** Back to the job's graph without a vertex's panel. */
    private static void closeVertexPanel(WebDriver page) {
        page.get(flink.url() + "/#/job/running/" + jobId + "/overview");
    }

    /** Clicks the node that names {@code operator}, then the Metrics tab of the panel that opens. */
    private static void openMetricsTab(WebDriver page, String operator) {
        await("the node of " + operator, () -> page.findElements(By.cssSelector("flink-dagre g.node-group")).stream()
                .filter(node -> node.getText().contains(operator)).findFirst()).click();
        await("the vertex's Metrics tab", () -> page.findElements(
                By.xpath("//*[self::a or self::div][normalize-space()='Metrics']")).stream()
                .filter(WebElement::isDisplayed).findFirst()).click();
    }

    /** Types {@code search} into the tab's Add Metric list and returns the metric names it then offers. */
    private static List<String> searchMetrics(WebDriver page, String search) {
        WebElement select = await("the Add Metric list", () -> page.findElements(By.cssSelector(".metric-selector nz-select"))
                .stream().filter(WebElement::isDisplayed).findFirst());
        select.click();
        WebElement input = select.findElement(By.cssSelector("input"));
        input.sendKeys(Keys.chord(Keys.CONTROL, "a"), Keys.BACK_SPACE); // the list keeps the last search typed
        input.sendKeys(search);
        return await("metrics named " + search + " in the list", () -> {
            // The list renders only the options in view; a search narrows it to the few that match.
            List<String> names = page.findElements(By.cssSelector("nz-option-item[title]")).stream()
                    .map(option -> option.getAttribute("title")).filter(name -> name != null && name.endsWith(search))
                    .toList();
            return Optional.of(names).filter(list -> !list.isEmpty());
        });
    }

    /** Adds {@code metric} to the tab, shown big and as a number, and returns that number once the UI has it. */
    private static long showMetric(WebDriver page, String metric) {
        searchMetrics(page, metric);
        await("the option " + metric, () -> page.findElements(By.cssSelector("nz-option-item[title]")).stream()
                .filter(option -> metric.equals(option.getAttribute("title"))).findFirst()).click();
        WebElement chart = await("the chart of " + metric, () -> page.findElements(By.cssSelector("flink-job-chart"))
                .stream().filter(element -> element.findElements(By.cssSelector(".title .text[title='" + metric + "']"))
                        .size() == 1).findFirst());
        chart.findElement(By.xpath(".//button[normalize-space()='Big']")).click();
        chart.findElement(By.xpath(".//button[normalize-space()='Numeric']")).click();
        String value = await("the value of " + metric, () -> Optional.of(chart.findElement(By.cssSelector(".numeric"))
                .getText().trim()).filter(text -> text.matches("\\d+")));
        return Long.parseLong(value);
    }

    /**
     * Sets the job graph's zoom with its slider so that the whole graph fills its pane (the mouse wheel does not zoom
     * it), then drags the graph back to the middle of the pane, as the zoom does not keep it there.
     */
    private static void zoomGraphToFit(WebDriver page) {
        WebElement handle = page.findElement(By.cssSelector("flink-dagre nz-slider .ant-slider-handle"));
        handle.click(); // focuses the handle, and sets the zoom to about where it was
        double zoom = sliderValue(handle);
        Rectangle area = page.findElement(By.cssSelector("flink-dagre flink-svg-container")).getRect();
        Rectangle graph = graphBounds(page);
        double fit = zoom * GRAPH_FILL * Math.min((double) area.getWidth() / graph.getWidth(),
                (double) area.getHeight() / graph.getHeight());
        int steps = (int) Math.floor((Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, fit)) - zoom) / ZOOM_STEP);
        new Actions(page).sendKeys(String.join("", Collections.nCopies(Math.abs(steps),
                steps > 0 ? Keys.ARROW_UP : Keys.ARROW_DOWN))).perform();
        graph = graphBounds(page);
        int dx = area.getX() + area.getWidth() / 2 - (graph.getX() + graph.getWidth() / 2);
        int dy = area.getY() + area.getHeight() / 2 - (graph.getY() + graph.getHeight() / 2);
        // A drag pans the graph; it is no click, so it opens no vertex even where it starts on a node.
        new Actions(page).moveToElement(page.findElement(By.cssSelector("flink-dagre flink-svg-container")))
                .clickAndHold().moveByOffset(dx, dy).release().perform();
    }

    /** The rectangle that holds every node of the job graph, as the page shows it now. */
    private static Rectangle graphBounds(WebDriver page) {
        List<Rectangle> nodes = page.findElements(By.cssSelector("flink-dagre g.node-group")).stream()
                .map(WebElement::getRect).toList();
        int left = nodes.stream().mapToInt(Rectangle::getX).min().orElseThrow();
        int right = nodes.stream().mapToInt(node -> node.getX() + node.getWidth()).max().orElseThrow();
        int top = nodes.stream().mapToInt(Rectangle::getY).min().orElseThrow();
        int bottom = nodes.stream().mapToInt(node -> node.getY() + node.getHeight()).max().orElseThrow();
        return new Rectangle(left, top, bottom - top, right - left);
    }

    /** The zoom the graph's slider is at: its handle stands at {@code bottom: <percent>%} of its range. */
    private static double sliderValue(WebElement handle) {
        Matcher bottom = Pattern.compile("bottom: ([\\d.]+)%").matcher(handle.getAttribute("style"));
        assertThat(bottom.find()).as("the zoom slider's handle position: %s", handle.getAttribute("style")).isTrue();
        return ZOOM_MIN + Double.parseDouble(bottom.group(1)) / 100 * (ZOOM_MAX - ZOOM_MIN);
    }

    /** The job's vertex names, as the REST API gives them. */
    private static List<String> vertexNames() throws Exception {
        List<String> names = new ArrayList<>();
        for (JsonNode vertex : rest.job(jobId).path("vertices")) {
            names.add(vertex.path("name").asText());
        }
        return names;
    }

    /** Polls {@code probe} until it has a value, for at most {@link #UI_TIMEOUT}. */
    private static <T> T await(String what, ThrowingProbe<T> probe) {
        return new WebDriverWait(browser.driver(), UI_TIMEOUT, Duration.ofMillis(250))
                .withMessage(what)
                .until(driver -> {
                    try {
                        return probe.get().orElse(null);
                    } catch (Exception e) {
                        return null;
                    }
                });
    }

    /** A step that may not have happened yet. */
    private interface ThrowingProbe<T> {
        Optional<T> get() throws Exception;
    }

    /** Transactions of new orders, each framed by BEGIN and END, as Debezium writes them. */
    private static void produceOrders(KafkaBroker kafka) throws Exception {
        try (KafkaProducer<String, String> producer = TestProducers.strings(kafka.bootstrapServers())) {
            for (int t = 0; t < TRANSACTIONS; t++) {
                long txId = 1000 + t;
                producer.send(new ProducerRecord<>(TRANSACTION_TOPIC, "{\"id\":\"" + txId + "\"}",
                        DebeziumEvents.begin(txId)));
                for (int i = 1; i <= ORDERS_PER_TRANSACTION; i++) {
                    int id = t * ORDERS_PER_TRANSACTION + i;
                    producer.send(new ProducerRecord<>(TABLE_TOPIC, DebeziumEvents.key(id, true),
                            DebeziumEvents.change("c", null, new Order(id, 1 + id % 7, id + ".50", "pending"), txId, true)));
                }
                producer.send(new ProducerRecord<>(TRANSACTION_TOPIC, "{\"id\":\"" + txId + "\"}",
                        DebeziumEvents.end(txId, ORDERS_PER_TRANSACTION)));
            }
            producer.flush();
        }
    }

    /** Waits until the job's writers report {@code count} documents indexed (the REST API's metrics lag up to 10 s). */
    private static void awaitDocumentsIndexed(int count) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(120));
        Optional<Double> indexed = Optional.empty();
        while (indexed.orElse(0.0) < count) {
            assertThat(Instant.now()).as("the job indexes %d documents within 120 s; indexed: %s, exceptions: %s", count,
                    indexed, rest.exceptions(jobId)).isBefore(deadline);
            Thread.sleep(500);
            indexed = rest.operatorMetricSum(jobId, "documentsIndexed");
        }
    }
}
