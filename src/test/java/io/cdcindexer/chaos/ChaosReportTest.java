package io.cdcindexer.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The chaos run's figures as printed and drawn, from a report made by hand. */
class ChaosReportTest {

    static final long START = 1_000_000L;

    static ChaosRun.Report report(List<ChaosRun.FaultResult> faults, ChaosRun.VerifyResult verify, List<String> failures) {
        List<VisibilityProbe.Sample> probes = List.of(
                new VisibilityProbe.Sample(1, START + 1_000, START + 1_300),
                new VisibilityProbe.Sample(2, START + 31_000, START + 55_000),
                new VisibilityProbe.Sample(3, START + 61_000, 0));
        return new ChaosRun.Report(Instant.parse("2026-11-30T10:00:00Z"), START, START + 120_000, faults, probes,
                100_000, 50_000, 7, 1, kinds(), verify, List.of(), 4, "RUNNING", failures);
    }

    static Map<ChangeKind, Long> kinds() {
        Map<ChangeKind, Long> kinds = new EnumMap<>(ChangeKind.class);
        for (ChangeKind kind : ChangeKind.values()) {
            kinds.put(kind, 1_000L + kind.ordinal());
        }
        return kinds;
    }

    static final ChaosRun.FaultResult TASKMANAGER = new ChaosRun.FaultResult(Fault.TASKMANAGER, START + 30_000,
            START + 32_000, START + 55_000, 12_345, 24_000, 25, 2, 4, 1, 0);

    @Test
    void eachFaultIsOneRowWithItsFigures() {
        String markdown = ChaosReport.markdown(report(List.of(TASKMANAGER),
                new ChaosRun.VerifyResult(8_000, 900, 0, 0, 0, "", Map.of()), List.of()));

        assertThat(markdown)
                .contains("| kill -9 of the TaskManager running the job | 30.0 s | 12,345 | 25.0 s | 24.0 s | 25 | 2 | 4 | 1 | 0 |")
                .contains("- load: 50,000 changes in 7 transactions over 100.0 s (500 changes/s)")
                .contains("- probes: 3 committed, 2 seen in Elasticsearch")
                .contains("- changes by kind: 1,000 insert, 1,001 reinsert, 1,002 update, 1,003 move, 1,004 toast changed, "
                        + "1,005 toast unchanged, 1,006 delete, 1,007 large row")
                .contains("- verify: 0 missing, 0 extra, 0 stale (8,000 rows, 900 joined documents)")
                .contains("- dead letters: exactly the 4 poison records")
                .contains("- result: PASSED");
    }

    @Test
    void aFaultNeverRecoveredFromAndALossAreSaid() {
        ChaosRun.FaultResult stuck = new ChaosRun.FaultResult(Fault.KAFKA, START + 30_000, START + 31_000, 0, 9, 90_000,
                0, 0, 0, 1, 0);

        String markdown = ChaosReport.markdown(report(List.of(stuck), new ChaosRun.VerifyResult(8_000, 3, 0, 1, ""),
                List.of("verify: 3 missing, 0 extra, 1 stale")));

        assertThat(markdown).contains("| **not recovered** |").contains("- result: FAILED: verify: 3 missing");
    }

    @Test
    void aVerifyThatCouldNotRunFailsTheRunAndSaysWhy() {
        ChaosRun.VerifyResult verify = ChaosRun.VerifyResult.couldNotRun("CliException: no table public.shop_items");

        assertThat(verify.inStep()).isFalse();
        assertThat(ChaosReport.markdown(report(List.of(TASKMANAGER), verify, List.of("verify: " + verify))))
                .contains("- verify: could not run: CliException: no table public.shop_items")
                .contains("- result: FAILED");
    }

    @Test
    void thePictureMarksEachFaultAndPlotsTheVisibleProbes() {
        String svg = ChaosReport.svg(report(List.of(TASKMANAGER), new ChaosRun.VerifyResult(1, 0, 0, 0, ""), List.of()));

        assertThat(svg).startsWith("<svg").endsWith("</svg>\n")
                .contains("<title>kill -9 of the TaskManager running the job</title>").contains(">1 taskmanager</text>")
                .contains("passed");
        // Two visible probes are drawn (one short mark each); the unseen one is not.
        assertThat(svg.split("h1.5", -1)).hasSize(3);
    }
}
