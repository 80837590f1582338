package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SampleSchemaTest {

    @Test
    void ddlCreatesOnlyWhatIsMissing() {
        assertThat(SampleSchema.ddl()).allSatisfy(sql -> assertThat(sql).contains("IF NOT EXISTS"));
    }

    @Test
    void usersTableHasTheAgreedColumns() {
        assertThat(SampleSchema.USERS_DDL)
                .contains("id         serial PRIMARY KEY")
                .contains("username   text")
                .contains("email      text")
                .contains("created_at timestamptz");
    }

    @Test
    void ordersReferenceUsersAndKeepExactAmounts() {
        assertThat(SampleSchema.ORDERS_DDL)
                .contains("user_id    integer NOT NULL REFERENCES public.users (id) ON DELETE CASCADE")
                .contains("amount     NUMERIC(10,2)")
                .contains("status")
                .contains("created_at timestamptz");
    }

    @Test
    void sampleOrdersBelongToSampleUsersAndFitTheColumn() {
        assertThat(SampleSchema.ORDERS).allSatisfy(order -> {
            assertThat(order.user()).isBetween(0, SampleSchema.USERS.size() - 1);
            assertThat(order.amount().scale()).isEqualTo(2);
            assertThat(order.amount().precision()).isLessThanOrEqualTo(10);
        });
        assertThat(SampleSchema.USERS).extracting(SampleSchema.SampleUser::email).doesNotHaveDuplicates();
    }

    @Test
    void replicaIdentityStatementNamesTheTable() {
        assertThat(SampleSchema.replicaIdentityFull("users")).isEqualTo("ALTER TABLE public.users REPLICA IDENTITY FULL");
    }
}
