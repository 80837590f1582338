package io.cdcindexer.debezium;

import static io.cdcindexer.debezium.DebeziumFixtures.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cdcindexer.kafka.DeadLetter;
import io.cdcindexer.kafka.KafkaRecord;
import io.cdcindexer.transaction.TransactionCollapseFunction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.ProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Real events, captured by {@link CapturedEventsRecorder} from PostgreSQL 17 → Debezium 3.6.1 (the shipped connector
 * configuration) → Kafka, decoded by the job's own {@link DebeziumDecoder} and {@link DecodeFunction}. Each nested class
 * holds what one section of docs/FINDINGS.md says the job does with them. LSNs are read from the fixtures, so that a
 * fresh capture only fails where the behaviour changed.
 */
class CapturedEventsTest {

    static final String PLACEHOLDER = "__debezium_unavailable_value";

    private final DebeziumDecoder decoder = new DebeziumDecoder(PLACEHOLDER);
    private OneInputStreamOperatorTestHarness<KafkaRecord, ChangeEvent> decode;

    @BeforeEach
    void openDecodeFunction() throws Exception {
        // The job's defaults: JobOptions kafka.transaction-topic and kafka.topic-pattern.
        decode = new OneInputStreamOperatorTestHarness<>(
                new ProcessOperator<>(new DecodeFunction("cdc.transaction", "cdc\\.public\\..*", PLACEHOLDER)));
        decode.setup(ChangeEventSerializer.INSTANCE); // as the job's streams: it carries an END's stand-in whole
        decode.open();
    }

    @AfterEach
    void closeDecodeFunction() throws Exception {
        decode.close();
    }

    // --- helpers ---------------------------------------------------------------------------------------------------

    static KafkaRecord record(String name) {
        return DebeziumFixtures.record("captured/" + name);
    }

    /** The value's payload as Debezium wrote it. */
    static JsonNode payload(String name) {
        return DebeziumFixtures.json("captured/" + name).path("value").path("payload");
    }

    static long lsn(String name) {
        return payload(name).path("source").path("lsn").asLong();
    }

    DebeziumEnvelope envelope(String name) throws MalformedChangeException {
        KafkaRecord record = record(name);
        return decoder.decode(record.topic, record.key, record.value);
    }

    ChangeEvent change(String name) throws MalformedChangeException {
        KafkaRecord record = record(name);
        return DecodeFunction.toChange(record, decoder.decode(record.topic, record.key, record.value));
    }

    String document(String name) throws MalformedChangeException {
        return text(change(name).document);
    }

    static String text(byte[] bytes) {
        return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }

    /** Runs records through the job's DecodeFunction; returns the changes it emits (not the END events' stand-ins). */
    List<ChangeEvent> routed(KafkaRecord... records) throws Exception {
        for (KafkaRecord record : records) {
            decode.processElement(record, 0);
        }
        return decode.extractOutputValues().stream().filter(change -> !change.isTransactionEnd()).toList();
    }

    List<String> deadLetterReasons() {
        Queue<StreamRecord<DeadLetter>> letters = decode.getSideOutput(DecodeFunction.DEAD_LETTERS);
        List<String> reasons = new ArrayList<>();
        if (letters != null) {
            letters.forEach(letter -> reasons.add(letter.getValue().reason));
        }
        return reasons;
    }

    /** The END events the DecodeFunction passed on to the collapse, in their stand-ins. */
    List<String> transactionEnds() {
        return decode.extractOutputValues().stream().filter(ChangeEvent::isTransactionEnd)
                .map(standIn -> standIn.end.toString()).toList();
    }

    /** A captured record with its value changed as the test says (malformed variants of real events). */
    static KafkaRecord withValue(String name, Consumer<ObjectNode> change) {
        JsonNode fixture = DebeziumFixtures.json("captured/" + name);
        ObjectNode value = fixture.get("value").deepCopy();
        change.accept(value);
        return new KafkaRecord(fixture.get("topic").asText(), 0, 1, 0, bytes(fixture.get("key")), bytes(value));
    }

    // --- the sections of docs/FINDINGS.md ---------------------------------------------------------------------------

    @Nested
    class Snapshot {

        private final List<String> reads = List.of("snapshot-orders-last-in-data-collection",
                "snapshot-users-first-in-data-collection", "snapshot-users-true", "snapshot-users-last");

        @Test
        void snapshotMarkersAreFirstInDataCollectionTrueLastInDataCollectionAndLast() {
            assertThat(reads.stream().map(name -> payload(name).at("/source/snapshot").asText()))
                    .containsExactly("last_in_data_collection", "first_in_data_collection", "true", "last");
            assertThat(reads.stream().map(name -> payload(name).path("op").asText())).containsOnly("r");
            assertThat(reads.stream().map(name -> payload(name).path("transaction").isNull())).containsOnly(true);
        }

        @Test
        void everySnapshotReadIsAnUpsertVersionedWithTheOneSnapshotLsn() throws Exception {
            long snapshotLsn = lsn(reads.get(0));
            for (String read : reads) {
                ChangeEvent change = change(read);
                assertThat(change.action).isEqualTo(ChangeEvent.Action.UPSERT);
                assertThat(change.op).isEqualTo("r");
                assertThat(change.version).isEqualTo(snapshotLsn);
                assertThat(change.transactionId).as("no transaction block: passes the collapse untouched").isNull();
            }
            assertThat(snapshotLsn).isLessThan(lsn("users-insert"));
        }

        @Test
        void everyChangeCarriesItsSnapshotMarkForTheIndexMappingStep() throws Exception {
            for (String read : reads) {
                assertThat(change(read).snapshot).isEqualTo(payload(read).at("/source/snapshot").asText());
            }
            assertThat(change("users-insert").snapshot).isEqualTo("false");
        }

