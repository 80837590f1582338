package io.cdcindexer;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ThreadStacksTest {

    @Test
    void namesEachMatchingThreadOnceWithItsStack() {
        String name = Thread.currentThread().getName();
        String stacks = ThreadStacks.of(name, name.substring(0, 1));
        assertThat(stacks).contains("\n" + name + " RUNNABLE")
                .contains(ThreadStacksTest.class.getName() + ".namesEachMatchingThreadOnceWithItsStack(");
        assertThat(stacks.split("\n" + name + " RUNNABLE", -1)).hasSize(2);
        assertThat(ThreadStacks.of("no thread is named so")).isEmpty();
    }
}
