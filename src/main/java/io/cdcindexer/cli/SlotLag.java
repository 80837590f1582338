package io.cdcindexer.cli;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Locale;
import java.util.Optional;

/**
 * How far the connector's replication slot is behind the WAL, judged from two samples taken a moment apart: an inactive
 * slot while the WAL grows means nobody reads the changes and PostgreSQL keeps all of that WAL until somebody does.
 */
final class SlotLag {

    private SlotLag() {}

    /**
     * The slot at one moment.
     *
     * @param walPosition the server's current WAL position, in bytes
     * @param behindBytes WAL written since the position the connector last confirmed (its {@code confirmed_flush_lsn})
     * @param walStatus PostgreSQL's {@code wal_status}: reserved, extended, unreserved or lost
     */
    record Sample(long atMillis, boolean active, String plugin, String walStatus, long walPosition, long behindBytes) {}

    private static final String SQL = "SELECT active, plugin, wal_status, "
            + "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, "
            + "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint "
            + "FROM pg_replication_slots WHERE slot_name = ?";

    /** The slot's sample, or empty when there is no such slot. */
    static Optional<Sample> sample(Connection db, String slot) throws Exception {
        try (PreparedStatement statement = db.prepareStatement(SQL)) {
            statement.setString(1, slot);
            try (ResultSet rs = statement.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new Sample(System.currentTimeMillis(), rs.getBoolean(1), rs.getString(2),
                        rs.getString(3), rs.getLong(4), rs.getLong(5)));
            }
        }
    }

    /** Healthy or not, and what to say, from two samples of the slot (the later one is the one shown). */
    static StatusCommand.Seen judge(Sample first, Sample second) {
        String behind = bytes(second.behindBytes()) + " behind";
        long walGrowth = second.walPosition() - first.walPosition();
        String window = StatusCommand.ago(second.atMillis() - first.atMillis());
        if ("lost".equals(second.walStatus())) {
            return new StatusCommand.Seen(false, (second.active() ? "active" : "inactive") + ", " + second.plugin()
                    + ", the WAL it needs was removed (max_slot_wal_keep_size): the connector cannot resume from it "
                    + "and needs a new slot and snapshot");
        }
        if (second.active()) {
            return new StatusCommand.Seen(true, "active, " + second.plugin() + ", " + behind);
        }
        if (walGrowth > 0) {
            return new StatusCommand.Seen(false, "inactive, " + second.plugin() + ", " + behind + " and the WAL grows ("
                    + bytes(walGrowth) + " in " + window + "): no connector reads the slot, so PostgreSQL keeps "
                    + "all of it");
        }
        return new StatusCommand.Seen(true, "inactive, " + second.plugin() + ", " + behind + " (no connector reads it; "
                + "nothing was written in " + window + ", so nothing piles up yet)");
    }

    /** A size as PostgreSQL's pg_size_pretty writes it: bytes up to 10 kB, then kB, MB, GB (base 1024, rounded). */
    static String bytes(long bytes) {
        if (Math.abs(bytes) < 10 * 1024) {
            return String.format(Locale.ROOT, "%d bytes", bytes);
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double value = bytes;
        int unit = -1;
        do {
            value /= 1024;
            unit++;
        } while (Math.abs(value) >= 10 * 1024 && unit < units.length - 1);
        return Math.round(value) + " " + units[unit];
    }
}
