package io.cdcindexer.cli;

/** A count with its noun, singular or plural as the count asks: {@code 1 document}, {@code 0 documents}. */
final class Plural {

    private Plural() {}

    /** {@code count} and the noun, with an {@code s} unless the count is exactly one. */
    static String of(long count, String singular) {
        return of(count, singular, singular + "s");
    }

    /** {@code count} and the noun, for nouns whose plural is not the singular with an {@code s}. */
    static String of(long count, String singular, String plural) {
        return count + " " + (count == 1 ? singular : plural);
    }
}
