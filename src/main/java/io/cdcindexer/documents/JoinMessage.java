package io.cdcindexer.documents;

import org.apache.flink.api.java.functions.KeySelector;

/**
 * What the stages of joined documents send one another: a row of a node's table, a part of a document built below,
 * which holder rows a parent row is referenced by, or a finished document. Each is keyed by {@link #key} at the stage of
 * node {@link #node}.
 */
public final class JoinMessage {

    /** What it carries. */
    public enum Kind {
        /** A row of the node's table, to its assembly ({@code key}: the row's id). */
        ROW,
        /** A row of the holder's table, to the link of a parent node ({@code key}: the holder row's id). */
        HOLDER_ROW,
        /** A child row's object, to its holder's assembly ({@code key}: the holder's id; {@code source}: the child's). */
        CHILD,
        /** A child row no longer hangs from the holder: deleted, or its foreign key moved. */
        CHILD_GONE,
        /** A holder row references the parent row {@code key}; {@code source}: the holder row's id. */
        MEMBER,
        /** A holder row no longer references the parent row {@code key}. */
        MEMBER_GONE,
        /** A parent row's object, from its assembly to its fan-out ({@code key}: the parent row's id). */
        PARENT_VALUE,
        /** A parent row's object for one holder row ({@code key}: the holder row's id; {@code source}: the parent's). */
        PARENT,
        /** The holder row no longer points to the parent row {@code source}: its object goes. */
        PARENT_GONE,
        /** A finished document of the root ({@code key}: its id). */
        DOCUMENT
    }

    /** Keys a message by the id it is for at its stage. */
    public static final KeySelector<JoinMessage, String> KEY = message -> message.key;

    public Kind kind;
    /** The node whose stage takes it. */
    public int node;
    /** The id it is keyed by there. */
    public String key;
    /** The id of the row it speaks of, when that is not {@link #key}. */
    public String source;
    /** The node it comes from (CHILD, CHILD_GONE, PARENT, PARENT_GONE). */
    public int from;
    /**
     * That node's path ({@code users.orders}), set by the stage that keeps the message waiting (senders leave it
     * null): the state names the node by path, not by number, as a job restored under a changed declaration numbers the
     * nodes anew. Null in a message kept by a job before b419796: then {@link #from} says, under the declaration it was
     * kept with.
     */
    public String fromPath;
    /**
     * The highest commit position among the rows it reflects (and the removals that shaped it): a document's version
     * in Elasticsearch.
     */
    public long version;
    /** ROW, HOLDER_ROW: the change's own WAL position; otherwise how many times its sender has built it. */
    public long lsn;
    /**
     * A watermark before which it was sent: every other message of its transactions was sent before any later
     * watermark, so a stage applies it once a watermark past this has come, all of them together.
     */
    public long after;
    /** ROW, HOLDER_ROW, DOCUMENT: a delete; PARENT_VALUE, PARENT: the parent row is not there. */
    public boolean delete;
    /** The row or object as JSON; null for a delete. */
    public byte[] body;
    /** ROW, HOLDER_ROW: columns Debezium did not have (unchanged TOASTed values); null when there are none. */
    public String[] unavailableColumns;
    /** When the newest change it reflects was committed, epoch ms; 0 when not known. */
    public long commitTime;
    /**
     * ROW: a read of a snapshot (Debezium's {@code op} r), not a change: the root sends its document even if it comes
     * out the same ({@code ./cdc reindex} fills a document's next index so).
     */
    public boolean snapshotRead;

    /** For Flink's POJO serializer. */
    public JoinMessage() {}

    static JoinMessage of(Kind kind, int node, String key, long after) {
        JoinMessage message = new JoinMessage();
        message.kind = kind;
        message.node = node;
        message.key = key;
        message.after = after;
        return message;
    }

    /** A copy, for a stage that keeps it: Flink may reuse the instance it was given. */
    JoinMessage copy() {
        JoinMessage copy = new JoinMessage();
        copy.kind = kind;
        copy.node = node;
        copy.key = key;
        copy.source = source;
        copy.from = from;
        copy.fromPath = fromPath;
        copy.version = version;
        copy.lsn = lsn;
        copy.after = after;
        copy.delete = delete;
        copy.body = body;
        copy.unavailableColumns = unavailableColumns;
        copy.commitTime = commitTime;
        copy.snapshotRead = snapshotRead;
        return copy;
    }

    @Override
    public String toString() {
        return kind + "@" + node + "[" + key
                + (source == null ? "" : " from " + (fromPath != null ? fromPath : from) + "/" + source) + " v" + version
                + "." + lsn + (delete ? " delete" : "") + (body == null ? "" : " " + new String(body,
                java.nio.charset.StandardCharsets.UTF_8)) + "]";
    }
}
