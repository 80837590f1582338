package io.cdcindexer.cli;

import io.cdcindexer.elasticsearch.IndexNames;
import io.cdcindexer.job.JobOptions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A table whose changes are indexed: its name, primary key columns and the Elasticsearch index that mirrors it. */
public record CapturedTable(String schema, String name, List<String> keyColumns) {

    /** Debezium's topic.prefix in configs/debezium-postgres-connector.json. */
    public static final String TOPIC_PREFIX = "cdc";

    /** The schema of the sample tables, and of a table named without one. */
    static final String DEFAULT_SCHEMA = "public";

    /** The index the job writes this table to with its default template: the topic, lower-cased (cdc.public.users). */
    public String index() {
        return new IndexNames(JobOptions.ELASTICSEARCH_INDEX.defaultValue())
                .of(TOPIC_PREFIX + "." + schema + "." + name, schema + "." + name);
    }

    /** How the CLI names the table: {@code users} in schema public, {@code sales.orders} in any other. */
    public String displayName() {
        return schema.equals(DEFAULT_SCHEMA) ? name : schema + "." + name;
    }

    /**
     * A table name as a user types it, {@code users}, {@code public.users} or {@code sales.orders}, as its schema
     * (public when none is given) and name.
     */
    static String[] schemaAndName(String typed) {
        int dot = typed.indexOf('.');
        return dot < 0 ? new String[] {DEFAULT_SCHEMA, typed}
                : new String[] {typed.substring(0, dot), typed.substring(dot + 1)};
    }

    /** The table name with its schema, quoted for SQL. */
    public String quotedName() {
        return quote(schema) + "." + quote(name);
    }

    /** Every ordinary table of a schema that has a primary key, by name; tables without one have no document id. */
    public static List<CapturedTable> withPrimaryKey(Connection connection, String schema) throws SQLException {
        String sql = """
                SELECT c.relname, a.attname
                FROM pg_index i
                JOIN pg_class c ON c.oid = i.indrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) ON true
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                WHERE i.indisprimary AND n.nspname = ? AND c.relkind = 'r'
                ORDER BY c.relname, k.position""";
        Map<String, List<String>> keys = new LinkedHashMap<>();
        try (PreparedStatement query = connection.prepareStatement(sql)) {
            query.setString(1, schema);
            try (ResultSet rs = query.executeQuery()) {
                while (rs.next()) {
                    keys.computeIfAbsent(rs.getString(1), t -> new ArrayList<>()).add(rs.getString(2));
                }
            }
        }
        List<CapturedTable> tables = new ArrayList<>();
        keys.forEach((table, columns) -> tables.add(new CapturedTable(schema, table, List.copyOf(columns))));
        return tables;
    }

    static String quote(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }
}
