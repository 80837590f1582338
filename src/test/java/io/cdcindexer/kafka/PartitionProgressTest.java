package io.cdcindexer.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.util.clock.ManualClock;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/** One partition's watermark: what it claims while records come, and once it is quiet. */
class PartitionProgressTest {

    private final ManualClock activity = new ManualClock();
    private final List<Long> emitted = new ArrayList<>();
    /** When it was marked idle: how many watermarks had been emitted then. */
    private final List<Integer> idle = new ArrayList<>();
    private final WatermarkOutput output = new WatermarkOutput() {
        @Override
        public void emitWatermark(Watermark watermark) {
            emitted.add(watermark.getTimestamp());
        }

        @Override
        public void markIdle() {
            idle.add(emitted.size());
        }

        @Override
        public void markActive() {}
    };

    private void read(long kafkaTime) {
        progress.onEvent(new KafkaRecord("t", 0, 0, kafkaTime, null, null), kafkaTime, output);
    }

    private long emit() {
        progress.onPeriodicEmit(output);
        return emitted.get(emitted.size() - 1);
    }

    @Test
    void nothingIsClaimedBeforeTheFirstRecord() {
        activity.advanceTime(10, TimeUnit.SECONDS);
        progress.onPeriodicEmit(output);
        assertThat(emitted).isEmpty();
    }

    @Test
    void whileRecordsComeTheNewestMillisecondMayStillHaveMore() {
        read(1_000);
        read(1_000);
        activity.advanceTime(PartitionProgress.QUIET_MS - 1, TimeUnit.MILLISECONDS);
        assertThat(emit()).as("another record of millisecond 1000 may be next").isEqualTo(999);
    }

    /**
     * Quiet by the split's input-activity clock, which Flink pauses while the source is back-pressured: a source held
     * up by a slow sink is not quiet, only not read, and claims no more than it read.
     */
    @Test
    void aQuietPartitionHasReadItsNewestMillisecond() {
        read(1_000);
        activity.advanceTime(PartitionProgress.QUIET_MS, TimeUnit.MILLISECONDS);
        assertThat(emit()).isEqualTo(1_000);

        read(1_500);
        assertThat(emit()).as("records come again").isEqualTo(1_499);
    }

    @Test
    void anOlderTimestampDoesNotMoveItBack() {
        read(1_000);
        read(900);
        assertThat(emit()).isEqualTo(999);
    }

    /**
     * At the end of a burst every partition falls idle in the same check, and Flink then keeps the least of their
     * watermarks: a change newer than that would wait for the next write. A partition quiet for a while claims the
     * newest time its subtask read from any partition, so the subtask's watermark reaches its newest change.
     */
    @Test
    void aPartitionQuietForAWhileClaimsTheNewestTimeOfItsSubtask() {
        ManualClock otherActivity = new ManualClock();
        PartitionProgress other = new PartitionProgress(otherActivity, subtask, null);
        read(1_000);
        other.onEvent(new KafkaRecord("t", 1, 0, 1_500, null, null), 1_500, output);

        activity.advanceTime(PartitionProgress.QUIET_MS, TimeUnit.MILLISECONDS);
        assertThat(emit()).as("quiet: its own newest").isEqualTo(1_000);
        activity.advanceTime(PartitionProgress.SUBTASK_QUIET_MS - PartitionProgress.QUIET_MS, TimeUnit.MILLISECONDS);
        assertThat(emit()).as("quiet for longer: the subtask's newest").isEqualTo(1_500);
    }

    // --- read to its end (PartitionEnds) -----------------------------------------------------------------------------

    private static final TopicPartition P0 = new TopicPartition("t", 0);
    private static final TopicPartition P1 = new TopicPartition("t", 1);

