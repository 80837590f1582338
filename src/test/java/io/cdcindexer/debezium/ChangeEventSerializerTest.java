package io.cdcindexer.debezium;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

class ChangeEventSerializerTest {

    private final TypeSerializer<ChangeEvent> serializer = ChangeEventSerializer.TYPE.createSerializer(
            new org.apache.flink.api.common.serialization.SerializerConfigImpl());

    /** Every field Flink's POJO serializer would carry: the public fields that are not transient. */
    private static List<Field> carriedFields() {
        List<Field> fields = new ArrayList<>();
        for (Field field : ChangeEvent.class.getFields()) {
            if (!Modifier.isStatic(field.getModifiers()) && !Modifier.isTransient(field.getModifiers())) {
                fields.add(field);
            }
        }
        return fields;
    }

    /** A change with every carried field set to a value no default has, so a field left out cannot pass. */
    private static ChangeEvent everyFieldSet() {
        ChangeEvent e = new ChangeEvent();
        e.action = ChangeEvent.Action.DELETE;
        e.op = "d";
        e.topic = "cdc.public.users";
        e.partition = 7;
        e.offset = 1L << 40;
        e.table = "public.users";
        e.documentId = "42|é€😀";
        e.version = 123_456_789_012L;
        e.lsn = 123_456_789_013L;
        e.document = "{\"id\":42,\"name\":\"Zoë\"}".getBytes(StandardCharsets.UTF_8);
        e.unavailableColumns = new String[] {"bio", "avatar"};
        e.transactionId = "771";
        e.partial = true;
        e.kafkaTime = 1_700_000_000_123L;
        e.commitTime = 1_700_000_000_100L;
        e.key = new byte[] {0, 1, 2, (byte) 0xff};
        e.indices = new String[] {"cdc.public.users_v1", "cdc.public.users_v2"};
        return e;
    }

    /**
     * A damaged length (state read back from a damaged checkpoint) is refused saying so, not taken as the size of an
     * array to allocate: 2^31 - 1 bytes, or strings, would fail the restore with an out-of-memory error instead.
     */
    @Test
    void aDamagedLengthIsRefusedAsDamagedNotAllocated() throws Exception {
        ChangeEvent e = everyFieldSet();
        DataOutputSerializer out = new DataOutputSerializer(64);
        serializer.serialize(e, out);
        byte[] written = out.getCopyOfBuffer();
        int document = indexOf(written, e.document);
        for (int lengthAt : new int[] {document - 4, document + e.document.length}) { // the document's, the columns'
            for (int damaged : new int[] {Integer.MAX_VALUE, -1}) {
                byte[] bytes = withIntAt(written, lengthAt, damaged);
                assertThatThrownBy(() -> serializer.deserialize(new DataInputDeserializer(bytes)))
                        .as("length %d at %d", damaged, lengthAt)
                        .isInstanceOf(IOException.class)
                        .hasMessageContaining("damaged");
            }
        }
    }

    @Test
    void aDamagedCountOfAnEndsTablesIsRefusedAsDamaged() throws Exception {
        ChangeEvent e = ChangeEvent.endOf(new TransactionEnd("771", 42, new String[0], new long[0]));
        DataOutputSerializer out = new DataOutputSerializer(64);
        serializer.serialize(e, out);
        byte[] written = out.getCopyOfBuffer();
        int countAt = written.length - 4; // no tables: the count is the last field
        for (int damaged : new int[] {Integer.MAX_VALUE, -1}) {
            byte[] bytes = withIntAt(written, countAt, damaged);
            assertThatThrownBy(() -> serializer.deserialize(new DataInputDeserializer(bytes)))
                    .as("count %d", damaged).isInstanceOf(IOException.class)
                    .hasMessageContaining("tables in a transaction's END").hasMessageContaining("damaged");
        }
    }

    /** A copy of {@code written} with a big-endian int, as {@code DataOutput} writes one, at {@code at}. */
    private static byte[] withIntAt(byte[] written, int at, int value) {
        byte[] bytes = written.clone();
        bytes[at] = (byte) (value >>> 24);
        bytes[at + 1] = (byte) (value >>> 16);
        bytes[at + 2] = (byte) (value >>> 8);
        bytes[at + 3] = (byte) value;
        return bytes;
    }

    /** Lengths past what is allocated at once are read as they grow: a large document and many names, whole. */
    @Test
    void aLargeDocumentAndManyNamesAreReadWhole() throws Exception {
        ChangeEvent e = everyFieldSet();
        e.document = new byte[3 * (1 << 20) + 5];
        for (int i = 0; i < e.document.length; i++) {
            e.document[i] = (byte) i;
        }
        e.unavailableColumns = new String[2_500];
        for (int i = 0; i < e.unavailableColumns.length; i++) {
            e.unavailableColumns[i] = "c" + i;
        }
        ChangeEvent read = roundTrip(e, new ChangeEvent());
        assertThat(read.document).isEqualTo(e.document);
        assertThat(read.unavailableColumns).containsExactly(e.unavailableColumns);
        assertThat(read.indices).containsExactly(e.indices);
    }

    private static int indexOf(byte[] in, byte[] part) {
        for (int i = 0; i + part.length <= in.length; i++) {
            if (java.util.Arrays.equals(in, i, i + part.length, part, 0, part.length)) {
                return i;
            }
        }
        throw new AssertionError("not written");
    }

