package io.cdcindexer.elasticsearch;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.operators.ProcessingTimeService;

/**
 * The writer's timers: a thread of its own that hands each due callback to the task's mailbox, so it runs on the task
 * thread as a Flink timer does, on the same clock ({@link System#currentTimeMillis}).
 *
 * <p>Why not Flink's: before the last savepoint of a stop (with or without drain), Flink 1.20 quiesces each operator's
 * processing-time service ({@code StreamOperatorWrapper#finish}); from then on a timer registered never fires, and one
 * already registered fires without calling back. The writer's flush waits for its writes put back for another try
 * (after a 429's back-off, while a change waits for its document or a write for its index): on Flink's timers they
 * never came back, and the stop hung until the savepoint timed out (FINDINGS 22). These are never quiesced; they end
 * with {@link #close}, when the writer does.
 */
final class MailboxTimers implements ProcessingTimeService, AutoCloseable {

    private final MailboxExecutor mailbox;
    private final ScheduledThreadPoolExecutor scheduler;

    MailboxTimers(MailboxExecutor mailbox, String name) {
        this.mailbox = mailbox;
        this.scheduler = new ScheduledThreadPoolExecutor(1, task -> {
            Thread thread = new Thread(task, name);
            thread.setDaemon(true);
            return thread;
        });
        // Idle for a minute, the thread ends (it starts again with the next timer): a writer never closed leaks none.
        scheduler.setKeepAliveTime(1, TimeUnit.MINUTES);
        scheduler.allowCoreThreadTimeOut(true);
    }

    @Override
    public long getCurrentProcessingTime() {
        return System.currentTimeMillis();
    }

    @Override
    public ScheduledFuture<?> registerTimer(long timestamp, ProcessingTimeCallback callback) {
        // Due once the task has ended, the mailbox refuses it: the refusal stays in the future, and nobody waits.
        return scheduler.schedule(
                () -> mailbox.execute(() -> callback.onProcessingTime(timestamp), "elasticsearch writer timer"),
                Math.max(0, timestamp - getCurrentProcessingTime()), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
