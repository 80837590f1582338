package io.cdcindexer.cli;

import io.cdcindexer.stack.SupervisorState;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongPredicate;
import java.util.function.Predicate;

/**
 * What {@code ./cdc status} says from the local stack's supervisor ({@code <dataDir>/supervisor.json}): on each service's
 * line, its processes that are being restarted, failed to restart, or were restarted; and a line for the supervisor
 * itself. The processes are the ones the file names ({@code <service folder>/<name>}), not a fixed list.
 */
final class SupervisorReport {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");
    private static final DateTimeFormatter DATE_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

    private final boolean fileExists;
    private final Optional<SupervisorState> state;
    private final boolean supervisorAlive;
    private final Clock clock;

    SupervisorReport(boolean fileExists, Optional<SupervisorState> state, boolean supervisorAlive, Clock clock) {
        this.fileExists = fileExists;
        this.state = state;
        this.supervisorAlive = supervisorAlive;
        this.clock = clock;
    }

    /** Reads the file in {@code dataDir}; {@code alive} says whether a PID names a live process. */
    static SupervisorReport read(Path dataDir, Clock clock, LongPredicate alive) {
        Optional<SupervisorState> state = SupervisorState.read(dataDir);
        return new SupervisorReport(Files.exists(dataDir.resolve(SupervisorState.FILE)), state,
                state.map(s -> alive.test(s.pid())).orElse(false), clock);
    }

    /** Whether a process with this PID is alive. */
    static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /**
     * The supervisor's own line, when it left a file: running, or gone (then nothing restarts a process that dies), with
     * the processes of services that have no line of their own. Empty without a file (a stack started without a
     * supervisor, or the Docker stack, whose containers Docker restarts).
     */
    Optional<StatusCommand.Check> supervisorCheck(Set<String> foldersWithALine) {
        if (!fileExists) {
            return Optional.empty();
        }
        if (state.isEmpty()) {
            return Optional.of(new StatusCommand.Check("supervisor", SupervisorState.FILE, false,
                    "unreadable: " + SupervisorState.FILE + " holds no state this version of ./cdc understands"));
        }
        SupervisorState supervisor = state.get();
        String target = "pid " + supervisor.pid();
        if (!supervisorAlive) {
            return Optional.of(new StatusCommand.Check("supervisor", target, false, "not running (its last report was at "
                    + when(supervisor.updated()) + "): the stack is no longer supervised, a process that dies now "
                    + "stays down"));
        }
        int processes = supervisor.services().size();
        List<String> lines = new ArrayList<>();
        lines.add("running, watching " + processes + (processes == 1 ? " process" : " processes"));
        Notes others = notes(supervisor.services(), process -> !foldersWithALine.contains(folder(process)));
        lines.addAll(others.lines());
        return Optional.of(new StatusCommand.Check("supervisor", target, others.healthy(), String.join("\n", lines)));
    }

    /**
     * A service's line with what the supervisor says about its processes: a process being restarted, or whose restart
     * failed, makes it unhealthy; one that was restarted and runs again is said but healthy.
     */
    StatusCommand.Check annotate(StatusCommand.Check service, String folder) {
        if (state.isEmpty()) {
            return service;
        }
        Notes notes = notes(state.get().services(), process -> folder(process).equals(folder));
        if (notes.lines().isEmpty()) {
            return service;
        }
        return new StatusCommand.Check(service.name(), service.target(), service.healthy() && notes.healthy(),
                service.detail() + "\n" + String.join("\n", notes.lines()));
    }

    /** The JobManager restarts after which the supervisor resumed the job, if any: a line for the job's check. */
    Optional<String> jobResumes() {
        return state.filter(s -> s.jobResumes() > 0).map(s -> "resumed " + times(s.jobResumes())
                + " after JobManager restarts" + (s.lastJobResume() == null ? "" : " (last: " + s.lastJobResume() + ")"));
    }

    private record Notes(boolean healthy, List<String> lines) {}

    private Notes notes(Map<String, SupervisorState.Service> services, Predicate<String> which) {
        boolean healthy = true;
        List<String> lines = new ArrayList<>();
        for (Map.Entry<String, SupervisorState.Service> entry : services.entrySet()) {
            if (!which.test(entry.getKey())) {
                continue;
            }
            SupervisorState.Service service = entry.getValue();
            String name = entry.getKey().substring(entry.getKey().indexOf('/') + 1);
            Optional<String> line = describe(service);
            if (line.isPresent()) {
                lines.add(name + " " + line.get());
                healthy &= service.status() == SupervisorState.Status.RUNNING;
            }
        }
        return new Notes(healthy, lines);
    }

    /** One process as the supervisor sees it, in words; empty for a process that runs and was never restarted. */
    private Optional<String> describe(SupervisorState.Service service) {
        String since = service.lastExit() == null ? "" : "since " + when(service.lastExit()) + ", ";
        String reason = service.lastReason() == null ? "reason unknown" : service.lastReason();
        switch (service.status() == null ? SupervisorState.Status.RUNNING : service.status()) {
            case RESTARTING:
                return Optional.of("restarting (" + since + "restart " + service.restarts() + ": " + reason + ")");
            case FAILED:
                return Optional.of("down, its restart failed (" + since + "restart " + service.restarts() + ": " + reason
                        + "); the supervisor tries again after a growing pause");
            default:
                if (service.restarts() == 0) {
                    return Optional.empty();
                }
                return Optional.of("restarted " + times(service.restarts())
                        + (service.lastExit() == null ? "" : ", last at " + when(service.lastExit()))
                        + (service.lastReason() == null ? "" : " (" + service.lastReason() + ")"));
        }
    }

    /** An ISO-8601 instant as the local time of day (with the date when it is not today). */
    private String when(String isoInstant) {
        try {
            return at(Instant.parse(isoInstant), clock);
        } catch (DateTimeParseException | NullPointerException e) {
            return String.valueOf(isoInstant);
        }
    }

    /** A point in time as the clock's zone shows it: the time of day, with the date when it is not today. */
    static String at(Instant instant, Clock clock) {
        ZonedDateTime local = instant.atZone(clock.getZone());
        return (local.toLocalDate().equals(LocalDate.now(clock)) ? TIME : DATE_TIME).format(local);
    }

    private static String folder(String process) {
        int slash = process.indexOf('/');
        return slash < 0 ? process : process.substring(0, slash);
    }

    private static String times(int n) {
        return n == 1 ? "once" : n + " times";
    }
}
