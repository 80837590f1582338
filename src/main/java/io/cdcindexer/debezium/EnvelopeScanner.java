package io.cdcindexer.debezium;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.cdcindexer.debezium.ColumnConversions.Columns;
import io.cdcindexer.debezium.ColumnConversions.Conversion;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads the payload of a change event as Debezium's JSON converter writes it, byte by byte, and writes its row as the
 * document on the way: no parser, no tree of the row, no second pass to write it (the tree and its writing were a sixth
 * of the job's task on inserts, the parser's field names and skipped values of the {@code source} block a tenth).
 *
 * <p>It reads only what it is sure of: compact JSON, an insert, update or snapshot read without a {@code before}
 * image, the row's columns in the schema's order, values that are strings without escapes, numbers, booleans or
 * null. Anything else (a before image, an escape or a placeholder in the row, a nested value, a column out of order, a
 * value a conversion refuses, a character Jackson writes as escapes, any malformed byte) makes it give up, and
 * {@link EnvelopeReader} reads the record with its tree as before: every outcome, errors included, is the tree's.
 * {@code EnvelopeScannerTest} holds the two to the same result on every fixture and on records made at random, some
 * broken on purpose. One scanner per decoder; not thread-safe.
 */
final class EnvelopeScanner {

    /** Gives up: the record is {@link EnvelopeReader}'s. Thrown without a stack trace, as it is not an error. */
    private static final class GiveUp extends RuntimeException {
        private static final long serialVersionUID = 1L;

        GiveUp() {
            super(null, null, false, false);
        }
    }

    private static final GiveUp GIVE_UP = new GiveUp();

    private static final byte[][] ENVELOPE = names(EnvelopeReader.ENVELOPE_FIELDS);
    private static final byte[][] SOURCE_BLOCK = names(EnvelopeReader.SOURCE_FIELDS);
    private static final byte[][] TRANSACTION_BLOCK = names(EnvelopeReader.TRANSACTION_FIELDS);

    private static final byte[] NULL = ascii("null");
    private static final byte[] TRUE = ascii("true");
    private static final byte[] FALSE = ascii("false");
    /** Jackson's bounds for a BigDecimal written as plain digits. */
    private static final int MAX_BIG_DECIMAL_SCALE = 9999;
    /** Numbers longer than this are left to Jackson, whose limit is far above it. */
    private static final int MAX_NUMBER = 1000;
    /** Names of fields the scanner does not know longer than this are left to Jackson, whose limit is far above it. */
    private static final int MAX_UNKNOWN_NAME = 256;
    /** A document buffer grown past this for a huge row is let go after it. */
    private static final int KEPT_BUFFER = 1 << 20;

    private final byte[] placeholder;
    private final byte[] placeholderBase64;
    private final int maxStringBytes;

    private byte[] in;
    private int pos;
    private int end;
    private byte[] out = new byte[1024];
    private int length;
    /** Set by {@link #number}: the number had a fraction or an exponent. */
    private boolean fraction;
    /** Set by {@link #number}: its value when it is whole and of at most 18 digits, else {@link #NOT_SHORT}. */
    private long shortValue;
    private static final long NOT_SHORT = Long.MIN_VALUE;
    /** Set by {@link #string}: the string holds a character beyond U+FFFF (four bytes in UTF-8). */
    private boolean supplementary;

    /**
     * @param maxStringBytes strings longer than this in bytes are left to Jackson (whose limit is in characters)
     */
    EnvelopeScanner(String placeholder, String placeholderBase64, int maxStringBytes) {
        this.placeholder = placeholder.getBytes(StandardCharsets.UTF_8);
        this.placeholderBase64 = placeholderBase64.getBytes(StandardCharsets.UTF_8);
        this.maxStringBytes = maxStringBytes;
    }

    /**
     * Reads {@code bytes[start, end)}, the payload of a record of the table whose columns are {@code columns}: what it
     * holds, the row as {@link EnvelopeReader.Raw#document} (with where each column's value is in {@code bytes}), or
     * null when the record is {@link EnvelopeReader}'s to read.
     */
    EnvelopeReader.Raw scan(byte[] bytes, int start, int end, Columns columns) {
        if (columns == null) {
            return null;
        }
        this.in = bytes;
        this.pos = start;
        this.end = end;
        try {
            EnvelopeReader.Raw raw = envelope(columns);
            if (raw.document == null) {
                return null; // a delete, or no row: the tree's, which has the words for what is missing
            }
            return raw;
        } catch (RuntimeException | MalformedChangeException e) {
            // GIVE_UP, or a conversion's refusal: the tree's to say why
            return null;
        } finally {
            this.in = null;
        }
    }

