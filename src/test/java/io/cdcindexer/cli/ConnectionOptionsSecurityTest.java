package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The security flags of every ./cdc command, parsed as a user types them. */
class ConnectionOptionsSecurityTest {

    // Review finding 6: the flag is a picocli boolean (arity 0), so "--elasticsearch-verify-hostname false", as the TLS
    // message and the job's option spell it, was refused as an unmatched argument, and the bare flag meant true.
    @Test
    void hostnameVerificationIsTurnedOffAsTheMessagesSay() {
        assertThat(ConnectionOptions.parse("--elasticsearch-verify-hostname", "false").elasticsearchVerifyHostname)
                .isFalse();
        assertThat(ConnectionOptions.parse("--elasticsearch-verify-hostname=false").elasticsearchVerifyHostname)
                .isFalse();
        assertThat(ConnectionOptions.parse().elasticsearchVerifyHostname).isTrue();
    }
}
