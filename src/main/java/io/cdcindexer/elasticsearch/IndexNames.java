package io.cdcindexer.elasticsearch;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Names the index of a change from a template: {@code {topic}}, {@code {schema}} and {@code {table}} are replaced. The
 * default {@code {topic}} gives {@code cdc.public.users}.
 *
 * <p>Elasticsearch index names are lower-case, while PostgreSQL tables {@code "Users"} and {@code users} are two tables.
 * So that they never share an index (and collide on ids), an upper-case letter in a replaced name is written as
 * {@code ~} and the letter in lower case, and {@code ~} itself as {@code ~~}: {@code "Users"} → {@code ~users},
 * {@code users} → {@code users}. Names that are lower-case already stay as they are. The template's own text must be
 * lower-case.
 */
public final class IndexNames implements Serializable {

    private static final long serialVersionUID = 1L;

    private final String template;
    private transient Map<String, String> byTopic;

    public IndexNames(String template) {
        if (template.isBlank()) {
            throw new IllegalArgumentException("The index name template is empty");
        }
        String literal = template.replace("{topic}", "").replace("{schema}", "").replace("{table}", "");
        if (!literal.equals(literal.toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("The index name template '" + template
                    + "' has upper-case letters; Elasticsearch index names are lower-case");
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

    /** A wildcard that matches every index the template names, and the physical indices behind them. */
    public String pattern() {
        String pattern = template.replace("{topic}", "*").replace("{schema}", "*").replace("{table}", "*");
        return pattern.endsWith("*") ? pattern : pattern + "*";
    }

    private String render(String topic, String table) {
        int dot = table.indexOf('.');
        return template.replace("{topic}", lowerCase(topic))
                .replace("{schema}", dot < 0 ? "" : lowerCase(table.substring(0, dot)))
                .replace("{table}", lowerCase(table.substring(dot + 1)));
    }

    /** A name in lower case that tells apart names differing only in case: {@code A} → {@code ~a}, {@code ~} → {@code ~~}. */
    static String lowerCase(String name) {
        StringBuilder out = null;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean upper = Character.isUpperCase(c);
            if ((upper || c == '~') && out == null) {
                out = new StringBuilder(name.length() + 4).append(name, 0, i);
            }
            if (out != null) {
                if (upper) {
                    out.append('~').append(Character.toLowerCase(c));
                } else if (c == '~') {
                    out.append("~~");
                } else {
                    out.append(c);
                }
            }
        }
        return out == null ? name : out.toString();
    }
}
