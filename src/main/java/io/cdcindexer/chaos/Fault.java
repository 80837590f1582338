package io.cdcindexer.chaos;

import io.cdcindexer.stack.ServiceProcess;
import io.cdcindexer.stack.Stack;
import io.cdcindexer.stack.StackException;
import io.cdcindexer.stack.Supervisor;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * The faults a chaos run injects, in the order it injects them. Each {@link #inject} returns once the fault is over
 * from the stack's side (the part is running again, the supervisor having started it, or the new job was submitted);
 * whether the pipeline has recovered is for the run to see.
 */
public enum Fault {

    TASKMANAGER("kill -9 of the TaskManager running the job") {
        @Override
        void inject(Context context) throws Exception {
            // The job runs in one slot of one TaskManager (parallelism.default 1); the other is the spare it restarts on.
            context.killAndAwaitRestart("flink/" + context.taskManagerRunningTheJob());
        }
    },
    JOBMANAGER("kill -9 of the JobManager") {
        @Override
        void inject(Context context) throws Exception {
            context.killAndAwaitRestart("flink/jobmanager");
        }
    },
    ELASTICSEARCH("Elasticsearch stopped, then started again") {
        @Override
        void inject(Context context) throws Exception {
            String process = "elasticsearch/elasticsearch";
            Supervisor.hold(context.dataDir(), process); // as `docker stop`: the restart policy leaves it stopped
            try {
                context.stop(process);
                context.say("Elasticsearch stopped; starting it again in " + context.outage().toSeconds() + " s");
                Thread.sleep(context.outage().toMillis());
            } finally {
                Supervisor.release(context.dataDir(), process);
            }
            context.awaitRunning(process);
        }
    },
    KAFKA("kill -9 of the Kafka broker, then a restart") {
        @Override
        void inject(Context context) throws Exception {
            context.killAndAwaitRestart("kafka/kafka");
        }
    },
    CONNECT("kill -9 of Kafka Connect, then a restart") {
        @Override
        void inject(Context context) throws Exception {
            context.killAndAwaitRestart("connect/connect");
        }
    },
    POSTGRES("PostgreSQL restarted") {
        @Override
        void inject(Context context) throws Exception {
            context.stop("postgres/postgres"); // a clean shutdown; the supervisor starts it again
            context.awaitRunning("postgres/postgres");
        }
    },
    UPGRADE("stop with a savepoint, resubmit a freshly built jar") {
        @Override
        void prepare(Context context) throws Exception {
            context.upgrade().build();
        }

        @Override
        void inject(Context context) throws Exception {
            context.upgrade().submit();
        }
    },
    REINDEX("a column retyped, then ./cdc reindex of its table and of the users' joined documents, searched all along") {
        @Override
        void inject(Context context) throws Exception {
            context.reindexUnderLoad().run(context::say).forEach(context::fail);
        }
    };

    /** What a fault needs from the run. */
    public interface Context {
        Path dataDir();

        /** How long Elasticsearch stays stopped. */
        Duration outage();

        /** Rebuilds the job jar and resubmits it, the running job stopping with a savepoint first. */
        Upgrade upgrade();

        void say(String message);

        /** The reindex fault's steps, against this run's stack. */
        ReindexUnderLoad reindexUnderLoad();

        /** Records something the fault found wrong: the run fails with it. */
        void fail(String problem);

        /** The process name of a TaskManager that runs tasks of the job ({@code taskmanager-2}). */
        String taskManagerRunningTheJob() throws Exception;

        /** SIGKILL to a process of the stack, then waits until the supervisor has it running again. */
        default void killAndAwaitRestart(String process) throws InterruptedException {
            ProcessHandle handle = Stack.running(dataDir()).get(process);
            if (handle == null) {
                throw new StackException(process + " is not running: nothing to kill");
            }
            handle.destroyForcibly();
            say("kill -9 " + process + " (pid " + handle.pid() + ")");
            handle.onExit().join();
            awaitRunning(process);
        }

        /** Stops a process of the stack cleanly (SIGTERM, as on a shutdown). */
        default void stop(String process) {
            ServiceProcess.stopRecorded(dataDir().toAbsolutePath().resolve(process + ".pid"), ServiceProcess.STOP_GRACE);
            say("stopped " + process);
        }

        /** Waits until the process runs again (the supervisor starts what died), 5 min at most. */
        default void awaitRunning(String process) throws InterruptedException {
            Instant deadline = Instant.now().plus(Duration.ofMinutes(5));
            while (!Stack.running(dataDir()).containsKey(process)) {
                if (Instant.now().isAfter(deadline)) {
                    throw new StackException(process + " was not started again within 5 min; see "
                            + dataDir().resolve("supervisor.log"));
                }
                Thread.sleep(250);
            }
            say(process + " runs again");
        }
    }

    /** The upgrade, which the command line provides: the build comes before the fault, the submit is the fault. */
    public interface Upgrade {
        void build() throws Exception;

        void submit() throws Exception;
    }

    private final String description;

    Fault(String description) {
        this.description = description;
    }

    /** What comes before the fault and is no part of it (the upgrade's build). */
    void prepare(Context context) throws Exception {}

    abstract void inject(Context context) throws Exception;

    public String description() {
        return description;
    }

    /** The name on the command line: {@code taskmanager}, {@code elasticsearch}, ... */
    public String cliName() {
        return name().toLowerCase();
    }

    /** Every fault, in the order of a full run. */
    public static List<Fault> all() {
        return Arrays.asList(values());
    }

    /** Parses a comma-separated list of fault names. */
    public static List<Fault> parse(String names) {
        return Arrays.stream(names.split(",")).map(String::trim).filter(name -> !name.isEmpty()).map(name -> {
            try {
                return valueOf(name.toUpperCase());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown fault '" + name + "'; faults: "
                        + all().stream().map(Fault::cliName).toList());
            }
        }).toList();
    }

}
