package io.cdcindexer.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/** The project's configuration files as the static checks read them: text, YAML, flattened YAML, JSON. */
final class ConfigFiles {

    private static final ObjectMapper JSON = new ObjectMapper();

    private ConfigFiles() {}

    static String read(Path file) {
        assertThat(file).as("a configuration file (run the tests from the repository root)").exists();
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** YAML 1.2, read with snakeyaml-engine: the parser Flink reads config.yaml with; it resolves anchors too. */
    static Object yaml(String text) {
        return new Load(LoadSettings.builder().build()).loadFromString(text);
    }

    /** A YAML document flattened to dotted keys (Flink's config.yaml accepts both nested and flat forms). */
    static Map<String, String> flatten(Object node) {
        Map<String, String> flat = new LinkedHashMap<>();
        flatten("", node, flat);
        return flat;
    }

    private static void flatten(String prefix, Object node, Map<String, String> into) {
        if (node instanceof Map<?, ?> map) {
            map.forEach((key, value) -> flatten(prefix.isEmpty() ? String.valueOf(key) : prefix + "." + key, value, into));
        } else {
            into.put(prefix, String.valueOf(node));
        }
    }

    static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(read(file));
        } catch (IOException e) {
            throw new AssertionError(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }
}