    /** The ends Kafka gives, by partition (each begins at 0); a committed offset for none. */
    private final Map<TopicPartition, Long> kafkaEnds = new HashMap<>();
    /** Where Kafka says only transaction markers lie up to, by partition read on from (absent: a record lies there). */
    private final Map<TopicPartition, Long> markersUpTo = new HashMap<>();
    /** Topics gone. */
    private final Set<TopicPartition> gone = new HashSet<>();
    /** Partitions Kafka gives no answer for (no leader). */
    private final Set<TopicPartition> unanswered = new HashSet<>();
    private final PartitionEnds.Lookup lookup = new PartitionEnds.Lookup() {
        @Override
        public Map<TopicPartition, PartitionEnds.Range> ranges(Collection<TopicPartition> partitions) {
            Map<TopicPartition, PartitionEnds.Range> ranges = new HashMap<>();
            partitions.stream().filter(p -> !unanswered.contains(p)).forEach(p -> ranges.put(p, gone.contains(p)
                    ? PartitionEnds.Range.GONE : new PartitionEnds.Range(0, kafkaEnds.getOrDefault(p, 0L))));
            return ranges;
        }

        @Override
        public Map<TopicPartition, Long> committed(Collection<TopicPartition> partitions) {
            return Map.of();
        }

        @Override
        public Map<TopicPartition, Long> recordlessUpTo(Map<TopicPartition, PartitionEnds.Gap> gaps) {
            Map<TopicPartition, Long> upTo = new HashMap<>();
            gaps.keySet().forEach(p -> upTo.put(p, markersUpTo.getOrDefault(p, -1L)));
            return upTo;
        }
    };
    private final ManualClock wall = new ManualClock();
    private final PartitionEnds ends = new PartitionEnds(() -> lookup, () -> wall.relativeTimeMillis());
    private final PartitionProgress.SubtaskNewest subtask = ends.subtaskNewest;
    private final PartitionProgress progress = new PartitionProgress(activity, subtask, null);
    private final PartitionProgress p0 = new PartitionProgress(activity, subtask, ends);

    // --- records waiting, for the source's pacing (ReadPacing) ---------------------------------------------------------

    @Test
    void recordsWaitBeforeTheFirstLookAnswersThenAsManyAsTheLookSays() throws Exception {
        ends.assigned(P0, 0);
        assertThat(ends.offsetsWaiting(P0, -1)).as("a backlog is read from the first fetch on")
                .isEqualTo(Long.MAX_VALUE);
        wall.advanceTime(PartitionEnds.FIRST_LOOK_MS, TimeUnit.MILLISECONDS);
        assertThat(ends.offsetsWaiting(P0, -1)).as("no look answered: it cannot say").isNull();

        kafkaEnds.put(P0, 10L);
        ends.lookNow(lookup);
        assertThat(ends.offsetsWaiting(P0, -1)).isEqualTo(10);
        assertThat(ends.offsetsWaiting(P0, 9)).isEqualTo(1);
        assertThat(ends.offsetsWaiting(P0, 10)).as("read to the look's end").isZero();
        assertThat(ends.offsetsWaiting(P0, 12)).as("read past it since").isZero();
        assertThat(ends.offsetsWaiting(P1, 0)).as("a partition the look was not asked of").isNull();

        wall.advanceTime(PartitionEnds.FRESH_MS + 1, TimeUnit.MILLISECONDS);
        assertThat(ends.offsetsWaiting(P0, 0)).as("the look too old").isNull();
    }

