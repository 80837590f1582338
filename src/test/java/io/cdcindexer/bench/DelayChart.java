package io.cdcindexer.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * An SVG picture of one latency run: each transaction's commit → visible delay (a dot) at the time it committed, the
 * checkpoints as shaded bands from trigger to completion, and the target as a line, so that a stall is seen at a
 * glance and whether it lines up with a checkpoint.
 */
final class DelayChart {

    /**
     * One transaction: when it committed (ms from the start of the load), its commit → visible delay in ms, and whether
     * it counts (after the warm-up; drawn grey otherwise).
     */
    record Point(long atMs, long delayMs, boolean measured) {}

    /** One checkpoint: triggered and completed, in ms from the start of the load. */
    record Checkpoint(long id, long triggeredMs, long completedMs) {}

    private static final int WIDTH = 1000;
    private static final int HEIGHT = 400;
    private static final int LEFT = 60;
    private static final int RIGHT = 20;
    private static final int TOP = 30;
    private static final int BOTTOM = 40;

    private DelayChart() {}

    /** Writes the picture; the delay axis is logarithmic, from 10 ms to the largest delay (at least 1 s). */
    static void write(Path file, String title, List<Point> points, List<Checkpoint> checkpoints, long targetMs,
            long durationMs) throws IOException {
        long maxDelay = Math.max(1000, points.stream().mapToLong(Point::delayMs).max().orElse(1000));
        double top = Math.log10(roundUp(maxDelay));
        double bottom = 1; // 10 ms
        int plotWidth = WIDTH - LEFT - RIGHT;
        int plotHeight = HEIGHT - TOP - BOTTOM;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "font-family=\"sans-serif\" font-size=\"11\">%n", WIDTH, HEIGHT));
        svg.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, HEIGHT));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"13\">%s</text>%n", LEFT,
                escape(title)));
        for (Checkpoint checkpoint : checkpoints) {
            double x1 = LEFT + plotWidth * clamp(checkpoint.triggeredMs(), durationMs) / (double) durationMs;
            double x2 = LEFT + plotWidth * clamp(checkpoint.completedMs(), durationMs) / (double) durationMs;
            svg.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                    + "fill=\"#f5c26b\" fill-opacity=\"0.45\"><title>checkpoint %d: %d ms</title></rect>%n", x1, TOP,
                    Math.max(1.5, x2 - x1), plotHeight, checkpoint.id(),
                    checkpoint.completedMs() - checkpoint.triggeredMs()));
        }
        for (long tick = 10; tick <= roundUp(maxDelay); tick *= 10) {
            for (long step : new long[] {1, 2, 5}) {
                long value = tick * step;
                if (value > roundUp(maxDelay)) {
                    break;
                }
                double y = y(value, bottom, top, plotHeight);
                svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                        + "stroke=\"#ddd\"/>%n", LEFT, WIDTH - RIGHT, y, y));
                svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n",
                        LEFT - 5, y + 4, value >= 1000 ? value / 1000 + " s" : value + " ms"));
            }
        }
        for (long second = 0; second <= durationMs / 1000; second += 10) {
            double x = LEFT + plotWidth * second * 1000.0 / durationMs;
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d s</text>%n", x,
                    HEIGHT - BOTTOM + 15, second));
        }
        for (boolean measured : new boolean[] {false, true}) {
            StringBuilder dots = new StringBuilder(measured ? "<path fill=\"#1f5fa8\" d=\"" : "<path fill=\"#aaa\" d=\"");
            for (Point point : points) {
                if (point.measured() == measured) {
                    double x = LEFT + plotWidth * clamp(point.atMs(), durationMs) / (double) durationMs;
                    double y = y(Math.max(10, point.delayMs()), bottom, top, plotHeight);
                    dots.append(String.format(Locale.ROOT, "M%.1f %.1fh1.6v1.6h-1.6z", x - 0.8, y - 0.8));
                }
            }
            svg.append(dots).append("\"/>\n");
        }
        double target = y(targetMs, bottom, top, plotHeight);
        svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" "
                + "stroke-dasharray=\"6 4\"/>%n", LEFT, WIDTH - RIGHT, target, target));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#c0392b\">"
                + "target p99 %d ms</text>%n", WIDTH - RIGHT - 4, target - 4, targetMs));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">commit → visible per transaction (log scale; grey: warm-up, "
                + "not counted); shaded: checkpoints, trigger to completion; x: time from the start of the load</text>%n", LEFT,
                HEIGHT - 6));
        svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                + "stroke=\"#888\"/>%n", LEFT, TOP, plotWidth, plotHeight));
        svg.append("</svg>\n");
        Files.writeString(file, svg);
    }

    private static double y(long value, double bottom, double top, int plotHeight) {
        double fraction = (Math.log10(value) - bottom) / (top - bottom);
        return TOP + plotHeight * (1 - Math.max(0, Math.min(1, fraction)));
    }

    private static long clamp(long ms, long durationMs) {
        return Math.max(0, Math.min(durationMs, ms));
    }

    private static long roundUp(long ms) {
        long power = 10;
        while (power < ms) {
            power *= 10;
        }
        return power / 2 >= ms ? power / 2 : power;
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
