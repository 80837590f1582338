package io.cdcindexer.kafka;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * Kafka client settings of the user's own (security.protocol, sasl.*, ssl.*, ...), read from a properties file and
 * given to every Kafka client of the job and of {@code ./cdc}. Secrets belong in Kafka's config providers
 * ({@code config.providers=file} and {@code ${file:/path:key}}), which each client resolves where it runs: the file
 * then holds only references (docs/security.md).
 */
public final class KafkaClientProperties {

    /** Settings the job and the commands set themselves: given in the file, they would be silently overridden. */
    static final Set<String> OWN = Set.of("bootstrap.servers", "group.id", "key.deserializer", "value.deserializer",
            "key.serializer", "value.serializer", "enable.auto.commit", "auto.offset.reset");

    private KafkaClientProperties() {}

    /** The file's settings; none for an empty name. */
    public static Map<String, String> read(String file) {
        Map<String, String> settings = new TreeMap<>();
        if (file == null || file.isBlank()) {
            return settings;
        }
        Properties properties = new Properties();
        try (Reader in = Files.newBufferedReader(Path.of(file.trim()), StandardCharsets.UTF_8)) {
            properties.load(in);
        } catch (IOException e) {
            throw new IllegalArgumentException("Cannot read the Kafka client properties file " + file + " ("
                    + e.getClass().getSimpleName() + ")", e);
        }
        for (String name : properties.stringPropertyNames()) {
            if (OWN.contains(name)) {
                throw new IllegalArgumentException("The Kafka client properties file " + file + " sets " + name
                        + ", which cdc-indexer sets itself" + (name.equals("bootstrap.servers")
                                ? " (use --kafka.bootstrap-servers, or --kafka for ./cdc)" : ""));
            }
            settings.put(name, properties.getProperty(name));
        }
        return settings;
    }

    /** The settings added to a client's own properties, without replacing any of those. */
    public static Properties with(Map<String, String> settings, Properties own) {
        Properties all = new Properties();
        all.putAll(settings);
        all.putAll(own);
        return all;
    }
}
