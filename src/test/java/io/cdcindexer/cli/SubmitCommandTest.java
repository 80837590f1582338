package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SubmitCommandTest {

    @TempDir
    Path savepoints;

    @Test
    void resumesFromTheNewestCompleteSavepoint() throws Exception {
        savepoint("savepoint-old", Instant.now().minusSeconds(600));
        Path newest = savepoint("savepoint-new", Instant.now().minusSeconds(60));
        Files.createDirectories(savepoints.resolve("savepoint-unfinished")); // no _metadata: being written or broken

        assertThat(SubmitCommand.latestSavepoint(savepoints)).contains(newest);
    }

    @Test
    void noSavepointFolderMeansAFreshStart() throws Exception {
        assertThat(SubmitCommand.latestSavepoint(savepoints.resolve("missing"))).isEmpty();
    }

    private Path savepoint(String name, Instant taken) throws Exception {
        Path dir = Files.createDirectories(savepoints.resolve(name));
        Files.writeString(dir.resolve("_metadata"), "x");
        Files.setLastModifiedTime(dir.resolve("_metadata"), FileTime.from(taken));
        return dir;
    }
}
