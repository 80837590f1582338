package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** The fields that differ between two JSON objects, written as {@code email: "a@x" → "b@x"}. */
public final class FieldDiff {

    /** One changed field; a side without the field is null. */
    public record Change(String field, JsonNode before, JsonNode after) {
        @Override
        public String toString() {
            return field + ": " + show(before) + " → " + show(after);
        }

        private static String show(JsonNode value) {
            return value == null ? "(absent)" : Json.compact(value);
        }
    }

    private FieldDiff() {}

    /** The changed fields, in the order they appear in {@code before}, then fields only {@code after} has. */
    public static List<Change> changes(JsonNode before, JsonNode after) {
        Set<String> names = new LinkedHashSet<>();
        before.fieldNames().forEachRemaining(names::add);
        after.fieldNames().forEachRemaining(names::add);
        List<Change> changes = new ArrayList<>();
        for (String name : names) {
            JsonNode a = before.get(name);
            JsonNode b = after.get(name);
            if (a == null || b == null || !Json.sameValue(a, b)) {
                changes.add(new Change(name, a, b));
            }
        }
        return changes;
    }

    /** The changes joined into one line; "(no field changed)" if there are none. */
    public static String describe(JsonNode before, JsonNode after) {
        List<Change> changes = changes(before, after);
        if (changes.isEmpty()) {
            return "(no field changed)";
        }
        StringBuilder line = new StringBuilder();
        for (Iterator<Change> it = changes.iterator(); it.hasNext(); ) {
            line.append(it.next());
            if (it.hasNext()) {
                line.append(", ");
            }
        }
        return line.toString();
    }
}
