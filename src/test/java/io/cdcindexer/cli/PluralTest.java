package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PluralTest {

    @Test
    void oneIsSingularAndEveryOtherCountPlural() {
        assertThat(Plural.of(1, "document")).isEqualTo("1 document");
        assertThat(Plural.of(0, "document")).isEqualTo("0 documents");
        assertThat(Plural.of(2, "row")).isEqualTo("2 rows");
        assertThat(Plural.of(1, "index", "indices")).isEqualTo("1 index");
        assertThat(Plural.of(3, "index", "indices")).isEqualTo("3 indices");
    }

    @Test
    void verifysSummaryCountsInTheRightNumber() {
        TableVerifier.Report report = new TableVerifier.Report("users", "cdc.public.users", true, 1, 1, 0, 0, 0,
                java.util.List.of());

        assertThat(report.summary()).isEqualTo("verify: users 1 row, 1 doc, 0 missing, 0 extra, 0 stale");
    }
}
