package io.cdcindexer.documents;

/** An object built by another stage, kept to build this stage's object: a child row's, or a parent row's. */
public final class StoredPart {

    /** The id of the row it is built from. */
    public String key;
    /** Its JSON; null when the row is not there (a parent deleted). */
    public byte[] body;
    /** The highest commit position it reflects. */
    public long version;

    /** For Flink's POJO serializer. */
    public StoredPart() {}

    static StoredPart of(String key, byte[] body, long version) {
        StoredPart part = new StoredPart();
        part.key = key;
        part.body = body;
        part.version = version;
        return part;
    }
}
