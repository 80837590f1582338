package io.cdcindexer.debezium;

import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.api.common.ExecutionConfig;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.StringValue;

/**
 * How a {@link ChangeEvent} crosses the job's network exchanges: its fields written one after the other, with one mask
 * for the ones that are null. Flink's POJO serializer, which it replaces there, reads and writes every field through
 * reflection with a null flag of its own; between the decoder and the collapse, and between the collapse and the
 * writer, every change pays that twice.
 *
 * <p>The streams use it ({@link #TYPE}, set in the job). The keyed state that holds changes keeps Flink's POJO
 * serializer, so checkpoints and savepoints of earlier versions restore as they are. Never use it as a state's
 * serializer: its format has no version, and a snapshot of it says only that it is this serializer. The one exception
 * is the Elasticsearch writer's state, which writes changes in this format under a version of its own
 * ({@code AwaitingDocument.Serializer}): a change to this format needs a new version there (the END stand-in's
 * fields, added later behind a bit no earlier write sets, left what it wrote as it was; that state never holds an
 * END). Checkpoints are aligned, so they hold no records in this format either (an unaligned checkpoint would, and
 * Flink checks nothing when it restores those).
 */
public final class ChangeEventSerializer extends TypeSerializer<ChangeEvent> {

    private static final long serialVersionUID = 1L;

    public static final ChangeEventSerializer INSTANCE = new ChangeEventSerializer();

    /** The type to give every stream of changes. */
    public static final TypeInformation<ChangeEvent> TYPE = new Type();

    private static final ChangeEvent.Action[] ACTIONS = ChangeEvent.Action.values();

    // Which fields are null, one bit each; the action and the partial flag share the first byte with them.
    private static final int OP = 1;
    private static final int TOPIC = 1 << 1;
    private static final int TABLE = 1 << 2;
    private static final int DOCUMENT_ID = 1 << 3;
    private static final int DOCUMENT = 1 << 4;
    private static final int UNAVAILABLE = 1 << 5;
    private static final int TRANSACTION = 1 << 6;
    private static final int KEY = 1 << 7;
    private static final int INDICES = 1 << 8;
    private static final int ACTION = 1 << 9;
    private static final int PARTIAL = 1 << 10;
    /** Not a null: the stand-in for a transaction's END ({@link ChangeEvent#end}), whose fields follow the others. */
    private static final int END = 1 << 11;

    private ChangeEventSerializer() {}

    @Override
    public void serialize(ChangeEvent e, DataOutputView out) throws IOException {
        int nulls = (e.op == null ? OP : 0) | (e.topic == null ? TOPIC : 0) | (e.table == null ? TABLE : 0)
                | (e.documentId == null ? DOCUMENT_ID : 0) | (e.document == null ? DOCUMENT : 0)
                | (e.unavailableColumns == null ? UNAVAILABLE : 0) | (e.transactionId == null ? TRANSACTION : 0)
                | (e.key == null ? KEY : 0) | (e.indices == null ? INDICES : 0) | (e.action == null ? ACTION : 0)
                | (e.partial ? PARTIAL : 0) | (e.end != null ? END : 0);
        out.writeShort(nulls);
        if (e.action != null) {
            out.writeByte(e.action.ordinal());
        }
        writeString(e.op, out);
        writeString(e.topic, out);
        out.writeInt(e.partition);
        out.writeLong(e.offset);
        writeString(e.table, out);
        writeString(e.documentId, out);
        out.writeLong(e.version);
        out.writeLong(e.lsn);
        writeBytes(e.document, out);
        writeStrings(e.unavailableColumns, out);
        writeString(e.transactionId, out);
        out.writeLong(e.kafkaTime);
        out.writeLong(e.commitTime);
        writeBytes(e.key, out);
        writeStrings(e.indices, out);
        if (e.end != null) {
            writeEnd(e.end, out);
        }
    }

    @Override
    public ChangeEvent deserialize(DataInputView in) throws IOException {
        return deserialize(new ChangeEvent(), in);
    }

