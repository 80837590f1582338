package io.cdcindexer.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Finds free TCP ports on the loopback interface, for tests that start services next to a running stack.
 *
 * <p>Ports come from below the kernel's ephemeral range ({@code /proc/sys/net/ipv4/ip_local_port_range}): a port the
 * OS hands out for {@code bind(0)} lies inside that range, where any outgoing connection (a health check, a JDBC
 * connection) may take it as its local port before the service that was meant to have it starts and binds it. A port
 * below the range stays free until someone binds it on purpose. Each port is handed out once per JVM.
 */
public final class FreePorts {

    private static final int LOWEST = 10_000;
    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

    private FreePorts() {}

    /** A port that was free a moment ago and that no outgoing connection will take; another process could still bind it. */
    public static int next() {
        int below = ephemeralRangeStart();
        for (int attempt = 0; below - LOWEST > 100 && attempt < 200; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(LOWEST, below);
            if (HANDED_OUT.add(port) && canBind(port)) {
                return port;
            }
        }
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            HANDED_OUT.add(socket.getLocalPort());
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("No free port on localhost", e);
        }
    }

    /** Whether something accepts connections on localhost:port. */
    public static boolean inUse(int port) {
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean canBind(int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The first port of the kernel's ephemeral range; Linux's default 32768 where it cannot be read. */
    static int ephemeralRangeStart() {
        try {
            // Read line by line: procfs reports a size of 0, and a read sized by it may stop short.
            String range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim();
            return Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32_768;
        }
    }
}
