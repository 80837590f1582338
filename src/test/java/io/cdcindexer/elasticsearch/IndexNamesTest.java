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

    // Review finding (2026-12-02): table users_v1's alias was the name of the index behind users' alias: its changes
    // went into users' index (their ids colliding), or, met first, made users' index impossible to create.
    @Test
    void aTableNamedLikeTheIndexBehindAnotherTablesAliasGetsANameOfItsOwn() {
        IndexNames names = new IndexNames("{topic}");

        String users = names.of("cdc.public.users", "public.users");
        assertThat(names.of("cdc.public.users_v1", "public.users_v1")).isEqualTo("cdc.public.users_v1~")
                .isNotEqualTo(users + "_v1");
        assertThat(names.of("cdc.public.users_v12", "public.users_v12")).isEqualTo("cdc.public.users_v12~");
        assertThat(names.of("cdc.public.users_v", "public.users_v")).as("no digits: no index name").isEqualTo("cdc.public.users_v");
        assertThat(names.of("cdc.public.users_v1x", "public.users_v1x")).isEqualTo("cdc.public.users_v1x");
        assertThat(new IndexNames("{table}").of("t", "public.Users_v1")).isEqualTo("~users_v1~");
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
