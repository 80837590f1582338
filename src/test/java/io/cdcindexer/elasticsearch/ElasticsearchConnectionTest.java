package io.cdcindexer.elasticsearch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the secrets come from, and that no message ever carries one. */
class ElasticsearchConnectionTest {

    @TempDir
    Path dir;

    private static UnaryOperator<String> env(Map<String, String> variables) {
        return variables::get;
    }

    private static ElasticsearchConnection connection(String user, String passwordFile, String apiKeyFile) {
        return new ElasticsearchConnection(List.of("https://es:9200"), user, passwordFile, apiKeyFile, "", true);
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aPasswordFileWinsOverTheEnvironmentAndOnlyItsFirstLineCounts() throws Exception {
        Path file = Files.writeString(dir.resolve("password"), "from-file\nsecond line\n");

        assertThat(connection("indexer", file.toString(), "").authorization(env(Map.of("ELASTICSEARCH_PASSWORD", "from-env"))))
                .hasValue(basic("indexer", "from-file"));
    }

    @Test
    void withoutAFileThePasswordComesFromTheEnvironment() throws Exception {
        assertThat(connection("indexer", "", "").authorization(env(Map.of("ELASTICSEARCH_PASSWORD", "from-env"))))
                .hasValue(basic("indexer", "from-env"));
    }

    @Test
    void aUserWithoutAPasswordIsAClearError() {
        assertThatThrownBy(() -> connection("indexer", "", "").authorization(env(Map.of())))
                .isInstanceOf(IOException.class)
                .hasMessage("Elasticsearch user indexer has no password: set ELASTICSEARCH_PASSWORD in the environment "
                        + "of the TaskManagers, or a password file");
    }

    @Test
    void anApiKeyComesFromItsFileOrTheEnvironmentWhenNoUserIsGiven() throws Exception {
        Path file = Files.writeString(dir.resolve("key"), "  a2V5LWZyb20tZmlsZQ==  \n");

        assertThat(connection("", "", file.toString()).authorization(env(Map.of())))
                .hasValue("ApiKey a2V5LWZyb20tZmlsZQ==");
        assertThat(connection("", "", "").authorization(env(Map.of("ELASTICSEARCH_API_KEY", "ZW52"))))
                .hasValue("ApiKey ZW52");
        assertThat(connection("indexer", "", "").authorization(
                        env(Map.of("ELASTICSEARCH_API_KEY", "ZW52", "ELASTICSEARCH_PASSWORD", "pw"))))
                .as("a user given by name wins over a key in the environment").hasValue(basic("indexer", "pw"));
        assertThat(connection("", "", "").authorization(env(Map.of()))).isEmpty();
    }

    @Test
    void anUnreadableOrEmptySecretFileIsNamedButNeverQuoted() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty"), "\n");

        assertThatThrownBy(() -> connection("indexer", dir.resolve("missing").toString(), "").authorization(env(Map.of())))
                .hasMessage("Cannot read the Elasticsearch password file " + dir.resolve("missing")
                        + " (NoSuchFileException)");
        assertThatThrownBy(() -> connection("", "", empty.toString()).authorization(env(Map.of())))
                .hasMessage("The Elasticsearch API key file " + empty + " is empty");
    }

    @Test
    void contradictoryOrIncompleteSettingsAreRefused() {
        assertThatThrownBy(() -> connection("indexer", "", "/key"))
                .hasMessageContaining("a user name and password, or an API key, not both");
        assertThatThrownBy(() -> connection("", "/password", ""))
                .hasMessageContaining("a password file is given but no user name");
        assertThatThrownBy(() -> new ElasticsearchConnection(List.of("http://es:9200"), "", "", "", "/ca.pem", true))
                .hasMessageContaining("a CA file is given but no host is https://");
    }

    @Test
    void aCaFileThatIsNoCertificateIsAClearError() throws Exception {
        Path notPem = Files.writeString(dir.resolve("ca.pem"), "not a certificate");

        assertThatThrownBy(() -> ElasticsearchConnection.sslContextTrusting(notPem))
                .hasMessageStartingWith("The CA file " + notPem);
    }

    @Test
    void aPlainConnectionFailureIsNoTlsProblem() {
        assertThat(ElasticsearchConnection.tlsProblem("https://es:9200", new java.net.ConnectException("refused"), "ca",
                "verify")).isEmpty();
    }

    // Review finding 5: credentials written into the address (https://user:password@host, as curl takes them) were
    // dropped by the client, which then got 401, and the address with the password went into every message
    // ("Elasticsearch at https://elastic:...@es:9200 refused ..."): the job's log, the web UI, ./cdc status.
    @Test
    void anAddressWithCredentialsInItIsRefusedWithoutRepeatingThem() {
        assertThatThrownBy(() -> new ElasticsearchConnection(List.of("https://elastic:hunter2@es:9200"), "", "", "", "",
                        true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ELASTICSEARCH_PASSWORD")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
    }

    @Test
    void aHandshakeTheServerRefusesIsPermanentOneItAbandonsIsRetried() {
        var refused = new java.io.IOException(new javax.net.ssl.SSLHandshakeException(
                "Received fatal alert: handshake_failure"));
        var abandoned = new java.io.IOException(new javax.net.ssl.SSLHandshakeException(
                "Remote host terminated the handshake"));

        assertThat(ElasticsearchConnection.tlsProblem("https://es:9200", refused, "ca", "verify"))
                .hasValueSatisfying(line -> assertThat(line).startsWith("Elasticsearch at https://es:9200 refused the "
                        + "TLS handshake (Received fatal alert: handshake_failure)"));
        assertThat(ElasticsearchConnection.tlsProblem("https://es:9200", abandoned, "ca", "verify")).isEmpty();
    }
}