    private EnvelopeReader.Raw envelope(Columns columns) throws MalformedChangeException {
        EnvelopeReader.Raw raw = new EnvelopeReader.Raw();
        expect('{');
        int seen = 0;
        int next = 0;
        do {
            int field = knownField(ENVELOPE, next);
            if (field < 0 || (seen & 1 << field) != 0) {
                throw GIVE_UP; // an unknown or repeated field
            }
            seen |= 1 << field;
            next = field + 1;
            switch (field) {
                case EnvelopeReader.BEFORE -> literal(NULL);
                case EnvelopeReader.AFTER -> {
                    if (at() == 'n') {
                        literal(NULL);
                    } else {
                        row(columns, raw);
                    }
                }
                case EnvelopeReader.SOURCE -> raw.sourcePresent = block(SOURCE_BLOCK, raw);
                case EnvelopeReader.TRANSACTION -> raw.transactionPresent = block(TRANSACTION_BLOCK, raw);
                case EnvelopeReader.OP -> {
                    if (at() == '"') {
                        raw.opPresent = true;
                        raw.op = text();
                    } else {
                        skipScalar();
                    }
                }
                case EnvelopeReader.TS_MS -> raw.tsMs = longOrNull();
                default -> skipScalar();
            }
        } while (comma());
        expect('}');
        if (pos != end) {
            throw GIVE_UP;
        }
        return raw;
    }

    /**
     * Reads a {@code source} or {@code transaction} block: its known fields into {@code raw}, the others skipped.
     * False when it is no object (null, say), which is skipped as EnvelopeReader skips it.
     */
    private boolean block(byte[][] names, EnvelopeReader.Raw raw) {
        if (at() != '{') {
            skipScalar();
            return false;
        }
        pos++;
        if (at() == '}') {
            pos++;
            return true;
        }
        int next = 0;
        do {
            int field = knownField(names, next);
            next = field + 1;
            if (field < 0) {
                skipName();
                skipScalar();
            } else if (names == SOURCE_BLOCK) {
                sourceField(field, raw);
            } else {
                transactionField(field, raw);
            }
        } while (comma());
        expect('}');
        return true;
    }

    private void sourceField(int field, EnvelopeReader.Raw raw) {
        switch (field) {
            case EnvelopeReader.SOURCE_DB -> raw.db = textOrNull();
            case EnvelopeReader.SOURCE_SCHEMA -> raw.schema = textOrNull();
            case EnvelopeReader.SOURCE_TABLE -> raw.table = textOrNull();
            case EnvelopeReader.SOURCE_LSN -> raw.lsn = longOrNull();
            case EnvelopeReader.SOURCE_TX_ID -> raw.txId = longOrNull();
            case EnvelopeReader.SOURCE_TS_MS -> raw.sourceTsMs = longOrNull();
            case EnvelopeReader.SOURCE_SNAPSHOT -> raw.snapshot = snapshot();
            default -> skipScalar();
        }
    }

    private void transactionField(int field, EnvelopeReader.Raw raw) {
        switch (field) {
            case EnvelopeReader.TRANSACTION_ID -> raw.transactionId = textOrNull();
            case EnvelopeReader.TRANSACTION_TOTAL_ORDER -> raw.totalOrder = orZero(longOrNull());
            case EnvelopeReader.TRANSACTION_DATA_COLLECTION_ORDER -> raw.dataCollectionOrder = orZero(longOrNull());
            default -> skipScalar();
        }
    }

    // As EnvelopeReader reads it: "true", "last", ... or, from older connectors, a boolean; its text for any scalar.
    private String snapshot() {
        int c = at();
        if (c == '"') {
            return text();
        }
        if (c == 'n') {
            literal(NULL);
            return null;
        }
        if (c == 't' || c == 'f') {
            literal(c == 't' ? TRUE : FALSE);
            return c == 't' ? "true" : "false";
        }
        int start = pos;
        number();
        return new String(in, start, pos - start, StandardCharsets.ISO_8859_1);
    }

    // --- the row ---------------------------------------------------------------------------------------------------

