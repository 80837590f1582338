package io.cdcindexer.bench;

import io.cdcindexer.cli.Cdc;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** What the benchmarks share: reading their flags, and stopping a local stack one of them started. */
final class Benchmarks {

    private Benchmarks() {}

    /**
     * {@code --name value} pairs from {@code argv[from]} on. A name not among {@code known}, or one without a value, is
     * refused: a benchmark that ignored a mistyped option would measure something else than asked, and say nothing.
     */
    static Map<String, String> flags(String[] argv, int from, List<String> known) {
        Map<String, String> flags = new HashMap<>();
        for (int i = from; i < argv.length; i += 2) {
            if (!known.contains(argv[i])) {
                throw new IllegalArgumentException("Unknown option " + argv[i] + "; the options are "
                        + String.join(", ", known));
            }
            if (i + 1 == argv.length) {
                throw new IllegalArgumentException("Option " + argv[i] + " needs a value");
            }
            flags.put(argv[i], argv[i + 1]);
        }
        return flags;
    }

    /** {@code ./cdc down}; the data folder is deleted after a run that completed, unless {@code --keep true}. */
    static void down(Path dir, boolean completed, boolean keep) {
        List<String> down = new ArrayList<>(List.of("down", "--data-dir", dir.toString()));
        if (completed && !keep) {
            down.add("--purge");
        } else {
            System.err.println("Kept the stack's data and logs in " + dir);
        }
        Cdc.run(down.toArray(String[]::new));
    }
}
