package io.cdcindexer.documents;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ForeignKeysTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aForeignKeyPointsToTheIdTheReferencedRowHasAndNowhereWhenNull() throws Exception {
        assertThat(ForeignKeys.of(JSON.readTree("{\"user_id\":7}"), new String[] {"user_id"})).isEqualTo("7");
        assertThat(ForeignKeys.of(JSON.readTree("{\"a\":\"x,y\",\"b\":2}"), new String[] {"a", "b"}))
                .as("composite, escaped as DocumentIds does").isEqualTo("x%2Cy,2");
        assertThat(ForeignKeys.of(JSON.readTree("{\"user_id\":null}"), new String[] {"user_id"})).isNull();
        assertThat(ForeignKeys.of(JSON.readTree("{}"), new String[] {"user_id"})).isNull();
    }

    @Test
    void childrenAreOrderedByIdNumbersByValueFirstAndTheOrderIsTotal() {
        List<String> ids = new ArrayList<>(List.of("10", "2", "1a", "-3", "1000000000000000000000", "007", "7", "b",
                "", "-10", "99999999999999999999"));
        List<String> expected = List.of("-10", "-3", "2", "007", "7", "10", "99999999999999999999",
                "1000000000000000000000", "", "1a", "b");
        Random random = new Random(1);
        for (int i = 0; i < 50; i++) {
            Collections.shuffle(ids, random);
            List<String> sorted = new ArrayList<>(ids);
            sorted.sort(ForeignKeys.ID_ORDER);
            assertThat(sorted).isEqualTo(expected);
        }
        for (String a : ids) {
            for (String b : ids) {
                assertThat(Integer.signum(ForeignKeys.ID_ORDER.compare(a, b)))
                        .isEqualTo(-Integer.signum(ForeignKeys.ID_ORDER.compare(b, a)));
            }
        }
    }
}