    /**
     * Writes the row as its document: each column's name and value as the tree would write them, a converted value
     * through its conversion. The row's columns must come in the schema's order, each at most once.
     */
    private void row(Columns columns, EnvelopeReader.Raw raw) throws MalformedChangeException {
        int[] spans = new int[2 * columns.names.length];
        Arrays.fill(spans, -1);
        length = 0;
        expect('{');
        put((byte) '{');
        if (at() == '}') {
            pos++;
        } else {
            int next = 0;
            do {
                int column = knownField(columns.names, next);
                if (column < next) {
                    throw GIVE_UP; // not a column of the schema, or out of its order
                }
                next = column + 1;
                if (length > 1) {
                    put((byte) ',');
                }
                put(columns.names[column]);
                spans[2 * column] = pos;
                value(columns.conversions[column]);
                spans[2 * column + 1] = pos;
            } while (comma());
            expect('}');
        }
        put((byte) '}');
        raw.document = Arrays.copyOf(out, length);
        if (out.length > KEPT_BUFFER) {
            out = new byte[1024];
        }
        raw.columnSpans = spans;
    }

    private void value(Conversion conversion) throws MalformedChangeException {
        int c = at();
        int start = pos;
        if (c == '"') {
            int contentEnd = string();
            if (isPlaceholder(start + 1, contentEnd)) {
                throw GIVE_UP; // a TOASTed value left out of the event: the tree removes and names it
            }
            if (supplementary) {
                throw GIVE_UP; // Jackson 2.17 writes a character beyond U+FFFF as two escapes, the tree so too
            }
            if (conversion == null) {
                put(in, start, pos - start);
            } else {
                write(conversion.apply(TextNode.valueOf(decode(start + 1, contentEnd))));
            }
        } else if (c == 'n') {
            literal(NULL);
            put(NULL); // the tree converts no null
        } else if (c == 't' || c == 'f') {
            literal(c == 't' ? TRUE : FALSE);
            if (conversion == null) {
                put(in, start, pos - start);
            } else {
                write(conversion.apply(BooleanNode.valueOf(c == 't')));
            }
        } else {
            number();
            if (fraction) {
                // Read as Jackson reads it for the tree (floats as BigDecimal) and written back as the tree writes it.
                JsonNode decimal = DecimalNode.valueOf(new BigDecimal(new String(in, start, pos - start,
                        StandardCharsets.ISO_8859_1)));
                write(conversion == null ? decimal : conversion.apply(decimal));
            } else if (conversion == null) {
                if (pos - start == 2 && in[start] == '-' && in[start + 1] == '0') {
                    throw GIVE_UP; // -0, which the tree writes 0
                }
                put(in, start, pos - start);
            } else {
                write(conversion.apply(FlatKeyReader.wholeNumber(whole(start, pos))));
            }
        }
    }

    // A converted value as the tree's writer writes it: only text, exact decimals, whole numbers and booleans.
    private void write(JsonNode value) {
        if (value.isTextual()) {
            String text = value.textValue();
            for (int i = 0; i < text.length(); i++) {
                if (text.charAt(i) >= 0x80) {
                    throw GIVE_UP; // dates and times are ASCII; anything else is the tree's writer's to write
                }
            }
            put((byte) '"');
            put(JsonStringEncoder.getInstance().quoteAsUTF8(text));
            put((byte) '"');
        } else if (value instanceof DecimalNode) {
            BigDecimal decimal = value.decimalValue();
            if (decimal.scale() > MAX_BIG_DECIMAL_SCALE || decimal.scale() < -MAX_BIG_DECIMAL_SCALE) {
                throw GIVE_UP; // the tree's writer refuses it: its error
            }
            put(ascii(decimal.toPlainString()));
        } else if (value instanceof IntNode || value instanceof LongNode) {
            put(ascii(value.asText()));
        } else if (value.isBoolean()) {
            put(value.booleanValue() ? TRUE : FALSE);
        } else {
            throw GIVE_UP;
        }
    }

    private boolean isPlaceholder(int start, int end) {
        return Arrays.equals(in, start, end, placeholder, 0, placeholder.length)
                || Arrays.equals(in, start, end, placeholderBase64, 0, placeholderBase64.length);
    }

    // --- tokens ----------------------------------------------------------------------------------------------------

    private int at() {
        if (pos >= end) {
            throw GIVE_UP;
        }
        return in[pos];
    }

    private void expect(char c) {
        if (at() != c) {
            throw GIVE_UP;
        }
        pos++;
    }

    /** Past a comma (true) or at what follows the last field (false). */
    private boolean comma() {
        if (at() == ',') {
            pos++;
            return true;
        }
        return false;
    }

