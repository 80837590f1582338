package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FieldDiffTest {

    @Test
    void listsChangedAddedAndRemovedFields() {
        assertThat(FieldDiff.describe(Json.parse("{\"a\":1,\"b\":\"x\",\"c\":true}", "t"),
                Json.parse("{\"a\":1.0,\"b\":\"y\",\"d\":null}", "t")))
                .isEqualTo("b: \"x\" → \"y\", c: true → (absent), d: (absent) → null");
    }

    @Test
    void saysSoWhenNothingChanged() {
        assertThat(FieldDiff.describe(Json.parse("{\"a\":{\"b\":[1]}}", "t"), Json.parse("{\"a\":{\"b\":[1]}}", "t")))
                .isEqualTo("(no field changed)");
    }
}