        @Test
        void snapshotDocumentsAreTheRows() throws Exception {
            assertThat(document("snapshot-users-first-in-data-collection")).isEqualTo(
                    "{\"id\":1,\"username\":\"alice\",\"email\":\"alice@example.com\",\"created_at\":\"2026-11-27T10:00:00.123456Z\"}");
            // timestamptz '2026-11-27 11:00:00+01' arrives normalised to UTC.
            assertThat(document("snapshot-users-true")).contains("\"created_at\":\"2026-11-27T10:00:00.000000Z\"");
            assertThat(document("snapshot-orders-last-in-data-collection")).isEqualTo(
                    "{\"id\":1,\"user_id\":1,\"amount\":1234.50,\"status\":\"new\",\"created_at\":\"2026-11-27T10:05:00.000000Z\"}");
        }
    }

    @Nested
    class Operations {

        @Test
        void insertIsAnUpsertOfTheAfterImage() throws Exception {
            ChangeEvent insert = change("users-insert");

            assertThat(insert).hasToString("UPSERT cdc.public.users/4 v" + lsn("users-insert") + " {\"id\":4,"
                    + "\"username\":\"carol\",\"email\":\"carol@example.com\",\"created_at\":\"2026-11-28T09:15:00.000000Z\"}");
            assertThat(insert.transactionId).isEqualTo("747");
        }

        @Test
        void updateUnderTheDefaultReplicaIdentityHasNoBeforeImage() throws Exception {
            assertThat(payload("users-update").path("before").isNull()).isTrue();
            assertThat(document("users-update")).contains("\"email\":\"carol@new.example.com\"");
            assertThat(change("users-update").version).isGreaterThan(lsn("users-insert"));
        }

        @Test
        void deleteUnderTheDefaultReplicaIdentityHasOnlyTheKeyInBefore() throws Exception {
            DebeziumEnvelope delete = envelope("users-delete");

            assertThat(delete.before()).hasToString("{\"id\":4,\"username\":null,\"email\":null,\"created_at\":null}");
            assertThat(change("users-delete")).hasToString("DELETE cdc.public.users/4 v" + lsn("users-delete"));
        }

        @Test
        void tombstoneIsCountedAndDropped() throws Exception {
            assertThat(envelope("users-tombstone").isTombstone()).isTrue();
            assertThat(envelope("users-tombstone").key()).hasToString("{\"id\":4}");

            assertThat(routed(record("users-tombstone"))).isEmpty();
            assertThat(deadLetterReasons()).isEmpty();
        }

        @Test
        void replicaIdentityFullGivesTheWholeRowInBeforeWhichTheJobDoesNotNeed() throws Exception {
            assertThat(envelope("full-update").before()).hasToString("{\"id\":1,\"username\":\"dora\","
                    + "\"email\":\"dora@example.com\",\"created_at\":\"2026-11-28T10:00:00.000000Z\"}");
            assertThat(document("full-update")).contains("\"email\":\"dora@new.example.com\"");
            assertThat(envelope("full-delete").before().get("email").asText()).isEqualTo("dora@new.example.com");
            assertThat(change("full-delete")).hasToString("DELETE cdc.public.users_full/1 v" + lsn("full-delete"));
        }
    }

    @Nested
    class Toast {

        @Test
        void placeholderComesAsTextAsBase64BytesAndAsAOneElementArray() {
            JsonNode after = payload("toast-update").path("after");

            assertThat(after.path("body").asText()).isEqualTo(PLACEHOLDER);
            assertThat(after.path("payload").asText()).isEqualTo(PLACEHOLDER); // jsonb
            assertThat(after.path("blob").asText()).isEqualTo("X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="); // bytea
            assertThat(after.path("tags").toString()).isEqualTo("[\"" + PLACEHOLDER + "\"]"); // text[]
            // repeat('x', 10000) compresses to 125 bytes and stays in the row: it is always sent.
            assertThat(after.path("body_repeated").asText()).hasSize(10_000);
        }

        @Test
        void unavailableColumnsAreLeftOutOfTheDocumentAndNamed() throws Exception {
            ChangeEvent update = change("toast-update");

            assertThat(update.unavailableColumns).containsExactly("body", "payload", "blob", "tags");
            assertThat(text(update.document)).startsWith("{\"id\":1,\"title\":\"Second title\",\"body_repeated\":\"xxx")
                    .doesNotContain(PLACEHOLDER);
        }

        @Test
        void anEarlierImageFillsThemIn() throws Exception {
            ChangeEvent insert = change("toast-insert");
            ChangeEvent filled = change("toast-update").withUnavailableColumnsFrom(insert.document);

            assertThat(filled.hasUnavailableColumns()).isFalse();
            ObjectNode expected = (ObjectNode) DebeziumDecoder.mapper().readTree(insert.document);
            expected.put("title", "Second title");
            assertThat(DebeziumDecoder.mapper().readTree(filled.document)).isEqualTo(expected);
        }

        @Test
        void withReplicaIdentityFullDebeziumSendsTheRealValues() throws Exception {
            ChangeEvent update = change("toast-full-update");
            ChangeEvent insert = change("toast-full-insert");

            assertThat(update.unavailableColumns).isNull();
            JsonNode updated = DebeziumDecoder.mapper().readTree(update.document);
            JsonNode inserted = DebeziumDecoder.mapper().readTree(insert.document);
            for (String column : List.of("body", "payload", "blob", "tags", "body_repeated")) {
                assertThat(updated.get(column)).as(column).isEqualTo(inserted.get(column));
            }
            assertThat(updated.get("payload").isObject()).as("jsonb becomes an object").isTrue();
        }