    @Override
    public ChangeEvent deserialize(ChangeEvent e, DataInputView in) throws IOException {
        int nulls = in.readUnsignedShort();
        e.action = (nulls & ACTION) != 0 ? null : ACTIONS[in.readUnsignedByte()];
        e.partial = (nulls & PARTIAL) != 0;
        e.op = (nulls & OP) != 0 ? null : StringValue.readString(in);
        e.topic = (nulls & TOPIC) != 0 ? null : StringValue.readString(in);
        e.partition = in.readInt();
        e.offset = in.readLong();
        e.table = (nulls & TABLE) != 0 ? null : StringValue.readString(in);
        e.documentId = (nulls & DOCUMENT_ID) != 0 ? null : StringValue.readString(in);
        e.version = in.readLong();
        e.lsn = in.readLong();
        e.document = (nulls & DOCUMENT) != 0 ? null : readBytes(in);
        e.unavailableColumns = (nulls & UNAVAILABLE) != 0 ? null : readStrings(in);
        e.transactionId = (nulls & TRANSACTION) != 0 ? null : StringValue.readString(in);
        e.kafkaTime = in.readLong();
        e.commitTime = in.readLong();
        e.key = (nulls & KEY) != 0 ? null : readBytes(in);
        e.indices = (nulls & INDICES) != 0 ? null : readStrings(in);
        e.end = (nulls & END) != 0 ? readEnd(e.transactionId, in) : null;
        // Not serialized (only there in the decoder's chain): a reused instance must not keep an earlier event's.
        e.rowSchema = null;
        e.snapshot = null;
        return e;
    }

    // Its transaction id is the stand-in's, written with the other fields.
    private static void writeEnd(TransactionEnd end, DataOutputView out) throws IOException {
        out.writeLong(end.commitLsn);
        out.writeInt(end.tables.length);
        for (int i = 0; i < end.tables.length; i++) {
            StringValue.writeString(end.tables[i], out);
            out.writeLong(end.eventCounts[i]);
        }
    }

    private static TransactionEnd readEnd(String transactionId, DataInputView in) throws IOException {
        long commitLsn = in.readLong();
        int count = in.readInt();
        if (count < 0) {
            throw damaged("a count of " + count + " tables in a transaction's END");
        }
        // Not sized by a large count: each table takes bytes, so a damaged count ends early.
        List<String> tables = new ArrayList<>(Math.min(count, 1_024));
        List<Long> eventCounts = new ArrayList<>(Math.min(count, 1_024));
        try {
            for (int i = 0; i < count; i++) {
                tables.add(StringValue.readString(in));
                eventCounts.add(in.readLong());
            }
        } catch (EOFException e) {
            throw damaged("a count of " + count + " tables in a transaction's END, more than there are");
        }
        return new TransactionEnd(transactionId, commitLsn, tables.toArray(String[]::new),
                eventCounts.stream().mapToLong(Long::longValue).toArray());
    }

    private static void writeString(String s, DataOutputView out) throws IOException {
        if (s != null) {
            StringValue.writeString(s, out);
        }
    }

    private static void writeBytes(byte[] bytes, DataOutputView out) throws IOException {
        if (bytes != null) {
            out.writeInt(bytes.length);
            out.write(bytes);
        }
    }

    /** Lengths up to this are allocated at once; longer ones grow with what is read (a damaged one ends early). */
    private static final int ALLOCATED_AT_ONCE = 1 << 20;

    private static byte[] readBytes(DataInputView in) throws IOException {
        int length = in.readInt();
        if (length < 0) {
            throw damaged("a length of " + length + " bytes");
        }
        if (length <= ALLOCATED_AT_ONCE) {
            byte[] bytes = new byte[length];
            in.readFully(bytes);
            return bytes;
        }
        byte[] bytes = new byte[ALLOCATED_AT_ONCE];
        int read = 0;
        try {
            while (read < length) {
                if (read == bytes.length) {
                    bytes = Arrays.copyOf(bytes, (int) Math.min(length, 2L * bytes.length));
                }
                int chunk = Math.min(bytes.length, length) - read;
                in.readFully(bytes, read, chunk);
                read += chunk;
            }
        } catch (EOFException e) {
            throw damaged("a length of " + length + " bytes, but only " + read + " there");
        }
        return bytes;
    }

