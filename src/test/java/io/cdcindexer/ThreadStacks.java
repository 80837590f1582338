package io.cdcindexer;

/** For a test that timed out: what the threads it waited on were doing. */
public final class ThreadStacks {

    private ThreadStacks() {}

    /** The name, state and stack of every thread whose name contains one of {@code nameParts}. */
    public static String of(String... nameParts) {
        StringBuilder stacks = new StringBuilder();
        Thread.getAllStackTraces().forEach((thread, stack) -> {
            for (String part : nameParts) {
                if (thread.getName().contains(part)) {
                    stacks.append('\n').append(thread.getName()).append(' ').append(thread.getState());
                    for (StackTraceElement frame : stack) {
                        stacks.append("\n\tat ").append(frame);
                    }
                    return;
                }
            }
        });
        return stacks.toString();
    }
}
