package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.sql.Array;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Locale;

/**
 * How a PostgreSQL column's value appears in an indexed document, and how to compare the two: the rules the job follows
 * when it writes a row (numbers as exact JSON numbers, timestamptz as ISO-8601 instants, timestamp as ISO local
 * date-times, dates as yyyy-MM-dd, json/jsonb as JSON, text as strings). Representation may differ where the value does
 * not: 1.5 equals 1.50, and 2024-01-02T03:04:05.120Z equals 2024-01-02T03:04:05.12Z.
 */
public enum ColumnType {
    INTEGER {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            return rs.getBigDecimal(column);
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            return doc.isNumber() && doc.decimalValue().compareTo((BigDecimal) value) == 0;
        }
    },
    DECIMAL {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            String text = rs.getString(column);
            // NUMERIC can hold NaN and ±Infinity, which BigDecimal cannot: those are compared as text.
            return text == null ? null : isNumeric(text) ? new BigDecimal(text) : text;
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            if (value instanceof BigDecimal number) {
                return doc.isNumber() && doc.decimalValue().compareTo(number) == 0;
            }
            return doc.asText().equals(value);
        }
    },
    FLOAT {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            return rs.getDouble(column);
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            double expected = (Double) value;
            if (doc.isNumber()) {
                return doc.doubleValue() == expected || (float) doc.doubleValue() == (float) expected;
            }
            // NaN and ±Infinity are no JSON numbers: Debezium and Jackson spell them as strings.
            return doc.isTextual() && !Double.isFinite(expected) && doc.asText().equals(Double.toString(expected));
        }
    },
    /** money: '$1,234.50' in the database (lc_monetary), a number of its fraction digits in the job's JSON. */
    MONEY {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            String text = rs.getString(column);
            if (text == null) {
                return null;
            }
            String number = text.replaceAll("[^0-9.\\-]", "");
            try {
                return new BigDecimal(number);
            } catch (NumberFormatException e) {
                return text; // a currency format this does not read: compared as text, so reported
            }
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            return value instanceof BigDecimal number && doc.isNumber() && doc.decimalValue().compareTo(number) == 0;
        }
    },
    /** bytea: base64 in the job's JSON (the JSON converter's form of bytes). */
    BYTES {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            return rs.getBytes(column);
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            return doc.isTextual() && doc.textValue().equals(describe(value));
        }

        @Override
        String describe(Object value) {
            return Base64.getEncoder().encodeToString((byte[]) value);
        }
    },
    BOOLEAN {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            return rs.getBoolean(column);
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            return doc.isBoolean() && doc.booleanValue() == (Boolean) value;
        }
    },
    TIMESTAMPTZ {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
            return value == null ? null : value.toInstant();
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            try {
                return doc.isTextual() && OffsetDateTime.parse(doc.asText()).toInstant().equals(value);
            } catch (DateTimeParseException e) {
                return false;
            }
        }
    },
    TIMESTAMP {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            return rs.getObject(column, LocalDateTime.class);
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            try {
                return doc.isTextual() && LocalDateTime.parse(doc.asText()).equals(value);
            } catch (DateTimeParseException e) {
                return false;
            }
        }
    },
    DATE {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            return rs.getObject(column, LocalDate.class);
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            try {
                return doc.isTextual() && LocalDate.parse(doc.asText()).equals(value);
            } catch (DateTimeParseException e) {
                return false;
            }
        }
    },
    TIME {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            return rs.getObject(column, LocalTime.class);
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            try {
                return doc.isTextual() && LocalTime.parse(doc.asText()).equals(value);
            } catch (DateTimeParseException e) {
                return false;
            }
        }
    },
    JSON {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            String text = rs.getString(column);
            return text == null ? null : Json.parse(text, "a json column");
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            return Json.sameValue((JsonNode) value, doc);
        }

        @Override
        String describe(Object value) {
            return Json.compact((JsonNode) value);
        }
    },
    ARRAY {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            Array array = rs.getArray(column);
            return array == null ? null : (Object[]) array.getArray();
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            Object[] elements = (Object[]) value;
            if (!doc.isArray() || doc.size() != elements.length) {
                return false;
            }
            for (int i = 0; i < elements.length; i++) {
                JsonNode element = doc.get(i);
                boolean same = elements[i] == null ? element.isNull()
                        : elements[i] instanceof Number number
                                ? element.isNumber() && element.decimalValue().compareTo(new BigDecimal(number.toString())) == 0
                                : element.isValueNode() && element.asText().equals(elements[i].toString());
                if (!same) {
                    return false;
                }
            }
            return true;
        }

        @Override
        String describe(Object value) {
            return java.util.Arrays.toString((Object[]) value);
        }
    },
    /** text, varchar, uuid and every type without a rule of its own: compared by its text form. */
    TEXT {
        @Override
        Object read(ResultSet rs, int column) throws SQLException {
            return rs.getString(column);
        }

        @Override
        boolean matches(Object value, JsonNode doc) {
            return doc.isValueNode() && !doc.isNull() && doc.asText().equals(value);
        }

        @Override
        String describe(Object value) {
            return '"' + value.toString() + '"';
        }
    };

    /** The rule for a column, from its PostgreSQL type name as JDBC reports it (int4, numeric, timestamptz, ...). */
    public static ColumnType of(String pgTypeName) {
        String name = pgTypeName.toLowerCase(Locale.ROOT);
        if (name.startsWith("_")) {
            return ARRAY;
        }
        return switch (name) {
            case "int2", "int4", "int8", "smallint", "integer", "bigint", "serial", "bigserial", "smallserial", "oid" -> INTEGER;
            case "numeric", "decimal" -> DECIMAL;
            case "money" -> MONEY;
            case "bytea" -> BYTES;
            case "float4", "float8", "real", "double precision" -> FLOAT;
            case "bool", "boolean" -> BOOLEAN;
            case "timestamptz" -> TIMESTAMPTZ;
            case "timestamp" -> TIMESTAMP;
            case "date" -> DATE;
            case "time" -> TIME;
            case "json", "jsonb" -> JSON;
            default -> TEXT;
        };
    }

    /** The column's value from the current row; null for SQL NULL. */
    public Object readValue(ResultSet rs, int column) throws SQLException {
        Object value = read(rs, column);
        return rs.wasNull() ? null : value;
    }

    /** Whether a document field holds this column value (null matches JSON null only). */
    public boolean matchesValue(Object value, JsonNode doc) {
        if (value == null || doc.isNull()) {
            return value == null && doc.isNull();
        }
        return matches(value, doc);
    }

    /** The value as verify prints it. */
    public String describeValue(Object value) {
        return value == null ? "null" : describe(value);
    }

    abstract Object read(ResultSet rs, int column) throws SQLException;

    abstract boolean matches(Object value, JsonNode doc);

    String describe(Object value) {
        return value instanceof BigDecimal number ? number.toPlainString() : value.toString();
    }

    private static boolean isNumeric(String text) {
        char first = text.charAt(0);
        return Character.isDigit(first) || first == '-' || first == '.';
    }
}
