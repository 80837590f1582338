package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

class UpCommandTest {

    @Test
    void takesEachServicePortFromItsAddress() {
        assertThat(UpCommand.port("localhost:9092")).isEqualTo(9092);
        assertThat(UpCommand.port("localhost:19092,localhost:19093")).isEqualTo(19092);
        assertThat(UpCommand.port("http://localhost:9200")).isEqualTo(9200);
        assertThat(UpCommand.port("http://localhost:8081/")).isEqualTo(8081);
    }

    @Test
    void anAddressWithoutPortIsAClearError() {
        assertThatThrownBy(() -> UpCommand.port("http://localhost"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("'http://localhost' names no port");
    }
}
