package io.cdcindexer.transaction;

import static io.cdcindexer.debezium.ChangeEvents.delete;
import static io.cdcindexer.debezium.ChangeEvents.endAt;
import static io.cdcindexer.debezium.ChangeEvents.upsert;
import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.debezium.ChangeEvent;
import io.cdcindexer.debezium.TransactionEnd;
import io.cdcindexer.elasticsearch.DocumentVersionFunction;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The collapse and the version check chained as in the job, on operator harnesses: what the collapse emits, records
 * and watermarks in their order, goes to the version check. Past its full count (here 0: always), a delete's memory
 * there ends once the watermark is past it by the transaction timeout; that is only sound if no transaction older than
 * the delete can leave the collapse after that watermark, which these hold the two to.
 */
class CollapseAndVersionCheckTest {

    private static final long MEMORY_MS = 3_600_000;
    /** Kafka times are the processing times plus this: Connect writes as the job reads, live. */
    private static final long KAFKA = 1_000_000;

    private KeyedOneInputStreamOperatorTestHarness<String, ChangeEvent, ChangeEvent> collapse;
    private KeyedOneInputStreamOperatorTestHarness<String, ChangeEvent, ChangeEvent> versions;
    private long timeoutMs;
    private int forwarded;

    private void start(long timeoutMs, OperatorSubtaskState[] restoredFrom, long at) throws Exception {
        this.timeoutMs = timeoutMs;
        collapse = new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new TransactionCollapseFunction(timeoutMs, 10_000)),
                TransactionCollapseFunction.CHANGE_KEY, Types.STRING);
        versions = new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new DocumentVersionFunction(600_000, MEMORY_MS, timeoutMs, 0)),
                DocumentVersionFunction.DOCUMENT_KEY, Types.STRING);
        collapse.setProcessingTime(at);
        versions.setProcessingTime(at);
        if (restoredFrom != null) {
            collapse.initializeState(restoredFrom[0]);
            versions.initializeState(restoredFrom[1]);
        }
        collapse.open();
        versions.open();
        forwarded = 0;
    }

    @AfterEach
    void close() throws Exception {
        collapse.close();
        versions.close();
    }

    private void at(long processingTime) throws Exception {
        collapse.setProcessingTime(processingTime);
        versions.setProcessingTime(processingTime);
        forward();
    }

    private void change(ChangeEvent change, long kafkaTime) throws Exception {
        change.kafkaTime = kafkaTime;
        collapse.processElement(new StreamRecord<>(change, kafkaTime));
        forward();
    }

    private void end(TransactionEnd end, long kafkaTime) throws Exception {
        collapse.processElement(new StreamRecord<>(ChangeEvent.endOf(end), kafkaTime));
        forward();
    }

    private void watermark(long watermark) throws Exception {
        collapse.processWatermark(new Watermark(watermark));
        forward();
    }

    // What the collapse emitted since the last call, in its order, into the version check.
    private void forward() throws Exception {
        Object[] out = collapse.getOutput().toArray();
        for (; forwarded < out.length; forwarded++) {
            if (out[forwarded] instanceof StreamRecord<?> record) {
                ChangeEvent change = ((ChangeEvent) record.getValue()).copy();
                versions.processElement(record.hasTimestamp() ? new StreamRecord<>(change, record.getTimestamp())
                        : new StreamRecord<>(change));
            } else if (out[forwarded] instanceof Watermark watermark) {
                versions.processWatermark(watermark);
            }
        }
    }

    private List<String> written() {
        return versions.extractOutputValues().stream().map(ChangeEvent::toString).toList();
    }

    /**
     * T1 (commit 200) updates users/1 and orders/1, but its orders change never comes (an event the decoder could not
     * read); T2 (commit 310), a second later, deletes users/1 and completes at once. T1 leaves at its timeout, its users
     * image older than the delete.
     */
    private void anOlderTransactionLeftIncompleteThenADelete() throws Exception {
        change(upsert("users", "1", 100, "{\"id\":1,\"v\":\"T1\"}", "t1"), KAFKA);
        end(endAt("t1", 200, "users", 1, "orders", 1), KAFKA);
        at(1_000);
        change(delete("users", "1", 300, "t2"), KAFKA + 1_000);
        end(endAt("t2", 310, "users", 1), KAFKA + 1_000);
        assertThat(written()).containsExactly("DELETE cdc.public.users/1 v310 lsn300");
    }

    // Review finding (2026-12-02): the collapse looked at an incomplete transaction only when its processing-time timer
    // fired, once a timeout, and waited another period while the watermark, trailing the newest record, was not quite
    // past it: T1 left at about two timeouts, after the delete's memory had ended by the watermark.
    @ParameterizedTest(name = "transaction timeout {0} ms")
    @ValueSource(longs = {30_000, 60_000})
    void anOlderTransactionFlushedAtItsTimeoutNeverBringsBackARowALaterOneDeleted(long timeoutMs) throws Exception {
        start(timeoutMs, null, 0);
        anOlderTransactionLeftIncompleteThenADelete();
        for (long p = 2_000; p <= 4 * timeoutMs; p += 200) {
            at(p);
            watermark(KAFKA + p - 1); // records keep coming on every partition
        }

        assertThat(written()).as("T1's users image is older than the delete").containsExactly(
                "DELETE cdc.public.users/1 v310 lsn300");
        assertThat(versions.numKeyedStateEntries()).as("and the delete's memory is over by now").isZero();
    }

    @Test
    void anOlderTransactionLeftIncompleteNeverBringsBackARowALaterOneDeletedWhenABacklogMovesTheWatermarkFast()
            throws Exception {
        start(30_000, null, 0);
        anOlderTransactionLeftIncompleteThenADelete();
        long watermark = KAFKA + 1_000;
        for (long p = 1_200; p <= 40_000; p += 200) { // the backlog: 20 s of Kafka time read per 200 ms
            at(p);
            watermark += 20_000;
            watermark(watermark - 1);
        }

        assertThat(written()).as("T1 left before the watermark that ends the delete's memory, not at its timer")
                .containsExactly("DELETE cdc.public.users/1 v310 lsn300");
    }

    @Test
    void anOlderTransactionRestoredIncompleteNeverBringsBackARowALaterOneDeletedWhenABacklogMovesTheWatermarkFast()
            throws Exception {
        start(30_000, null, 0);
        anOlderTransactionLeftIncompleteThenADelete();
        at(5_000);
        watermark(KAFKA + 4_999);
        OperatorSubtaskState[] checkpoint = {collapse.snapshot(1, 5_000), versions.snapshot(1, 5_000)};
        close();

        long restart = 5_000 + 600_000; // down for ten minutes
        start(30_000, checkpoint, restart);
        long watermark = KAFKA + 5_000;
        for (long p = restart; p <= restart + 90_000; p += 200) {
            at(p);
            watermark = Math.min(watermark + 20_000, KAFKA + p); // the backlog: 20 s of Kafka time read per 200 ms
            watermark(watermark - 1);
        }

        assertThat(collapse.extractOutputValues()).as("T1 flushed after the restore").singleElement()
                .hasToString("UPSERT cdc.public.users/1 v200 lsn100 {\"id\":1,\"v\":\"T1\"}");
        assertThat(written()).as("older than the delete, written before the checkpoint: dropped").isEmpty();
    }

    @Test
    void anIncompleteTransactionLeavesAsSoonAsTheWatermarkIsPastItByTheTimeoutBeforeThatWatermarkGoesOn()
            throws Exception {
        start(30_000, null, 0);
        change(upsert("users", "1", 100, "{\"id\":1}", "t1"), KAFKA);
        end(endAt("t1", 200, "users", 1, "orders", 1), KAFKA);
        watermark(KAFKA + 30_000 - 1);
        assertThat(collapse.extractOutputValues()).as("not yet past it by the timeout").isEmpty();

        watermark(KAFKA + 30_000); // no processing-time timer has fired: the job read a backlog that fast

        assertThat(collapse.getOutput()).as("flushed, then the watermark that made it due").hasSize(3);
        assertThat(collapse.getOutput().toArray()[1]).isInstanceOf(StreamRecord.class);
        assertThat(collapse.getOutput().toArray()[2]).isEqualTo(new Watermark(KAFKA + 30_000));
        assertThat(((ChangeEvent) ((StreamRecord<?>) collapse.getOutput().toArray()[1]).getValue()).partial).isTrue();
    }
}