    private void literal(byte[] literal) {
        if (!Arrays.equals(in, pos, Math.min(pos + literal.length, end), literal, 0, literal.length)) {
            throw GIVE_UP;
        }
        pos += literal.length;
    }

    /**
     * At a field's name: moves past {@code "name":} and returns its index in {@code names} (tried from {@code hint} on,
     * then from the start), or -1 with the position unmoved when the name is none of them.
     */
    private int knownField(byte[][] names, int hint) {
        for (int i = hint; i < names.length; i++) {
            if (startsWith(names[i])) {
                pos += names[i].length;
                return i;
            }
        }
        for (int i = 0; i < hint && i < names.length; i++) {
            if (startsWith(names[i])) {
                pos += names[i].length;
                return i;
            }
        }
        return -1;
    }

    private boolean startsWith(byte[] bytes) {
        return pos + bytes.length <= end && Arrays.equals(in, pos, pos + bytes.length, bytes, 0, bytes.length);
    }

    /**
     * Skips a name that is none of the block's. One with an escape may be one of them to Jackson, who decodes it first
     * (a later {@code "l\\u0073n"} is the lsn), and one longer than {@link #MAX_UNKNOWN_NAME} may be past Jackson's
     * limit for names: both are the tree's.
     */
    private void skipName() {
        int start = pos;
        string();
        if (pos - start > MAX_UNKNOWN_NAME) {
            throw GIVE_UP;
        }
        expect(':');
    }

    /** Skips a string, a number, a boolean or null; gives up on an object or array. */
    private void skipScalar() {
        int c = at();
        if (c == '"') {
            skipString();
        } else if (c == 'n') {
            literal(NULL);
        } else if (c == 't') {
            literal(TRUE);
        } else if (c == 'f') {
            literal(FALSE);
        } else {
            number();
        }
    }

    // A string whose contents are not needed: its escapes are checked as Jackson checks them, not decoded.
    private void skipString() {
        expect('"');
        int start = pos;
        boolean ascii = true;
        for (int c; (c = at()) != '"'; ) {
            if (c == '\\') {
                pos++;
                int escaped = at();
                if (escaped == 'u') {
                    for (int i = 1; i <= 4; i++) {
                        if (Character.digit(in[pos + i], 16) < 0) {
                            throw GIVE_UP;
                        }
                    }
                    pos += 4;
                } else if ("\"\\/bfnrt".indexOf(escaped) < 0) {
                    throw GIVE_UP;
                }
            } else if (c >= 0 && c < 0x20) {
                throw GIVE_UP;
            } else if (c < 0) {
                ascii = false;
            }
            pos++;
        }
        if (!ascii && !Utf8.isValid(in, start, pos)) {
            throw GIVE_UP;
        }
        pos++;
    }

    /**
     * At a string without escapes: moves past it and returns where its contents end (they start after the quote).
     * Gives up on an escape, a control character, bytes that are not UTF-8 and a string longer in bytes than Jackson
     * reads in characters.
     */
    private int string() {
        expect('"');
        int start = pos;
        // the loops over a value's bytes run on locals: the fields' loads and stores on every byte cost a tenth
        byte[] bytes = in;
        int limit = end;
        int at = start;
        boolean ascii = true;
        for (int c; ; at++) {
            if (at >= limit) {
                throw GIVE_UP;
            }
            c = bytes[at];
            if (c == '"') {
                break;
            }
            if (c == '\\' || (c >= 0 && c < 0x20)) {
                throw GIVE_UP;
            }
            ascii &= c >= 0;
        }
        pos = at;
        if (at - start > maxStringBytes) {
            throw GIVE_UP; // perhaps past Jackson's limit, which counts characters
        }
        supplementary = false;
        if (!ascii) {
            if (!Utf8.isValid(bytes, start, at)) {
                throw GIVE_UP;
            }
            for (int i = start; i < at; i++) {
                supplementary |= (bytes[i] & 0xff) >= 0xf0;
            }
        }
        return pos++;
    }

    private String text() {
        int start = pos + 1;
        int contentEnd = string();
        return decode(start, contentEnd);
    }

    private String decode(int start, int end) {
        return new String(in, start, end - start, StandardCharsets.UTF_8);
    }

    // As EnvelopeReader's: the text of a string, null for any other scalar.
    private String textOrNull() {
        if (at() == '"') {
            return text();
        }
        skipScalar();
        return null;
    }

