package io.cdcindexer.documents;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;

/**
 * One table's place in a joined document: the root, a one-to-many child (an array of objects in the document above it,
 * e.g. a user's {@code orders}), or a many-to-one parent (one object, e.g. an order's {@code user}). Nodes hang from
 * one another to any depth; every node is one stage of the job, keyed by its table's primary key.
 */
public final class JoinNode implements Serializable {

    private static final long serialVersionUID = 1L;

    /** How the node's rows relate to the node it hangs from (its holder). */
    public enum Relation {
        /** The document's own table: one document per row. */
        ROOT,
        /** Many rows of this table per holder row: {@code foreignKey} columns of this table name the holder's key. */
        CHILDREN,
        /** At most one row of this table per holder row: {@code foreignKey} columns of the holder name this key. */
        PARENT
    }

    /** Its number in the plan, unique across every document of the file. */
    public final int id;
    /** The index of the document it belongs to. */
    public final String index;
    /** {@code schema.table}, as Debezium names it. */
    public final String table;
    /** Where it sits in its holder's object; null for the root. */
    public final String field;
    public final Relation relation;
    /**
     * CHILDREN: the columns of this table that hold the holder's primary key; PARENT: the columns of the holder's table
     * that hold this table's primary key. Either way in the order of the referenced primary key's columns. Empty for
     * the root.
     */
    public final String[] foreignKey;
    /** The columns it carries, in this order; null for every column of the row. */
    public final String[] columns;
    /** The id of the node it hangs from; -1 for the root. */
    public final int holder;
    /** The nodes that hang from it, in the file's order. */
    public final int[] below;
    /** Where it sits from the root, e.g. {@code users.orders.items}: names its stages. */
    public final String path;

    JoinNode(int id, String index, String table, String field, Relation relation, List<String> foreignKey,
            List<String> columns, int holder, int[] below, String path) {
        this.id = id;
        this.index = index;
        this.table = table;
        this.field = field;
        this.relation = relation;
        this.foreignKey = foreignKey.toArray(String[]::new);
        this.columns = columns == null ? null : columns.toArray(String[]::new);
        this.holder = holder;
        this.below = below;
        this.path = path;
    }

    /**
     * What the state of the node's stages is of: its table, its relation to its holder and the foreign key, as
     * {@code v1|<table>|<RELATION>|<column>,<column>} with each name quoted (JSON), so that no two declarations read
     * alike. Kept in checkpoints and compared on restore: its form never changes (a new form gets a new version, and the
     * old one is still read). The columns carried are not part of it: changing them leaves the state meaningful, and
     * documents show the new columns as their rows change (or after a {@code ./cdc snapshot}).
     */
    public String declaration() {
        StringBuilder key = new StringBuilder();
        for (String column : foreignKey) {
            key.append(key.length() == 0 ? "" : ",").append(quoted(column));
        }
        return "v1|" + quoted(table) + "|" + relation.name() + "|" + key;
    }

    private static String quoted(String name) {
        return com.fasterxml.jackson.databind.node.TextNode.valueOf(name).toString();
    }

    /** The declaration in words, for messages: "table public.orders, children, foreign key [user_id]". */
    public static String describe(String declaration) {
        String[] parts = declaration.split("\\|", 4);
        if (parts.length < 4 || !parts[0].equals("v1")) {
            return declaration;
        }
        return "table " + parts[1].replace("\"", "") + ", " + parts[2].toLowerCase(java.util.Locale.ROOT)
                + (parts[3].isEmpty() ? "" : ", foreign key [" + parts[3].replace("\"", "") + "]");
    }

    @Override
    public String toString() {
        return path + " (" + relation + " " + table + (foreignKey.length == 0 ? "" : " by " + Arrays.toString(foreignKey))
                + ")";
    }
}
