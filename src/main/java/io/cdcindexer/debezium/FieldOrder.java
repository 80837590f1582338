package io.cdcindexer.debezium;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.SerializedString;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * The field names of an object in the order its writer puts them. A reader that expects the next name compares its
 * bytes and is done, where an unexpected name is decoded and looked up: Debezium writes every envelope's fields in the
 * same order, and decoding their names showed as a tenth of the job's samples on inserts (the decoder is 11 % cheaper
 * this way: docs/performance.md). Any order, duplicates and unknown names are read all the same, only slower.
 */
final class FieldOrder {

    /** The object ended. */
    static final int END = -2;
    /** A name not in the order. */
    static final int OTHER = -1;

    private final SerializedString[] names;
    private final Map<String, Integer> indexes = new HashMap<>();

    FieldOrder(String... names) {
        this.names = new SerializedString[names.length];
        for (int i = 0; i < names.length; i++) {
            this.names[i] = new SerializedString(names[i]);
            this.names[i].asQuotedUTF8(); // its bytes made here, before any task's thread compares them
            if (indexes.put(names[i], i) != null) {
                throw new IllegalArgumentException("the field '" + names[i] + "' is named twice");
            }
        }
    }

    /** Reads one object's names; start it on the object's START_OBJECT. */
    Cursor cursor() {
        return new Cursor();
    }

    /** Where in the order one object's reading is. */
    final class Cursor {
        private int expected;

        /**
         * Moves to the next field name: returns its index in the order, {@link #OTHER}, or {@link #END} when the
         * object's fields are over (the parser is then on its END_OBJECT, or on whatever token came instead).
         */
        int next(JsonParser parser) throws IOException {
            if (expected < names.length) {
                if (parser.nextFieldName(names[expected])) {
                    return expected++;
                }
            } else {
                parser.nextToken();
            }
            if (parser.currentToken() != JsonToken.FIELD_NAME) {
                return END;
            }
            Integer index = indexes.get(parser.currentName());
            if (index == null) {
                return OTHER;
            }
            expected = index + 1;
            return index;
        }
    }
}
