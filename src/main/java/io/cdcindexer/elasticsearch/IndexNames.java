package io.cdcindexer.elasticsearch;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Names the index of a change from a template: {@code {topic}}, {@code {schema}} and {@code {table}} are replaced and the
 * result lower-cased (Elasticsearch refuses upper-case index names). The default {@code {topic}} gives
 * {@code cdc.public.users}.
 */
public final class IndexNames implements Serializable {

    private static final long serialVersionUID = 1L;

    private final String template;
    private transient Map<String, String> byTopic;

    public IndexNames(String template) {
        if (template.isBlank()) {
            throw new IllegalArgumentException("The index name template is empty");
        }
        this.template = template;
    }

    /**
     * @param topic the change's topic
     * @param table the change's data collection, {@code schema.table}
     */
    public String of(String topic, String table) {
        if (byTopic == null) {
            byTopic = new HashMap<>();
        }
        return byTopic.computeIfAbsent(topic, t -> render(t, table));
    }

    private String render(String topic, String table) {
        int dot = table.indexOf('.');
        return template.replace("{topic}", topic)
                .replace("{schema}", dot < 0 ? "" : table.substring(0, dot))
                .replace("{table}", table.substring(dot + 1))
                .toLowerCase(Locale.ROOT);
    }
}
