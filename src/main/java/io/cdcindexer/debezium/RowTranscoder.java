package io.cdcindexer.debezium;

import com.fasterxml.jackson.core.JsonGenerationException;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Writes one row of a change event ({@code before} or {@code after}) as the document Elasticsearch receives, in one
 * pass from parser to generator: no JSON tree of the row is built. The document is the one a tree would give: columns
 * in their order, {@link ColumnConversions} applied, Debezium's unavailable-value placeholder left out (of
 * {@code after} only), decimals exact and never in exponent notation.
 *
 * <p>Only the values that need a look at their whole content become small trees: converted columns, key columns (for
 * {@link DebeziumDecoder}'s check that key and row agree), arrays and objects (a placeholder may come as a one-element
 * array). Every other column is copied token by token. A row that names a column twice is malformed: a document
 * cannot hold it, and which value was meant is unknown. One transcoder per decoder; not thread-safe.
 */
final class RowTranscoder {

    /** A written row: its JSON, the columns left out as unavailable, and the values of the key columns. */
    static final class Row {
        final byte[] json;
        final List<String> unavailable;
        /** The value (converted) of each key column, in the key's order; null where the row has no such column. */
        final JsonNode[] keyValues;

        Row(byte[] json, List<String> unavailable, JsonNode[] keyValues) {
            this.json = json;
            this.unavailable = unavailable;
            this.keyValues = keyValues;
        }
    }

    private final ObjectMapper mapper;
    private final String placeholderText;
    private final String placeholderBase64Text;
    private final char[] placeholder;
    private final char[] placeholderBase64;
    private final ByteArrayBuilder buffer = new ByteArrayBuilder(512);

    RowTranscoder(ObjectMapper mapper, String placeholder, String placeholderBase64) {
        this.mapper = mapper;
        this.placeholderText = placeholder;
        this.placeholderBase64Text = placeholderBase64;
        this.placeholder = placeholder.toCharArray();
        this.placeholderBase64 = placeholderBase64.toCharArray();
    }

    /**
     * Writes the row held by {@code bytes[start, end)}: one JSON object, already read once by {@link EnvelopeReader}.
     *
     * @param side "before" or "after", for messages
     * @param keyColumns the key's column names, in its order
     * @param removeUnavailable whether placeholder values are left out and named
     */
    Row write(byte[] bytes, int start, int end, String side, ColumnConversions conversions, String[] keyColumns,
            boolean removeUnavailable) throws MalformedChangeException {
        buffer.reset();
        List<String> unavailable = null;
        JsonNode[] keyValues = new JsonNode[keyColumns.length];
        try (JsonParser parser = mapper.createParser(bytes, start, end - start);
                JsonGenerator generator = mapper.createGenerator(buffer)) {
            generator.enable(JsonGenerator.Feature.STRICT_DUPLICATE_DETECTION);
            parser.nextToken(); // START_OBJECT, checked by EnvelopeReader
            generator.writeStartObject();
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String column = parser.currentName();
                JsonToken token = parser.nextToken();
                ColumnConversions.Conversion conversion = conversions.of(column);
                int key = indexOf(keyColumns, column);
                if (conversion == null && key < 0 && !token.isStructStart()) {
                    if (removeUnavailable && token == JsonToken.VALUE_STRING && isPlaceholder(parser)) {
                        unavailable = named(unavailable, column);
                    } else {
                        fieldName(generator, side, column);
                        try {
                            copyScalar(parser, token, generator);
                        } catch (JsonGenerationException e) {
                            throw unwritable(column, parser.getText(), e);
                        }
                    }
                    continue;
                }
                JsonNode value = mapper.readTree(parser); // JSON null gives a NullNode
                if (removeUnavailable && isPlaceholder(value)) {
                    unavailable = named(unavailable, column);
                    continue;
                }
                if (conversion != null && !value.isNull()) {
                    value = ColumnConversions.convert(column, conversion, value);
                }
                if (key >= 0) {
                    keyValues[key] = value;
                }
                fieldName(generator, side, column);
                try {
                    mapper.writeTree(generator, value);
                } catch (JsonGenerationException e) {
                    throw unwritable(column, value.toString(), e);
                }
            }
            generator.writeEndObject();
        } catch (JsonProcessingException e) {
            throw new MalformedChangeException("the value is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedChangeException("the value could not be read: " + e.getMessage());
        }
        return new Row(buffer.toByteArray(), unavailable == null ? List.of() : unavailable, keyValues);
    }

    // A row that names a column twice: the generator's duplicate detection refuses the second name.
    private static void fieldName(JsonGenerator generator, String side, String column)
            throws IOException, MalformedChangeException {
        try {
            generator.writeFieldName(column);
        } catch (JsonGenerationException e) {
            throw new MalformedChangeException("'" + side + "' has the column '" + column + "' twice");
        }
    }

    /**
     * A value that is valid but that JSON text cannot carry as the job writes it: a decimal of scale above 9999 in plain
     * notation (PostgreSQL's numeric allows 16383 digits after the point). A limit of the job, not a fault of the input.
     */
    private static MalformedChangeException unwritable(String column, String value, JsonGenerationException e) {
        String shown = value.length() > 100 ? value.substring(0, 100) + "..." : value;
        return new MalformedChangeException(MalformedChangeException.DECODER_ERROR,
                "column '" + column + "' = " + shown + " could not be written: " + e.getOriginalMessage());
    }

    /** The key's column names, in its order. */
    static String[] columnsOf(ObjectNode key) {
        String[] columns = new String[key.size()];
        int i = 0;
        for (Iterator<String> names = key.fieldNames(); names.hasNext(); ) {
            columns[i++] = names.next();
        }
        return columns;
    }

    // Numbers with a fraction or exponent as exact decimals, written plain: what a tree read with
    // USE_BIG_DECIMAL_FOR_FLOATS writes. Whole numbers, text, booleans and null as they came.
    private static void copyScalar(JsonParser parser, JsonToken token, JsonGenerator generator) throws IOException {
        if (token == JsonToken.VALUE_NUMBER_FLOAT) {
            generator.writeNumber(parser.getDecimalValue());
        } else {
            generator.copyCurrentEvent(parser);
        }
    }

    private static int indexOf(String[] columns, String column) {
        for (int i = 0; i < columns.length; i++) {
            if (columns[i].equals(column)) {
                return i;
            }
        }
        return -1;
    }

    private static List<String> named(List<String> unavailable, String column) {
        List<String> names = unavailable == null ? new ArrayList<>(2) : unavailable;
        names.add(column);
        return names;
    }

    // The string under the parser, compared without making a String of it.
    private boolean isPlaceholder(JsonParser parser) throws IOException {
        int length = parser.getTextLength();
        if (length != placeholder.length && length != placeholderBase64.length) {
            return false;
        }
        char[] text = parser.getTextCharacters();
        int offset = parser.getTextOffset();
        return equals(text, offset, length, placeholder) || equals(text, offset, length, placeholderBase64);
    }

    private static boolean equals(char[] text, int offset, int length, char[] expected) {
        if (length != expected.length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            if (text[offset + i] != expected[i]) {
                return false;
            }
        }
        return true;
    }

    // Debezium writes the placeholder as text, as base64 bytes (bytea) or as a one-element array.
    private boolean isPlaceholder(JsonNode value) {
        if (value.isTextual()) {
            return value.textValue().equals(placeholderText) || value.textValue().equals(placeholderBase64Text);
        }
        return value.isArray() && value.size() == 1 && value.get(0).isTextual() && isPlaceholder(value.get(0));
    }
}
