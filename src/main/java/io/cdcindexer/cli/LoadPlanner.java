package io.cdcindexer.cli;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Plans the transactions of {@code ./cdc produce --rate}: a shop's day in miniature. It keeps track of the users and
 * orders it may touch, so that every update and delete hits a live row and no foreign key breaks. Plans are plain
 * data (SQL and parameter rows); {@link LoadRunner} executes them, and calls {@link Plan#onCommit} once one commits.
 */
public final class LoadPlanner {

    /** A kind of transaction and how often it is picked (weights out of 100). */
    public enum Kind {
        /** A user signs up and places 1 to 3 orders: two statements, several rows. */
        NEW_CUSTOMER(15),
        /** An existing user places one order. */
        PLACE_ORDER(25),
        /** A pending order is paid, shipped (and maybe delivered): 2 to 3 updates of one row in one transaction. */
        ORDER_PROGRESS(20),
        /** A user changes their email. */
        CHANGE_EMAIL(15),
        /** An order is removed. */
        REMOVE_ORDER(10),
        /** A user leaves: their orders are deleted, then the user. */
        CLOSE_ACCOUNT(5),
        /** A batch import of 10 to 20 orders for different users. */
        BULK_ORDERS(10);

        final int weight;

        Kind(int weight) {
            this.weight = weight;
        }
    }

    public static final String INSERT_USER = "INSERT INTO public.users (id, username, email) VALUES (?, ?, ?)";
    public static final String INSERT_ORDER = "INSERT INTO public.orders (id, user_id, amount, status) VALUES (?, ?, ?, ?)";
    public static final String UPDATE_ORDER_STATUS = "UPDATE public.orders SET status = ? WHERE id = ?";
    public static final String UPDATE_USER_EMAIL = "UPDATE public.users SET email = ? WHERE id = ?";
    public static final String DELETE_ORDER = "DELETE FROM public.orders WHERE id = ?";
    public static final String DELETE_USER = "DELETE FROM public.users WHERE id = ?";

    private static final List<String> PROGRESS = List.of("pending", "paid", "shipped", "delivered");
    private static final int TOTAL_WEIGHT = java.util.Arrays.stream(Kind.values()).mapToInt(k -> k.weight).sum();

    /** One SQL statement and the parameter rows it runs with, as one JDBC batch. */
    public record Statement(String sql, List<Object[]> rows) {}

    /** One transaction: what it is, its statements in order, and the bookkeeping to do once it committed. */
    public record Plan(Kind kind, List<Statement> statements, Runnable onCommit) {
        /** Rows changed: the change events Debezium will emit for this transaction. */
        public int changes() {
            return statements.stream().mapToInt(s -> s.rows().size()).sum();
        }
    }

    /** Where new primary keys come from (PostgreSQL's sequences, in production). */
    public interface Ids {
        long nextUserId();

        long nextOrderId();
    }

    private record Order(long userId, String status) {}

    private final Random random;
    private final Ids ids;
    private final IdPool users = new IdPool();
    private final IdPool orders = new IdPool();
    private final IdPool pendingOrders = new IdPool();
    private final Map<Long, Order> orderRows = new HashMap<>();
    private final Map<Long, Set<Long>> ordersByUser = new HashMap<>();

    public LoadPlanner(Random random, Ids ids) {
        this.random = random;
        this.ids = ids;
    }

    /** Makes an existing user available to the plans. */
    public void addUser(long userId) {
        users.add(userId);
        ordersByUser.computeIfAbsent(userId, u -> new LinkedHashSet<>());
    }

    /** Makes an existing order (of a user added before) available to the plans. */
    public void addOrder(long orderId, long userId, String status) {
        orderRows.put(orderId, new Order(userId, status));
        orders.add(orderId);
        ordersByUser.computeIfAbsent(userId, u -> new LinkedHashSet<>()).add(orderId);
        if (status.equals("pending")) {
            pendingOrders.add(orderId);
        }
    }

    public int users() {
        return users.size();
    }

    public int orders() {
        return orders.size();
    }

    /** The next transaction; a kind that has nothing to work on yet falls back to one that creates rows. */
    public Plan next() {
        Kind kind = pick();
        if (users.size() == 0) {
            return newCustomer();
        }
        return switch (kind) {
            case NEW_CUSTOMER -> newCustomer();
            case PLACE_ORDER -> placeOrder();
            case ORDER_PROGRESS -> pendingOrders.size() == 0 ? placeOrder() : orderProgress();
            case CHANGE_EMAIL -> changeEmail();
            case REMOVE_ORDER -> orders.size() == 0 ? placeOrder() : removeOrder();
            // Keeps a floor of users, so that a long run does not empty the shop.
            case CLOSE_ACCOUNT -> users.size() < 10 ? newCustomer() : closeAccount();
            case BULK_ORDERS -> bulkOrders();
        };
    }

    private Kind pick() {
        int ticket = random.nextInt(TOTAL_WEIGHT);
        for (Kind kind : Kind.values()) {
            ticket -= kind.weight;
            if (ticket < 0) {
                return kind;
            }
        }
        throw new IllegalStateException();
    }

    private Plan newCustomer() {
        long userId = ids.nextUserId();
        List<Object[]> newOrders = new ArrayList<>();
        int count = 1 + random.nextInt(3);
        for (int i = 0; i < count; i++) {
            newOrders.add(new Object[] {ids.nextOrderId(), userId, amount(), "pending"});
        }
        List<Object[]> user = List.<Object[]>of(new Object[] {userId, "user" + userId, "user" + userId + "@example.com"});
        return new Plan(Kind.NEW_CUSTOMER, List.of(new Statement(INSERT_USER, user), new Statement(INSERT_ORDER, newOrders)),
                () -> {
                    addUser(userId);
                    newOrders.forEach(o -> addOrder((Long) o[0], userId, "pending"));
                });
    }

    private Plan placeOrder() {
        long userId = users.pick(random);
        Object[] order = {ids.nextOrderId(), userId, amount(), "pending"};
        return new Plan(Kind.PLACE_ORDER, List.of(new Statement(INSERT_ORDER, List.<Object[]>of(order))),
                () -> addOrder((Long) order[0], userId, "pending"));
    }

    private Plan orderProgress() {
        long orderId = pendingOrders.pick(random);
        int steps = 2 + random.nextInt(2);
        List<Object[]> updates = new ArrayList<>();
        for (int step = 1; step <= steps; step++) {
            updates.add(new Object[] {PROGRESS.get(step), orderId});
        }
        String last = PROGRESS.get(steps);
        return new Plan(Kind.ORDER_PROGRESS, List.of(new Statement(UPDATE_ORDER_STATUS, updates)), () -> {
            pendingOrders.remove(orderId);
            orderRows.put(orderId, new Order(orderRows.get(orderId).userId(), last));
        });
    }

    private Plan changeEmail() {
        long userId = users.pick(random);
        String email = "user" + userId + "." + Integer.toHexString(random.nextInt(1 << 16)) + "@example.org";
        return new Plan(Kind.CHANGE_EMAIL,
                List.of(new Statement(UPDATE_USER_EMAIL, List.<Object[]>of(new Object[] {email, userId}))), () -> {});
    }

    private Plan removeOrder() {
        long orderId = orders.pick(random);
        return new Plan(Kind.REMOVE_ORDER,
                List.of(new Statement(DELETE_ORDER, List.<Object[]>of(new Object[] {orderId}))),
                () -> forgetOrder(orderId));
    }

    private Plan closeAccount() {
        long userId = users.pick(random);
        List<Long> theirOrders = List.copyOf(ordersByUser.getOrDefault(userId, Set.of()));
        List<Statement> statements = new ArrayList<>();
        if (!theirOrders.isEmpty()) {
            statements.add(new Statement(DELETE_ORDER, theirOrders.stream().map(id -> new Object[] {id}).toList()));
        }
        statements.add(new Statement(DELETE_USER, List.<Object[]>of(new Object[] {userId})));
        return new Plan(Kind.CLOSE_ACCOUNT, statements, () -> {
            theirOrders.forEach(this::forgetOrder);
            users.remove(userId);
            ordersByUser.remove(userId);
        });
    }

    private Plan bulkOrders() {
        int count = 10 + random.nextInt(11);
        List<Object[]> newOrders = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            newOrders.add(new Object[] {ids.nextOrderId(), users.pick(random), amount(), "pending"});
        }
        return new Plan(Kind.BULK_ORDERS, List.of(new Statement(INSERT_ORDER, newOrders)),
                () -> newOrders.forEach(o -> addOrder((Long) o[0], (Long) o[1], "pending")));
    }

    private void forgetOrder(long orderId) {
        Order order = orderRows.remove(orderId);
        orders.remove(orderId);
        pendingOrders.remove(orderId);
        if (order != null) {
            Set<Long> theirs = ordersByUser.get(order.userId());
            if (theirs != null) {
                theirs.remove(orderId);
            }
        }
    }

    private BigDecimal amount() {
        return BigDecimal.valueOf(100 + random.nextInt(50_000), 2); // 1.00 to 500.99
    }

    /** A set of ids with O(1) add, remove and uniform random pick. */
    private static final class IdPool {
        private final List<Long> ids = new ArrayList<>();
        private final Map<Long, Integer> positions = new HashMap<>();

        void add(long id) {
            if (positions.putIfAbsent(id, ids.size()) == null) {
                ids.add(id);
            }
        }

        void remove(long id) {
            Integer position = positions.remove(id);
            if (position == null) {
                return;
            }
            long last = ids.remove(ids.size() - 1);
            if (position < ids.size()) {
                ids.set(position, last);
                positions.put(last, position);
            }
        }

        long pick(Random random) {
            return ids.get(random.nextInt(ids.size()));
        }

        int size() {
            return ids.size();
        }
    }
}
