package io.cdcindexer.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.header.Header;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc consume}: prints Debezium's change events as they arrive in Kafka. */
@Command(
        name = "consume",
        mixinStandardHelpOptions = true,
        description = {
            "Prints the change events Debezium writes to Kafka as they arrive, one line per event.",
            "The lines, by kind of record:",
            "  op=c public.users id=6 tx=742  after: {...}        (insert; op=r: snapshot)",
            "  op=u public.users id=6 tx=743  email: \"a\" → \"b\"    (update: changed columns)",
            "  op=d public.users id=6 tx=744  before: {...}       (delete)",
            "  tombstone public.users id=6                        (null value after a delete)",
            "  BEGIN tx=742 / END   tx=742  events=3 (...)        (transaction bounds)",
            "  DLQ cdc.dlq[0@5] key=... and its headers           (a record the job rejected)",
            "tx is PostgreSQL's transaction id: events of one transaction share it. Order is kept per key "
                    + "(partition), not across tables.",
            "Should Kafka stop answering, consume says so within seconds, waits for it and carries on from where it "
                    + "was once it answers again (with --timeout, still not answering by then is exit code 2).",
        })
public final class ConsumeCommand implements Callable<Integer> {

    static final String DEFAULT_TOPICS = "cdc\\.public\\..*|cdc\\.transaction|cdc\\.dlq";

    @Mixin
    ConnectionOptions connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--topic", paramLabel = "REGEX", defaultValue = DEFAULT_TOPICS,
            description = "Topics to follow, a regular expression (default ${DEFAULT-VALUE}: every table, the "
                    + "transaction topic and the dead-letter topic).")
    String topic;

    @Option(names = "--raw", description = "Print each record as it is: topic, key and value JSON, tab-separated.")
    boolean raw;

    @Option(names = "--from-beginning", description = "Start at the oldest record instead of at the newest.")
    boolean fromBeginning;

    @Option(names = "--max-messages", paramLabel = "N", description = "Stop after N records.")
    Long maxMessages;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Stop after this long (e.g. 30s). With --max-messages, fewer records than N by then is an "
                    + "error (exit 1). Default: run until Ctrl-C.")
    Duration timeout;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Pattern topics;
        try {
            topics = Pattern.compile(topic);
        } catch (PatternSyntaxException e) {
            throw new CliException("--topic is no regular expression: " + e.getDescription());
        }
        ChangeEventFormatter formatter = new ChangeEventFormatter("cdc.transaction", "cdc.dlq");
        long deadline = timeout == null ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
        long printed = 0;
        try (KafkaTail tail = new KafkaTail(connection.kafkaClient(), topics, fromBeginning)) {
            spec.commandLine().getErr().println("consume: following " + (tail.topics().isEmpty()
                    ? "no topic yet (waiting for one matching " + topic + ")" : String.join(", ", tail.topics()))
                    + (fromBeginning ? " from the beginning" : " from now on") + "; Ctrl-C stops");
            spec.commandLine().getErr().flush();
            Outage outage = new Outage(spec.commandLine().getErr(), "consume", "Kafka at " + connection.kafka);
            while (maxMessages == null || printed < maxMessages) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                Duration wait = Duration.ofNanos(Math.min(left, Duration.ofMillis(500).toNanos()));
                ConsumerRecords<byte[], byte[]> records;
                try {
                    records = tail.poll(wait);
                    outage.answered();
                } catch (KafkaTail.Unreachable e) {
                    // A restart, say: the partitions keep their positions, and consume carries on after it.
                    outage.failed(ElasticsearchHttp.describe(e.getCause()));
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    ChangeEventFormatter.Event event = event(record);
                    out.println(raw ? ChangeEventFormatter.raw(event) : formatter.format(event));
                    if (maxMessages != null && ++printed >= maxMessages) {
                        break;
                    }
                }
                out.flush();
            }
            if (outage.ongoing()) {
                throw new CliException("stopped at the --timeout: " + outage.stillAway());
            }
        }
        out.flush();
        if (maxMessages != null && printed < maxMessages) {
            spec.commandLine().getErr().println("consume: timed out after " + timeout.toSeconds() + " s with " + printed
                    + " of " + Plural.of(maxMessages, "record"));
            return 1;
        }
        return 0;
    }

    private static ChangeEventFormatter.Event event(ConsumerRecord<byte[], byte[]> record) {
        List<Map.Entry<String, byte[]>> headers = new ArrayList<>();
        for (Header header : record.headers()) {
            headers.add(Map.entry(header.key(), header.value() == null ? new byte[0] : header.value()));
        }
        return new ChangeEventFormatter.Event(record.topic(), record.partition(), record.offset(), record.key(),
                record.value(), headers);
    }
}
