package io.cdcindexer.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServiceClasspathTest {

    @TempDir
    Path dir;

    @Test
    void missingCacheIsStale() throws Exception {
        Path pom = touch("pom.xml", "<project/>", Instant.now());

        assertThat(ServiceClasspath.isStale(pom, dir.resolve("x.classpath"))).isTrue();
    }

    @Test
    void cacheNewerThanThePomWithExistingJarsIsFresh() throws Exception {
        Path jar = touch("a.jar", "", Instant.now());
        Path pom = touch("pom.xml", "<project/>", Instant.now().minusSeconds(60));
        Path cache = touch("x.classpath", jar.toString(), Instant.now());

        assertThat(ServiceClasspath.isStale(pom, cache)).isFalse();
    }

    @Test
    void pomChangedAfterResolutionIsStale() throws Exception {
        Path jar = touch("a.jar", "", Instant.now());
        Path cache = touch("x.classpath", jar.toString(), Instant.now().minusSeconds(60));
        Path pom = touch("pom.xml", "<project/>", Instant.now());

        assertThat(ServiceClasspath.isStale(pom, cache)).isTrue();
    }

    @Test
    void cacheNamingAJarThatIsGoneIsStale() throws Exception {
        Path jar = touch("a.jar", "", Instant.now());
        Path pom = touch("pom.xml", "<project/>", Instant.now().minusSeconds(60));
        Path cache = touch("x.classpath", jar + File.pathSeparator + dir.resolve("gone.jar"), Instant.now());

        assertThat(ServiceClasspath.isStale(pom, cache)).isTrue();
    }

    private Path touch(String name, String content, Instant modified) throws Exception {
        Path file = Files.writeString(dir.resolve(name), content);
        Files.setLastModifiedTime(file, FileTime.from(modified));
        return file;
    }
}
