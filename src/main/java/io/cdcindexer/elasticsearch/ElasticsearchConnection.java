package io.cdcindexer.elasticsearch;

import com.fasterxml.jackson.databind.JsonNode;
import io.cdcindexer.debezium.DebeziumDecoder;
import io.cdcindexer.job.JobOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.net.Socket;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;
import org.apache.http.Header;
import org.apache.http.HttpHost;
import org.apache.http.conn.ssl.NoopHostnameVerifier;
import org.apache.http.message.BasicHeader;
import org.apache.http.util.EntityUtils;
import org.elasticsearch.client.ResponseException;
import org.elasticsearch.client.RestClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How to reach Elasticsearch: its addresses, the credentials, and the CA that signed its certificate.
 *
 * <p>It holds no secret, only where to find one: a password or API key is read when a client is opened (on the
 * TaskManager), from a file or an environment variable, so it never travels in the job graph, the job's arguments or
 * its configuration, and never reaches the Flink web UI or a log (docs/security.md).
 */
public record ElasticsearchConnection(
        List<String> hosts,
        String username,
        String passwordFile,
        String apiKeyFile,
        String caFile,
        boolean verifyHostname) implements Serializable {

    /** The environment variable holding the password of {@link #username}, where no password file is given. */
    public static final String PASSWORD_ENV = "ELASTICSEARCH_PASSWORD";
    /** The environment variable holding an API key (the {@code encoded} value Elasticsearch returns), where no file is given. */
    public static final String API_KEY_ENV = "ELASTICSEARCH_API_KEY";

    private static final Logger LOG = LoggerFactory.getLogger(ElasticsearchConnection.class);

    public ElasticsearchConnection {
        hosts = List.copyOf(hosts);
        username = username == null ? "" : username.trim();
        passwordFile = passwordFile == null ? "" : passwordFile.trim();
        apiKeyFile = apiKeyFile == null ? "" : apiKeyFile.trim();
        caFile = caFile == null ? "" : caFile.trim();
        if (hosts.isEmpty()) {
            throw new IllegalArgumentException("Elasticsearch: no host given");
        }
        // HttpHost takes user:password@ for part of the host name: it would reach every message. Not quoted here.
        if (hosts.stream().anyMatch(h -> (h.contains("://") ? h.substring(h.indexOf("://") + 3) : h)
                .split("/", 2)[0].contains("@"))) {
            throw new IllegalArgumentException("Elasticsearch: an address holds credentials (user:password@host); give "
                    + "the user by name and the password in " + PASSWORD_ENV + " or a password file instead");
        }
        if (!username.isEmpty() && !apiKeyFile.isEmpty()) {
            throw new IllegalArgumentException("Elasticsearch: give a user name and password, or an API key, not both");
        }
        if (username.isEmpty() && !passwordFile.isEmpty()) {
            throw new IllegalArgumentException("Elasticsearch: a password file is given but no user name");
        }
        if (!caFile.isEmpty() && hosts.stream().noneMatch(h -> h.toLowerCase(Locale.ROOT).startsWith("https://"))) {
            throw new IllegalArgumentException("Elasticsearch: a CA file is given but no host is https:// ("
                    + String.join(",", hosts) + ")");
        }
    }

    /** Plain addresses, no credentials, the JVM's trusted CAs. */
    public static ElasticsearchConnection plain(List<String> hosts) {
        return new ElasticsearchConnection(hosts, "", "", "", "", true);
    }

    /** The addresses, for messages. */
    public String where() {
        return String.join(",", hosts);
    }

    /** Opens a client, reading the secret now from its file or the environment. */
    public RestClient open(int socketTimeoutMs) throws IOException {
        return open(socketTimeoutMs, System::getenv);
    }

    RestClient open(int socketTimeoutMs, UnaryOperator<String> environment) throws IOException {
        Optional<String> authorization = authorization(environment);
        SSLContext tls = sslContext();
        var builder = RestClient.builder(hosts.stream().map(HttpHost::create).toArray(HttpHost[]::new))
                .setRequestConfigCallback(config -> config.setConnectTimeout(5_000).setSocketTimeout(socketTimeoutMs));
        // Sent with every request (pre-emptively), not after a 401 challenge: a bulk body is then sent once, not twice.
        authorization.ifPresent(value -> builder.setDefaultHeaders(new Header[] {new BasicHeader("Authorization", value)}));
        builder.setHttpClientConfigCallback(http -> {
            if (tls != null) {
                http.setSSLContext(tls);
            }
            if (!verifyHostname) {
                http.setSSLHostnameVerifier(NoopHostnameVerifier.INSTANCE);
            }
            return http;
        });
        return builder.build();
    }

    /**
     * The value of the Authorization header: {@code Basic} for a user, {@code ApiKey} for a key; empty for neither. The
     * secret comes from its file if one is named, else from the environment variable.
     */
    public Optional<String> authorization(UnaryOperator<String> environment) throws IOException {
        if (!username.isEmpty()) {
            String password = !passwordFile.isEmpty() ? secretFile(passwordFile, "password") : environment.apply(PASSWORD_ENV);
            if (password == null || password.isEmpty()) {
                throw new IOException("Elasticsearch user " + username + " has no password: set " + PASSWORD_ENV
                        + " in the environment of the TaskManagers, or a password file");
            }
            return Optional.of("Basic " + Base64.getEncoder()
                    .encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8)));
        }
        String apiKey = !apiKeyFile.isEmpty() ? secretFile(apiKeyFile, "API key") : environment.apply(API_KEY_ENV);
        return apiKey == null || apiKey.isBlank() ? Optional.empty() : Optional.of("ApiKey " + apiKey.trim());
    }

    // The file's first line; never its content in a message.
    private static String secretFile(String file, String what) throws IOException {
        try {
            String text = Files.readString(Path.of(file), StandardCharsets.UTF_8);
            int newline = text.indexOf('\n');
            String secret = (newline < 0 ? text : text.substring(0, newline)).strip();
            if (secret.isEmpty()) {
                throw new IOException("The Elasticsearch " + what + " file " + file + " is empty");
            }
            return secret;
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().endsWith(" is empty")) {
                throw e;
            }
            throw new IOException("Cannot read the Elasticsearch " + what + " file " + file + " (" + e.getClass().getSimpleName()
                    + ")", e);
        }
    }

    /**
     * A TLS context that trusts the CA file's certificates, or the JVM's trusted CAs without one; {@code null} when
     * neither a CA file is given nor hostname verification is off (the client's default context does).
     */
    public SSLContext sslContext() throws IOException {
        if (caFile.isEmpty() && verifyHostname) {
            return null;
        }
        return context(caFile.isEmpty() ? null : Path.of(caFile), verifyHostname);
    }

    /** A TLS context that trusts exactly the certificates in a PEM file. */
    public static SSLContext sslContextTrusting(Path pemFile) throws IOException {
        return context(pemFile, true);
    }

    /**
     * @param pemFile the CA certificates to trust; null: the JVM's
     * @param verifyHostname false: the certificate chain is still checked, but not whether it names the host (the JDK's
     *     HTTP client checks the host in the trust manager; this one skips that step for this context alone)
     */
    private static SSLContext context(Path pemFile, boolean verifyHostname) throws IOException {
        try {
            KeyStore trusted = null;
            if (pemFile != null) {
                trusted = KeyStore.getInstance(KeyStore.getDefaultType());
                trusted.load(null, null);
                int i = 0;
                for (Certificate certificate : certificates(pemFile)) {
                    trusted.setCertificateEntry("ca-" + i++, certificate);
                }
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(trusted);
            TrustManager[] managers = trust.getTrustManagers();
            if (!verifyHostname) {
                for (int i = 0; i < managers.length; i++) {
                    if (managers[i] instanceof X509TrustManager chain) {
                        managers[i] = new ChainOnlyTrustManager(chain);
                    }
                }
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, managers, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IOException("Cannot set up TLS" + (pemFile == null ? "" : " with the CA file " + pemFile) + ": "
                    + e.getMessage(), e);
        }
    }

    private static Collection<? extends Certificate> certificates(Path pemFile) throws IOException {
        try (InputStream in = Files.newInputStream(pemFile)) {
            Collection<? extends Certificate> certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (certificates.isEmpty()) {
                throw new IOException("The CA file " + pemFile + " holds no certificate");
            }
            return certificates;
        } catch (GeneralSecurityException e) {
            throw new IOException("The CA file " + pemFile + " is not a PEM certificate: " + e.getMessage(), e);
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("The CA file")) {
                throw e;
            }
            throw new IOException("Cannot read the CA file " + pemFile + " (" + e.getClass().getSimpleName() + ")", e);
        }
    }

    /** Checks the certificate chain, never whether it names the host (hostname verification off). */
    private static final class ChainOnlyTrustManager extends X509ExtendedTrustManager {
        private final X509TrustManager chain;

        ChainOnlyTrustManager(X509TrustManager chain) {
            this.chain = chain;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] certificates, String authType) throws CertificateException {
            chain.checkServerTrusted(certificates, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] certificates, String authType, Socket socket)
                throws CertificateException {
            chain.checkServerTrusted(certificates, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] certificates, String authType, SSLEngine engine)
                throws CertificateException {
            chain.checkServerTrusted(certificates, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] certificates, String authType) throws CertificateException {
            chain.checkClientTrusted(certificates, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] certificates, String authType, Socket socket)
                throws CertificateException {
            chain.checkClientTrusted(certificates, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] certificates, String authType, SSLEngine engine)
                throws CertificateException {
            chain.checkClientTrusted(certificates, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return chain.getAcceptedIssuers();
        }
    }

    /**
     * Why a request failed for good at the TLS layer, in one line naming the cause and the fix; empty when it is not
     * such a failure (a refused or broken connection is retried instead). No retry fixes a certificate nobody trusts.
     *
     * @param caOption how the caller names the setting of the CA file, for the fix
     * @param hostnameOption how the caller turns hostname verification off
     */
    public static Optional<String> tlsProblem(String where, Throwable error, String caOption, String hostnameOption) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            String message = String.valueOf(cause.getMessage());
            if (cause instanceof SSLPeerUnverifiedException || message.contains("No subject alternative")
                    || message.contains("No name matching")) {
                return Optional.of("Elasticsearch at " + where + ": its TLS certificate does not name the host ("
                        + message + "). Connect by a name the certificate holds, or set " + hostnameOption);
            }
            if (cause instanceof CertPathBuilderException || cause instanceof CertPathValidatorException
                    || cause instanceof CertificateException) {
                return Optional.of("Elasticsearch at " + where + ": its TLS certificate is not trusted (" + message
                        + "). Set " + caOption + " to the CA that signed it (a PEM file)");
            }
            if (cause instanceof javax.net.ssl.SSLHandshakeException && message.startsWith("Received fatal alert: ")) {
                // The server ended the handshake on purpose (no common protocol or cipher, a client certificate it
                // wants): no retry changes that. A server going away mid-handshake says otherwise, and is retried.
                return Optional.of("Elasticsearch at " + where + " refused the TLS handshake (" + message + "): check "
                        + "the TLS versions and ciphers it accepts, and whether it asks for a client certificate");
            }
            if (cause instanceof SSLException && message.contains("Unsupported or unrecognized SSL message")) {
                return Optional.of("Elasticsearch at " + where + " does not speak TLS at that port: use an http:// "
                        + "address, or the port Elasticsearch serves HTTPS on");
            }
        }
        return Optional.empty();
    }

    /** A request to Elasticsearch, for {@link #retrying}. */
    public interface Call<T> {
        T call() throws Exception;
    }

    /**
     * Runs the call, trying again while Elasticsearch cannot be reached, for {@code limitMs} at most
     * ({@link Long#MAX_VALUE}: for as long as it takes); a refusal (4xx) fails at once, with the reason, and so does a
     * TLS problem no retry fixes.
     *
     * @param what what the call does, for messages ("look up the index of ...")
     */
    public <T> T retrying(String what, long limitMs, Call<T> call) throws Exception {
        long deadline = limitMs == Long.MAX_VALUE ? Long.MAX_VALUE : System.currentTimeMillis() + limitMs;
        long pause = 500;
        while (true) {
            try {
                return call.call();
            } catch (IOException e) {
                // A cluster_block_exception (403: a read-only cluster or index, the disk flood stage) clears by itself.
                if (e instanceof ResponseException response && statusOf(response) / 100 == 4
                        && statusOf(response) != 429 && statusOf(response) != 408
                        && !reasonOf(response).startsWith("cluster_block_exception:")) {
                    if (statusOf(response) == 401 || statusOf(response) == 403) {
                        // The writer's words (ElasticsearchIndexWriter), which ./cdc status recognizes.
                        throw new IOException("Elasticsearch at " + where() + " refused the job's request "
                                + "(authentication or authorization): " + reasonOf(response).replaceFirst("^\\w+: ", "")
                                + " (to " + what + "). Check the credentials and the role's privileges on the indices; "
                                + "the job restarts and tries again.", e);
                    }
                    throw new IOException("Elasticsearch at " + where() + " refused to " + what + ": "
                            + reasonOf(response), e);
                }
                var tls = tlsProblem(where(), e, "--" + JobOptions.ELASTICSEARCH_CA_FILE.name(),
                        "--" + JobOptions.ELASTICSEARCH_VERIFY_HOSTNAME.name() + " false");
                if (tls.isPresent()) {
                    throw new IOException(tls.get() + " (while trying to " + what + ")", e);
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new IOException("Elasticsearch could not be reached for " + limitMs / 1000
                            + " s to " + what + ": " + e.getMessage(), e);
                }
                LOG.warn("Could not {} ({}); trying again in {} ms", what, e.toString(), pause);
                Thread.sleep(pause);
                pause = Math.min(pause * 2, 10_000);
            }
        }
    }

    static int statusOf(ResponseException e) {
        return e.getResponse().getStatusLine().getStatusCode();
    }

    /** The error's type and reason as Elasticsearch gave them ("mapper_parsing_exception: ..."). */
    static String reasonOf(ResponseException e) {
        try {
            JsonNode error = DebeziumDecoder.mapper().readTree(EntityUtils.toByteArray(e.getResponse().getEntity()))
                    .path("error");
            return error.path("type").asText() + ": " + error.path("reason").asText();
        } catch (IOException | RuntimeException unreadable) {
            return e.getMessage();
        }
    }
}
