package io.cdcindexer;

import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;

/** Savepoints of a test's job. */
public final class Savepoints {

    private Savepoints() {}

    /**
     * Stops the job with a canonical savepoint in {@code savepoints} once every task runs (the sink's may still be
     * starting) and returns its path.
     */
    public static String stopWithSavepoint(JobClient job, Path savepoints) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                return job.stopWithSavepoint(false, savepoints.toUri().toString(), SavepointFormatType.CANONICAL)
                        .get(1, TimeUnit.MINUTES);
            } catch (ExecutionException e) {
                if (System.nanoTime() > deadline || !String.valueOf(e.getMessage()).contains("not being executed")) {
                    throw e;
                }
                Thread.sleep(200);
            } catch (TimeoutException e) {
                // As it did before FINDINGS 22's mend: say what the job's threads were doing.
                throw new AssertionError("stop-with-savepoint did not end in a minute; the task threads:"
                        + ThreadStacks.of("Writer", "Source"), e);
            }
        }
    }
}
