package io.cdcindexer.elasticsearch;

import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cdcindexer.debezium.ChangeEvent;
import java.io.IOException;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The writer's state in checkpoints and savepoints: its format must stay readable by later versions of the job. */
class AwaitingDocumentTest {

    /** Version 1 of two changes waiting for articles/1 in index articles_v1 at checkpoint 42, as the serializer wrote them. */
    private static final String VERSION_1 = "000000000000002a000b61727469636c65735f763100000000000004d2000000020000000275146364632e7075626c69"
            + "632e61727469636c65730000000000000000000000c8107075626c69632e61727469636c6573023100000000000000c8"
            + "00000000000000c80000000e7b226964223a312c226e223a317d0000000105626f64790574782d370000000000000000"
            + "0000000000000000000000087b226964223a317d000000020c61727469636c65735f76310c61727469636c65735f7632"
            + "0100000275146364632e7075626c69632e61727469636c657300000000000000000000012c107075626c69632e617274"
            + "69636c65730231000000000000012c000000000000012c000000197b226964223a312c226e223a322c22626f6479223a"
            + "2262227d000000010873756d6d6172790574782d3800000000000000000000000000000000000000087b226964223a31"
            + "7d";

    private static AwaitingDocument twoChanges() {
        ChangeEvent first = upsert("articles", "1", 200, "{\"id\":1,\"n\":1}", "tx-7");
        first.unavailableColumns = new String[] {"body"};
        first.indices = new String[] {"articles_v1", "articles_v2"};
        ChangeEvent second = upsert("articles", "1", 300, "{\"id\":1,\"n\":2,\"body\":\"b\"}", "tx-8");
        second.unavailableColumns = new String[] {"summary"};
        return new AwaitingDocument(42, "articles_v1", 1_234, List.of(first, second));
    }

    @Test
    void theBytesOfVersion1AreReadAsTheyWereWritten() throws IOException {
        AwaitingDocument.Serializer serializer = AwaitingDocument.Serializer.INSTANCE;

        assertThat(serializer.getVersion()).isEqualTo(1);
        assertThat(HexFormat.of().formatHex(serializer.serialize(twoChanges())))
                .as("a change here (or in ChangeEventSerializer's format) needs version 2, with a reader of 1")
                .isEqualTo(VERSION_1);
        AwaitingDocument read = serializer.deserialize(1, HexFormat.of().parseHex(VERSION_1));
        assertThat(read.checkpointId()).isEqualTo(42);
        assertThat(read.index()).isEqualTo("articles_v1");
        assertThat(read.waitedMs()).isEqualTo(1_234);
        assertThat(read.changes()).usingRecursiveFieldByFieldElementComparator()
                .containsExactlyElementsOf(twoChanges().changes());
    }

    @Test
    void damagedStateIsRefusedSayingSo() {
        // Version 1's layout: checkpoint id (8 bytes), the index (2 + 11), the time waited (8), the number of changes (4).
        String count = VERSION_1.substring(58, 66);
        assertThat(count).isEqualTo("00000002");

        assertThatThrownBy(() -> read(VERSION_1.substring(0, 58) + "7fffffff" + VERSION_1.substring(66)))
                .as("a count far beyond the bytes: not a list sized by it first").isInstanceOf(IOException.class)
                .hasMessageContaining("ends early").hasMessageContaining("damaged");
        assertThatThrownBy(() -> read(VERSION_1.substring(0, 30)))
                .isInstanceOf(IOException.class).hasMessageContaining("ends early").hasMessageContaining("damaged");
        assertThatThrownBy(() -> read(VERSION_1.substring(0, 58) + "00000000" + VERSION_1.substring(66)))
                .isInstanceOf(IOException.class).hasMessageContaining("0 changes").hasMessageContaining("damaged");
        assertThatThrownBy(() -> read(VERSION_1 + "00"))
                .isInstanceOf(IOException.class).hasMessageContaining("1 byte after its changes")
                .hasMessageContaining("damaged");
    }

    @Test
    void aWaitWrittenNegativeByAClockSteppedBackIsReadAsNoneNotRefused() throws IOException {
        String waited = VERSION_1.substring(42, 58);
        assertThat(waited).isEqualTo("00000000000004d2");

        AwaitingDocument read = read(VERSION_1.substring(0, 42) + "fffffffffffffffe" + VERSION_1.substring(58));

        assertThat(read.waitedMs()).isZero();
        assertThat(read.changes()).hasSize(2);
    }

    private static AwaitingDocument read(String hex) throws IOException {
        return AwaitingDocument.Serializer.INSTANCE.deserialize(1, HexFormat.of().parseHex(hex));
    }

    @Test
    void aVersionItDoesNotKnowIsRefusedSayingWhy() {
        assertThatThrownBy(() -> AwaitingDocument.Serializer.INSTANCE.deserialize(2, new byte[0]))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("has version 2, which this version of the job does not know");
    }
}
