package io.cdcindexer.cli;

import io.cdcindexer.stack.FreePorts;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy on a free local port in front of a real service, whose wire a test can cut (the port refuses
 * connections and every open one breaks, as when the service stops) and mend (the same port forwards again, as when it
 * is back). For services that clients reach only at the address they are given: PostgreSQL and Elasticsearch, not
 * Kafka, whose clients go on to the address the broker advertises.
 */
final class CuttableProxy implements AutoCloseable {

    private final int port = FreePorts.next();
    private final int target;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile ServerSocket server;

    CuttableProxy(int target) {
        this.target = target;
        mend();
    }

    int port() {
        return port;
    }

    /** The service as if it had stopped: connections refused, open ones broken. */
    synchronized void cut() {
        try {
            server.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        open.forEach(CuttableProxy::closeQuietly);
        open.clear();
    }

    /** The service back, on the same port. */
    synchronized void mend() {
        try {
            ServerSocket listening = new ServerSocket();
            listening.setReuseAddress(true);
            listening.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            server = listening;
            daemon("proxy-accept-" + port, () -> accept(listening));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void accept(ServerSocket listening) {
        while (!listening.isClosed()) {
            try {
                Socket client = listening.accept();
                Socket service = new Socket(InetAddress.getLoopbackAddress(), target);
                open.add(client);
                open.add(service);
                daemon("proxy-up-" + port, () -> pump(client, service));
                daemon("proxy-down-" + port, () -> pump(service, client));
            } catch (IOException e) {
                return; // cut
            }
        }
    }

    private static void pump(Socket from, Socket to) {
        byte[] buffer = new byte[16 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            for (int read = in.read(buffer); read >= 0; read = in.read(buffer)) {
                out.write(buffer, 0, read);
                out.flush();
            }
        } catch (IOException e) {
            // cut, or closed by either side
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void daemon(String name, Runnable body) {
        Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        thread.start();
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // closing is all that is asked
        }
    }

    @Override
    public void close() {
        cut();
    }
}
