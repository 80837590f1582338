package io.cdcindexer.stack;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository root: where the service poms, the Flink configuration and the job jar are found. */
public final class ProjectHome {

    /** Set by the {@code ./cdc} launcher; tests and IDE runs find the root from the working directory instead. */
    public static final String PROPERTY = "cdc.home";

    private ProjectHome() {}

    public static Path dir() {
        String configured = System.getProperty(PROPERTY);
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured).toAbsolutePath().normalize();
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve("src/stack")) && Files.isRegularFile(dir.resolve("pom.xml"))) {
                return dir;
            }
        }
        throw new StackException("Cannot find the cdc-indexer repository from " + Path.of("").toAbsolutePath()
                + "; run from inside it or pass -D" + PROPERTY + "=<repository root>");
    }
}
