package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.cli.DebeziumEvents.Order;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ChangeEventFormatterTest {

    private final ChangeEventFormatter formatter = new ChangeEventFormatter("cdc.transaction", "cdc.dlq");

    private static ChangeEventFormatter.Event event(String topic, String key, String value) {
        return new ChangeEventFormatter.Event(topic, 0, 7, bytes(key), bytes(value), List.of());
    }

    private static byte[] bytes(String text) {
        return text == null ? null : text.getBytes(StandardCharsets.UTF_8);
    }

    @ParameterizedTest(name = "schema envelope: {0}")
    @ValueSource(booleans = {true, false})
    void anInsertShowsTheNewRow(boolean withSchema) {
        String value = DebeziumEvents.change("c", null, new Order(1, 5, "19.90", "pending"), 742, withSchema);

        assertThat(formatter.format(event("cdc.public.orders", DebeziumEvents.key(1, withSchema), value)))
                .isEqualTo("op=c public.orders id=1 tx=742  after: {\"id\":1,\"user_id\":5,\"amount\":19.90,"
                        + "\"status\":\"pending\"}");
    }

    @ParameterizedTest(name = "schema envelope: {0}")
    @ValueSource(booleans = {true, false})
    void anUpdateShowsOnlyTheChangedColumns(boolean withSchema) {
        String value = DebeziumEvents.change("u", new Order(1, 5, "19.90", "pending"),
                new Order(1, 5, "21.00", "paid"), 743, withSchema);

        assertThat(formatter.format(event("cdc.public.orders", DebeziumEvents.key(1, withSchema), value)))
                .isEqualTo("op=u public.orders id=1 tx=743  amount: 19.90 → 21.00, status: \"pending\" → \"paid\"");
    }

    @Test
    void anUpdateWithoutBeforeImageSaysWhy() {
        String value = DebeziumEvents.change("u", null, new Order(1, 5, "21.00", "paid"), 743, false);

        assertThat(formatter.format(event("cdc.public.orders", "{\"id\":1}", value)))
                .contains("after: {\"id\":1").contains("no before image");
    }

    @Test
    void aDeleteShowsTheOldRowAndASnapshotReadHasNoTransaction() {
        String delete = DebeziumEvents.change("d", new Order(1, 5, "21.00", "paid"), null, 744, true);
        String read = DebeziumEvents.change("r", null, new Order(2, 5, "1.00", "paid"), 700, true);

        assertThat(formatter.format(event("cdc.public.orders", DebeziumEvents.key(1, true), delete)))
                .isEqualTo("op=d public.orders id=1 tx=744  before: {\"id\":1,\"user_id\":5,\"amount\":21.00,"
                        + "\"status\":\"paid\"}");
        assertThat(formatter.format(event("cdc.public.orders", DebeziumEvents.key(2, true), read)))
                .startsWith("op=r public.orders id=2 snapshot  after:");
    }

    @Test
    void aTombstoneIsNamedAsSuch() {
        assertThat(formatter.format(event("cdc.public.orders", DebeziumEvents.key(1, true), null)))
                .startsWith("tombstone public.orders id=1");
    }

    @Test
    void transactionsShowCompactlyWithTheSameIdOnBeginAndEnd() {
        assertThat(formatter.format(event("cdc.transaction", "{\"id\":\"742:22023448\"}", DebeziumEvents.begin(742))))
                .isEqualTo("BEGIN tx=742");
        assertThat(formatter.format(event("cdc.transaction", "{\"id\":\"742:22023792\"}", DebeziumEvents.end(742, 2))))
                .isEqualTo("END   tx=742  events=2 (public.orders 2)");
    }

    @Test
    void deadLettersShowTheirHeaders() {
        ChangeEventFormatter.Event dlq = new ChangeEventFormatter.Event("cdc.dlq", 0, 3, bytes("{\"id\":1}"),
                bytes("not json"), List.of(Map.entry("error", bytes("mapper_parsing_exception")),
                        Map.entry("source.topic", bytes("cdc.public.orders"))));

        assertThat(formatter.format(dlq)).isEqualTo("""
                DLQ cdc.dlq[0@3] key={"id":1}
                    error: mapper_parsing_exception
                    source.topic: cdc.public.orders
                    value: not json""");
    }

    @Test
    void somethingUnreadableIsShownWithTheReasonTheJobGives() {
        assertThat(formatter.format(event("cdc.public.orders", "{\"id\":1}", "{oops")))
                .startsWith("unreadable cdc.public.orders[0@7]: the value is not valid JSON")
                .endsWith(": {oops");
    }

    @Test
    void rawIsTheRecordAsItIs() {
        assertThat(ChangeEventFormatter.raw(event("cdc.public.orders", "{\"id\":1}", null)))
                .isEqualTo("cdc.public.orders\t{\"id\":1}\tnull");
    }

    @Test
    void compositeKeysShowEveryField() {
        assertThat(ChangeEventFormatter.key(Json.parse("{\"a\":1,\"b\":\"x\"}", "t"))).isEqualTo("a=1,b=x");
    }
}
