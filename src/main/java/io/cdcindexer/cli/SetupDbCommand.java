package io.cdcindexer.cli;

import java.io.PrintWriter;
import java.sql.Connection;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code ./cdc setup-db}: creates the sample tables users and orders with a few rows. */
@Command(
        name = "setup-db",
        mixinStandardHelpOptions = true,
        description = {
            "Creates the sample tables public.users and public.orders (orders.user_id references users.id ON DELETE "
                    + "CASCADE: deleting a user deletes their orders) and fills "
                    + "them with a few rows, unless they already hold rows.",
            "Both tables get REPLICA IDENTITY FULL, so that PostgreSQL logs the whole old row: Debezium's update and "
                    + "delete events then carry a complete 'before', and ./cdc consume can show what changed.",
            "Safe to run again: a second run changes nothing and says so.",
        })
public final class SetupDbCommand implements Callable<Integer> {

    @Mixin
    ConnectionOptions connection;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        out.println("setup-db: " + Postgres.describe(connection));
        SampleSchema.Result result;
        try (Connection db = Postgres.connect(connection)) {
            result = SampleSchema.apply(db);
        }
        result.actions().forEach(line -> out.println("  " + line));
        result.unchanged().forEach(line -> out.println("  " + line));
        out.println(result.changedNothing()
                ? "setup-db: nothing to do, the sample schema is already in place"
                : "setup-db: done");
        out.flush();
        return 0;
    }
}
