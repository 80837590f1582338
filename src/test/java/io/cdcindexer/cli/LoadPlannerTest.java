package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cdcindexer.cli.LoadPlanner.Kind;
import io.cdcindexer.cli.LoadPlanner.Plan;
import io.cdcindexer.cli.LoadPlanner.Statement;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LoadPlannerTest {

    /** Two tables in miniature: applies a plan's SQL and fails where PostgreSQL would. */
    static final class Shop {
        final Set<Long> users = new HashSet<>();
        final Map<Long, Long> orderOwner = new HashMap<>();

        void apply(Plan plan) {
            for (Statement statement : plan.statements()) {
                for (Object[] row : statement.rows()) {
                    apply(statement.sql(), row);
                }
            }
        }

        private void apply(String sql, Object[] row) {
            switch (sql) {
                case LoadPlanner.INSERT_USER -> assertThat(users.add((Long) row[0])).as("new user id").isTrue();
                case LoadPlanner.INSERT_ORDER -> {
                    assertThat(users).as("order's user exists").contains((Long) row[1]);
                    assertThat(orderOwner.put((Long) row[0], (Long) row[1])).as("new order id").isNull();
                }
                case LoadPlanner.UPDATE_ORDER_STATUS -> assertThat(orderOwner).containsKey((Long) row[1]);
                case LoadPlanner.UPDATE_USER_EMAIL -> assertThat(users).contains((Long) row[1]);
                case LoadPlanner.DELETE_ORDER -> assertThat(orderOwner.remove((Long) row[0])).isNotNull();
                case LoadPlanner.DELETE_USER -> {
                    assertThat(orderOwner).as("no order references the user").doesNotContainValue((Long) row[0]);
                    assertThat(users.remove((Long) row[0])).isTrue();
                }
                default -> throw new AssertionError("unknown SQL " + sql);
            }
        }
    }

    private static LoadPlanner planner(long seed) {
        AtomicLong users = new AtomicLong(1_000);
        AtomicLong orders = new AtomicLong(1_000);
        return new LoadPlanner(new Random(seed), new LoadPlanner.Ids() {
            @Override
            public long nextUserId() {
                return users.incrementAndGet();
            }

            @Override
            public long nextOrderId() {
                return orders.incrementAndGet();
            }
        });
    }

    @Test
    void everyPlanIsValidSqlForTheRowsThatExist() {
        LoadPlanner planner = planner(1);
        Shop shop = new Shop();
        for (int i = 0; i < 20_000; i++) {
            Plan plan = planner.next();
            shop.apply(plan);
            plan.onCommit().run();
        }
        assertThat(planner.users()).isEqualTo(shop.users.size()).isGreaterThan(10);
        assertThat(planner.orders()).isEqualTo(shop.orderOwner.size());
    }

    @Test
    void startsFromExistingRows() {
        LoadPlanner planner = planner(2);
        Shop shop = new Shop();
        for (long user = 1; user <= 5; user++) {
            planner.addUser(user);
            shop.users.add(user);
            planner.addOrder(100 + user, user, "pending");
            shop.orderOwner.put(100 + user, user);
        }
        for (int i = 0; i < 2_000; i++) {
            Plan plan = planner.next();
            shop.apply(plan);
            plan.onCommit().run();
        }
        assertThat(planner.users()).isEqualTo(shop.users.size());
    }

    @Test
    void theMixFollowsTheWeights() {
        LoadPlanner planner = planner(3);
        for (long user = 1; user <= 1_000; user++) {
            planner.addUser(user);
            for (long n = 0; n < 3; n++) {
                planner.addOrder(user * 10 + n, user, "pending");
            }
        }
        Map<Kind, Integer> counts = new EnumMap<>(Kind.class);
        int total = 10_000;
        for (int i = 0; i < total; i++) {
            Plan plan = planner.next();
            counts.merge(plan.kind(), 1, Integer::sum);
            plan.onCommit().run();
        }
        for (Kind kind : Kind.values()) {
            assertThat(counts.getOrDefault(kind, 0) * 100.0 / total).as(kind.name()).isCloseTo(kind.weight,
                    org.assertj.core.data.Offset.offset(2.0));
        }
    }

    @Test
    void transactionsHaveTheAdvertisedShapes() {
        LoadPlanner planner = planner(4);
        Map<Kind, Plan> examples = new EnumMap<>(Kind.class);
        for (int i = 0; i < 5_000 && examples.size() < Kind.values().length; i++) {
            Plan plan = planner.next();
            examples.putIfAbsent(plan.kind(), plan);
            plan.onCommit().run();
        }
        assertThat(examples).containsOnlyKeys(Kind.values());

        Plan newCustomer = examples.get(Kind.NEW_CUSTOMER);
        assertThat(newCustomer.statements()).extracting(Statement::sql)
                .containsExactly(LoadPlanner.INSERT_USER, LoadPlanner.INSERT_ORDER);

        Statement progress = examples.get(Kind.ORDER_PROGRESS).statements().get(0);
        assertThat(progress.rows()).hasSizeBetween(2, 3);
        assertThat(progress.rows()).extracting(row -> row[1]).containsOnly(progress.rows().get(0)[1]);
        assertThat(progress.rows()).extracting(row -> row[0]).startsWith("paid", "shipped");

        Plan close = examples.get(Kind.CLOSE_ACCOUNT);
        assertThat(close.statements().get(close.statements().size() - 1).sql()).isEqualTo(LoadPlanner.DELETE_USER);

        assertThat(examples.get(Kind.BULK_ORDERS).changes()).isBetween(10, 20);
    }
}
