package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/** When the job's consumer lag is a problem, from two samples of end and committed offsets 2 s apart. */
class ConsumerLagTest {

    private static final TopicPartition ORDERS_0 = new TopicPartition("cdc.public.orders", 0);
    private static final TopicPartition ORDERS_1 = new TopicPartition("cdc.public.orders", 1);
    private static final TopicPartition USERS_0 = new TopicPartition("cdc.public.users", 0);
    private static final TopicPartition TRANSACTIONS_0 = new TopicPartition("cdc.transaction", 0);
    private static final long CHECKPOINT_INTERVAL = 10_000;

    /** Offsets as {partition, end, committed, partition, end, committed, ...}. */
    private static ConsumerLag.Sample sample(long at, Object... offsets) {
        Map<TopicPartition, Long> end = new HashMap<>();
        Map<TopicPartition, Long> committed = new HashMap<>();
        for (int i = 0; i < offsets.length; i += 3) {
            TopicPartition partition = (TopicPartition) offsets[i];
            end.put(partition, ((Number) offsets[i + 1]).longValue());
            committed.put(partition, ((Number) offsets[i + 2]).longValue());
        }
        return new ConsumerLag.Sample(at, end, committed);
    }

    @Test
    void lagIsEndMinusCommittedSummedOverPartitions() {
        ConsumerLag.Sample sample = sample(0, ORDERS_0, 1_000, 400, ORDERS_1, 50, 50, USERS_0, 7, 9);

        assertThat(sample.lag()).as("a committed offset past the end counts as 0, not -2").isEqualTo(600);
    }

    @Test
    void aJobThatReadsNothingWhileChangesArriveIsFallingBehind() {
        // 600 new changes in 2 s (300/s): two checkpoint intervals of them are 6,000, less than the 10,000 threshold.
        ConsumerLag.Sample first = sample(0, ORDERS_0, 20_000, 8_000, USERS_0, 5_000, 4_000, TRANSACTIONS_0, 900, 900);
        ConsumerLag.Sample second = sample(2_000, ORDERS_0, 20_500, 8_000, USERS_0, 5_100, 4_000, TRANSACTIONS_0, 900, 900);

        StatusCommand.Seen seen = ConsumerLag.judge(first, second, CHECKPOINT_INTERVAL);

        assertThat(seen.healthy()).isFalse();
        assertThat(seen.detail()).isEqualTo(String.join("\n",
                "13,600 records behind on 3 partitions, growing: +600 in 2 s",
                "the job is falling behind: more than 10,000 and growing (offsets are committed on each checkpoint, "
                        + "every 10 s, so some lag is normal under load)",
                "cdc.public.orders: 12,500 records",
                "cdc.public.users: 1,100 records"));
    }

    @Test
    void lagThatTwoCheckpointIntervalsOfTheLoadAccountForIsNormal() {
        // 2,000 changes/s and a commit every 10 s: up to ~20,000 records read but not yet committed, growing between
        // two checkpoints.
        ConsumerLag.Sample first = sample(0, ORDERS_0, 100_000, 82_000);
        ConsumerLag.Sample second = sample(2_000, ORDERS_0, 104_000, 82_000);

        StatusCommand.Seen seen = ConsumerLag.judge(first, second, CHECKPOINT_INTERVAL);

        assertThat(seen).isEqualTo(new StatusCommand.Seen(true, "22,000 records behind on 1 partition, growing: +4,000 in 2 s"));
    }

    @Test
    void theSameLoadWithLagBeyondTwoCheckpointIntervalsIsFallingBehind() {
        ConsumerLag.Sample first = sample(0, ORDERS_0, 100_000, 50_000);
        ConsumerLag.Sample second = sample(2_000, ORDERS_0, 104_000, 50_000);

        StatusCommand.Seen seen = ConsumerLag.judge(first, second, CHECKPOINT_INTERVAL);

        assertThat(seen.healthy()).isFalse();
        assertThat(seen.detail()).contains("54,000 records behind", "more than 40,000 and growing");
    }

    @Test
    void growingLagBelowTheThresholdIsHealthy() {
        StatusCommand.Seen seen = ConsumerLag.judge(sample(0, ORDERS_0, 9_000, 1_000), sample(2_000, ORDERS_0, 9_900, 1_000),
                CHECKPOINT_INTERVAL);

        assertThat(seen).isEqualTo(new StatusCommand.Seen(true, "8,900 records behind on 1 partition, growing: +900 in 2 s"));
    }

    @Test
    void largeLagThatShrinksIsACatchUpNotAProblem() {
        StatusCommand.Seen seen = ConsumerLag.judge(sample(0, ORDERS_0, 500_000, 100_000),
                sample(2_000, ORDERS_0, 500_000, 160_000), CHECKPOINT_INTERVAL);

        assertThat(seen).isEqualTo(new StatusCommand.Seen(true,
                "340,000 records behind on 1 partition, shrinking: -60,000 in 2 s"));
    }

    @Test
    void noLagIsSteady() {
        StatusCommand.Seen seen = ConsumerLag.judge(sample(0, ORDERS_0, 10, 10), sample(2_000, ORDERS_0, 10, 10),
                CHECKPOINT_INTERVAL);

        assertThat(seen).isEqualTo(new StatusCommand.Seen(true, "0 records behind on 1 partition, steady over 2 s"));
    }

    @Test
    void aGroupWithoutCommittedOffsetsHasNoLagToShowYet() {
        StatusCommand.Seen seen = ConsumerLag.judge(sample(0), sample(2_000), CHECKPOINT_INTERVAL);

        assertThat(seen).isEqualTo(new StatusCommand.Seen(true,
                "no committed offsets yet (the job commits them on each checkpoint)"));
    }
}
