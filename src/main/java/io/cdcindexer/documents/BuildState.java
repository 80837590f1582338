package io.cdcindexer.documents;

/** What an assembly remembers of what it built and sent for one row. */
public final class BuildState {

    /** The highest commit position of everything applied: never goes backwards, so neither does a document's version. */
    public long version;
    /** How many times it was built: orders two builds of one version. */
    public long builds;
    /** CHILDREN: the holder row it was last sent to; null for none. */
    public String sentTo;
    /** ROOT: a document was written; PARENT: an object was sent to the fan-out. */
    public boolean sent;

    /** 64 bits of the last object sent (0: none): one that comes out the same is not sent again. */
    public long sentHash;
    /** The run of the job that sent it (a random number per start): another run sends it again. */
    public long sentRun;

    /** For Flink's POJO serializer. */
    public BuildState() {}
}
