package io.cdcindexer.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ./cdc watch}: a live feed of the documents the job creates, updates and deletes in Elasticsearch. */
@Command(
        name = "watch",
        mixinStandardHelpOptions = true,
        description = {
            "Shows, live, the documents being created, updated and deleted in Elasticsearch, one line per change.",
            "The lines, by kind of change:",
            "  created users/6 {\"id\":6,\"username\":\"demo\",...}",
            "  updated users/6 email: \"a@example.com\" → \"b@example.com\"",
            "  deleted users/6",
            "It polls each index for writes newer than the last one seen (by _seq_no, the per-shard write counter) "
                    + "and notices deletes when a shard's document count drops. Changes show once Elasticsearch has "
                    + "refreshed the index (every second by default). An index that appears while watching is shown "
                    + "document by document.",
            "Should Elasticsearch stop answering, watch says so, waits for it and carries on where it was once it "
                    + "answers again (with --timeout, still not answering by then is exit code 2).",
        })
public final class WatchCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions connection;

    @Spec
    CommandSpec spec;

    @Option(names = "--index", paramLabel = "PATTERN", defaultValue = "cdc.*",
            description = "Indices to watch, an Elasticsearch name pattern (default ${DEFAULT-VALUE}).")
    String index;

    @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "500ms", converter = DurationConverter.class,
            description = "Time between polls (default ${DEFAULT-VALUE}).")
    Duration interval;

    @Option(names = "--max-events", paramLabel = "N", description = "Stop after N changes.")
    Long maxEvents;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Stop after this long (e.g. 30s). With --max-events, fewer changes than N by then is an "
                    + "error (exit 1). Default: run until Ctrl-C.")
    Duration timeout;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        ElasticsearchHttp es = connection.elasticsearchClient();
        long deadline = timeout == null ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
        Map<String, IndexWatcher> watchers = new LinkedHashMap<>();
        for (String name : es.indices(index)) {
            watchers.put(name, new IndexWatcher(es, name, false));
        }
        out.println("watch: " + (watchers.isEmpty() ? "no index matches " + index + " yet"
                : watchers.values().stream().map(w -> w.index() + " (" + Plural.of(w.size(), "doc") + ")")
                        .collect(Collectors.joining(", ")))
                + "; polling every " + interval.toMillis() + " ms, Ctrl-C stops");
        out.flush();
        long events = 0;
        Outage outage = new Outage(spec.commandLine().getErr(), "watch", "Elasticsearch at " + es.baseUrl());
        while (maxEvents == null || events < maxEvents) {
            long started = System.nanoTime();
            List<String> lines = new ArrayList<>();
            try {
                poll(es, watchers, lines);
                outage.answered();
            } catch (ElasticsearchHttp.Unreachable e) {
                outage.failed(e.problem()); // a restart, say: the watchers keep their place and carry on after it
            } catch (ElasticsearchHttp.ErrorResponse e) {
                if (e.status() != 503) {
                    throw e;
                }
                outage.failed("it answered 503: not ready"); // starting up: its shards are not available yet
            }
            for (String line : lines) {
                if (!line.startsWith("index ")) {
                    events++;
                }
                out.println(line);
                if (maxEvents != null && events >= maxEvents) {
                    break;
                }
            }
            out.flush();
            long next = started + interval.toNanos();
            if (next >= deadline) {
                break;
            }
            Thread.sleep(Math.max(0, (next - System.nanoTime()) / 1_000_000)); // the poll interval
        }
        if (outage.ongoing()) {
            throw new CliException("stopped at the --timeout: " + outage.stillAway());
        }
        if (maxEvents != null && events < maxEvents) {
            spec.commandLine().getErr().println("watch: timed out after " + timeout.toSeconds() + " s with " + events
                    + " of " + Plural.of(maxEvents, "change"));
            return 1;
        }
        return 0;
    }

    /** One round: indices that appeared or went, then each index's changes since the last round, as lines. */
    private void poll(ElasticsearchHttp es, Map<String, IndexWatcher> watchers, List<String> lines) {
        List<String> present = es.indices(index);
        for (String name : present) {
            if (!watchers.containsKey(name)) {
                try {
                    watchers.put(name, new IndexWatcher(es, name, true));
                    lines.add("index " + name + " appeared");
                } catch (ElasticsearchHttp.ErrorResponse e) {
                    skipThisRound(e); // just created: its shards may not answer searches yet
                }
            }
        }
        for (String name : new ArrayList<>(watchers.keySet())) {
            if (!present.contains(name)) {
                lines.add("index " + name + " was deleted");
                watchers.remove(name);
                continue;
            }
            try {
                watchers.get(name).poll().forEach(change -> lines.add(change.describe()));
            } catch (ElasticsearchHttp.ErrorResponse e) {
                skipThisRound(e); // deleted between listing and polling (reported next round), or not ready
            }
        }
    }

    /** A 404 (the index went away) or 503 (its shards are not ready yet) is for the next round; anything else fails. */
    private static void skipThisRound(ElasticsearchHttp.ErrorResponse e) {
        if (e.status() != 404 && e.status() != 503) {
            throw e;
        }
    }
}
