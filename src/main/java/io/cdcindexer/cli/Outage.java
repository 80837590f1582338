package io.cdcindexer.cli;

import java.io.PrintWriter;
import java.time.Duration;

/**
 * What a long-running command ({@code consume}, {@code watch}, {@code produce}) says when a service it works with
 * stops answering: at once, what does not answer and that it waits; a reminder every 30 s while it waits; and, when
 * the service answers again, after how long. One per service; not thread-safe (produce's workers share one under a
 * lock).
 */
final class Outage {

    private static final Duration REMINDER = Duration.ofSeconds(30);

    private final PrintWriter out;
    private final String command;
    private final String service;
    private long since = -1;
    private long nextReminder;
    private long ended = Long.MIN_VALUE;
    private boolean newlineFirst;

    /**
     * @param command starts every line ({@code consume})
     * @param service the service and where, as the lines name it ({@code Kafka at localhost:9092})
     */
    Outage(PrintWriter out, String command, String service) {
        this.out = out;
        this.command = command;
        this.service = service;
    }

    /** Starts each line on a new one: for output where a progress line ends in a carriage return, not a newline. */
    Outage afterProgressLines() {
        newlineFirst = true;
        return this;
    }

    /** The service did not answer: says so the first time, and again every 30 s. */
    void failed(String problem) {
        long now = System.nanoTime();
        if (since < 0) {
            since = now;
            nextReminder = now + REMINDER.toNanos();
            say(service + " does not answer (" + problem + "); waiting for it to come back (Ctrl-C stops)");
        } else if (now >= nextReminder) {
            nextReminder += REMINDER.toNanos();
            say("still no answer from " + service + " after " + seconds() + " s (" + problem + ")");
        }
    }

    /** The service answered: says so if it had not been. */
    void answered() {
        if (since >= 0) {
            say(service + " answers again after " + seconds() + " s; carrying on");
            since = -1;
            ended = System.nanoTime();
        }
    }

    /**
     * A connection to the service broke, and a new one works at once: says so, unless an outage ended moments ago
     * (other connections that broke in it find the service back when they notice).
     */
    void reconnected(String problem) {
        if (since < 0 && System.nanoTime() - ended > Duration.ofSeconds(10).toNanos()) {
            say("a connection to " + service + " broke (" + problem + "); connected again, carrying on");
        }
    }

    /** Whether the service has not answered since it last failed to. */
    boolean ongoing() {
        return since >= 0;
    }

    /** How long it has not answered, in seconds. */
    long seconds() {
        return since < 0 ? 0 : Duration.ofNanos(System.nanoTime() - since).toSeconds();
    }

    /** For a command that ends while the service is still away: what does not answer, and since when. */
    String stillAway() {
        return service + " has not answered for the last " + seconds() + " s";
    }

    /** What went wrong, in a few words: the first sentence of the message of what a CLI error wraps, or its own. */
    static String brief(Throwable e) {
        Throwable cause = e instanceof CliException && e.getCause() != null ? e.getCause() : e;
        String message = ElasticsearchHttp.describe(cause).lines().findFirst().orElse("");
        int sentence = message.indexOf(". ");
        return (sentence > 0 ? message.substring(0, sentence) : message).replaceAll("\\.$", "");
    }

    private void say(String line) {
        out.println((newlineFirst ? "\n" : "") + command + ": " + line);
        out.flush();
    }
}
