package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.util.function.ThrowingRunnable;
import org.junit.jupiter.api.Test;

/** The writer's own timers (the mechanism is proven end to end by ElasticsearchIndexSinkITCase#aStopWithASavepoint…). */
class MailboxTimersTest {

    private final BlockingQueue<ThrowingRunnable<? extends Exception>> mail = new LinkedBlockingQueue<>();
    private volatile boolean mailboxClosed;
    private final AtomicInteger rejected = new AtomicInteger();

    private final MailboxExecutor mailbox = new MailboxExecutor() {
        @Override
        public void execute(MailOptions options, ThrowingRunnable<? extends Exception> command, String format,
                Object... args) {
            if (mailboxClosed) {
                rejected.incrementAndGet();
                throw new RejectedExecutionException("the mailbox is closed"); // as Flink's, once the task has ended
            }
            mail.add(command);
        }

        @Override
        public void yield() {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean tryYield() {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean shouldInterrupt() {
            return false;
        }
    };

    @Test
    void aTimerCallsBackOnTheTaskThroughItsMailboxWhenDueWithItsTimestamp() throws Exception {
        try (MailboxTimers timers = new MailboxTimers(mailbox, "test timers")) {
            long registeredAt = timers.getCurrentProcessingTime();
            long due = registeredAt + 300;
            long[] calledWith = {0};
            Thread[] calledOn = {null};
            timers.registerTimer(due, timestamp -> {
                calledWith[0] = timestamp;
                calledOn[0] = Thread.currentThread();
            });

            ThrowingRunnable<? extends Exception> callback = mail.poll(10, TimeUnit.SECONDS);
            assertThat(callback).as("the callback handed to the mailbox").isNotNull();
            assertThat(timers.getCurrentProcessingTime()).as("not before it was due").isGreaterThanOrEqualTo(due);
            assertThat(calledOn[0]).as("not called on the timers' own thread").isNull();
            callback.run();
            assertThat(calledOn[0]).as("the task (mailbox) thread").isSameAs(Thread.currentThread());
            assertThat(calledWith[0]).isEqualTo(due);
        }
    }

    @Test
    void aTimerDueOnceTheTaskHasEndedIsDroppedWithoutHarm() throws Exception {
        AtomicInteger called = new AtomicInteger();
        try (MailboxTimers timers = new MailboxTimers(mailbox, "test timers")) {
            mailboxClosed = true;
            timers.registerTimer(timers.getCurrentProcessingTime(), timestamp -> called.incrementAndGet());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (rejected.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(rejected).as("handed to the closed mailbox").hasValue(1);
            mailboxClosed = false;
            timers.registerTimer(timers.getCurrentProcessingTime(), timestamp -> called.incrementAndGet());
            ThrowingRunnable<? extends Exception> next = mail.poll(10, TimeUnit.SECONDS);
            assertThat(next).as("the thread goes on with the next timer").isNotNull();
            next.run();
            assertThat(called).hasValue(1);
        }
    }

    @Test
    void closingEndsTheThreadAndItsTimers() throws Exception {
        MailboxTimers timers = new MailboxTimers(mailbox, "test timers to close");
        timers.registerTimer(timers.getCurrentProcessingTime() + 200, timestamp -> { });
        timers.close();
        assertThat(mail.poll(500, TimeUnit.MILLISECONDS)).as("a timer not yet due when the writer closed").isNull();
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