        @Test
        void deleteOfAToastedRowIsAnOrdinaryDelete() throws Exception {
            assertThat(change("toast-delete")).hasToString("DELETE cdc.public.documents/1 v" + lsn("toast-delete"));
            assertThat(change("toast-delete").unavailableColumns).isNull();
        }
    }

    @Nested
    class TypeConversions {

        @Test
        void rawEncodingOfTheJsonConverter() {
            JsonNode after = payload("types-insert").path("after");

            assertThat(after.path("price").asText()).isEqualTo("AeI6"); // Decimal: unscaled bytes, base64
            assertThat(after.path("ratio").toString()).isEqualTo("{\"scale\":20,\"value\":\"EQfV61tbpNfG\"}");
            assertThat(after.path("born").asInt()).isEqualTo(19000); // days since 1970-01-01
            assertThat(after.path("alarm").asLong()).isEqualTo(34_200_123_456L); // microseconds of the day
            assertThat(after.path("took").asLong()).isEqualTo(37_091_106_789_000L); // a month counted as 30.4375 days
            assertThat(after.path("attrs").isTextual()).isTrue(); // json and jsonb as strings
            assertThat(after.path("prices").toString()).isEqualTo("[\"AJY=\",\"AOE=\"]");
            assertThat(after.path("cash").asText()).isEqualTo("BNI="); // money: a Decimal of scale 2
        }

        @Test
        void theDecoderTurnsThemIntoJsonThatElasticsearchMapsWell() throws Exception {
            assertThat(document("types-insert")).isEqualTo("{\"id\":1,\"price\":1234.50,\"ratio\":3.14159265358979323846,"
                    + "\"born\":\"2022-01-08\",\"alarm\":\"09:30:00.123456\",\"alarm_tz\":\"07:30:00.000000Z\","
                    + "\"seen_at\":\"2025-11-27T10:00:00.123456\",\"seen_at_ms\":\"2025-11-27T10:00:00.123\","
                    + "\"paid_at\":\"2026-11-27T09:00:00.500000Z\",\"took\":37091106789000,"
                    + "\"attrs\":{\"size\":\"L\",\"tags\":[\"a\",\"b\"]},\"doc\":[1,2.50,{\"x\":null}],"
                    + "\"uid\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"ints\":[1,2,null],\"words\":[\"a,b\",\"c\"],"
                    + "\"prices\":[1.50,2.25],\"days\":[\"1970-01-01\",\"2022-01-08\"],\"blob\":\"AAH/\",\"active\":true,"
                    + "\"score\":0.1,\"small\":1.5,\"big\":9007199254740993,\"feeling\":\"happy\",\"code\":\"ab   \","
                    + "\"cash\":12.34}");
        }

        @Test
        void nanAndInfinityOfNumericArriveAsNull() {
            assertThat(payload("special-values-1").at("/after/amount").isNull()).as("numeric 'NaN'").isTrue();
            assertThat(payload("special-values-2").at("/after/amount").isNull()).as("numeric 'Infinity'").isTrue();
        }

        @Test
        void specialValuesThatDecode() throws Exception {
            assertThat(document("special-values-2")).isEqualTo("{\"id\":2,\"amount\":null,\"price\":99999999.99,"
                    + "\"score\":null,\"small\":null,\"born\":\"-0043-03-15\",\"alarm\":null,"
                    + "\"seen_at\":\"0001-01-01T00:00:00\",\"paid_at\":\"2262-04-12T00:00:00.000000Z\",\"took\":null}");
            assertThat(document("special-values-3")).contains("\"amount\":0.00000000000000000001");
        }

        @Test
        void time2400IsWrittenTheWayPostgresWritesIt() throws Exception {
            JsonNode after = payload("special-values-1").path("after");
            assertThat(after.path("alarm").asLong()).isEqualTo(86_400_000_000L);
            assertThat(after.path("score").asText()).isEqualTo("NaN");
            assertThat(after.path("small").asText()).isEqualTo("Infinity");
            assertThat(after.path("paid_at").asText()).isEqualTo("-infinity");
            assertThat(after.path("seen_at").asLong()).isEqualTo(9_223_372_036_825_200_000L);

            assertThat(DebeziumDecoder.mapper().readTree(document("special-values-1")).path("alarm").asText())
                    .isEqualTo("24:00:00");
        }
    }

    /** The mapping_types rows: what the job writes for each type, the column "JSON the job writes" of docs/mappings.md. */
    @Nested
    class MappingTypes {

        @Test
        void typicalValues() throws Exception {
            assertThat(document("mapping-types-1")).isEqualTo("{\"id\":1,\"small_n\":7,\"n\":42,\"big_n\":9007199254740993,"
                    + "\"amount\":1234567.89,\"wide\":1234567890123456.7891,\"ratio\":12,\"cash\":12.34,\"score\":0.1,"
                    + "\"small\":1.5,\"active\":true,\"body\":\"2026-11-27\",\"title\":\"Quick Brown Fox\",\"code\":\"ab   \","
                    + "\"uid\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"mood\":\"happy\",\"born\":\"2022-01-08\","
                    + "\"alarm\":\"09:30:00.123456\",\"alarm_tz\":\"07:30:00.000000Z\",\"seen_at\":\"2025-11-27T10:00:00.123456\","
                    + "\"seen_at_ms\":\"2025-11-27T10:00:00.123\",\"paid_at\":\"2026-11-27T09:00:00.500000Z\","
                    + "\"took\":37091106789000,\"attrs\":{\"size\":\"L\",\"tags\":[\"a\",\"b\"]},\"doc\":{\"k\":1},"
                    + "\"blob\":\"AAH/\",\"addr\":\"192.168.0.1\",\"ints\":[1,2,null],\"words\":[\"a,b\",\"c\"],"
                    + "\"amounts\":[1.50,2.25],\"days\":[\"1970-01-01\",\"2022-01-08\"],"
                    + "\"uids\":[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"],\"codes\":[\"ab\",\"c \"],"
                    + "\"addrs\":[\"10.0.0.1\",\"::1\"],\"moods\":[\"ok\",\"sad\"]}");
        }

