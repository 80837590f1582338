package io.cdcindexer.stack;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What the local stack's supervisor knows, as it writes it to {@code <dataDir>/supervisor.json} after every change:
 * per process of the stack whether it runs or is being restarted, how often it was restarted and why, and how often the
 * job was resumed after the JobManager was lost. {@code ./cdc status} reads it to say what is degraded.
 *
 * @param pid the supervisor's own PID
 * @param updated when the supervisor last wrote the file (ISO-8601)
 * @param services by process ({@code <service>/<name>}, as {@link Stack#PROCESSES})
 * @param jobResumes how often the job was resubmitted from its latest retained checkpoint after a JobManager restart
 * @param lastJobResume what the last resubmission said (null before the first)
 */
public record SupervisorState(long pid, String updated, Map<String, Service> services, int jobResumes,
        String lastJobResume) {

    /** The file name in the data folder. */
    public static final String FILE = "supervisor.json";

    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    /** One process as the supervisor sees it. */
    public enum Status { RUNNING, RESTARTING, FAILED, HELD }

    /**
     * @param status running, being restarted, failed to restart (the supervisor retries with a growing pause), or
     *     held: stopped on purpose (a hold file), left stopped until released
     * @param restarts how often the supervisor restarted it
     * @param lastExit when it was last found dead (ISO-8601; null if never)
     * @param lastReason why it was last restarted or why its restart failed (null if never)
     */
    public record Service(Status status, int restarts, String lastExit, String lastReason) {

        public static Service running() {
            return new Service(Status.RUNNING, 0, null, null);
        }
    }

    /** A state with every process running and nothing restarted yet. */
    public static SupervisorState initial(long pid, Iterable<String> processes) {
        Map<String, Service> services = new LinkedHashMap<>();
        processes.forEach(process -> services.put(process, Service.running()));
        return new SupervisorState(pid, Instant.now().toString(), services, 0, null);
    }

    /** This state with one process replaced. */
    public SupervisorState with(String process, Service service) {
        Map<String, Service> next = new LinkedHashMap<>(services);
        next.put(process, service);
        return new SupervisorState(pid, Instant.now().toString(), next, jobResumes, lastJobResume);
    }

    /** This state after one more job resumption. */
    public SupervisorState withJobResumed(String what) {
        return new SupervisorState(pid, Instant.now().toString(), services, jobResumes + 1, what);
    }

    /** Writes the state atomically (a reader never sees half a file). */
    public void write(Path dataDir) {
        Path file = dataDir.resolve(FILE);
        Path partial = dataDir.resolve(FILE + ".partial");
        try {
            Files.createDirectories(dataDir);
            MAPPER.writerWithDefaultPrettyPrinter().writeValue(partial.toFile(), this);
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The state a supervisor wrote in {@code dataDir}, if there is one and it can be read. */
    public static Optional<SupervisorState> read(Path dataDir) {
        Path file = dataDir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(MAPPER.readValue(file.toFile(), SupervisorState.class));
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
