package io.cdcindexer.elasticsearch;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.ChangeEventSerializer;
import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * The writer's checkpointed state: changes that lack columns (unchanged TOASTed values) and were waiting, at the
 * checkpoint, for their document's first write ({@link ElasticsearchIndexWriter}). Written then without those columns,
 * they would blank them out for good: the older insert that brings them, still held upstream, would be refused as
 * stale after them. So they go into the checkpoint and wait on after it, or after a restore.
 *
 * @param checkpointId the checkpoint that holds it: one restored from a later checkpoint was carried along unread by a
 *     version of the job without the writer's state (a rollback), and is over
 * @param index the index the changes are written to (a change routed to two indices during a reindex waits in each
 *     on its own)
 * @param waitedMs how long the first change had waited for the document (the time the job was down does not count)
 * @param changes the first change, then the later ones of the same document waiting behind it, in order
 */
record AwaitingDocument(long checkpointId, String index, long waitedMs, List<ChangeEvent> changes) {

    /**
     * Version 1: the checkpoint, the index, the time waited, the number of changes, then each change in {@link ChangeEventSerializer}'s
     * format. That format has no version of its own: a change to it needs version 2 here, with a reader of version 1
     * ({@code AwaitingDocumentTest} holds the bytes of version 1).
     */
    static final class Serializer implements SimpleVersionedSerializer<AwaitingDocument> {

        static final Serializer INSTANCE = new Serializer();

        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(AwaitingDocument state) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(256);
            out.writeLong(state.checkpointId());
            out.writeUTF(state.index());
            out.writeLong(state.waitedMs());
            out.writeInt(state.changes().size());
            for (ChangeEvent change : state.changes()) {
                ChangeEventSerializer.INSTANCE.serialize(change, out);
            }
            return out.getCopyOfBuffer();
        }

        @Override
        public AwaitingDocument deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("The Elasticsearch writer's state has version " + version + ", which this version "
                        + "of the job does not know (it reads version 1): restore it with the version of the job that "
                        + "wrote it, or a later one");
            }
            DataInputDeserializer in = new DataInputDeserializer(serialized);
            try {
                long checkpointId = in.readLong();
                String index = in.readUTF();
                // Negative when the wall clock stepped back while it waited: it then waits its whole wait again.
                long waitedMs = Math.max(0, in.readLong());
                int count = in.readInt();
                if (count <= 0) {
                    throw new IOException("The Elasticsearch writer's state holds a document waiting with " + count
                            + " changes: it is damaged");
                }
                // Not sized by the count: a damaged one would ask for gigabytes before the bytes ran out.
                List<ChangeEvent> changes = new ArrayList<>(Math.min(count, 16));
                for (int i = 0; i < count; i++) {
                    changes.add(ChangeEventSerializer.INSTANCE.deserialize(in));
                }
                if (in.available() > 0) {
                    throw new IOException("The Elasticsearch writer's state of a document has " + in.available()
                            + " byte" + (in.available() == 1 ? "" : "s") + " after its changes: it is damaged");
                }
                return new AwaitingDocument(checkpointId, index, waitedMs, changes);
            } catch (EOFException e) {
                throw new IOException("The Elasticsearch writer's state of a document ends early: it is damaged", e);
            }
        }
    }
}
