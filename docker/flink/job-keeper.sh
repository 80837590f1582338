#!/usr/bin/env bash
# The Docker stack's job keeper (service `submitter`): keeps the job JOB_NAME running on the Flink session cluster, as
# the local stack's supervisor does. Every KEEPER_INTERVAL_SECONDS it asks the JobManager for its jobs and decides
# (see decide below):
#   - a job of that name runs (in any state but FINISHED, CANCELED, FAILED): remember its id;
#   - the keeper's first look (this container never saw the job) and none runs: submit it;
#   - the JobManager has never heard of the job the keeper saw running: the JobManager restarted and lost it, so
#     resubmit it from the newest savepoint or retained checkpoint on the flink-data volume, never from scratch;
#   - the JobManager reports that job FINISHED, CANCELED or FAILED: it ended under this JobManager (someone stopped it,
#     e.g. with a savepoint to upgrade, or it failed for good), so leave it alone until a job of that name runs again.
# What it remembers lives in the container (KEEPER_MEMORY), so it survives restarts of the container but not its
# removal: after `docker compose down`, the next `up` submits the job again, as `./cdc up` does.
# `job-keeper.sh decide|newest-state|live-job|job-state ...` runs one step alone (DockerComposeFileTest does).
set -uo pipefail

# decide MEMORY LIVE_JOB WATCHED_STATE: the keeper's decision, apart from all I/O.
#   MEMORY         "" (nothing yet), "running <job id>" (the job last seen running), or "stopped"
#   LIVE_JOB       the id of a job of that name that the JobManager runs, or ""
#   WATCHED_STATE  the JobManager's state of the remembered job, or "" when it has never heard of it
# Prints: watch (remember LIVE_JOB), start (first look, nothing runs), resume (the JobManager lost the job),
# stopped (the job ended under this JobManager), idle (nothing to do).
decide() {
    local memory=$1 live=$2 watched_state=$3
    if [[ -n $live ]]; then
        echo watch
    elif [[ -z $memory ]]; then
        echo start
    elif [[ $memory == stopped ]]; then
        echo idle
    elif [[ -z $watched_state ]]; then
        echo resume
    else
        echo stopped
    fi
}

# newest-state DATA_DIR: the newest complete savepoint or retained checkpoint (one with its _metadata), as ./cdc submit
# picks it; nothing when there is none.
newest_state() {
    local data=$1 files newest
    shopt -s nullglob
    files=("$data"/savepoints/*/_metadata "$data"/checkpoints/*/chk-*/_metadata)
    shopt -u nullglob
    ((${#files[@]})) || return 0
    newest=$(ls -t "${files[@]}" | head -n 1)
    dirname "$newest"
}

# live-job NAME < /jobs/overview: the id of a job of that name that has not ended.
live_job() {
    jq -r --arg name "$1" 'first(.jobs[] | select(.name == $name and .state != "FINISHED"
        and .state != "CANCELED" and .state != "FAILED") | .jid) // empty'
}

# job-state ID < /jobs/overview: the state of that job, nothing when the JobManager does not know it.
job_state() {
    jq -r --arg id "$1" 'first(.jobs[] | select(.jid == $id) | .state) // empty'
}

log() {
    echo "$(date -u +%FT%TZ) job-keeper: $*"
}

# Submits the job from STATE (or without state when empty); remembers the new job. Fails when flink run does.
submit() {
    local state=$1 output job
    local run=(flink run -d)
    [[ -n $state ]] && run+=(-s "$state")
    run+=(-c "$JOB_MAIN_CLASS" "$JOB_JAR")
    read -ra args <<<"${JOB_ARGS:-}"
    output=$("${run[@]}" "${args[@]}" 2>&1)
    local status=$?
    echo "$output"
    job=$(grep -o 'JobID [0-9a-f]\{32\}' <<<"$output" | cut -d' ' -f2)
    if ((status != 0)) || [[ -z $job ]]; then
        log "flink run failed (exit $status); trying again in $((interval * 6)) s"
        sleep $((interval * 6))
        return 1
    fi
    echo "running $job" >"$memory_file"
}

main() {
    : "${JOB_NAME:?}" "${JOB_JAR:?}" "${JOB_MAIN_CLASS:?}" "${FLINK_REST:?}"
    data=${FLINK_DATA:-/opt/flink/data}
    memory_file=${KEEPER_MEMORY:-/tmp/job-keeper.memory}
    interval=${KEEPER_INTERVAL_SECONDS:-10}
    log "keeping job $JOB_NAME running on $FLINK_REST (state from $data, memory in $memory_file)"
    while true; do
        local jobs memory live watched="" state
        if ! jobs=$(curl -fsS --max-time 10 "$FLINK_REST/jobs/overview" 2>/dev/null); then
            sleep "$interval"   # the JobManager is down or starting: nothing to decide
            continue
        fi
        memory=$(cat "$memory_file" 2>/dev/null)
        live=$(live_job "$JOB_NAME" <<<"$jobs")
        [[ $memory == running\ * ]] && watched=$(job_state "${memory#running }" <<<"$jobs")
        case $(decide "$memory" "$live" "$watched") in
            watch)
                if [[ $memory != "running $live" ]]; then
                    log "job $JOB_NAME runs as $live: watching it"
                    echo "running $live" >"$memory_file"
                fi ;;
            start)
                state=$(newest_state "$data")
                log "first look: no job $JOB_NAME runs; submitting it${state:+, resuming from $state}"
                submit "$state" ;;
            resume)
                state=$(newest_state "$data")
                if [[ -n $state ]]; then
                    log "the JobManager no longer knows job ${memory#running } (it restarted): resuming from $state"
                    submit "$state"
                else
                    log "the JobManager lost job ${memory#running }, and $data holds no savepoint or retained checkpoint:" \
                        "not starting it from scratch. Start it by hand (docs/docker.md, How the stack recovers)."
                    echo stopped >"$memory_file"
                fi ;;
            stopped)
                log "job ${memory#running } ended as $watched under this JobManager: leaving it stopped until a job" \
                    "$JOB_NAME runs again"
                echo stopped >"$memory_file" ;;
            idle) ;;
        esac
        sleep "$interval"
    done
}

case ${1:-} in
    decide) shift; decide "$@" ;;
    newest-state) shift; newest_state "$@" ;;
    live-job) shift; live_job "$@" ;;
    job-state) shift; job_state "$@" ;;
    *) main ;;
esac
