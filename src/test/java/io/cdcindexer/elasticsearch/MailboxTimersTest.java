package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.streaming.runtime.tasks.StreamTaskActionExecutor;
import org.apache.flink.streaming.runtime.tasks.mailbox.MailboxExecutorImpl;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailboxImpl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The writer's own timers, on Flink's own task mailbox with the test thread as the task's (the mechanism is proven end
 * to end by {@code ElasticsearchIndexSinkITCase.aStopWithASavepointWhileAWriteWaitsForItsRetryWritesItAndEnds}).
 */
@Timeout(30)
class MailboxTimersTest {

    private final TaskMailbox taskMailbox = new TaskMailboxImpl(Thread.currentThread());
    private final MailboxExecutor mailbox =
            new MailboxExecutorImpl(taskMailbox, TaskMailbox.MIN_PRIORITY, StreamTaskActionExecutor.IMMEDIATE);

    @Test
    void aDueTimerCallsBackOnTheTaskThreadInsideTheWritersYieldWithItsTimestamp() throws Exception {
        try (MailboxTimers timers = new MailboxTimers(mailbox, "test timers")) {
            long due = timers.getCurrentProcessingTime() + 300;
            long[] calledWith = {0};
            Thread[] calledOn = {null};
            timers.registerTimer(due, timestamp -> {
                calledWith[0] = timestamp;
                calledOn[0] = Thread.currentThread();
            });

            mailbox.yield(); // as the writer's flush waits: until a mail comes, which it runs

            assertThat(calledOn[0]).as("the task (mailbox) thread, not the timers' own")
                    .isSameAs(Thread.currentThread());
            assertThat(calledWith[0]).isEqualTo(due);
            assertThat(timers.getCurrentProcessingTime()).as("not before it was due").isGreaterThanOrEqualTo(due);
        }
    }

    @Test
    void aTimerDueOnceTheTaskHasEndedIsDroppedWithoutHarm() throws Exception {
        AtomicInteger called = new AtomicInteger();
        try (MailboxTimers timers = new MailboxTimers(mailbox, "test timers")) {
            taskMailbox.quiesce(); // as Flink does once the task's work is over
            ScheduledFuture<?> timer = timers.registerTimer(timers.getCurrentProcessingTime(),
                    timestamp -> called.incrementAndGet());

            assertThatThrownBy(() -> timer.get(10, TimeUnit.SECONDS)).as("the mailbox's refusal, kept in the future")
                    .isInstanceOf(ExecutionException.class).cause().isInstanceOf(RejectedExecutionException.class);
            assertThat(taskMailbox.hasMail()).isFalse();
            assertThat(called).hasValue(0);
        }
    }

    @Test
    void closingEndsTheThread() throws Exception {
        MailboxTimers timers = new MailboxTimers(mailbox, "test timers to close");
        timers.registerTimer(timers.getCurrentProcessingTime() + 60_000, timestamp -> { });
        timers.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (liveThread("test timers to close") && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(liveThread("test timers to close")).as("the timers' thread has ended").isFalse();
    }

    private static boolean liveThread(String name) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name) && t.isAlive());
    }
}