    // As EnvelopeReader's: a whole number that fits a long, else null.
    private Long longOrNull() {
        int c = at();
        if (c != '-' && (c < '0' || c > '9')) {
            skipScalar();
            return null;
        }
        int start = pos;
        number();
        if (fraction) {
            return null;
        }
        try {
            return whole(start, pos);
        } catch (NumberFormatException tooLarge) {
            return null; // a BigInteger to Jackson
        }
    }

    // The whole number number() just read, from start to end; NumberFormatException when it does not fit a long.
    private long whole(int start, int end) {
        if (shortValue != NOT_SHORT) {
            return shortValue;
        }
        return Long.parseLong(new String(in, start, end - start, StandardCharsets.ISO_8859_1));
    }

    /** Moves past a JSON number, setting {@link #fraction}; gives up on what JSON does not allow. */
    private void number() {
        int start = pos;
        boolean negative = at() == '-';
        if (negative) {
            pos++;
        }
        int c = at();
        int first = pos;
        long value = 0;
        if (c == '0') {
            pos++;
        } else if (c >= '1' && c <= '9') {
            byte[] bytes = in;
            int limit = end;
            int at = pos;
            for (int digit; at < limit && (digit = bytes[at] - '0') >= 0 && digit <= 9; at++) {
                value = 10 * value + digit; // overflows only past 18 digits, which are not taken from it
            }
            pos = at;
        } else {
            throw GIVE_UP;
        }
        shortValue = pos - first <= 18 ? (negative ? -value : value) : NOT_SHORT;
        fraction = false;
        if (pos < end && in[pos] == '.') {
            pos++;
            fraction = true;
            if (digits() == 0) {
                throw GIVE_UP;
            }
        }
        if (pos < end && (in[pos] == 'e' || in[pos] == 'E')) {
            pos++;
            fraction = true;
            if (pos < end && (in[pos] == '+' || in[pos] == '-')) {
                pos++;
            }
            if (digits() == 0) {
                throw GIVE_UP;
            }
        }
        if (pos - start > MAX_NUMBER) {
            throw GIVE_UP;
        }
        if (fraction) {
            shortValue = NOT_SHORT;
        }
    }

    private int digits() {
        int start = pos;
        while (pos < end && in[pos] >= '0' && in[pos] <= '9') {
            pos++;
        }
        return pos - start;
    }

    private static long orZero(Long value) {
        return value == null ? 0 : value;
    }

    // --- the document ----------------------------------------------------------------------------------------------

    private void put(byte b) {
        room(1);
        out[length++] = b;
    }

    private void put(byte[] bytes) {
        put(bytes, 0, bytes.length);
    }

    private void put(byte[] bytes, int offset, int count) {
        room(count);
        System.arraycopy(bytes, offset, out, length, count);
        length += count;
    }

    private void room(int more) {
        if (length + more > out.length) {
            out = Arrays.copyOf(out, Math.max(2 * out.length, length + more));
        }
    }

    private static byte[][] names(String[] names) {
        byte[][] quoted = new byte[names.length][];
        for (int i = 0; i < names.length; i++) {
            quoted[i] = ascii("\"" + names[i] + "\":");
        }
        return quoted;
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Strict UTF-8: what Java decodes without a replacement character, which Jackson decodes alike. */
    static final class Utf8 {
        private Utf8() {}

        static boolean isValid(byte[] bytes, int start, int end) {
            int i = start;
            while (i < end) {
                int b = bytes[i] & 0xff;
                if (b < 0x80) {
                    i++;
                    continue;
                }
                int more;
                int low = 0x80;
                int high = 0xbf;
                if (b >= 0xc2 && b <= 0xdf) {
                    more = 1;
                } else if (b >= 0xe0 && b <= 0xef) {
                    more = 2;
                    if (b == 0xe0) {
                        low = 0xa0; // no overlong form
                    } else if (b == 0xed) {
                        high = 0x9f; // no surrogate
                    }
                } else if (b >= 0xf0 && b <= 0xf4) {
                    more = 3;
                    if (b == 0xf0) {
                        low = 0x90;
                    } else if (b == 0xf4) {
                        high = 0x8f; // nothing past U+10FFFF
                    }
                } else {
                    return false;
                }
                if (i + more >= end) {
                    return false; // cut short
                }
                int second = bytes[i + 1] & 0xff;
                if (second < low || second > high) {
                    return false;
                }
                for (int k = 2; k <= more; k++) {
                    if ((bytes[i + k] & 0xc0) != 0x80) {
                        return false;
                    }
                }
                i += more + 1;
            }
            return true;
        }
    }
}