        @Test
        void edgeValues() throws Exception {
            assertThat(document("mapping-types-2")).isEqualTo("{\"id\":2,\"small_n\":-32768,\"n\":-2147483648,"
                    + "\"big_n\":-9223372036854775808,\"amount\":-0.01,\"wide\":-0.0001,\"ratio\":3.14159265358979323846,"
                    + "\"cash\":-12.34,\"score\":-1.5,\"small\":-340000000000000000000000000000000000000,\"active\":false,"
                    + "\"body\":null,\"title\":\"Ünïcödé ☃\",\"code\":\"xyz  \",\"uid\":\"00000000-0000-0000-0000-000000000000\","
                    + "\"mood\":\"sad\",\"born\":\"1969-07-20\",\"alarm\":\"00:00:00\",\"alarm_tz\":\"04:59:59.999999Z\","
                    + "\"seen_at\":\"1901-01-01T00:00:00.5\",\"seen_at_ms\":\"1950-06-01T12:00:00\","
                    + "\"paid_at\":\"1950-06-01T10:00:00.000000Z\",\"took\":-259200000000,\"attrs\":[],\"doc\":{\"k\":2},"
                    + "\"blob\":\"\",\"addr\":\"10.1.2.3/8\",\"ints\":[],\"words\":[],\"amounts\":[-0.01],"
                    + "\"days\":[\"1900-01-01\",\"1969-12-31\"],\"uids\":[],\"codes\":[],\"addrs\":[],\"moods\":[]}");
        }

        /**
         * NaN and infinities as the converter writes them; date 'infinity' overflows in Debezium into a day 5.9 million
         * years BC, and a timestamp past 294247-01-10 (the last microsecond a long holds) into one 290308 years BC.
         */
        @Test
        void specialValuesAndMaximums() throws Exception {
            assertThat(document("mapping-types-5")).contains("\"amount\":0.20,", "\"ratio\":null,", "\"score\":\"NaN\",",
                    "\"small\":\"Infinity\",", "\"born\":\"-5877611-06-21\",", "\"alarm\":\"24:00:00\",",
                    "\"seen_at\":\"+294247-01-10T04:00:25.2\",", "\"paid_at\":\"-infinity\",", "\"doc\":[1,2.50,{\"x\":null}],");
            assertThat(payload("mapping-types-5").at("/after/ratio").isNull()).as("numeric 'NaN'").isTrue();
            assertThat(document("mapping-types-6")).contains("\"small_n\":32767,", "\"n\":2147483647,",
                    "\"big_n\":9223372036854775807,", "\"amount\":9999999999.99,", "\"wide\":9999999999999999.9999,",
                    "\"score\":-15000000000", "\"small\":340000000000000000000000000000000000000,", "\"born\":\"-4712-01-01\",",
                    "\"seen_at\":\"-290308-12-21T19:59:06.22419\",", "\"paid_at\":\"-4712-01-01T00:00:00.000000Z\",");
        }