    private ChangeEvent roundTrip(ChangeEvent e, ChangeEvent reuse) throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(64);
        serializer.serialize(e, out);
        DataInputDeserializer in = new DataInputDeserializer(out.getCopyOfBuffer());
        ChangeEvent read = reuse == null ? serializer.deserialize(in) : serializer.deserialize(reuse, in);
        assertThat(in.available()).as("every byte written is read back").isZero();
        return read;
    }

    @Test
    void everyFieldTheJobCarriesSurvivesTheExchange() throws Exception {
        ChangeEvent e = everyFieldSet();
        ChangeEvent fresh = new ChangeEvent();
        for (Field field : carriedFields()) {
            assertThat(field.get(e)).as("the fixture sets %s", field.getName()).isNotEqualTo(field.get(fresh));
        }

        ChangeEvent read = roundTrip(e, null);

        for (Field field : carriedFields()) {
            assertThat(field.get(read)).as(field.getName()).usingRecursiveComparison().isEqualTo(field.get(e));
        }
        assertThat(read).isEqualTo(e);
    }

    @Test
    void nullFieldsStayNull() throws Exception {
        ChangeEvent e = new ChangeEvent();

        ChangeEvent read = roundTrip(e, null);

        for (Field field : carriedFields()) {
            assertThat(field.get(read)).as(field.getName()).isEqualTo(field.get(e));
        }
        for (ChangeEvent.Action action : ChangeEvent.Action.values()) {
            e.action = action;
            assertThat(roundTrip(e, null).action).isEqualTo(action);
        }
    }

    @Test
    void anEndsStandInSurvivesTheExchange() throws Exception {
        ChangeEvent e = ChangeEvent.endOf(new TransactionEnd("771", 123_456_789_012L,
                new String[] {"public.users", "public.é€😀"}, new long[] {3, 1L << 40}));

        ChangeEvent read = roundTrip(e, everyFieldSet());

        assertThat(read.isTransactionEnd()).isTrue();
        assertThat(read.transactionId).isEqualTo("771");
        assertThat(read.end).usingRecursiveComparison().isEqualTo(e.end);
        assertThat(read).isEqualTo(e);
        ChangeEvent copy = serializer.copy(e);
        assertThat(copy.end).usingRecursiveComparison().isEqualTo(e.end);
        assertThat(copy.end.tables).isNotSameAs(e.end.tables);
        assertThat(copy.end.eventCounts).isNotSameAs(e.end.eventCounts);
    }

    /**
     * The Elasticsearch writer's state holds changes in this format under a version of its own: the END stand-in's
     * fields, added behind a bit of their own, left a change's bytes as they were (these are the bytes the serializer
     * wrote for this change before, at 3a0d79b).
     */
    @Test
    void aChangeIsWrittenAsBeforeTheEndsStandInHadItsFields() throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(256);
        serializer.serialize(everyFieldSet(), out);

        assertThat(HexFormat.of().formatHex(out.getCopyOfBuffer())).isEqualTo(BYTES_AT_3A0D79B);
    }

    private static final String BYTES_AT_3A0D79B =
            "0400010264116364632e7075626c69632e75736572730000000700000100000000000d7075626c69632e757365727308"
            + "34327ce901ac41bdb00380bc030000001cbe991a140000001cbe991a15000000177b226964223a34322c226e616d6522"
            + "3a225a6fc3ab227d000000020462696f07617661746172043737310000018bcfe5687b0000018bcfe568640000000400"
            + "0102ff00000002146364632e7075626c69632e75736572735f7631146364632e7075626c69632e75736572735f7632";

    @Test
    void aReusedInstanceKeepsNothingOfTheEventItHeldBefore() throws Exception {
        ChangeEvent reuse = everyFieldSet();
        reuse.rowSchema = JsonNodeFactory.instance.objectNode();
        reuse.snapshot = "true";
        reuse.end = new TransactionEnd("770", 1, new String[] {"public.users"}, new long[] {1});
        ChangeEvent e = new ChangeEvent();
        e.action = ChangeEvent.Action.UPSERT;
        e.documentId = "1";

        ChangeEvent read = roundTrip(e, reuse);

        for (Field field : carriedFields()) {
            assertThat(field.get(read)).as(field.getName()).isEqualTo(field.get(e));
        }
        assertThat(read.rowSchema).isNull();
        assertThat(read.snapshot).isNull();
        assertThat(read.end).isNull();
    }

    @Test
    void aCopyHasEveryFieldAndSharesNoArrayWithTheOriginal() throws Exception {
        ChangeEvent e = everyFieldSet();

        ChangeEvent copy = serializer.copy(e);

        for (Field field : carriedFields()) {
            assertThat(field.get(copy)).as(field.getName()).usingRecursiveComparison().isEqualTo(field.get(e));
        }
        assertThat(copy.document).isNotSameAs(e.document);
        assertThat(copy.key).isNotSameAs(e.key);
        assertThat(copy.unavailableColumns).isNotSameAs(e.unavailableColumns);
        assertThat(copy.indices).isNotSameAs(e.indices);
    }

    @Test
    void itsSnapshotRestoresAnEqualSerializer() throws Exception {
        TypeSerializerSnapshot<ChangeEvent> snapshot = serializer.snapshotConfiguration();
        DataOutputSerializer out = new DataOutputSerializer(64);
        TypeSerializerSnapshot.writeVersionedSnapshot(out, snapshot);

        TypeSerializerSnapshot<ChangeEvent> read = TypeSerializerSnapshot.readVersionedSnapshot(
                new DataInputDeserializer(out.getCopyOfBuffer()), getClass().getClassLoader());

        assertThat(read.restoreSerializer()).isEqualTo(serializer);
        TypeSerializerSchemaCompatibility<ChangeEvent> compatibility =
                serializer.snapshotConfiguration().resolveSchemaCompatibility(read);
        assertThat(compatibility.isCompatibleAsIs()).isTrue();
    }
}