    private static IOException damaged(String what) {
        return new IOException("A change read back (from a checkpoint, or between the job's tasks) has " + what
                + ": it is damaged");
    }

    /** An array of strings, none of them null (unavailable columns, index names). */
    private static void writeStrings(String[] strings, DataOutputView out) throws IOException {
        if (strings != null) {
            out.writeInt(strings.length);
            for (String s : strings) {
                StringValue.writeString(s, out);
            }
        }
    }

    private static String[] readStrings(DataInputView in) throws IOException {
        int count = in.readInt();
        if (count < 0) {
            throw damaged("a count of " + count + " names");
        }
        // Not sized by a large count: each name takes a byte at least, so a damaged count ends early.
        String[] strings = new String[Math.min(count, 1_024)];
        try {
            for (int i = 0; i < count; i++) {
                if (i == strings.length) {
                    strings = Arrays.copyOf(strings, (int) Math.min(count, 2L * strings.length));
                }
                strings[i] = StringValue.readString(in);
            }
        } catch (EOFException e) {
            throw damaged("a count of " + count + " names, more than there are");
        }
        return strings;
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    /** A copy that shares nothing mutable with the original (arrays copied; strings are immutable). */
    @Override
    public ChangeEvent copy(ChangeEvent from) {
        ChangeEvent c = from.copy();
        c.document = from.document == null ? null : from.document.clone();
        c.unavailableColumns = from.unavailableColumns == null ? null : from.unavailableColumns.clone();
        c.key = from.key == null ? null : from.key.clone();
        c.indices = from.indices == null ? null : from.indices.clone();
        c.end = from.end == null ? null : new TransactionEnd(from.end.transactionId, from.end.commitLsn,
                from.end.tables.clone(), from.end.eventCounts.clone());
        return c;
    }

    @Override
    public ChangeEvent copy(ChangeEvent from, ChangeEvent reuse) {
        return copy(from);
    }

    @Override
    public ChangeEvent createInstance() {
        return new ChangeEvent();
    }

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public TypeSerializer<ChangeEvent> duplicate() {
        return this; // stateless
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChangeEventSerializer;
    }

    @Override
    public int hashCode() {
        return ChangeEventSerializer.class.hashCode();
    }

    @Override
    public TypeSerializerSnapshot<ChangeEvent> snapshotConfiguration() {
        return new Snapshot();
    }

    /** What Flink records of this serializer: only that it is this one. */
    public static final class Snapshot extends SimpleTypeSerializerSnapshot<ChangeEvent> {
        public Snapshot() {
            super(() -> INSTANCE);
        }
    }

    /** {@link ChangeEvent} as a type of Flink's, serialized by {@link ChangeEventSerializer}. */
    private static final class Type extends TypeInformation<ChangeEvent> {

        private static final long serialVersionUID = 1L;

        @Override
        public boolean isBasicType() {
            return false;
        }

        @Override
        public boolean isTupleType() {
            return false;
        }

        @Override
        public int getArity() {
            return 1;
        }

        @Override
        public int getTotalFields() {
            return 1;
        }

        @Override
        public Class<ChangeEvent> getTypeClass() {
            return ChangeEvent.class;
        }

        @Override
        public boolean isKeyType() {
            return false;
        }

        @Override
        public TypeSerializer<ChangeEvent> createSerializer(SerializerConfig config) {
            return INSTANCE;
        }

        @Override
        @SuppressWarnings("deprecation")
        public TypeSerializer<ChangeEvent> createSerializer(ExecutionConfig config) {
            return INSTANCE;
        }

        @Override
        public String toString() {
            return "ChangeEvent";
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Type;
        }

        @Override
        public int hashCode() {
            return Type.class.hashCode();
        }

        @Override
        public boolean canEqual(Object o) {
            return o instanceof Type;
        }
    }
}
