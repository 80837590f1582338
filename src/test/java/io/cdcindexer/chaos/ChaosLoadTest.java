package io.cdcindexer.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.BatchUpdateException;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

/** Which failures of a load transaction mean the load's own model of its rows was wrong, which fails a chaos run. */
class ChaosLoadTest {

    @Test
    void aBrokenConstraintOrAStatementThatChangedOtherRowsIsTheModelsFault() {
        BatchUpdateException batch = new BatchUpdateException("Batch entry 0 was aborted", "23503", new int[0]);
        batch.setNextException(new SQLException("violates foreign key constraint \"orders_user_id_fkey\"", "23503"));

        assertThat(ChaosLoad.isModelError(batch)).as("a foreign key, as the driver reports it").isTrue();
        assertThat(ChaosLoad.isModelError(new SQLException("duplicate key value", "23505"))).isTrue();
        assertThat(ChaosLoad.isModelError(new RuntimeException(new ChaosLoad.ModelOutOfStep("changed 0 rows"))))
                .isTrue();
    }

    @Test
    void whatAFaultCausesIsNot() {
        assertThat(ChaosLoad.isModelError(new SQLException("An I/O error occurred", "08006"))).isFalse();
        assertThat(ChaosLoad.isModelError(new SQLException("terminating connection", "57P01"))).isFalse();
        assertThat(ChaosLoad.isModelError(new SQLException("canceling statement due to lock timeout", "55P03")))
                .isFalse();
        assertThat(ChaosLoad.isModelError(new AssertionError("driver assertion"))).isFalse();
    }
}
