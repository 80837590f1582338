package io.cdcindexer.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * Reads docker/docker-compose.yml as Compose does: variables interpolated from docker/.env, and YAML merge keys
 * ({@code <<: *anchor}, which Compose applies and YAML 1.2 parsers such as snakeyaml-engine leave as a key) merged.
 */
final class ComposeFileReader {

    static final Path COMPOSE_FILE = Path.of("docker/docker-compose.yml");
    static final Path ENV_FILE = Path.of("docker/.env");

    private ComposeFileReader() {}

    /** The compose file with {@code ${NAME}} taken from the env file and merge keys applied. */
    static Map<String, Object> read(Path file, Map<String, String> env) {
        String text = read(file);
        Matcher variable = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}").matcher(text);
        StringBuilder interpolated = new StringBuilder();
        while (variable.find()) {
            String name = variable.group(1);
            assertThat(env).as("%s uses ${%s}, which %s must define", file, name, ENV_FILE).containsKey(name);
            variable.appendReplacement(interpolated, Matcher.quoteReplacement(env.get(name)));
        }
        variable.appendTail(interpolated);
        @SuppressWarnings("unchecked")
        Map<String, Object> compose = (Map<String, Object>) merged(yaml(interpolated.toString()));
        return compose;
    }

    /** The compose file as written (no interpolation), merge keys applied. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> readRaw(Path file) {
        return (Map<String, Object>) merged(yaml(read(file)));
    }

    /** docker/.env: NAME=value lines, comments and blank lines skipped. */
    static Map<String, String> readEnvFile(Path file) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : read(file).split("\n")) {
            String trimmed = line.trim();
            if (!trimmed.isEmpty() && !trimmed.startsWith("#")) {
                int eq = trimmed.indexOf('=');
                assertThat(eq).as("line '%s' of %s: write NAME=value", line, file).isPositive();
                values.put(trimmed.substring(0, eq), trimmed.substring(eq + 1));
            }
        }
        return values;
    }

    /** A copy of the node with every {@code <<} merged in: keys written beside it win, as in Compose. */
    static Object merged(Object node) {
        if (node instanceof List<?> list) {
            return list.stream().map(ComposeFileReader::merged).toList();
        }
        if (!(node instanceof Map<?, ?> map)) {
            return node;
        }
        Map<String, Object> result = new LinkedHashMap<>();
        Object merge = map.get("<<");
        for (Object source : merge instanceof List<?> sources ? sources : merge == null ? List.of() : List.of(merge)) {
            assertThat(source).as("a merge key (<<) must name a mapping").isInstanceOf(Map.class);
            ((Map<?, ?>) merged(source)).forEach((key, value) -> result.putIfAbsent(String.valueOf(key), value));
        }
        map.forEach((key, value) -> {
            if (!"<<".equals(key)) {
                result.put(String.valueOf(key), merged(value));
            }
        });
        return result;
    }

    /** A volume or bind mount of a service, written "source:target[:mode]". */
    record Mount(String source, String target, boolean readOnly) {

        /** Whether the source is a path (a bind mount) rather than a named volume. */
        boolean isBindMount() {
            return source.startsWith(".") || source.startsWith("/");
        }

        /** A bind mount's source as a repository path (Compose resolves it against the compose file's folder). */
        Path hostPath() {
            return COMPOSE_FILE.getParent().resolve(source).normalize();
        }
    }

    /** The volumes and bind mounts of a service. */
    static List<Mount> mounts(Map<String, Object> service) {
        return ((List<?>) service.getOrDefault("volumes", List.of())).stream().map(volume -> {
            String[] parts = String.valueOf(volume).split(":");
            assertThat(parts.length).as("volume '%s': write it as \"source:target[:mode]\"", volume)
                    .isBetween(2, 3);
            return new Mount(parts[0].replaceAll("/$", ""), parts[1].replaceAll("/$", ""),
                    parts.length == 3 && parts[2].equals("ro"));
        }).toList();
    }

    /** The repository path behind a path inside a service's container, where a bind mount covers it. */
    static Optional<Path> hostPathOf(Map<String, Object> service, String containerPath) {
        return mounts(service).stream()
                .filter(Mount::isBindMount)
                .filter(m -> containerPath.equals(m.target()) || containerPath.startsWith(m.target() + "/"))
                .max(Comparator.comparingInt(m -> m.target().length()))
                .map(m -> containerPath.equals(m.target()) ? m.hostPath()
                        : m.hostPath().resolve(containerPath.substring(m.target().length() + 1)).normalize());
    }

    private static Object yaml(String text) {
        return new Load(LoadSettings.builder().build()).loadFromString(text);
    }

    private static String read(Path file) {
        assertThat(file).as("file read by %s (run from the repository root)", ComposeFileReader.class.getSimpleName())
                .exists();
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