    @Test
    void onlyTransactionMarkersLeftAreNoRecordsWaiting() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 10L);
        markersUpTo.put(P0, 10L);
        ends.lookNow(lookup);
        assertThat(ends.offsetsWaiting(P0, 8)).as("not read on from there yet: asks the next look to").isEqualTo(2);
        ends.lookNow(lookup);
        assertThat(ends.offsetsWaiting(P0, 8)).isZero();
        assertThat(ends.offsetsWaiting(P0, 10 - PartitionEnds.MARKERS_AT_MOST - 1))
                .as("a backlog's gap: not read on").isPositive();
    }

    private void read(PartitionProgress partition, long offset, long kafkaTime) {
        partition.onEvent(new KafkaRecord("t", 0, offset, kafkaTime, null, null), kafkaTime, output);
    }

    /** Quiet for as long as a check needs, with a look at the ends every second of it. */
    private void quietFor(long ms) throws Exception {
        for (long passed = 0; passed < ms; passed += 1_000) {
            long step = Math.min(1_000, ms - passed);
            activity.advanceTime(step, TimeUnit.MILLISECONDS);
            wall.advanceTime(step, TimeUnit.MILLISECONDS);
            ends.lookNow(lookup);
        }
    }

    private void emitFrom(PartitionProgress partition) {
        partition.onPeriodicEmit(output);
    }

    /**
     * The open hole of docs/reliability.md until 2026-12-02: a partition the consumer leaves out of its fetches with
     * records waiting is quiet as well. Quiet but not read to its end, it claims no more than it has read, however long,
     * and never counts idle (which would let the subtask's watermark pass its records).
     */
    @Test
    void aQuietPartitionWithRecordsStillToReadClaimsOnlyWhatItReadAndIsNeverIdle() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 5L); // records at offsets 2-4 wait
        read(p0, 0, 1_000);
        read(p0, 1, 1_001);
        other(1_500);

        quietFor(60_000);
        emitFrom(p0);

        assertThat(idle).isEmpty();
        assertThat(emitted).last().isEqualTo(1_000L);
    }

    @Test
    void aQuietPartitionReadToItsEndClaimsItsNewestThenTheSubtasksThenIsIdle() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 2L);
        read(p0, 0, 1_000);
        read(p0, 1, 1_001);
        other(1_500);

        quietFor(PartitionProgress.QUIET_MS);
        emitFrom(p0);
        assertThat(emitted).last().isEqualTo(1_001L);
        quietFor(PartitionProgress.SUBTASK_QUIET_MS - PartitionProgress.QUIET_MS);
        emitFrom(p0);
        assertThat(emitted).last().isEqualTo(1_500L);
        assertThat(idle).isEmpty();
        quietFor(PartitionProgress.IDLE_MS - PartitionProgress.SUBTASK_QUIET_MS);
        emitFrom(p0);
        assertThat(idle).hasSize(1);
    }

    /** Kafka out of reach: no look is fresh, so nothing counts as read to its end (the watermark waits). */
    @Test
    void withoutAFreshLookNoPartitionIsReadToItsEnd() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 2L);
        read(p0, 0, 1_000);
        read(p0, 1, 1_001);
        ends.lookNow(lookup);

        activity.advanceTime(PartitionProgress.IDLE_MS, TimeUnit.MILLISECONDS);
        wall.advanceTime(PartitionEnds.FRESH_MS + 1, TimeUnit.MILLISECONDS); // no look since
        emitFrom(p0);

        assertThat(idle).isEmpty();
        assertThat(emitted).last().isEqualTo(1_000L);
    }

    /**
     * A partition nothing was read from does not know which it is: it counts idle once every such partition of its
     * subtask starts at its end (here one starting at a marker, resolved by the look), not while one has records.
     */
    @Test
    void aPartitionThatReadNothingIsIdleOnceEveryUnreadPartitionStartsAtItsEnd() throws Exception {
        PartitionProgress unread = new PartitionProgress(activity, subtask, ends);
        ends.assigned(P0, 0);
        ends.assigned(P1, org.apache.flink.connector.kafka.source.split.KafkaPartitionSplit.COMMITTED_OFFSET);
        kafkaEnds.put(P0, 0L);
        kafkaEnds.put(P1, 3L); // three records wait in partition 1

        quietFor(PartitionProgress.IDLE_MS);
        emitFrom(unread);
        assertThat(idle).as("partition 1 has records to read").isEmpty();
        assertThat(emitted).as("and nothing read: no claim").isEmpty();

        kafkaEnds.put(P1, 0L);
        quietFor(1_000);
        emitFrom(unread);
        assertThat(idle).hasSize(1);
    }

    /**
     * One that read nothing and starts at its end has no time to claim: it is idle after {@link
     * PartitionProgress#QUIET_MS}, so that it is not idle only in the same check as the partitions read, when Flink
     * would keep the subtask's watermark where it was (every partition idle).
     */
    @Test
    void aPartitionThatReadNothingAndStartsAtItsEndIsIdleOnceQuietNotOnlyAfterTheIdleTime() throws Exception {
        PartitionProgress unread = new PartitionProgress(activity, subtask, ends);
        ends.assigned(P1, 4);
        kafkaEnds.put(P1, 4L);

        quietFor(PartitionProgress.QUIET_MS - 1);
        emitFrom(unread);
        assertThat(idle).isEmpty();
        quietFor(1);
        emitFrom(unread);
        assertThat(idle).hasSize(1);
    }

    /**
     * A partition read to its end by a look claims its subtask's newest time only as far as the subtask had read before
     * the look: a record appended to it after the look may be older than what another partition read meanwhile
     * (review finding).
     */
    @Test
    void aPartitionClaimsOfItsSubtasksNewestOnlyWhatWasReadBeforeTheLook() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 2L);
        read(p0, 0, 1_000);
        read(p0, 1, 1_001);
        quietFor(PartitionProgress.SUBTASK_QUIET_MS);

        other(1_500); // after the last look
        emitFrom(p0);
        assertThat(emitted).last().isEqualTo(1_001L);

        quietFor(1_000);
        emitFrom(p0);
        assertThat(emitted).last().isEqualTo(1_500L);
    }

    /**
     * Read past the end of a look asked before the read, the look cannot say what follows: here the topic was empty at
     * the look, and three records have come since. Before, a reader past the end counted as starting again at the
     * beginning, which for an empty look was its end (review finding).
     */
    @Test
    void aReadPastTheEndOfAnOlderLookWaitsForALookAfterIt() throws Exception {
        ends.assigned(P0, 0);
        ends.lookNow(lookup); // empty
        kafkaEnds.put(P0, 3L);
        read(p0, 0, 1_000);
        read(p0, 1, 1_001);

        activity.advanceTime(PartitionProgress.QUIET_MS, TimeUnit.MILLISECONDS);
        emitFrom(p0);
        assertThat(emitted).as("the look is older than the read").last().isEqualTo(1_000L);

        quietFor(PartitionProgress.IDLE_MS);
        emitFrom(p0);
        assertThat(emitted).as("a look after the read: a record waits at 2").last().isEqualTo(1_000L);
        assertThat(idle).isEmpty();
    }

    /**
     * A topic deleted and made again: the reader starts again from its beginning, and what it read counts from there,
     * not from the larger offsets of the old log (before, it kept the largest, so the partition never counted as read to
     * its end again until the new log passed the old one: its subtask held the job's watermark).
     */
    @Test
    void aPartitionReadAgainFromItsBeginningIsReadToItsEndWhereTheNewLogEnds() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 5L);
        for (int offset = 0; offset < 5; offset++) {
            read(p0, offset, 1_000 + offset);
        }
        quietFor(PartitionProgress.QUIET_MS);

        kafkaEnds.put(P0, 1L); // made again, one record
        read(p0, 0, 2_000);
        quietFor(PartitionProgress.IDLE_MS);
        emitFrom(p0);

        assertThat(idle).hasSize(1);
    }

    /**
     * What a read on found (only markers up to the end) holds for that log only: once the log goes back (its topic made
     * again), a record may lie where markers lay (review finding).
     */
    @Test
    void whatAReadOnFoundIsForgottenWhenTheLogGoesBack() throws Exception {
        readToACommitMarkerAtItsEnd();

        madeAgainWithARecordWaitingPastTheReader();

        assertThat(idle).hasSize(1);
        assertThat(emitted).last().isEqualTo(2_000L);
    }

    /**
     * The log's going back is seen against the last range the partition had, not the last look's: a look without an
     * answer for it (no leader) in between hid it, and what the old log held past the reader counted for the new one.
     */
    @Test
    void whatAReadOnFoundIsForgottenWhenTheLogGoesBackAcrossALookWithoutAnAnswer() throws Exception {
        readToACommitMarkerAtItsEnd();
        unanswered.add(P0);
        quietFor(1_000);
        unanswered.remove(P0);

        madeAgainWithARecordWaitingPastTheReader();

        assertThat(idle).hasSize(1);
        assertThat(emitted).last().isEqualTo(2_000L);
    }

    /** Two records and a commit marker, read to the marker: idle once a read on has found only the marker. */
    private void readToACommitMarkerAtItsEnd() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 3L);
        markersUpTo.put(P0, 3L); // a commit marker at 2
        read(p0, 0, 1_000);
        read(p0, 1, 1_001);
        quietFor(PartitionProgress.IDLE_MS);
        emitFrom(p0); // asks for a read on
        quietFor(1_000);
        emitFrom(p0);
        assertThat(idle).hasSize(1);
    }

    /** The topic deleted and made again with three records, the first two read again: a record waits at 2. */
    private void madeAgainWithARecordWaitingPastTheReader() throws Exception {
        kafkaEnds.put(P0, 0L);
        markersUpTo.remove(P0);
        quietFor(1_000);
        kafkaEnds.put(P0, 3L);
        read(p0, 0, 2_000);
        read(p0, 1, 2_001);
        quietFor(PartitionProgress.IDLE_MS);
        emitFrom(p0);
    }

    /**
     * A read on stopped short of the end (many markers, or records of a transaction aborted, to go through) goes on
     * from where it stopped at the next look, not from the start again, so it gets to the end.
     */
    @Test
    void aReadOnGoesOnFromWhereTheLastStopped() throws Exception {
        List<Long> readOnFrom = new ArrayList<>();
        PartitionEnds.Lookup slow = new PartitionEnds.Lookup() {
            @Override
            public Map<TopicPartition, PartitionEnds.Range> ranges(Collection<TopicPartition> partitions) {
                return Map.of(P0, new PartitionEnds.Range(0, 10));
            }

            @Override
            public Map<TopicPartition, Long> committed(Collection<TopicPartition> partitions) {
                return Map.of();
            }

            @Override
            public Map<TopicPartition, Long> recordlessUpTo(Map<TopicPartition, PartitionEnds.Gap> gaps) {
                long from = gaps.get(P0).from();
                readOnFrom.add(from);
                return Map.of(P0, Math.min(from + 3, 10)); // three markers a look
            }
        };
        PartitionEnds.Read read = ends.reading(P0);
        read.readTo(2);
        ends.assigned(P0, 0);
        for (int look = 0; look < 5; look++) {
            ends.lookNow(slow);
            ends.caughtUp(read);
            wall.advanceTime(1, TimeUnit.SECONDS);
        }

        assertThat(readOnFrom).containsExactly(2L, 5L, 8L);
        assertThat(ends.caughtUp(read)).isNotNull();
    }

    /** Another partition of the subtask reads a record of this Kafka time. */
    private void other(long kafkaTime) {
        new PartitionProgress(new ManualClock(), subtask, null).onEvent(
                new KafkaRecord("t", 9, 0, kafkaTime, null, null), kafkaTime, output);
    }

    /**
     * A subtask given no partition (more subtasks than partitions) has nothing to read: its generator, which reads
     * nothing, is idle once quiet, or the job's watermark would wait for it for good (review finding).
     */
    @Test
    void aSubtaskWithoutPartitionsIsIdleOnceQuiet() throws Exception {
        PartitionProgress main = new PartitionProgress(activity, subtask, ends);

        quietFor(PartitionProgress.QUIET_MS);
        emitFrom(main);

        assertThat(idle).hasSize(1);
    }

    /**
     * A split whose start is past the partition's end (its topic deleted and made again, its log truncated): the
     * reader starts again from the beginning, so records wait; it is not read to its end (review finding).
     */
    @Test
    void aStartPastThePartitionsEndIsReadFromItsBeginningSoRecordsWait() throws Exception {
        PartitionProgress unread = new PartitionProgress(activity, subtask, ends);
        ends.assigned(P1, 10);
        kafkaEnds.put(P1, 3L);

        quietFor(PartitionProgress.IDLE_MS);
        emitFrom(unread);

        assertThat(idle).isEmpty();
    }

    /**
     * A topic written with transactions ends with a commit marker, which no consumer hands on: read to its last record,
     * the partition is short of its end by the marker. It is read to its end once a read on from there finds only
     * markers up to the end; while a record lies there, it is not (review finding).
     */
    @Test
    void onlyTransactionMarkersLeftCountAsReadToTheEnd() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 3L); // records at 0 and 1, a commit marker at 2
        read(p0, 0, 1_000);
        read(p0, 1, 1_001);

        quietFor(PartitionProgress.IDLE_MS);
        emitFrom(p0);
        assertThat(idle).as("a record may lie at 2").isEmpty();

        markersUpTo.put(P0, 3L);
        quietFor(2_000); // a look asks, the next answers
        emitFrom(p0);
        assertThat(idle).hasSize(1);
    }

    /**
     * A topic deleted while its split is still assigned has nothing more to read, once Kafka has said so for a while:
     * one broker behind the cluster's metadata (restarted, or a topic just made) says a topic is unknown too, and a
     * partition with records waiting would then count as read to its end (review finding).
     */
    @Test
    void aPartitionWhoseTopicIsGoneIsReadToItsEndOnceKafkaSaysSoForAWhile() throws Exception {
        quietWithRecordsWaiting();

        gone.add(P0);
        quietFor(1_000);
        emitFrom(p0);
        assertThat(idle).as("unknown to one look: not gone yet").isEmpty();
        quietFor(PartitionEnds.GONE_AFTER_MS);
        emitFrom(p0);
        assertThat(idle).hasSize(1);
    }

    /** One record read, four waiting: quiet, checked after the read, and not idle. */
    private void quietWithRecordsWaiting() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 5L);
        read(p0, 0, 1_000);
        quietFor(PartitionProgress.IDLE_MS);
        emitFrom(p0);
        assertThat(idle).isEmpty();
    }

    /** Unknown only to answers with no answer between them: looks that could not say do not make it gone for longer. */
    @Test
    void aTopicIsGoneOnlyOnceKafkaCallsItUnknownInEveryAnswerForAWhile() throws Exception {
        quietWithRecordsWaiting();

        gone.add(P0);
        quietFor(1_000);
        unanswered.add(P0);
        quietFor(PartitionEnds.GONE_AFTER_MS);
        unanswered.remove(P0);
        quietFor(1_000);
        emitFrom(p0);
        assertThat(idle).as("unknown to two answers, 6 s apart").isEmpty();

        quietFor(PartitionEnds.GONE_AFTER_MS);
        emitFrom(p0);
        assertThat(idle).hasSize(1);
    }

    /**
     * A topic made again and read again to the same offset as before is a read of its own: a look asked between the two
     * reads, when the new log was still empty, is older than it and cannot say what follows (review finding; the check
     * kept the first read's time, took that look for one after the read, and claimed the newest with a record waiting).
     */
    @Test
    void theSameOffsetReadAgainInALogMadeAgainIsANewRead() throws Exception {
        ends.assigned(P0, 0);
        kafkaEnds.put(P0, 2L);
        read(p0, 0, 1_000);
        read(p0, 1, 1_001);
        quietFor(PartitionProgress.QUIET_MS);
        emitFrom(p0);
        assertThat(emitted).last().isEqualTo(1_001L);

        kafkaEnds.put(P0, 0L); // made again, empty at this look
        quietFor(1_000);
        kafkaEnds.put(P0, 3L); // three records since, the last not read yet
        read(p0, 0, 2_000);
        read(p0, 1, 2_001);
        activity.advanceTime(PartitionProgress.QUIET_MS, TimeUnit.MILLISECONDS); // no look since
        emitFrom(p0);

        assertThat(emitted).last().isEqualTo(2_000L);
    }

    /**
     * The thread that looks stopped by an error: no quiet partition would count as read to its end again, and the
     * watermark would stand still without a word. The task fails instead, and restarts (review finding).
     */
    @Test
    void aLookThatStoppedFailsTheTaskAtItsNextCheck() throws Exception {
        PartitionEnds broken = new PartitionEnds(() -> {
            throw new LinkageError("a client class missing");
        }, () -> wall.relativeTimeMillis());
        broken.assigned(P0, 0);
        broken.start("test look");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            Throwable failed = null;
            while (failed == null && System.nanoTime() < deadline) {
                try {
                    broken.unreadCaughtUp();
                    Thread.sleep(10);
                } catch (IllegalStateException e) {
                    failed = e;
                }
            }
            assertThat(failed).hasRootCauseInstanceOf(LinkageError.class);
        } finally {
            broken.close();
        }
    }
}
