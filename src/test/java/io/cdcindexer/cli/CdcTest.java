package io.cdcindexer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** What {@code ./cdc} says about bad usage and in its command list, as a user sees it. */
class CdcTest {

    @Test
    void aBadOptionValueIsOneLineSayingWhatWasWrongAndWhatIsExpected() {
        CliRun run = CliRun.of("produce", "--rate", "fast");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).isEqualTo("cdc produce: Invalid value for option '--rate': 'fast' is not a number. "
                + "Expected --rate N: Run a load at about N changed rows per second instead of the scenario (at most "
                + "100000). ./cdc produce --help for more\n");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void aBadDurationNamesTheFormatAndTheDefault() {
        CliRun run = CliRun.of("watch", "--interval", "soon");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err().lines().toList()).containsExactly("cdc watch: Invalid value for option '--interval': "
                + "'soon' is not a duration (examples: 500ms, 3s, 2m, 1h). Expected --interval DURATION: Time between "
                + "polls (default 500ms). ./cdc watch --help for more");
    }

    @Test
    void anUnknownOptionOrCommandIsOneLineWithAGuess() {
        CliRun option = CliRun.of("verify", "--tabel", "users");
        CliRun command = CliRun.of("stauts");

        assertThat(option.exitCode()).isEqualTo(2);
        assertThat(option.err().lines().toList()).containsExactly("cdc verify: Unknown options: '--tabel', 'users'; did "
                + "you mean --table? ./cdc verify --help lists the options");
        assertThat(command.exitCode()).isEqualTo(2);
        assertThat(command.err().lines().toList()).containsExactly(
                "cdc: unknown command 'stauts'; did you mean status? ./cdc --help lists the commands");
    }

    @Test
    void aMissingOptionIsOneLine() {
        CliRun run = CliRun.of("snapshot");

        assertThat(run.err().lines().toList()).containsExactly(
                "cdc snapshot: Missing required option: '--table=NAME'. ./cdc snapshot --help for more");
    }

    @Test
    void everyCommandIsSummedUpInAFinishedSentence() {
        CliRun run = CliRun.of("--help");

        List<String> summaries = commandSummaries(run.out());
        assertThat(summaries).hasSizeGreaterThanOrEqualTo(12);
        assertThat(summaries).allSatisfy(summary -> assertThat(summary).endsWith("."));
        assertThat(summaries).anySatisfy(summary -> assertThat(summary).startsWith("consume Prints the change events"));
    }

    @Test
    void aLoadOptionWithoutRateIsAnErrorNotTheScenario() {
        CliRun run = CliRun.of("produce", "--duration", "20", "--pg-port", "1");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err().lines().toList()).containsExactly("cdc produce: --duration shapes a load, which needs "
                + "--rate N (changed rows per second), e.g. ./cdc produce --rate 100 --duration 20s; without --rate, "
                + "produce runs the three-step basic scenario. ./cdc produce --help for more");
        assertThat(run.out()).as("nothing ran").isEmpty();
    }

    @Test
    void theScenariosStepDelayWithALoadIsAnError() {
        CliRun run = CliRun.of("produce", "--rate", "100", "--step-delay", "1s", "--pg-port", "1");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).startsWith("cdc produce: --step-delay paces the three-step basic scenario, not a load");
    }

    /** The command list of the root's help, one entry per command with its wrapped lines joined. */
    private static List<String> commandSummaries(String help) {
        List<String> summaries = new ArrayList<>();
        boolean inCommands = false;
        for (String line : help.lines().toList()) {
            if (line.equals("Commands:")) {
                inCommands = true;
            } else if (inCommands && line.startsWith("  ") && !line.startsWith("    ")) {
                summaries.add(line.strip().replaceAll("\\s+", " "));
            } else if (inCommands && line.startsWith("    ")) {
                int last = summaries.size() - 1;
                summaries.set(last, summaries.get(last) + " " + line.strip());
            }
        }
        return summaries;
    }
}
