package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class IndexNamesTest {

    @Test
    void lowerCaseNamesStayAsTheyAre() {
        assertThat(new IndexNames("{topic}").of("cdc.public.users", "public.users")).isEqualTo("cdc.public.users");
        assertThat(new IndexNames("search-{schema}-{table}").of("cdc.public.order_lines", "public.order_lines"))
                .isEqualTo("search-public-order_lines");
    }

    @Test
    void tablesThatDifferOnlyInCaseGetIndicesOfTheirOwn() {
        IndexNames names = new IndexNames("{topic}");

        assertThat(names.of("cdc.public.Users", "public.Users")).isEqualTo("cdc.public.~users");
        assertThat(names.of("cdc.public.users", "public.users")).isEqualTo("cdc.public.users");
        assertThat(new IndexNames("{table}").of("t", "public.~users")).isEqualTo("~~users");
        assertThat(new IndexNames("{table}").of("t", "public.UsersA")).isEqualTo("~users~a");
    }

    @Test
    void thePatternMatchesEveryNameTheTemplateGivesAndThePhysicalIndicesBehindThem() {
        assertThat(new IndexNames("{topic}").pattern()).isEqualTo("*");
        assertThat(new IndexNames("search-{schema}-{table}").pattern()).isEqualTo("search-*-*");
        assertThat(new IndexNames("everything").pattern()).as("everything_v1 too").isEqualTo("everything*");
    }

    @Test
    void aTemplateWithUpperCaseTextIsRefused() {
        assertThatThrownBy(() -> new IndexNames("Search-{table}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("upper-case");
    }
}
