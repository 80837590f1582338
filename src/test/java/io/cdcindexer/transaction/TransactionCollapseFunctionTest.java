package io.cdcindexer.transaction;

import static io.cdcindexer.debezium.ChangeEvents.delete;
import static io.cdcindexer.debezium.ChangeEvents.end;
import static io.cdcindexer.debezium.ChangeEvents.endAt;
import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.cdcindexer.debezium.ChangeEvent;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OperatorSnapshotUtil;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The collapse function on an operator harness: its output, and that state and timers are gone after each transaction. */
class TransactionCollapseFunctionTest {

    private static final long TIMEOUT = 10_000;
    private static final int MAX_HELD = 5;

    private KeyedOneInputStreamOperatorTestHarness<String, ChangeEvent, ChangeEvent> harness;

    @BeforeEach
    void open() throws Exception {
        harness = ProcessFunctionTestHarnesses.forKeyedProcessFunction(new TransactionCollapseFunction(TIMEOUT, MAX_HELD),
                TransactionCollapseFunction.CHANGE_KEY, Types.STRING);
        harness.setProcessingTime(1_000);
        harness.processWatermark(new Watermark(0)); // a running job: the source has read up to Kafka time 0
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    private List<String> output() {
        return harness.extractOutputValues().stream().map(ChangeEvent::toString).toList();
    }

    /** Replaces the harness with a new one, restored from the snapshot (or empty, with no watermark yet). */
    private void restoreFrom(OperatorSubtaskState snapshot) throws Exception {
        restoreFrom(snapshot, 0);
        harness.setProcessingTime(1_000);
    }

    /** The same, the job starting again at processing time {@code at}. */
    private void restoreFrom(OperatorSubtaskState snapshot, long at) throws Exception {
        harness.close();
        harness = new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new TransactionCollapseFunction(TIMEOUT, MAX_HELD)),
                TransactionCollapseFunction.CHANGE_KEY, Types.STRING);
        harness.setProcessingTime(at);
        if (snapshot != null) {
            harness.initializeState(snapshot);
        }
        harness.open();
    }

    /** A transaction flushed before it was complete is kept for repeats and late changes until read past. */
    private void assertKeptUntilReadPastThenForgotten() throws Exception {
        assertThat(harness.numProcessingTimeTimers()).as("kept for repeats and late changes").isEqualTo(1);
        harness.processWatermark(new Watermark(1_000_000));
        harness.setProcessingTime(harness.getProcessingTime() + 3 * TIMEOUT);
        assertNothingHeld();
    }

    private void assertNothingHeld() {
        assertThat(harness.numKeyedStateEntries()).as("keyed state entries").isZero();
        assertThat(harness.numProcessingTimeTimers()).as("timers").isZero();
        assertThat(harness.numEventTimeTimers()).as("event-time timers").isZero();
    }

    @Test
    void builtIntoTheDecodersChainItRefusesToRunOnSeveralSubtasks() throws Exception {
        KeyedOneInputStreamOperatorTestHarness<String, ChangeEvent, ChangeEvent> onTwo =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(new TransactionCollapseFunction(TIMEOUT, MAX_HELD).inOneChain()),
                        TransactionCollapseFunction.CHANGE_KEY, Types.STRING, 128, 2, 0);

        assertThatThrownBy(onTwo::open).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("built to run at parallelism 1").hasMessageContaining("runs on 2 subtasks")
                .hasMessageContaining("Submit the job again with --parallelism 2");
        onTwo.close();

        // On one subtask it runs as ever.
        harness.close();
        harness = ProcessFunctionTestHarnesses.forKeyedProcessFunction(
                new TransactionCollapseFunction(TIMEOUT, MAX_HELD).inOneChain(), TransactionCollapseFunction.CHANGE_KEY,
                Types.STRING);
        harness.processElement(upsert("users", "1", 100, "{\"id\":1}", "742"), 0);
        harness.processElement(ChangeEvent.endOf(end("742", "users", 1)), 0);
        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v100 {\"id\":1}");
    }

    @Test
    void whatOnlyTheStepsRightAfterTheDecoderReadIsNotHeldInState() throws Exception {
        ChangeEvent held = upsert("users", "1", 100, "{\"id\":1}", "742");
        held.rowSchema = JsonNodeFactory.instance.objectNode().put("type", "struct");
        held.snapshot = "false";
        ChangeEvent passing = upsert("users", "2", 110, "{\"id\":2}", null);
        passing.rowSchema = held.rowSchema;
        passing.snapshot = "last";

        harness.processElement(held, 0);
        harness.processElement(passing, 0);
        harness.processElement(ChangeEvent.endOf(end("742", "users", 1)), 0);

        // The instances themselves, which heap state keeps as they are (the harness's output holds copies).
        assertThat(List.of(held, passing)).allSatisfy(change -> {
            assertThat(change.rowSchema).isNull();
            assertThat(change.snapshot).isNull();
        });
        assertThat(output()).containsExactlyInAnyOrder("UPSERT cdc.public.users/1 v100 {\"id\":1}",
                "UPSERT cdc.public.users/2 v110 {\"id\":2}");
    }

    @Test
    void insertUpdateUpdateGivesOneUpsertWithTheFinalImage() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"id\":1,\"email\":\"a\"}", "742"), 0);
        harness.processElement(upsert("users", "1", 200, "{\"id\":1,\"email\":\"b\"}", "742"), 0);
        harness.processElement(upsert("users", "1", 300, "{\"id\":1,\"email\":\"c\"}", "742"), 0);
        assertThat(output()).isEmpty();
        assertThat(harness.numProcessingTimeTimers()).isEqualTo(1);

        harness.processElement(ChangeEvent.endOf(end("742", "users", 3)), 0);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v300 {\"id\":1,\"email\":\"c\"}");
        assertNothingHeld();
    }

    @Test
    void changesLeaveWithTheirTransactionsCommitPosition() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"id\":1}", "742"), 0);
        harness.processElement(delete("users", "2", 120, "742"), 0);
        harness.processElement(ChangeEvent.endOf(endAt("742", 150, "users", 2)), 0);

        assertThat(output()).containsExactlyInAnyOrder("UPSERT cdc.public.users/1 v150 lsn100 {\"id\":1}",
                "DELETE cdc.public.users/2 v150 lsn120");
        assertNothingHeld();
    }

    @Test
    void insertThenDeleteGivesADelete() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"id\":1}", "742"), 0);
        harness.processElement(delete("users", "1", 200, "742"), 0);
        harness.processElement(ChangeEvent.endOf(end("742", "users", 2)), 0);

        assertThat(output()).containsExactly("DELETE cdc.public.users/1 v200");
        assertNothingHeld();
    }

    @Test
    void deleteThenInsertGivesAnUpsert() throws Exception {
        harness.processElement(delete("users", "1", 100, "742"), 0);
        harness.processElement(upsert("users", "1", 200, "{\"id\":1,\"email\":\"new\"}", "742"), 0);
        harness.processElement(ChangeEvent.endOf(end("742", "users", 2)), 0);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v200 {\"id\":1,\"email\":\"new\"}");
        assertNothingHeld();
    }

    @Test
    void endBeforeItsChangesWaitsForEveryTable() throws Exception {
        harness.processElement(ChangeEvent.endOf(end("742", "users", 2, "orders", 1)), 0);
        harness.processElement(upsert("users", "1", 100, "{\"id\":1}", "742"), 0);
        harness.processElement(upsert("orders", "9", 110, "{\"id\":9}", "742"), 0);
        assertThat(output()).as("users still expects a second change").isEmpty();

        harness.processElement(upsert("users", "2", 120, "{\"id\":2}", "742"), 0);

        assertThat(output()).containsExactlyInAnyOrder(
                "UPSERT cdc.public.users/1 v100 {\"id\":1}",
                "UPSERT cdc.public.users/2 v120 {\"id\":2}",
                "UPSERT cdc.public.orders/9 v110 {\"id\":9}");
        assertNothingHeld();
    }

    @Test
    void transactionsAreHeldApart() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 0);
        harness.processElement(upsert("users", "1", 200, "{\"v\":2}", "743"), 0);
        harness.processElement(ChangeEvent.endOf(end("743", "users", 1)), 0);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v200 {\"v\":2}");

        harness.processElement(ChangeEvent.endOf(end("742", "users", 1)), 0);
        assertThat(output()).hasSize(2).last().isEqualTo("UPSERT cdc.public.users/1 v100 {\"v\":1}");
        assertNothingHeld();
    }

    @Test
    void changesWithoutTransactionPassStraightThrough() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"id\":1}", null), 0);
        harness.processElement(delete("users", "2", 110, null), 0);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v100 {\"id\":1}", "DELETE cdc.public.users/2 v110");
        assertNothingHeld();
    }

    @Test
    void repeatedChangesNeitherWinNorCount() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 0);
        harness.processElement(upsert("users", "1", 200, "{\"v\":2}", "742"), 0);
        harness.processElement(ChangeEvent.endOf(end("742", "users", 3)), 0);
        // The connector restarted and sent the first two changes again: they are not the third change.
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 0);
        harness.processElement(upsert("users", "1", 200, "{\"v\":2}", "742"), 0);
        assertThat(output()).isEmpty();

        harness.processElement(upsert("users", "1", 300, "{\"v\":3}", "742"), 0);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v300 {\"v\":3}");
        assertNothingHeld();
    }

    @Test
    void incompleteTransactionIsFlushedAfterTheTimeout() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 0);
        harness.processElement(upsert("users", "2", 110, "{\"v\":2}", "742"), 0);
        harness.setProcessingTime(1_000 + TIMEOUT - 1);
        assertThat(output()).isEmpty();

        harness.setProcessingTime(1_000 + TIMEOUT);

        assertThat(output()).containsExactlyInAnyOrder(
                "UPSERT cdc.public.users/1 v100 {\"v\":1}", "UPSERT cdc.public.users/2 v110 {\"v\":2}");
        assertForgottenOnePeriodLater(1_000 + 2 * TIMEOUT);
    }

    /**
     * After a timeout flush, what is known of the transaction stays for its late changes while the watermark stands
     * still, and is forgotten a period after every partition was read past it.
     */
    private void assertForgottenOnePeriodLater(long processingTime) throws Exception {
        assertThat(harness.numProcessingTimeTimers()).as("kept for late changes").isEqualTo(1);
        int emitted = output().size();
        harness.setProcessingTime(processingTime);
        assertThat(harness.numProcessingTimeTimers()).as("still kept: the watermark stands still").isEqualTo(1);
        harness.processWatermark(new Watermark(1_000_000));
        harness.setProcessingTime(processingTime + TIMEOUT);
        assertThat(output()).hasSize(emitted);
        assertNothingHeld();
    }

    /**
     * Catching up on a backlog: the END (written at Kafka time 5 s) is read long before the second change; the watermark
     * moves from 1 s to 2 s, short of 5 s + the timeout.
     */
    private void endReadAheadOfTheSecondChange() throws Exception {
        harness.processWatermark(new Watermark(1_000));
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 5_000);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 4_000);
        harness.processWatermark(new Watermark(2_000));
    }

    @Test
    void timeoutWaitsWhileThePartitionsAreStillBeingReadUpToTheTransaction() throws Exception {
        endReadAheadOfTheSecondChange();

        harness.setProcessingTime(1_000 + TIMEOUT);

        assertThat(output()).as("deferred: the watermark moved but is short of 5 s + timeout").isEmpty();
        assertThat(harness.numProcessingTimeTimers()).isEqualTo(1);

        harness.processElement(upsert("users", "2", 110, "{\"v\":2}", "742"), 4_000);

        assertThat(output()).containsExactlyInAnyOrder(
                "UPSERT cdc.public.users/1 v400 lsn100 {\"v\":1}", "UPSERT cdc.public.users/2 v400 lsn110 {\"v\":2}");
        assertNothingHeld();
    }

    @Test
    void deferredTimeoutFlushesOnceTheWatermarkStandsStill() throws Exception {
        endReadAheadOfTheSecondChange();
        harness.setProcessingTime(1_000 + TIMEOUT);
        assertThat(output()).isEmpty();

        harness.setProcessingTime(1_000 + 2 * TIMEOUT);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v400 lsn100 {\"v\":1}");
        assertForgottenOnePeriodLater(1_000 + 3 * TIMEOUT);
    }

    @Test
    void timeoutFlushesWhenTheWatermarkIsPastTheTransaction() throws Exception {
        harness.processWatermark(new Watermark(1_000));
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 4_000);
        harness.processWatermark(new Watermark(4_000 + TIMEOUT));

        assertThat(output()).as("every partition was read past it by the timeout: its END is not coming; flushed then,"
                        + " not at its timer's next look").containsExactly("UPSERT cdc.public.users/1 v100 {\"v\":1}");
        harness.setProcessingTime(1_000 + TIMEOUT - 1);
        assertThat(harness.numProcessingTimeTimers()).as("kept one period for late changes").isEqualTo(1);
        harness.setProcessingTime(1_000 + TIMEOUT);
        assertNothingHeld();
    }

    @Test
    void aTransactionWhosePartsCameLaterInKafkaTimeIsFlushedOnlyOnceTheWatermarkIsPastItsLatestPart() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 4_000);
        harness.processElement(ChangeEvent.endOf(end("742", "users", 1, "orders", 1)), 9_000); // its END, written 5 s later
        harness.processWatermark(new Watermark(4_000 + TIMEOUT));
        assertThat(output()).as("its END is not yet read past by the timeout").isEmpty();

        harness.processWatermark(new Watermark(9_000 + TIMEOUT));

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v100 {\"v\":1}");
    }

    @Test
    void aTransactionFlushedByTheWatermarkIsKeptAPeriodForItsLateChanges() throws Exception {
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 4_000);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 4_000);
        harness.setProcessingTime(1_000 + TIMEOUT - 1); // just before its timer
        harness.processWatermark(new Watermark(4_000 + TIMEOUT));
        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v400 lsn100 {\"v\":1}");
        harness.setProcessingTime(1_000 + TIMEOUT); // its first timer: no more than a millisecond after the flush

        harness.processElement(upsert("users", "1", 300, "{\"v\":2}", "742"), 4_000);

        assertThat(output()).as("still known: a late change of it leaves at once, with its commit position")
                .containsExactly("UPSERT cdc.public.users/1 v400 lsn100 {\"v\":1}",
                        "UPSERT cdc.public.users/1 v400 lsn300 {\"v\":2}");
    }

    @Test
    void aLateChangeOfATransactionFlushedAtItsTimeoutLeavesWithItsCommitPosition() throws Exception {
        // The END says 2 changes; the second (a later image of the same row, lsn 300) is late, past the timeout.
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 0);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 0);
        harness.setProcessingTime(1_000 + TIMEOUT);
        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v400 lsn100 {\"v\":1}");

        harness.processElement(upsert("users", "1", 300, "{\"v\":2}", "742"), 0);

        assertThat(output()).as("at once, with the commit position: with its own lsn 300 it would lose to v400")
                .containsExactly("UPSERT cdc.public.users/1 v400 lsn100 {\"v\":1}",
                        "UPSERT cdc.public.users/1 v400 lsn300 {\"v\":2}");
        assertThat(harness.extractOutputValues().get(1).isNewerThan(400, 100)).isTrue();
        assertKeptUntilReadPastThenForgotten();
    }

    @Test
    void aHugeTransactionIsFlushedEarlyAndItsRestLeavesAsItComes() throws Exception {
        for (int i = 1; i <= MAX_HELD - 1; i++) {
            harness.processElement(upsert("big", Integer.toString(i), 100 + i, "{\"n\":1}", "9"), 0);
        }
        assertThat(output()).isEmpty();

        harness.processElement(upsert("big", Integer.toString(MAX_HELD), 100 + MAX_HELD, "{\"n\":1}", "9"), 0);
        assertThat(output()).as("held rows leave once there are " + MAX_HELD).hasSize(MAX_HELD);
        assertThat(harness.extractOutputValues()).allMatch(change -> change.partial);

        harness.processElement(ChangeEvent.endOf(endAt("9", 900, "big", MAX_HELD + 2)), 0);
        harness.processElement(upsert("big", "1", 200, "{\"n\":2}", "9"), 0);
        assertThat(output()).as("the rest leave as they come, with the commit position once it is known")
                .last().isEqualTo("UPSERT cdc.public.big/1 v900 lsn200 {\"n\":2}");

        harness.processElement(upsert("big", "99", 210, "{\"n\":1}", "9"), 0);

        assertThat(output()).hasSize(MAX_HELD + 2);
        assertKeptUntilReadPastThenForgotten();
    }

    @Test
    void aHugeTransactionWhoseEndCameFirstIsFlushedEarlyWithItsCommitPosition() throws Exception {
        harness.processElement(ChangeEvent.endOf(endAt("9", 900, "big", 2 * MAX_HELD)), 0);
        for (int i = 1; i <= 2 * MAX_HELD; i++) {
            harness.processElement(upsert("big", Integer.toString(i), 100 + i, "{\"n\":1}", "9"), 0);
        }

        assertThat(output()).hasSize(2 * MAX_HELD).allMatch(change -> change.contains(" v900 "));
        assertKeptUntilReadPastThenForgotten();
    }

    @Test
    void aFlushedTransactionIsRememberedWhileTheJobIsBackPressured() throws Exception {
        harness.processWatermark(new Watermark(1_000));
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 1_500);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 1_500);
        harness.setProcessingTime(1_000 + TIMEOUT); // the watermark stood still: flushed
        // An Elasticsearch outage back-pressures the job for many periods: nothing is read, the watermark stands still.
        harness.setProcessingTime(1_000 + 20 * TIMEOUT);

        harness.processElement(upsert("users", "2", 110, "{\"v\":2}", "742"), 1_500);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v400 lsn100 {\"v\":1}",
                "UPSERT cdc.public.users/2 v400 lsn110 {\"v\":2}");
        assertKeptUntilReadPastThenForgotten();
    }

    @Test
    void aFlushedTransactionIsForgottenAfterAnHourAtTheLatest() throws Exception {
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 1_500);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 1_500);
        harness.setProcessingTime(1_000 + TIMEOUT);
        harness.setProcessingTime(1_000 + TIMEOUT + TransactionCollapseFunction.FLUSHED_MEMORY_MS);

        assertNothingHeld();
    }

    // Review finding (2026-12-02): the memory of a flushed transaction counted processing time, so after the job was
    // down for over an hour its restored timer forgot the transaction at once (firing again and again, a period after
    // its own time each, until the hour was used up), and a late change of it left with its own, lower position: it
    // lost against the older state it replaces.
    @Test
    void aFlushedTransactionIsRememberedForTheTimeTheJobRanNotForTheTimeItWasDown() throws Exception {
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 1_500);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 1_500);
        harness.setProcessingTime(1_000 + TIMEOUT); // the watermark stood still: flushed
        var snapshot = harness.snapshot(1, 1_000 + TIMEOUT);
        restoreFrom(snapshot, 1_000 + TIMEOUT + 2 * TransactionCollapseFunction.FLUSHED_MEMORY_MS); // two hours later
        harness.setProcessingTime(1_000 + TIMEOUT + 2 * TransactionCollapseFunction.FLUSHED_MEMORY_MS + 1);
        assertThat(harness.numProcessingTimeTimers()).as("one timer, not a burst of them").isEqualTo(1);

        harness.processElement(upsert("users", "2", 110, "{\"v\":2}", "742"), 1_600);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/2 v400 lsn110 {\"v\":2}");
    }

    @Test
    void aRestoredTimerWaitsForTheSourceInsteadOfFlushing() throws Exception {
        harness.processWatermark(new Watermark(1_000));
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 1_500);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 1_500);
        var snapshot = harness.snapshot(1, 1_500);
        restoreFrom(snapshot);
        harness.setProcessingTime(1_000 + TIMEOUT); // the restored timer fires before anything was read

        assertThat(output()).as("no watermark yet after the restore: one more period").isEmpty();

        harness.processWatermark(new Watermark(1_600));
        harness.processElement(upsert("users", "2", 110, "{\"v\":2}", "742"), 1_600);

        assertThat(output()).containsExactlyInAnyOrder(
                "UPSERT cdc.public.users/1 v400 lsn100 {\"v\":1}", "UPSERT cdc.public.users/2 v400 lsn110 {\"v\":2}");
        assertNothingHeld();
    }

    // Review finding (2026-12-02): a transaction restored from a run with a longer timeout kept that run's flush at the
    // watermark, later than the version check (which counts with the largest timeout only for a while) expects.
    @Test
    void aTransactionRestoredFromARunWithALongerTimeoutIsFlushedAtTheShorterOneFromItsFirstLook() throws Exception {
        harness.close();
        harness = ProcessFunctionTestHarnesses.forKeyedProcessFunction(
                new TransactionCollapseFunction(4 * TIMEOUT, MAX_HELD), TransactionCollapseFunction.CHANGE_KEY, Types.STRING);
        harness.setProcessingTime(1_000);
        harness.processWatermark(new Watermark(1_000));
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 1_500);
        restoreFrom(harness.snapshot(1, 1_500), 1_000); // the timeout lowered to TIMEOUT
        harness.setProcessingTime(1_000 + 4 * TIMEOUT); // its restored timer: no watermark yet, it waits a period

        harness.processWatermark(new Watermark(1_500 + TIMEOUT));

        assertThat(output()).as("flushed at the timeout it runs with now").containsExactly(
                "UPSERT cdc.public.users/1 v100 {\"v\":1}");
    }

    @Test
    void aRepeatedDeadLetterStandInDoesNotCountTwice() throws Exception {
        harness.processElement(ChangeEvent.endOf(end("742", "audit_log", 2)), 0);
        harness.processElement(standIn("audit_log", 7, "742"), 0);
        harness.processElement(standIn("audit_log", 7, "742"), 0); // the same record again (the connector restarted)
        assertThat(harness.numProcessingTimeTimers()).as("still waiting for the second change").isEqualTo(1);

        harness.processElement(standIn("audit_log", 9, "742"), 0);

        assertThat(output()).isEmpty();
        assertNothingHeld();
    }

    /** What DecodeFunction emits for a dead-lettered change of a transaction: its id is its WAL position. */
    private static ChangeEvent standIn(String table, long lsn, String transactionId) {
        ChangeEvent standIn = upsert(table, "@" + lsn, lsn, "{}", transactionId);
        standIn.action = ChangeEvent.Action.SKIP;
        standIn.document = null;
        return standIn;
    }

    @Test
    void deadLetteredChangeCountsTowardItsTransactionAndIsWrittenNowhere() throws Exception {
        harness.processElement(upsert("users", "1", 100, "{\"id\":1}", "742"), 0);
        harness.processElement(standIn("audit_log", 7, "742"), 0);
        harness.processElement(ChangeEvent.endOf(end("742", "users", 1, "audit_log", 1)), 0);

        assertThat(output()).containsExactly("UPSERT cdc.public.users/1 v100 {\"id\":1}");
        assertNothingHeld();
    }

    @Test
    void endOfATransactionOnOtherTablesOnlyLeavesNothingBehind() throws Exception {
        harness.processElement(ChangeEvent.endOf(end("742")), 0);

        assertThat(output()).isEmpty();
        assertNothingHeld();
    }

    @Test
    void unavailableColumnsAreFilledFromAnEarlierImageOfTheSameTransaction() throws Exception {
        harness.processElement(upsert("articles", "3", 100, "{\"id\":3,\"title\":\"a\",\"body\":\"long text\"}", "742"), 0);
        ChangeEvent update = upsert("articles", "3", 200, "{\"id\":3,\"title\":\"b\"}", "742");
        update.unavailableColumns = new String[] {"body"};
        harness.processElement(update, 0);
        harness.processElement(ChangeEvent.endOf(end("742", "articles", 2)), 0);

        assertThat(output()).containsExactly("UPSERT cdc.public.articles/3 v200 {\"id\":3,\"title\":\"b\",\"body\":\"long text\"}");
    }

    @Test
    void unavailableColumnsStayUnavailableWithoutAnEarlierImage() throws Exception {
        ChangeEvent update = upsert("articles", "3", 200, "{\"id\":3,\"title\":\"b\"}", "742");
        update.unavailableColumns = new String[] {"body"};
        harness.processElement(update, 0);
        harness.processElement(ChangeEvent.endOf(end("742", "articles", 1)), 0);

        assertThat(output()).containsExactly("UPSERT cdc.public.articles/3 v200 {\"id\":3,\"title\":\"b\"} unavailable=[body]");
    }

    /**
     * What Elasticsearch ends up with for a document, given every change the job emitted for it: the highest
     * {@code (version, lsn)} wins (external versions; DocumentVersionFunction orders equal versions by lsn).
     */
    private String winnerOf(String documentId) {
        return harness.extractOutputValues().stream().filter(change -> change.documentId.equals(documentId))
                .max(java.util.Comparator.<ChangeEvent>comparingLong(change -> change.version)
                        .thenComparingLong(change -> change.lsn))
                .map(change -> change.document == null ? "deleted" : new String(change.document,
                        java.nio.charset.StandardCharsets.UTF_8))
                .orElse("nothing");
    }

    @Test
    void changesSentAgainAfterATimeoutFlushDoNotCompleteTheTransactionEarly() throws Exception {
        // Transaction 742 (commit 400) changed row 1 (lsn 100), row 2 (lsn 110), then row 1 again (lsn 300). The
        // connector wrote the first two changes and crashed: the transaction is flushed at its timeout.
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 0);
        harness.processElement(upsert("users", "2", 110, "{\"v\":1}", "742"), 0);
        harness.setProcessingTime(1_000 + TIMEOUT);
        assertThat(output()).hasSize(2);

        // Restarted, the connector sends the whole transaction again (offsets are committed only now and then); its
        // END is read first, the transaction topic running ahead of the table topic.
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 3)), 0);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 0); // sent again: not the third change
        harness.processElement(upsert("users", "2", 110, "{\"v\":1}", "742"), 0); // sent again
        harness.processElement(upsert("users", "1", 300, "{\"v\":2}", "742"), 0); // the real third change
        harness.setProcessingTime(1_000 + 10 * TIMEOUT); // whatever is still held has left by now

        // The repeated change of row 1 was counted as the third one: the transaction was forgotten, and the real third
        // change left later on its own as a new transaction without END, versioned by its own lsn 300 < 400, so it
        // loses to the repeated first image that left with v400.
        assertThat(winnerOf("1")).as("row 1's final image").isEqualTo("{\"v\":2}");
    }

    @Test
    void aRestoredTimerWaitsForTheSourceAlsoForATransactionBegunBeforeTheFirstWatermark() throws Exception {
        // The transaction began before any watermark (the first seconds after a start or restore, while a partition has
        // not yet emitted and is not yet idle): it recorded Long.MIN_VALUE, which the restore check takes for "no
        // restore".
        restoreFrom(null); // a job that has read nothing yet
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 1_500);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 1_500);
        var snapshot = harness.snapshot(1, 1_500);
        restoreFrom(snapshot);
        harness.setProcessingTime(1_000 + TIMEOUT); // the restored timer fires before anything was read

        assertThat(output()).as("no watermark yet after the restore: one more period, not a flush").isEmpty();
    }

    @Test
    void aTransactionRestoredASecondTimeIsNotFlushedBeforeTheSourceHasReadAnything() throws Exception {
        harness.processWatermark(new Watermark(1_000));
        harness.processElement(ChangeEvent.endOf(endAt("742", 400, "users", 2)), 1_500);
        harness.processElement(upsert("users", "1", 100, "{\"v\":1}", "742"), 1_500);
        restoreFrom(harness.snapshot(1, 1_500));
        harness.setProcessingTime(1_000 + TIMEOUT); // the restored timer: no watermark yet, one more period
        assertThat(output()).isEmpty();

        // The job fails again before its source has read anything (a restart loop), and is restored once more.
        restoreFrom(harness.snapshot(2, 1_500));
        harness.setProcessingTime(1_000 + 2 * TIMEOUT); // the restored timer fires before anything was read

        assertThat(output()).as("no watermark yet after this restore either: one more period, not a flush").isEmpty();
    }

    /**
     * Until 2026-12-04 the collapse was a two-input operator, END events on the second input. A snapshot it wrote
     * ({@code snapshots/collapse-two-input.snapshot}, made at 3a0d79b by that version on this harness: see
     * {@code snapshots/README.md}) restores into the one-input collapse, with its held changes, its END read ahead of
     * a change, a transaction flushed at its timeout, and their timers: Flink restores keyed state and timers by
     * operator and name, whatever the operator's inputs.
     */
    @Test
    void aSnapshotOfTheTwoInputCollapseRestoresIntoTheOneInputCollapse() throws Exception {
        restoreFrom(OperatorSnapshotUtil.readStateHandle(
                Path.of("src/test/resources/snapshots/collapse-two-input.snapshot").toString()), 11_000);
        assertThat(harness.numProcessingTimeTimers()).as("the three transactions' timers").isEqualTo(3);
        assertThat(harness.numEventTimeTimers()).as("the two incomplete ones' flush at the watermark").isEqualTo(2);

        harness.processElement(ChangeEvent.endOf(endAt("801", 200, "users", 2)), 0);
        harness.processElement(upsert("users", "4", 240, "{\"v\":4}", "802"), 0);
        harness.processElement(upsert("users", "3", 350, "{\"v\":5}", "803"), 0);

        assertThat(output()).containsExactlyInAnyOrder(
                "UPSERT cdc.public.users/1 v200 lsn100 {\"v\":1}", "UPSERT cdc.public.users/2 v200 lsn110 {\"v\":2}",
                "UPSERT cdc.public.users/4 v250 lsn240 {\"v\":4}",
                "UPSERT cdc.public.users/3 v400 lsn350 {\"v\":5}");
        assertThat(harness.extractOutputValues()).filteredOn(change -> change.partial)
                .as("a late change of the flushed one").extracting(change -> change.documentId).containsExactly("3");
        assertKeptUntilReadPastThenForgotten();
    }
}
