package io.cdcindexer.cli;

import io.cdcindexer.stack.ProjectHome;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/** Where the local stack keeps its data, logs and PIDs: {@code --data-dir}, env CDC_DATA_DIR, default {@code .cdc/}. */
public final class DataDirOption {

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "${env:CDC_DATA_DIR}",
            description = "Data, logs and PIDs of the local stack (env CDC_DATA_DIR, default .cdc/ in the repository).")
    Path dataDir;

    /** The folder, absolute. */
    public Path resolve() {
        return (dataDir != null ? dataDir : ProjectHome.dir().resolve(".cdc")).toAbsolutePath().normalize();
    }
}