        @Test
        void charAndInetCarryTheirSourceType() {
            JsonNode fields = DebeziumFixtures.json("captured/mapping-types-1").at("/value/schema/fields/1/fields");
            List<String> typed = new ArrayList<>();
            fields.forEach(field -> {
                if (field.at("/parameters/__debezium.source.column.type").isTextual()) {
                    typed.add(field.path("field").asText() + " " + field.at("/parameters/__debezium.source.column.type").asText());
                }
            });

            assertThat(typed).containsExactly("code BPCHAR", "addr INET", "codes _BPCHAR", "addrs _INET");
        }
    }

    @Nested
    class TransactionMetadata {

        private final List<String> data = List.of("tx-users-insert", "tx-orders-insert-1", "tx-orders-insert-2",
                "tx-users-update");

        @Test
        void beginIsSkippedAndEndCountsEventsPerTable() throws Exception {
            assertThat(decoder.decodeTransaction(record("tx-begin").value)).isNull();
            String commit = payload("tx-end").path("id").asText().substring("767:".length());
            assertThat(decoder.decodeTransaction(record("tx-end").value))
                    .hasToString("END 767 @" + commit + " public.users=2 public.orders=2");
            assertThat(payload("tx-end").path("event_count").asLong()).isEqualTo(4);
        }

        @Test
        void eachDataEventCarriesItsOwnLsnInTheTransactionId() {
            String begin = payload("tx-begin").path("id").asText();
            String end = payload("tx-end").path("id").asText();
            List<String> ids = data.stream().map(name -> payload(name).at("/transaction/id").asText()).toList();

            assertThat(ids.get(0)).isEqualTo(begin);
            assertThat(data.stream().map(name -> "767:" + lsn(name)).toList()).isEqualTo(ids);
            assertThat(end).startsWith("767:").isNotIn(ids).isNotEqualTo(begin);
            assertThat(data.stream().map(name -> payload(name).at("/transaction/total_order").asInt()))
                    .containsExactly(1, 2, 3, 4);
            assertThat(data.stream().map(name -> payload(name).at("/transaction/data_collection_order").asInt()))
                    .containsExactly(1, 1, 2, 2);
        }

        @Test
        void theJobKeysEveryEventByTheTxIdPart() throws Exception {
            List<ChangeEvent> changes = routed(Stream.concat(Stream.of("tx-begin"), data.stream())
                    .map(CapturedEventsTest::record).toArray(KafkaRecord[]::new));
            routed(record("tx-end"));

            assertThat(changes).extracting(c -> c.transactionId).containsOnly("767");
            assertThat(transactionEnds()).containsExactly("END 767 @26449768 public.users=2 public.orders=2");
        }

        /** The commit position is the LSN part of END's id, after every change of the transaction. */
        @Test
        void theRealTransactionCollapsesToOneWritePerRowVersionedWithItsCommitPosition() throws Exception {
            List<ChangeEvent> changes = new ArrayList<>();
            for (String name : data) {
                changes.add(change(name));
            }
            TransactionEnd end = decoder.decodeTransaction(record("tx-end").value);
            KeyedOneInputStreamOperatorTestHarness<String, ChangeEvent, ChangeEvent> collapse =
                    ProcessFunctionTestHarnesses.forKeyedProcessFunction(new TransactionCollapseFunction(60_000, 10_000),
                            TransactionCollapseFunction.CHANGE_KEY, Types.STRING);
            try {
                // END first: it lands on another partition of cdc.transaction than BEGIN and may well come first.
                collapse.processElement(ChangeEvent.endOf(end), 0);
                for (ChangeEvent change : changes) {
                    collapse.processElement(change, 0);
                }
                long commit = end.commitLsn;
                assertThat(data).allSatisfy(name -> assertThat(lsn(name)).isLessThan(commit));
                assertThat(collapse.extractOutputValues()).extracting(c -> c.documentKey() + " v" + c.version)
                        .containsExactlyInAnyOrder("cdc.public.users/10 v" + commit, "cdc.public.orders/2 v" + commit,
                                "cdc.public.orders/3 v" + commit);
                assertThat(collapse.numKeyedStateEntries()).isZero();
            } finally {
                collapse.close();
            }
        }

        @Test
        void transactionKeyHasItsOwnSchema() {
            JsonNode key = DebeziumFixtures.json("captured/tx-end").path("key");
            assertThat(key.at("/schema/name").asText()).isEqualTo("io.debezium.connector.common.TransactionMetadataKey");
            assertThat(key.at("/payload/id").asText()).isEqualTo(payload("tx-end").path("id").asText());
        }

        @Test
        void aTruncateGivesAnEmptyTransaction() throws Exception {
            assertThat(payload("truncate-end").path("event_count").asInt()).isZero();
            assertThat(decoder.decodeTransaction(record("truncate-end").value).tables).isEmpty();
        }

        @Test
        void aLogicalDecodingMessageIsCountedUnderAnInternalNameThatTheJobFiltersOut() throws Exception {
            assertThat(payload("logical-message-end").at("/data_collections/0/data_collection").asText())
                    .startsWith("io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@");
            routed(record("logical-message-end"));
            assertThat(transactionEnds()).containsExactly("END 799 @26643144 public.scratch_rows=1");
        }

        @Test
        void logicalDecodingMessagesGoToTheirOwnTopicWithOpM() {
            assertThat(record("logical-message-in-transaction").topic).isEqualTo("cdc.message")
                    .doesNotMatch("cdc\\.public\\..*");
            assertThat(payload("logical-message-in-transaction").at("/message/content").asText())
                    .isEqualTo("aGVsbG8gaW4gYSB0cmFuc2FjdGlvbg=="); // base64 of the content
            assertThat(payload("logical-message-outside").path("transaction").isNull()).isTrue();
            assertThatThrownBy(() -> envelope("logical-message-in-transaction"))
                    .hasMessage("unknown or unsupported op 'm'");
        }
    }

    @Nested
    class SchemaChanges {

        private final List<String> events = List.of("schema-0-insert", "schema-1-added-column",
                "schema-2-dropped-column", "schema-3-integer-to-text", "schema-4-integer-to-numeric",
                "schema-5-text-to-jsonb", "schema-6-insert-after-changes");

        @Test
        void oneDecoderFollowsEverySchemaChangeOnTheTopic() throws Exception {
            List<String> documents = new ArrayList<>();
            for (String event : events) {
                documents.add(document(event));
            }
            assertThat(documents).containsExactly(
                    "{\"id\":1,\"name\":\"widget\",\"qty\":5,\"price\":12,\"note\":\"first\"}",
                    "{\"id\":1,\"name\":\"widget\",\"qty\":5,\"price\":12,\"note\":\"second\",\"color\":\"red\"}",
                    "{\"id\":1,\"name\":\"widget\",\"qty\":6,\"price\":12,\"color\":\"red\"}",
                    "{\"id\":1,\"name\":\"widget\",\"qty\":\"six\",\"price\":12,\"color\":\"red\"}",
                    "{\"id\":1,\"name\":\"widget\",\"qty\":\"six\",\"price\":12.75,\"color\":\"red\"}",
                    "{\"id\":1,\"name\":{\"en\":\"Widget\",\"fr\":\"Bidule\"},\"qty\":\"six\",\"price\":12.75,\"color\":\"red\"}",
                    "{\"id\":2,\"name\":\"gadget\",\"qty\":\"7\",\"price\":3.50,\"color\":\"red\"}");
        }

        @Test
        void theSchemaInTheEventsSaysWhatChanged() {
            assertThat(field("schema-0-insert", "qty").path("type").asText()).isEqualTo("int32");
            assertThat(field("schema-3-integer-to-text", "qty").path("type").asText()).isEqualTo("string");
            assertThat(field("schema-3-integer-to-text", "price").path("type").asText()).isEqualTo("int32");
            assertThat(field("schema-4-integer-to-numeric", "price").path("name").asText())
                    .isEqualTo("org.apache.kafka.connect.data.Decimal");
            assertThat(field("schema-5-text-to-jsonb", "name").path("name").asText()).isEqualTo("io.debezium.data.Json");
            JsonNode color = field("schema-1-added-column", "color");
            assertThat(color.path("optional").asBoolean()).isFalse();
            assertThat(color.path("default").asText()).isEqualTo("red");
            assertThat(field("schema-2-dropped-column", "note").isMissingNode()).isTrue();
        }

        private JsonNode field(String event, String column) {
            JsonNode after = DebeziumFixtures.json("captured/" + event).at("/value/schema/fields/1/fields");
            for (JsonNode field : after) {
                if (field.path("field").asText().equals(column)) {
                    return field;
                }
            }
            return after.path("missing");
        }
    }

    @Nested
    class OrderingAndVersions {

        @Test
        void updatesOfOneRowInOneTransactionHaveIncreasingLsns() throws Exception {
            List<ChangeEvent> updates = List.of(change("same-row-update-1"), change("same-row-update-2"),
                    change("same-row-update-3"));

            assertThat(updates).extracting(c -> c.version).isSorted().doesNotHaveDuplicates();
            assertThat(updates).extracting(c -> c.transactionId).containsOnly("768");
            assertThat(updates).extracting(c -> c.documentId).containsOnly("1");
            assertThat(decoder.decodeTransaction(record("same-row-end").value)).hasToString("END 768 @26450208 public.users=3");
        }

        @Test
        void sequenceEndsWithTheEventsLsn() {
            for (String name : List.of("same-row-update-1", "same-row-update-2", "same-row-update-3", "users-insert",
                    "snapshot-users-true")) {
                String sequence = payload(name).at("/source/sequence").asText();
                assertThat(sequence).as(name).endsWith(",\"" + lsn(name) + "\"]");
            }
            assertThat(payload("snapshot-users-true").at("/source/sequence").asText()).startsWith("[null,");
        }

        @Test
        void aDuplicateAfterAWorkerCrashIsTheSameWriteAgain() throws Exception {
            ChangeEvent first = change("restart-kill-first-delivery");
            ChangeEvent second = change("restart-kill-second-delivery");

            assertThat(second.toString()).isEqualTo(first.toString()); // same id, same version, same document
            assertThat(payload("restart-kill-second-delivery").path("ts_ms").asLong())
                    .isGreaterThan(payload("restart-kill-first-delivery").path("ts_ms").asLong());
        }
    }

    @Nested
    class Keys {

        @Test
        void primaryKeyUpdateIsADeleteOfTheOldIdAndACreateOfTheNewOneAtTheSameLsn() throws Exception {
            ChangeEvent delete = change("pk-update-delete");
            ChangeEvent create = change("pk-update-create");

            assertThat(delete).hasToString("DELETE cdc.public.users/2 v" + lsn("pk-update-delete"));
            assertThat(create.toString()).startsWith("UPSERT cdc.public.users/100 v" + lsn("pk-update-delete") + " ");
            assertThat(envelope("pk-update-tombstone").key()).hasToString("{\"id\":2}");
            assertThat(decoder.decodeTransaction(record("pk-update-end").value)).hasToString("END 782 @26567568 public.users=2");
        }

        @Test
        void tableWithoutPrimaryKeyHasANullKeyAndGoesToTheDeadLetterQueue() throws Exception {
            assertThat(record("nopk-insert").key).isNull();

            assertThat(routed(record("nopk-insert"), record("nopk-update-full"), record("nopk-delete-full")))
                    .as("stand-ins that only count toward their transactions")
                    .extracting(c -> c.action + " " + c.table + " tx " + (c.transactionId != null))
                    .containsOnly("SKIP public.audit_log tx true");
            assertThat(deadLetterReasons()).hasSize(3).allSatisfy(reason -> assertThat(reason).isEqualTo(
                    "the record has no key (a table without primary key? give it one, or set the connector's "
                            + "message.key.columns)"));
        }

        @Test
        void theTombstoneAfterAKeylessDeleteHasNeitherKeyNorValueAndIsDropped() throws Exception {
            assertThat(routed(new KafkaRecord("cdc.public.audit_log", 0, 3, 0, null, null))).isEmpty();
            assertThat(deadLetterReasons()).isEmpty();
        }

        /**
         * END counts a change that went to the dead-letter queue; its stand-in counts too, so the other changes of its
         * transaction need not wait for the timeout. The END is the one captured with nopk-insert (txId 784).
         */
        @Test
        void aDeadLetteredChangeStillCountsSoItsTransactionCompletesOnTime() throws Exception {
            List<ChangeEvent> standIns = routed(record("nopk-insert"));
            assertThat(deadLetterReasons()).hasSize(1);
            ChangeEvent sameTransaction = change("users-insert");
            sameTransaction.transactionId = "784"; // as if the application had also written users in that transaction

            KeyedOneInputStreamOperatorTestHarness<String, ChangeEvent, ChangeEvent> collapse =
                    ProcessFunctionTestHarnesses.forKeyedProcessFunction(new TransactionCollapseFunction(10_000, 10_000),
                            TransactionCollapseFunction.CHANGE_KEY, Types.STRING);
            try {
                collapse.setProcessingTime(0);
                collapse.processElement(sameTransaction, 0);
                collapse.processElement(standIns.get(0), 0);
                collapse.processElement(ChangeEvent.endOf(ChangeEvents.end("784", "users", 1, "audit_log", 1)), 0);

                assertThat(collapse.extractOutputValues()).extracting(c -> c.documentKey()).containsExactly("cdc.public.users/4");
                assertThat(collapse.numProcessingTimeTimers()).isZero();
            } finally {
                collapse.close();
            }
        }

        /** Open point (docs/FINDINGS.md): under REPLICA IDENTITY USING INDEX the key of a delete is the column default. */
        @Test
        void openPointReplicaIdentityUsingIndexDeletesDocumentZero() throws Exception {
            assertThat(envelope("ri-index-update-name").before()).isNull();
            assertThat(document("ri-index-update-name")).isEqualTo("{\"id\":1,\"code\":\"A-1\",\"name\":\"big anvil\"}");

            // Changing the indexed column: Debezium takes it for a key change; the old key lacks the primary key column.
            assertThat(envelope("ri-index-update-code-delete").before()).hasToString("{\"id\":0,\"code\":\"A-1\",\"name\":null}");
            assertThat(change("ri-index-update-code-delete").toString()).isEqualTo(
                    "DELETE cdc.public.skus/0 v" + lsn("ri-index-update-code-delete"));
            assertThat(change("ri-index-update-code-create").documentId).isEqualTo("1");

            // A plain delete: document 1 stays in Elasticsearch, document 0 (maybe another row!) is deleted.
            assertThat(change("ri-index-delete").toString()).isEqualTo("DELETE cdc.public.skus/0 v" + lsn("ri-index-delete"));
        }
    }

    /**
     * Every type PostgreSQL allows in a primary key, one table each plus two composite keys (fixtures keys-*, scenario
     * key-types of the recorder): each row inserted, updated and deleted, each step one transaction over all tables.
     */
    @Nested
    class KeyTypes {

        /** Table → the key column's value in the document, and the document id. */
        private static final String[][] KEYS = {
                {"int2", "-7", "-7"},
                {"int4", "2147483647", "2147483647"},
                {"int8", "9007199254740993", "9007199254740993"},
                {"numeric-scaled", "1234.50", "1234.50"},
                {"numeric", "12.34", "12.34"}, // inserted as 12.3400: Debezium drops the trailing zeros
                {"money", "12.34", "12.34"},
                {"text-empty", "\"\"", "%00"},
                {"varchar", "\"a,b 50%\"", "a,b 50%25"},
                {"char", "\"ab   \"", "ab   "},
                {"uuid", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
                {"date", "\"2022-01-08\"", "2022-01-08"},
                {"time", "\"09:30:00.123456\"", "09:30:00.123456"},
                {"timestamp", "\"2025-11-27T10:00:00.123456\"", "2025-11-27T10:00:00.123456"},
                {"timestamptz", "\"2026-11-27T09:00:00.500000Z\"", "2026-11-27T09:00:00.500000Z"},
                {"bool", "true", "true"},
                {"enum", "\"happy\"", "happy"},
                {"bytea", "\"AAH/\"", "AAH/"},
        };

        private static String topic(String name) {
            return "cdc.public.key_" + name.replace('-', '_');
        }

        @Test
        void keysOfEveryTypeArriveRawInKeyAndRowAlike() {
            assertThat(DebeziumFixtures.json("captured/keys-date-insert").at("/key/payload").toString())
                    .isEqualTo("{\"k\":19000}");
            assertThat(payload("keys-date-insert").at("/after/k").asInt()).isEqualTo(19000);
            assertThat(payload("keys-time-insert").at("/after/k").asLong()).isEqualTo(34_200_123_456L);
            assertThat(payload("keys-numeric-insert").at("/after/k").toString()).isEqualTo("{\"scale\":2,\"value\":\"BNI=\"}");
            assertThat(payload("keys-money-insert").at("/after/k").asText()).isEqualTo("BNI=");
            // A delete under the default replica identity: the key columns in before, the rest null.
            assertThat(payload("keys-date-delete").path("before").toString()).isEqualTo("{\"k\":19000,\"v\":null}");
        }

        @Test
        void everyKeyTypeIsInsertedUpdatedAndDeletedUnderItsDocumentId() throws Exception {
            List<String> expected = new ArrayList<>();
            List<KafkaRecord> records = new ArrayList<>();
            for (String[] key : KEYS) {
                String name = "keys-" + key[0];
                String document = topic(key[0]) + "/" + key[2];
                expected.add("UPSERT " + document + " v" + lsn(name + "-insert") + " {\"k\":" + key[1] + ",\"v\":\"first\"}");
                expected.add("UPSERT " + document + " v" + lsn(name + "-update") + " {\"k\":" + key[1] + ",\"v\":\"second\"}");
                expected.add("DELETE " + document + " v" + lsn(name + "-delete"));
                Stream.of("-insert", "-update", "-delete").forEach(step -> records.add(record(name + step)));
            }
            records.add(record("keys-text-empty-tombstone"));

            List<ChangeEvent> changes = routed(records.toArray(KafkaRecord[]::new));

            assertThat(deadLetterReasons()).isEmpty();
            assertThat(changes).extracting(ChangeEvent::toString).containsExactlyElementsOf(expected);
        }

        @Test
        void compositeKeysMixingTypesJoinTheirConvertedValues() throws Exception {
            List<ChangeEvent> changes = routed(Stream.of("1", "2").flatMap(n -> Stream.of("-insert", "-update", "-delete")
                    .map(step -> record("keys-composite-" + n + step))).toArray(KafkaRecord[]::new));

            assertThat(deadLetterReasons()).isEmpty();
            assertThat(changes).extracting(c -> c.action + " " + c.documentKey()).containsExactly(
                    "UPSERT cdc.public.key_composite_1/2022-01-08,10.50,x%2Cy%25",
                    "UPSERT cdc.public.key_composite_1/2022-01-08,10.50,x%2Cy%25",
                    "DELETE cdc.public.key_composite_1/2022-01-08,10.50,x%2Cy%25",
                    // an empty text column is an empty component
                    "UPSERT cdc.public.key_composite_2/2026-11-27T10:00:00.000000Z,false,AA==,,ok,-1",
                    "UPSERT cdc.public.key_composite_2/2026-11-27T10:00:00.000000Z,false,AA==,,ok,-1",
                    "DELETE cdc.public.key_composite_2/2026-11-27T10:00:00.000000Z,false,AA==,,ok,-1");
            assertThat(text(changes.get(0).document)).isEqualTo(
                    "{\"day\":\"2022-01-08\",\"amount\":10.50,\"code\":\"x,y%\",\"v\":\"first\"}");
            assertThat(text(changes.get(4).document)).isEqualTo("{\"at\":\"2026-11-27T10:00:00.000000Z\",\"flag\":false,"
                    + "\"blob\":\"AA==\",\"label\":\"\",\"mood\":\"ok\",\"n\":-1,\"v\":\"second\"}");
        }

        /** The update transaction over all 19 tables completes at its END: one write per table, none dead-lettered. */
        @Test
        void theUpdateTransactionOverEveryKeyTypeCollapsesAtItsEnd() throws Exception {
            List<String> tables = new ArrayList<>(Stream.of(KEYS).map(key -> key[0]).toList());
            tables.add("composite-1");
            tables.add("composite-2");
            List<ChangeEvent> updates = routed(tables.stream().map(table -> record("keys-" + table + "-update"))
                    .toArray(KafkaRecord[]::new));
            TransactionEnd end = decoder.decodeTransaction(record("keys-update-end").value);
            assertThat(deadLetterReasons()).isEmpty();
            assertThat(updates).extracting(c -> c.transactionId).hasSize(19).containsOnly(end.transactionId);

            KeyedOneInputStreamOperatorTestHarness<String, ChangeEvent, ChangeEvent> collapse =
                    ProcessFunctionTestHarnesses.forKeyedProcessFunction(new TransactionCollapseFunction(60_000, 10_000),
                            TransactionCollapseFunction.CHANGE_KEY, Types.STRING);
            try {
                for (ChangeEvent update : updates) {
                    collapse.processElement(update, 0);
                }
                collapse.processElement(ChangeEvent.endOf(end), 0);
                assertThat(collapse.extractOutputValues()).hasSize(19)
                        .allSatisfy(c -> assertThat(c.version).isEqualTo(end.commitLsn))
                        .extracting(ChangeEvent::documentKey).contains("cdc.public.key_text_empty/%00",
                                "cdc.public.key_date/2022-01-08", "cdc.public.key_money/12.34");
                assertThat(collapse.numKeyedStateEntries()).isZero();
            } finally {
                collapse.close();
            }
        }
    }

    @Nested
    class DeadLetters {

        @Test
        void malformedVariantsOfRealEventsGetAReason() throws Exception {
            KafkaRecord insert = record("users-insert");
            KafkaRecord cut = new KafkaRecord(insert.topic, 0, 1, 0, insert.key,
                    Arrays.copyOf(insert.value, insert.value.length / 2));
            KafkaRecord otherKey = new KafkaRecord(insert.topic, 0, 2, 0, bytes("{\"id\":99}"), insert.value);
            KafkaRecord truncate = withValue("users-insert", value -> {
                ObjectNode payload = (ObjectNode) value.get("payload");
                payload.put("op", "t");
                payload.putNull("after");
            });
            KafkaRecord noLsn = withValue("users-insert", value -> ((ObjectNode) value.at("/payload/source")).remove("lsn"));
            KafkaRecord badJson = withValue("types-insert", value -> ((ObjectNode) value.at("/payload/after")).put("attrs", "{oops"));
            KafkaRecord endWithoutCollections = withValue("tx-end", value -> ((ObjectNode) value.get("payload")).remove("data_collections"));

            assertThat(routed(cut, otherKey, truncate, noLsn, badJson, endWithoutCollections))
                    .as("stand-ins for the records whose transaction could be read: they only count, named by their "
                            + "WAL position so that a repeated record counts once")
                    .extracting(c -> c.action + " " + c.documentId)
                    .containsExactly("SKIP @" + lsn("users-insert"), "SKIP @" + lsn("users-insert"),
                            "SKIP @" + lsn("types-insert"));
            List<String> reasons = deadLetterReasons();
            assertThat(reasons.get(0)).startsWith("the value is not valid JSON: Unexpected end-of-input");
            assertThat(reasons.subList(1, reasons.size())).containsExactly(
                    "the key {\"id\":99} does not match the row: id=4",
                    "unknown or unsupported op 't' (truncate: re-snapshot the table to reindex it)",
                    "the source block has no lsn: the write could not be versioned",
                    "column 'attrs' = \"{oops\" could not be converted: a json column holds invalid JSON: "
                            + "Unexpected character ('o' (code 111)): was expecting double-quote to start field name",
                    "the END event has no data_collections");
        }

        @Test
        void aDeadLetterKeepsTheRecordAsItWas() throws Exception {
            KafkaRecord nopk = record("nopk-insert");
            routed(nopk);

            DeadLetter letter = decode.getSideOutput(DecodeFunction.DEAD_LETTERS).poll().getValue();
            assertThat(letter.stage).isEqualTo(DeadLetter.Stage.DECODE);
            assertThat(letter.topic).isEqualTo("cdc.public.audit_log");
            assertThat(letter.offset).isEqualTo(nopk.offset);
            assertThat(letter.key).isNull();
            assertThat(letter.value).isEqualTo(nopk.value);
        }
    }
}
