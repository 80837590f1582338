package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When the replication slot is a problem, from two samples 2 s apart. */
class SlotLagTest {

    private static SlotLag.Sample slot(long at, boolean active, String walStatus, long walPosition, long behind) {
        return new SlotLag.Sample(at, active, "pgoutput", walStatus, walPosition, behind);
    }

    @Test
    void anActiveSlotSaysHowFarBehindItIs() {
        StatusCommand.Seen seen = SlotLag.judge(slot(0, true, "reserved", 1_000_000, 12_000),
                slot(2_000, true, "reserved", 1_300_000, 18_432));

        assertThat(seen).isEqualTo(new StatusCommand.Seen(true, "active, pgoutput, 18 kB behind"));
    }

    @Test
    void anInactiveSlotWhileTheWalGrowsIsUnhealthy() {
        StatusCommand.Seen seen = SlotLag.judge(slot(0, false, "reserved", 50_000_000, 40_000_000),
                slot(2_000, false, "reserved", 50_400_000, 40_400_000));

        assertThat(seen).isEqualTo(new StatusCommand.Seen(false, "inactive, pgoutput, 39 MB behind and the WAL grows "
                + "(391 kB in 2 s): no connector reads the slot, so PostgreSQL keeps all of it"));
    }

    @Test
    void anInactiveSlotWithNothingWrittenIsSaidButHealthy() {
        StatusCommand.Seen seen = SlotLag.judge(slot(0, false, "reserved", 50_000_000, 2_048),
                slot(2_000, false, "reserved", 50_000_000, 2_048));

        assertThat(seen).isEqualTo(new StatusCommand.Seen(true, "inactive, pgoutput, 2048 bytes behind (no connector "
                + "reads it; nothing was written in 2 s, so nothing piles up yet)"));
    }

    @Test
    void aSlotWhoseWalWasRemovedIsUnhealthyEvenWhileActive() {
        StatusCommand.Seen seen = SlotLag.judge(slot(0, true, "lost", 1, 1), slot(2_000, true, "lost", 1, 1));

        assertThat(seen.healthy()).isFalse();
        assertThat(seen.detail()).contains("the WAL it needs was removed");
    }

    @Test
    void sizesReadAsPgSizePrettyWritesThem() {
        assertThat(SlotLag.bytes(0)).isEqualTo("0 bytes");
        assertThat(SlotLag.bytes(10 * 1024 - 1)).isEqualTo("10239 bytes");
        assertThat(SlotLag.bytes(10 * 1024)).isEqualTo("10 kB");
        assertThat(SlotLag.bytes(18_700)).isEqualTo("18 kB");
        assertThat(SlotLag.bytes(10L * 1024 * 1024)).isEqualTo("10 MB");
        assertThat(SlotLag.bytes(3L * 1024 * 1024 * 1024 * 1024)).isEqualTo("3072 GB");
    }
}
