package io.cdcindexer.chaos;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * A chaos run's {@link ChaosRun.Report} as people read it: a Markdown table of the faults (the terminal and
 * docs/reliability.md show the same), a verdict, and an SVG picture of commit → visible delay over the run with each
 * fault marked.
 */
public final class ChaosReport {

    private ChaosReport() {}

    /** The per-fault table and the end checks, in Markdown. */
    public static String markdown(ChaosRun.Report report) {
        StringBuilder out = new StringBuilder();
        out.append("| fault | at | changes committed meanwhile | time to recover | worst commit → visible | "
                + "409s absorbed | stale changes dropped | job restarts | services restarted | job resumed |\n");
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (ChaosRun.FaultResult fault : report.faults()) {
            out.append(String.format(Locale.ROOT, "| %s | %s | %,d | %s | %s | %,d | %,d | %d | %d | %d |%n",
                    fault.fault().description(), seconds(fault.startedAtMillis() - report.startMillis()),
                    fault.changesDuring(), fault.recovered() ? seconds(fault.recovery().toMillis()) : "**not recovered**",
                    seconds(fault.worstDelayMillis()), fault.conflicts(), fault.staleDropped(), fault.jobRestarts(),
                    fault.serviceRestarts(), fault.jobResumes()));
        }
        List<VisibilityProbe.Sample> visible = report.probes().stream().filter(VisibilityProbe.Sample::visible).toList();
        out.append('\n');
        out.append(String.format(Locale.ROOT, "- load: %,d changes in %,d transactions over %s (%,.0f changes/s), "
                + "%,d transactions failed and were retried with fresh work%n", report.changes(), report.transactions(),
                seconds(report.loadMillis()), report.changes() * 1000.0 / Math.max(1, report.loadMillis()),
                report.failedTransactions()));
        out.append("- changes by kind: ").append(report.changesByKind().entrySet().stream()
                .map(kind -> String.format(Locale.ROOT, "%,d %s", kind.getValue(),
                        kind.getKey().name().toLowerCase(Locale.ROOT).replace('_', ' ')))
                .collect(Collectors.joining(", "))).append('\n');
        out.append(String.format(Locale.ROOT, "- probes: %,d committed, %,d seen in Elasticsearch%n",
                report.probes().size(), visible.size()));
        out.append("- verify: ").append(report.verify()).append('\n');
        out.append("- dead letters: ").append(report.poisonInjected() == 0 ? "no poison injected"
                : report.deadLetterProblems().isEmpty()
                        ? "exactly the " + report.poisonInjected() + " poison records, each with its reason"
                        : String.join("; ", report.deadLetterProblems())).append('\n');
        out.append("- job: ").append(report.jobState()).append('\n');
        out.append("- result: ").append(report.passed() ? "PASSED" : "FAILED: " + String.join("; ", report.failures()))
                .append('\n');
        return out.toString();
    }

    private static String seconds(long millis) {
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    /**
     * Commit → visible delay of every probe over the run (log scale, 50 ms to the worst), faults as shaded spans from
     * injection to recovery, numbered as in the table.
     */
    public static String svg(ChaosRun.Report report) {
        int width = 1100;
        int height = 420;
        int left = 70;
        int right = 20;
        int top = 40;
        int bottom = 50;
        double plotWidth = width - left - right;
        double plotHeight = height - top - bottom;
        double span = Math.max(1, report.endMillis() - report.startMillis());
        double maxDelay = Math.max(1000, report.probes().stream().filter(VisibilityProbe.Sample::visible)
                .mapToLong(VisibilityProbe.Sample::delayMillis).max().orElse(1000));
        double logMin = Math.log10(50);
        double logMax = Math.log10(maxDelay * 1.2);
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "font-family=\"sans-serif\" font-size=\"11\">%n", width, height));
        svg.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-size=\"14\">Commit → visible delay of each "
                + "probe row during the chaos run (%s, %s)</text>%n", left, report.started(),
                report.passed() ? "passed" : "FAILED"));
        int number = 1;
        for (ChaosRun.FaultResult fault : report.faults()) {
            double x0 = left + plotWidth * (fault.startedAtMillis() - report.startMillis()) / span;
            long end = fault.recovered() ? fault.recoveredAtMillis() : report.endMillis();
            double x1 = left + plotWidth * (end - report.startMillis()) / span;
            svg.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.0f\" "
                    + "fill=\"#f4a261\" fill-opacity=\"0.3\"><title>%s</title></rect>%n", x0, top, Math.max(1.5, x1 - x0),
                    plotHeight, escape(fault.fault().description())));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" fill=\"#b5541b\">%d %s</text>%n", x0 + 2,
                    top + 12 + 12 * ((number - 1) % 2), number, fault.fault().cliName()));
            number++;
        }
        for (double delay : new double[] {100, 300, 1000, 3000, 10_000, 30_000, 100_000, 300_000}) {
            if (delay > maxDelay * 1.2) {
                break;
            }
            double y = top + plotHeight * (1 - (Math.log10(delay) - logMin) / (logMax - logMin));
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", left, width - right, y, y, left - 6,
                    y + 4, delay < 1000 ? (int) delay + " ms" : (int) (delay / 1000) + " s"));
        }
        StringBuilder points = new StringBuilder();
        for (VisibilityProbe.Sample sample : report.probes()) {
            if (!sample.visible()) {
                continue;
            }
            double x = left + plotWidth * (sample.committedAt() - report.startMillis()) / span;
            double delay = Math.max(50, sample.delayMillis());
            double y = top + plotHeight * (1 - (Math.log10(delay) - logMin) / (logMax - logMin));
            points.append(String.format(Locale.ROOT, "M%.1f %.1fh1.5", x, y));
        }
        svg.append("<path d=\"").append(points).append("\" stroke=\"#264653\" stroke-width=\"1.5\"/>\n");
        for (int minute = 0; minute * 60_000L <= span; minute += Math.max(1, (int) (span / 60_000 / 12) + 1)) {
            double x = left + plotWidth * minute * 60_000L / span;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/>"
                    + "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%d min</text>%n", x, x, top + plotHeight,
                    top + plotHeight + 5, x, top + plotHeight + 18, minute));
        }
        svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                + "stroke=\"#333\"/>%n", left, top, plotWidth, plotHeight));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">time since the run started; shaded: from each "
                + "fault to the first change committed after it being visible; log scale</text>%n", left, height - 12));
        svg.append("</svg>\n");
        return svg.toString();
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
