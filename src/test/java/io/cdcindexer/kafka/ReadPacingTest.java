package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ReadPacingTest {

    private static final long MS = 1_000_000L;
    private static final int MAX = 100;
    private static final String END = "cdc.transaction-0";
    private static final String USERS = "cdc.public.users-0";
    private static final String USERS1 = "cdc.public.users-1";
    private static final String ORDERS = "cdc.public.orders-0";
    private static final Pattern TABLES = Pattern.compile("cdc\\.public\\..*");

    /** By split: the offset up to which a look at Kafka says records wait (absent: read to its end). */
    private final Map<String, Long> endOf = new HashMap<>();
    /** Splits no look can say anything of. */
    private final java.util.Set<String> unknown = new java.util.HashSet<>();
    private final ReadPacing pacing = new ReadPacing(MAX, "cdc.transaction", TABLES,
            (id, next) -> unknown.contains(id) ? null : Math.max(0, endOf.getOrDefault(id, 0L) - Math.max(next, 0)));
    private final Map<String, Long> offsets = new HashMap<>();
    private long now = 1_000_000 * MS;

    ReadPacingTest() {
        pacing.add(END, "cdc.transaction", true, now);
        pacing.add(USERS, "cdc.public.users", false, now);
        pacing.add(ORDERS, "cdc.public.orders", false, now);
    }

    @Test
    void theTransactionTopicIsPausedOnceMaxEndEventsAreAheadOfTheirTableAndResumedAtHalf() {
        waiting(USERS);
        read(USERS, 1_000);
        for (int i = 1; i < MAX; i++) {
            ends(1, 1_000 + i, "public.users");
        }
        assertThat(look().isEmpty()).as("one short of the most").isTrue();
        assertThat(pacing.ahead()).isEqualTo(MAX - 1);

        ends(1, 1_000 + MAX, "public.users");
        assertThat(look()).isEqualTo(decision(List.of(END), List.of()));
        assertThat(pacing.isPaused(END)).isTrue();

        read(USERS, 1_049); // past 49 of the END events
        assertThat(look().isEmpty()).isTrue();
        assertThat(pacing.ahead()).isEqualTo(MAX / 2 + 1);
        read(USERS, 1_050);
        assertThat(look()).isEqualTo(decision(List.of(), List.of(END)));
        assertThat(pacing.anyPaused()).isFalse();
    }

    @Test
    void endEventsOfTablesReadUpToThemDoNotCount() {
        waiting(USERS); // lags: a bulk UPDATE
        read(USERS, 1_000);
        read(ORDERS, 5_000);
        waiting(ORDERS); // records wait, but it is read past these END events
        ends(MAX * 3, 2_000, "public.orders");
        assertThat(look().isEmpty()).isTrue();
        assertThat(pacing.ahead()).isZero();
    }

    @Test
    void endEventsOfATableReadToItsEndAreReadPast() {
        read(ORDERS, 1_000); // its last record, older than the END events (their changes were read)
        ends(MAX * 3, 2_000, "public.orders");
        assertThat(look().isEmpty()).isTrue();
        waiting(ORDERS); // new records come
        assertThat(look().isEmpty()).as("the END events were read past by the look before").isTrue();
        assertThat(pacing.ahead()).isZero();
    }

    @Test
    void anEndEventCountsAgainstEachTableItNamesThatLags() {
        waiting(USERS);
        read(USERS, 1_000);
        read(ORDERS, 9_000);
        ends(MAX, 2_000, "public.users", "public.orders");
        assertThat(look()).as("users lags behind every one of them").isEqualTo(decision(List.of(END), List.of()));
    }

    @Test
    void endEventsCountOnlyAgainstTablesTheJobReadsHere() {
        waiting(USERS);
        read(USERS, 1_000);
        ends(MAX, 2_000, "audit.log"); // a table not indexed: the decoder drops it from the END events
        ends(MAX, 2_000, "public.invoices"); // indexed, read by another subtask (or not discovered yet)
        assertThat(look().isEmpty()).isTrue();
        assertThat(pacing.ahead()).isZero();
    }

    @Test
    void withATransactionTopicNamedOtherwiseTheTableTopicIsTheOneWhoseNameEndsInTheTable() {
        ReadPacing other = new ReadPacing(MAX, "changes.tx", Pattern.compile(".*"), (id, next) -> Long.MAX_VALUE);
        other.add("changes.tx-0", "changes.tx", true, now);
        other.add("changes.public.users-0", "changes.public.users", false, now);
        other.read(other.split("changes.public.users-0"), 0, 1_000, now);
        for (int i = 0; i < MAX; i++) {
            other.ended(other.split("changes.tx-0"), i, 2_000, end("public.users"), now);
            other.ended(other.split("changes.tx-0"), i, 2_000, end("public.orders"), now); // not read here
        }
        assertThat(other.look(now).pause()).containsExactly("changes.tx-0");
        assertThat(other.ahead()).isEqualTo(MAX);
    }

    @Test
    void onlyTheTransactionSplitsWithEndEventsAheadArePaused() {
        String behind = "cdc.transaction-1";
        pacing.add(behind, "cdc.transaction", true, now);
        waiting(USERS);
        read(USERS, 1_000);
        pacing.ended(pacing.split(behind), 0, 900, end("public.users"), now); // Kafka reads it in its turn
        ends(MAX, 2_000, "public.users");
        assertThat(look()).as("its END events may be what changes read wait for")
                .isEqualTo(decision(List.of(END), List.of()));

        pacing.ended(pacing.split(behind), 1, 1_500, end("public.users"), now);
        assertThat(look()).isEqualTo(decision(List.of(behind), List.of()));
        read(USERS, 1_600);
        assertThat(look()).as("no longer ahead, though the others still are")
                .isEqualTo(decision(List.of(), List.of(behind)));
    }

    @Test
    void aTableSplitNothingWasReadFromYetHoldsEveryEndEventNamingIt() {
        waiting(USERS);
        ends(MAX, 1, "public.users");
        assertThat(look()).isEqualTo(decision(List.of(END), List.of()));
    }

    @Test
    void nothingIsPausedWhereNoLookCanSayRecordsWaitButWhatIsAheadIsKept() {
        unknown.add(USERS); // no look: Kafka out of reach
        read(USERS, 1_000);
        ends(MAX * 10, 2_000, "public.users");
        assertThat(look().isEmpty()).isTrue();
        assertThat(pacing.ahead()).isZero();

        unknown.remove(USERS);
        waiting(USERS); // a look again: they were ahead all along
        assertThat(look()).isEqualTo(decision(List.of(END), List.of()));
    }

    @Test
    void aPausedTransactionTopicIsResumedOnceTheLaggingTableIsReadToItsEnd() {
        usersLagsAndTheTransactionTopicIsPaused();

        read(USERS, 1_100);
        endOf.remove(USERS); // read to its end: its records before the END events were all read
        assertThat(look()).isEqualTo(decision(List.of(), List.of(END)));
    }

    @Test
    void aTableSplitThatDeliversNothingWhileTheOthersDoIsNotWaitedFor() {
        usersLagsAndTheTransactionTopicIsPaused();

        now += ReadPacing.STUCK_NANOS - MS;
        read(ORDERS, 3_000);
        assertThat(look().isEmpty()).as("not yet stuck").isTrue();
        now += MS;
        assertThat(look().isEmpty()).as("the others have not delivered since").isTrue();
        read(ORDERS, 3_001);
        assertThat(look()).as("its fetches fail: END events flow as without pacing")
                .isEqualTo(decision(List.of(), List.of(END)));
    }

    @Test
    void aTableSplitNotDeliveringUnderBackPressureIsStillWaitedFor() {
        usersLagsAndTheTransactionTopicIsPaused();
        now += 10 * ReadPacing.STUCK_NANOS; // nothing delivered at all: the job downstream is slow
        assertThat(look().isEmpty()).isTrue();
        assertThat(pacing.isPaused(END)).isTrue();
    }

    @Test
    void aResumeThatBringsNothingWhileRecordsWaitIsSentAgain() {
        pauseAndResume();
        endOf.put(END, offsets.get(END) + 10); // END events wait
        now += ReadPacing.RESEND_NANOS - MS;
        assertThat(look().isEmpty()).isTrue();
        assertThat(pacing.holding()).isTrue();
        now += MS;
        assertThat(look()).isEqualTo(decision(List.of(), List.of(END)));

        ends(1, 3_000, "public.users"); // the resume took: records come
        assertThat(pacing.holding()).isFalse();
        now += 2 * ReadPacing.RESEND_NANOS;
        assertThat(look().isEmpty()).isTrue();
    }

    @Test
    void aResumeWithNothingWaitingIsNotHeld() {
        pauseAndResume();
        now += 2 * ReadPacing.RESEND_NANOS;
        assertThat(look().isEmpty()).as("no END event waits: nothing to send again").isTrue();
        assertThat(pacing.holding()).isFalse();
    }

    @Test
    void aResumeIsSentAgainWhileNoLookCanSayWhetherRecordsWait() {
        pauseAndResume();
        unknown.add(END);
        now += ReadPacing.RESEND_NANOS;
        assertThat(look()).isEqualTo(decision(List.of(), List.of(END)));
        assertThat(pacing.holding()).isTrue();
    }

    @Test
    void whileEndEventsAreHeldBackTablesReadPastThemByTheLeadAreHeldBackToo() {
        String events = "cdc.public.events-0";
        pacing.add(events, "cdc.public.events", false, now);
        waiting(USERS); // lags
        waiting(events); // keeps up, small rows: read far past the END events held back
        read(USERS, 1_000);
        read(events, 2_000);
        ends(MAX, 2_000, "public.users");
        assertThat(look().pause()).containsExactly(END);

        read(events, 2_000 + ReadPacing.LEAD_MS);
        assertThat(look().isEmpty()).as("within the lead").isTrue();
        read(events, 2_001 + ReadPacing.LEAD_MS);
        read(USERS, 1_001);
        assertThat(look()).as("never the table the END events wait for")
                .isEqualTo(decision(List.of(events), List.of()));

        read(USERS, 2_000); // caught up: the END events go on, and the table with them
        assertThat(look()).isEqualTo(decision(List.of(), List.of(END, events)));
    }

    @Test
    void aPartitionReadPastAnotherOfItsTableWithABacklogByTheTurnLeadWaitsForItUntilWithinHalf() {
        pacing.add(USERS1, "cdc.public.users", false, now);
        waiting(USERS);
        waiting(USERS1);
        read(USERS1, 1_000); // Kafka's consumer hands out the other's fetch first
        read(USERS, 1_000 + ReadPacing.TURN_LEAD_MS);
        assertThat(look().isEmpty()).as("within the lead").isTrue();
        read(USERS, 1_001 + ReadPacing.TURN_LEAD_MS);
        assertThat(look()).isEqualTo(decision(List.of(USERS), List.of()));

        read(USERS1, 1_000 + ReadPacing.TURN_LEAD_MS / 2);
        assertThat(look().isEmpty()).as("not yet within half the lead").isTrue();
        read(USERS1, 1_001 + ReadPacing.TURN_LEAD_MS / 2);
        assertThat(look()).isEqualTo(decision(List.of(), List.of(USERS)));
    }

    @Test
    void aPartitionNothingWasReadFromYetIsWaitedFor() {
        pacing.add(USERS1, "cdc.public.users", false, now);
        waiting(USERS);
        waiting(USERS1);
        read(USERS, 1_000);
        assertThat(look()).isEqualTo(decision(List.of(USERS), List.of()));
    }

    @Test
    void aPartitionWithOnlyAFewRecordsWaitingIsNotWaitedForNorLongerThanItHasABacklog() {
        pacing.add(USERS1, "cdc.public.users", false, now);
        waiting(USERS);
        read(USERS1, 1_000); // quiet for a while
        endOf.put(USERS1, offsets.get(USERS1) + ReadPacing.TURN_BACKLOG - 1); // then a few records: read in a poll
        read(USERS, 5_000);
        assertThat(look().isEmpty()).as("live changes are not held for a poll").isTrue();

        waiting(USERS1); // a backlog
        assertThat(look()).isEqualTo(decision(List.of(USERS), List.of()));
        read(USERS1, 2_000);
        endOf.put(USERS1, offsets.get(USERS1) + 1 + ReadPacing.TURN_BACKLOG);
        assertThat(look().isEmpty()).as("still behind, with a backlog").isTrue();
        endOf.put(USERS1, offsets.get(USERS1) + ReadPacing.TURN_BACKLOG);
        assertThat(look()).as("what is left comes in a poll").isEqualTo(decision(List.of(), List.of(USERS)));
    }

    @Test
    void aPartitionWithNoRecordsWaitingIsNotHeldBackAndOnlyPartitionsOfOneTableWaitForEachOther() {
        pacing.add(USERS1, "cdc.public.users", false, now);
        waiting(USERS1);
        waiting(ORDERS);
        read(USERS1, 1_000);
        read(ORDERS, 1_000);
        read(USERS, 5_000); // read to its end: what comes next is newer still
        assertThat(look().isEmpty()).isTrue();
        waiting(USERS);
        assertThat(look()).as("not for the orders").isEqualTo(decision(List.of(USERS), List.of()));
    }

    @Test
    void aPartitionHeldForTheEndEventsAndForItsTableIsResumedOnlyOnceBothLetItGo() {
        pacing.add(USERS1, "cdc.public.users", false, now);
        waiting(USERS);
        waiting(USERS1);
        read(USERS1, 1_000);
        read(USERS, 1_000);
        ends(1, 1_000, "public.users");
        endOf.put(END, Long.MAX_VALUE); // Kafka's consumer reads it in its turn
        read(USERS, 1_001 + ReadPacing.LEAD_MS);
        assertThat(look()).isEqualTo(decision(List.of(USERS), List.of()));

        ends(1, 1_001 + ReadPacing.LEAD_MS, "public.orders"); // the END events read on: they let it go
        assertThat(look().isEmpty()).as("still waiting for its table's other partition").isTrue();
        read(USERS1, 1_001 + ReadPacing.LEAD_MS);
        assertThat(look()).isEqualTo(decision(List.of(), List.of(USERS)));
    }

    @Test
    void aPartitionThatDeliversNothingWhileTheOthersDoIsNotWaitedForByItsTable() {
        usersHeldForUsers1();
        now += ReadPacing.STUCK_NANOS;
        read(ORDERS, 3_000);
        assertThat(look()).as("its fetches fail").isEqualTo(decision(List.of(), List.of(USERS)));
        read(USERS1, 1_001); // delivers again
        assertThat(look().pause()).containsExactly(USERS);
    }

    @Test
    void aPartitionWaitingForItsTableLongerThanTheHoldWhileRecordsAreReadReadsOnUntilCaughtUpWith() {
        pacing.add(USERS1, "cdc.public.users", false, now);
        waiting(USERS);
        waiting(USERS1);
        waiting(ORDERS);
        read(USERS1, 1_000);
        read(USERS, 1_000_000_000); // a clock wrong: one far in the future
        assertThat(look()).isEqualTo(decision(List.of(USERS), List.of()));
        liftAfterTheHold(ORDERS, 1_000); // records were read all along
        now += MS;
        assertThat(look().isEmpty()).as("not held again before it is caught up with").isTrue();
        endOf.remove(USERS); // read to its own end, then more records: still not caught up with
        assertThat(look().isEmpty()).isTrue();
        waiting(USERS);
        assertThat(look().isEmpty()).isTrue();

        read(USERS1, 1_000_000_000); // caught up with
        read(USERS, 1_000_000_000 + ReadPacing.TURN_LEAD_MS + 1);
        assertThat(look()).as("held again").isEqualTo(decision(List.of(USERS), List.of()));
    }

    @Test
    void aResumeOfEverythingAndALookThatCannotSayDoNotStartTheHoldAgain() {
        usersHeldForUsers1();
        for (int i = 0; i < 25; i++) { // 2.5 s held, slow but delivering
            now += 100 * MS;
            read(USERS1, 1_001);
            look();
        }
        pacing.resumeAll(now); // the reader had nothing to emit
        read(USERS, 5_001);
        read(USERS1, 1_001);
        assertThat(look().pause()).containsExactly(USERS);
        unknown.add(USERS1);
        assertThat(look().resume()).as("no look can say").containsExactly(USERS);
        unknown.remove(USERS1);
        assertThat(look().pause()).containsExactly(USERS);
        for (int i = 0; i < 24; i++) {
            now += 100 * MS;
            read(USERS1, 1_001);
            assertThat(look().isEmpty()).isTrue();
        }
        now += 100 * MS;
        read(USERS1, 1_002);
        assertThat(look().resume()).as("held 5 s in all while records were read").containsExactly(USERS);
    }

    @Test
    void twoPartitionsOfATableAreNotBothHeldForAThirdWithoutABacklog() {
        String users2 = "cdc.public.users-2";
        pacing.add(USERS1, "cdc.public.users", false, now);
        pacing.add(users2, "cdc.public.users", false, now);
        waiting(USERS);
        waiting(USERS1);
        read(users2, 900);
        endOf.put(users2, offsets.get(users2) + ReadPacing.TURN_BACKLOG - 1); // comes in a poll
        read(USERS1, 1_000);
        read(USERS, 1_001 + ReadPacing.TURN_LEAD_MS);
        assertThat(look()).isEqualTo(decision(List.of(USERS), List.of()));
        read(USERS1, 1_002 + 2 * ReadPacing.TURN_LEAD_MS); // read past it in its turn
        assertThat(look()).isEqualTo(decision(List.of(USERS1), List.of(USERS)));
    }

    @Test
    void aStallOfTheReadingIsNoTimeHeldWhileRecordsAreRead() {
        usersHeldForUsers1();
        now += 10 * ReadPacing.TURN_HOLD_NANOS; // the job downstream slow: nothing read
        assertThat(look().isEmpty()).isTrue();
        assertThat(pacing.isPaused(USERS)).isTrue();
        read(USERS1, 1_001); // the first record after it
        assertThat(look().isEmpty()).as("one record is not 5 s of reading").isTrue();
    }

    @Test
    void timeNotHeldDoesNotCountTowardsTheHold() {
        usersHeldForUsers1();
        unknown.add(USERS1); // looks fail for a minute
        assertThat(look().resume()).containsExactly(USERS);
        for (int i = 0; i < 600; i++) {
            now += 100 * MS;
            read(USERS1, 1_001 + i);
            read(USERS, 5_001 + i);
            look();
        }
        unknown.remove(USERS1);
        assertThat(look().pause()).as("held again, not lifted").containsExactly(USERS);
    }

    @Test
    void aLiftEndsThoughAPartitionOfTheTableHasNeverDeliveredAndHasNothingWaiting() {
        pacing.add("cdc.public.users-2", "cdc.public.users", false, now); // empty
        usersHeldForUsers1();
        liftedThenHeldAgainOnceCaughtUpWith();
    }

    @Test
    void aStallWithNoLookInItCountsOneStepOnly() {
        usersHeldForUsers1();
        now += 10 * ReadPacing.TURN_HOLD_NANOS; // back-pressure: no poll, no look
        read(USERS1, 1_001); // the first poll after it delivers, and looks at the same time
        assertThat(look().isEmpty()).isTrue();
    }

    @Test
    void looksThatSawNoRecordComeDoNotCount() {
        usersHeldForUsers1();
        for (int i = 0; i < 60; i++) {
            now += 100 * MS;
            assertThat(look().isEmpty()).isTrue();
        }
    }

    @Test
    void aBacklogOfAnotherTableHoldsNoPartition() {
        waiting(USERS);
        waiting(ORDERS);
        read(ORDERS, 1_000);
        read(USERS, 5_000);
        assertThat(look().isEmpty()).isTrue();
    }

    @Test
    void aLiftEndsThoughAPartitionOfTheTableIsReadToItsEndAndQuiet() {
        String users2 = "cdc.public.users-2";
        pacing.add(users2, "cdc.public.users", false, now);
        read(users2, 900); // one record, then nothing waiting
        usersHeldForUsers1();
        liftedThenHeldAgainOnceCaughtUpWith();
    }

    /**
     * A backlog is read from a start, before the first look at Kafka answers: every partition then counts as having a
     * backlog, so one read ahead of another of its table waits for it from the first fetch on (the first fetch of each
     * partition was read unpaced before, and a fast reader read a whole backlog of 24 MB so in a full run). Once the
     * look answers that the other has nothing waiting (a quiet partition: live changes), it reads on.
     */
    @Test
    void beforeTheFirstLookEveryPartitionCountsAsABacklogUntilTheLookSaysOtherwise() {
        Map<String, Long> waits = new HashMap<>(Map.of(USERS, Long.MAX_VALUE, USERS1, Long.MAX_VALUE));
        ReadPacing first = usersReadBeforeTheFirstLook(waits);
        assertThat(first.look(now).pause()).as("read ahead of one that read nothing yet").containsExactly(USERS);

        waits.putAll(Map.of(USERS, 5_000L, USERS1, 0L)); // the first look: nothing waits in the other
        assertThat(first.look(now).resume()).as("live changes not held for a quiet partition").containsExactly(USERS);
    }

    /** No look in the first 10 s: nothing can say how many records wait, and nothing is held for them any more. */
    @Test
    void withoutAnAnswerInTheFirst10sTheHoldBeforeTheFirstLookEnds() {
        Map<String, Long> waits = new HashMap<>(Map.of(USERS, Long.MAX_VALUE, USERS1, Long.MAX_VALUE));
        ReadPacing first = usersReadBeforeTheFirstLook(waits);
        assertThat(first.look(now).pause()).containsExactly(USERS);

        waits.put(USERS, null); // PartitionEnds, 10 s after its start without an answer
        waits.put(USERS1, null);
        assertThat(first.look(now).resume()).containsExactly(USERS);
    }

    /** Both partitions of users before the first look ({@code waits}: what PartitionEnds says), one read at 1,000. */
    private ReadPacing usersReadBeforeTheFirstLook(Map<String, Long> waits) {
        ReadPacing first = new ReadPacing(MAX, "cdc.transaction", TABLES, (id, next) -> waits.get(id));
        first.add(END, "cdc.transaction", true, now);
        first.add(USERS, "cdc.public.users", false, now);
        first.add(USERS1, "cdc.public.users", false, now);
        first.read(first.split(USERS), 0, 1_000, now);
        return first;
    }

    @Test
    void resumeAllResumesWhatIsPaused() {
        usersLagsAndTheTransactionTopicIsPaused();
        assertThat(pacing.resumeAll(now)).isEqualTo(decision(List.of(), List.of(END)));
        assertThat(pacing.anyPaused()).isFalse();
        assertThat(pacing.holding()).as("until a record of it comes").isTrue();
    }

    @Test
    void withoutAMostNothingIsEverPaused() {
        ReadPacing never = new ReadPacing(0, "cdc.transaction", TABLES, (id, next) -> Long.MAX_VALUE);
        never.add(END, "cdc.transaction", true, now);
        never.add(USERS, "cdc.public.users", false, now);
        for (int i = 0; i < 10_000; i++) {
            never.ended(never.split(END), i, 2_000 + i, end("public.users"), now);
        }
        assertThat(never.look(now).isEmpty()).isTrue();
    }

    @Test
    void aRemovedPausedSplitIsNoLongerHeld() {
        usersLagsAndTheTransactionTopicIsPaused();
        pacing.remove(END);
        assertThat(pacing.anyPaused()).isFalse();
        assertThat(pacing.holding()).isFalse();
    }

    @Test
    void theTablesAnEndEventNamesAreReadWithOrWithoutTheSchemaEnvelope() {
        assertThat(ReadPacing.tablesNamed(end("public.users", "public.orders")))
                .containsExactly("public.users", "public.orders");
        String enveloped = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"field\":\"data_collection\",\"type\":\"string\"}]},"
                + "\"payload\":" + new String(end("public.users"), StandardCharsets.UTF_8) + "}";
        assertThat(ReadPacing.tablesNamed(enveloped.getBytes(StandardCharsets.UTF_8))).containsExactly("public.users");
        assertThat(ReadPacing.tablesNamed("{\"status\":\"BEGIN\",\"id\":\"1\",\"data_collections\":null}"
                .getBytes(StandardCharsets.UTF_8))).isEmpty();
        assertThat(ReadPacing.tablesNamed("not json{".getBytes(StandardCharsets.UTF_8))).isEmpty();
        assertThat(ReadPacing.tablesNamed(null)).isEmpty();
    }

    @Test
    void aTableReadPastTheTransactionTopicByTheLeadWaitsForItWhileItHasRecordsWaiting() {
        waiting(USERS);
        read(USERS, 1_000);
        ends(1, 1_000, "public.users");
        endOf.put(END, Long.MAX_VALUE); // Kafka's consumer reads it in its turn
        read(USERS, 1_000 + ReadPacing.LEAD_MS);
        assertThat(look().isEmpty()).as("within the lead").isTrue();
        read(USERS, 1_001 + ReadPacing.LEAD_MS);
        assertThat(look()).isEqualTo(decision(List.of(USERS), List.of()));

        endOf.remove(END); // read to its end: nothing to wait for
        assertThat(look()).isEqualTo(decision(List.of(), List.of(USERS)));
    }

    @Test
    void aTableEndEventsAreAheadOfIsNeverHeldBack() {
        String end1 = "cdc.transaction-1";
        pacing.add(end1, "cdc.transaction", true, now);
        waiting(ORDERS);
        waiting(USERS);
        read(ORDERS, 1_000);
        read(USERS, 50_000);
        ends(MAX, 2_000, "public.orders");
        for (int i = 0; i < 10; i++) {
            pacing.ended(pacing.split(end1), i, 100_000, end("public.users"), now);
        }
        // users is read far past the END events held back in the first partition, but those of the second wait for it
        assertThat(look()).isEqualTo(decision(List.of(END, end1), List.of()));
    }

    @Test
    void aPartitionOfATableEndEventsWaitForIsHeldBackOnceReadPastThemAll() {
        String users1 = "cdc.public.users-1";
        pacing.add(users1, "cdc.public.users", false, now);
        waiting(USERS);
        waiting(users1);
        read(USERS, 1_000); // Kafka's turn has not come for it
        read(users1, 2_000 + ReadPacing.LEAD_MS + 1);
        ends(MAX, 2_000, "public.users");
        assertThat(look()).as("read past every END event, its changes would wait")
                .isEqualTo(decision(List.of(END, users1), List.of()));
    }

    @Test
    void aSplitResumedAfterALongPauseIsNotTakenForStuck() {
        waiting(USERS);
        waiting(ORDERS);
        read(USERS, 1_000);
        read(ORDERS, 1_000);
        ends(1, 1_000, "public.orders");
        endOf.put(END, Long.MAX_VALUE);
        read(USERS, 1_001 + ReadPacing.LEAD_MS);
        assertThat(look().pause()).containsExactly(USERS);
        for (int i = 0; i < 40; i++) { // 40 s of the others delivering
            now += 1_000 * MS;
            read(ORDERS, 1_000);
        }
        ends(1, 1_000 + ReadPacing.LEAD_MS, "public.orders");
        read(ORDERS, 1_000 + ReadPacing.LEAD_MS);
        assertThat(look()).as("resumed: the END events went on").isEqualTo(decision(List.of(), List.of(USERS)));
        now += MS;
        ends(MAX, 2_000 + ReadPacing.LEAD_MS, "public.users");
        assertThat(look()).as("waited for: END events are ahead of it, and its pause was no failure to deliver")
                .isEqualTo(decision(List.of(END), List.of()));
    }

    @Test
    void aBeginEventAndTheSchemaAreNotReadForTables() {
        String begin = "{\"schema\":{\"fields\":[{\"field\":\"data_collection\"}]},\"payload\":"
                + "{\"status\":\"BEGIN\",\"id\":\"1\",\"data_collections\":[{\"data_collection\":\"public.x\"}]}}";
        assertThat(ReadPacing.tablesNamed(begin.getBytes(StandardCharsets.UTF_8))).isEmpty();
        String nested = "{\"status\":\"END\",\"data_collections\":[{\"data_collection\":\"public.a\","
                + "\"extra\":{\"data_collection\":\"not.a.table\"}}]}";
        assertThat(ReadPacing.tablesNamed(nested.getBytes(StandardCharsets.UTF_8))).containsExactly("public.a");
    }

    @Test
    void whatIsAheadIsAtMostItsCapacityAndReadPastFromTheOldest() {
        ReadPacing.Ahead ahead = new ReadPacing.Ahead(100);
        for (int i = 0; i < 250; i++) {
            ahead.add(i);
        }
        assertThat(ahead.size()).isEqualTo(100);
        assertThat(ahead.after(199)).as("the newest 100 are kept").isEqualTo(50);
        assertThat(ahead.after(Long.MAX_VALUE)).isZero();
        ahead.add(5);
        assertThat(ahead.after(Long.MIN_VALUE)).isEqualTo(1);
    }

    @Test
    void oneFarInTheFutureHoldsOnlyItself() {
        ReadPacing.Ahead ahead = new ReadPacing.Ahead(100);
        ahead.add(10_000_000); // a Connect worker's clock wrong, or a record made by hand
        for (int i = 0; i < 50; i++) {
            ahead.add(1_000 + i);
        }
        assertThat(ahead.after(2_000)).isEqualTo(1);
        assertThat(ahead.size()).as("kept behind the one in the future").isEqualTo(51);
        assertThat(ahead.after(Long.MAX_VALUE)).isZero();
        ahead.add(3);
        ahead.add(4);
        assertThat(ahead.after(3)).as("rising again once emptied").isEqualTo(1);
        assertThat(ahead.size()).isEqualTo(1);
    }

    @Test
    void aTimeALittleBackCountsAtTheOneBeforeItAndKeepsTheCountCheap() {
        ReadPacing.Ahead ahead = new ReadPacing.Ahead(100);
        ahead.add(5_000);
        ahead.add(5_000 - ReadPacing.Ahead.JITTER_MS); // a clock stepped back a little
        ahead.add(6_000);
        assertThat(ahead.after(4_500)).as("counted at the one before it").isEqualTo(3);
        assertThat(ahead.after(5_000)).isEqualTo(1);
    }

    /** users-0 read to 5,000 and users-1 to 1,000, both with a backlog: users-0 is held for users-1. */
    private void usersHeldForUsers1() {
        pacing.add(USERS1, "cdc.public.users", false, now);
        waiting(USERS);
        waiting(USERS1);
        read(USERS1, 1_000);
        read(USERS, 5_000);
        assertThat(look().pause()).containsExactly(USERS);
    }

    /** users-0, held for users-1, is lifted, then held again once users-1 has caught up with it and it reads on. */
    private void liftedThenHeldAgainOnceCaughtUpWith() {
        liftAfterTheHold(USERS1, 1_000);
        read(USERS1, 10_000); // caught up with
        read(USERS, 10_000);
        look();
        read(USERS, 10_001 + ReadPacing.TURN_LEAD_MS);
        assertThat(look().pause()).containsExactly(USERS);
    }

    /** Looks every 100 ms while {@code other} delivers (at {@code time}) until the hold on users-0 is lifted. */
    private void liftAfterTheHold(String other, long time) {
        for (long held = 0; held < ReadPacing.TURN_HOLD_NANOS; held += 100 * MS) {
            assertThat(pacing.isPaused(USERS)).isTrue();
            now += 100 * MS;
            read(other, time);
            look();
        }
        assertThat(pacing.isPaused(USERS)).as("lifted").isFalse();
    }

    /** users has records waiting and has read up to 1,000; the most END events naming it at 2,000 pause them. */
    private void usersLagsAndTheTransactionTopicIsPaused() {
        waiting(USERS);
        read(USERS, 1_000);
        ends(MAX, 2_000, "public.users");
        assertThat(look().pause()).containsExactly(END);
    }

    /** Pauses the transaction topic, then resumes it with the lagging table read to its end. */
    private void pauseAndResume() {
        usersLagsAndTheTransactionTopicIsPaused();
        endOf.remove(USERS);
        assertThat(look().resume()).containsExactly(END);
    }

    /** The split has records waiting, far past what it has read. */
    private void waiting(String split) {
        endOf.put(split, 1_000_000_000L);
    }

    private void read(String split, long timestamp) {
        long offset = offsets.merge(split, 1L, Long::sum);
        pacing.read(pacing.split(split), offset, timestamp, now);
    }

    private void ends(int count, long timestamp, String... tables) {
        for (int i = 0; i < count; i++) {
            long offset = offsets.merge(END, 1L, Long::sum);
            pacing.ended(pacing.split(END), offset, timestamp, end(tables), now);
        }
    }

    private static byte[] end(String... tables) {
        StringBuilder json = new StringBuilder("{\"status\":\"END\",\"id\":\"571:53195832\",\"event_count\":1,"
                + "\"data_collections\":[");
        for (int i = 0; i < tables.length; i++) {
            json.append(i > 0 ? "," : "").append("{\"data_collection\":\"").append(tables[i])
                    .append("\",\"event_count\":1}");
        }
        return json.append("],\"ts_ms\":1}").toString().getBytes(StandardCharsets.UTF_8);
    }

    private ReadPacing.Decision look() {
        return pacing.look(now);
    }

    private static ReadPacing.Decision decision(List<String> pause, List<String> resume) {
        return new ReadPacing.Decision(pause, resume);
    }
}
