#!/usr/bin/env bash
# Stands in for docker, minikube, kubectl and helm in the xtask's integration tests. The
# xtask finds it through XTASK_DOCKER / XTASK_MINIKUBE / XTASK_KUBECTL / XTASK_HELM (each a
# symlink named after the tool), so no real tool is ever called. This is the process-level
# fake (`Fake::xtask_process`); in-process runs (`Fake::xtask`) get the same answers from the
# library's ScriptedRunner (xtask/src/process/scripted.rs), which reads the same files: a
# change to the format here belongs there too.
#
# Every call appends one line to $FAKE_LOG: the tool name and its arguments, plus
# [DOCKER_HOST=...] when that variable is set (to see minikube's docker-env reach docker).
#
# It answers from $FAKE_SCENARIO/<tool>.rules, first matching line wins:
#   <glob over the joined arguments> TAB <exit code> TAB <stdout files, comma-separated> [TAB <stderr file>]
# A file list is consumed one entry per call (state in $FAKE_SCENARIO/.state); the last
# entry repeats, so "pending.json,pending.json,ready.json" replays pods becoming ready.
# "-" means no output. "@sleep:N" sleeps N seconds instead of printing (timeouts);
# "<file>@sleep:N" prints, then sleeps (a port-forward that stays up; its pid is left in
# $FAKE_SCENARIO/.pids/). "<entry>|<code>" exits with <code> instead of the rule's code. No matching rule: exit 97 with a message naming the call.
set -u
name="$(basename "$0")"
line="$name"
for a in "$@"; do line+=" $a"; done
extra=""
[[ -n "${DOCKER_HOST:-}" ]] && extra=" [DOCKER_HOST=$DOCKER_HOST]"
printf '%s%s\n' "$line" "$extra" >>"$FAKE_LOG"

# Values read from stdin (`helm ... -f -`) are kept for the test to inspect.
if [[ " $* " == *" -f - "* ]]; then cat >"$FAKE_SCENARIO/$name.stdin"; fi

rules="$FAKE_SCENARIO/$name.rules"
args="$*"
n=0
if [[ -f "$rules" ]]; then
  while IFS=$'\t' read -r glob code outs errf || [[ -n "$glob" ]]; do
    n=$((n + 1))
    [[ -z "$glob" || "$glob" == \#* ]] && continue
    # shellcheck disable=SC2053 # the glob is meant to match as a pattern
    if [[ "$args" == $glob ]]; then
      state="$FAKE_SCENARIO/.state/$name.$n"
      mkdir -p "$FAKE_SCENARIO/.state"
      i=$(cat "$state" 2>/dev/null || echo 0)
      echo $((i + 1)) >"$state"
      IFS=',' read -r -a list <<<"$outs"
      (( i >= ${#list[@]} )) && i=$((${#list[@]} - 1))
      out="${list[$i]}"
      # "<entry>|<code>" overrides the rule's exit code for that call.
      if [[ "$out" == *"|"* ]]; then code="${out##*|}"; out="${out%|*}"; fi
      # "<file>@sleep:N" prints the file, then stays up N seconds (a port-forward).
      nap=""
      if [[ "$out" == ?*@sleep:* ]]; then nap="${out##*@sleep:}"; out="${out%@sleep:*}"; fi
      [[ "$out" == @sleep:* ]] && nap="${out#@sleep:}"
      if [[ -n "$nap" ]]; then
        # Leave our pid where a test can check that nothing outlives the xtask, before any
        # output: the xtask may act on that output and stop us at once.
        mkdir -p "$FAKE_SCENARIO/.pids"
        echo "$$" >"$FAKE_SCENARIO/.pids/$name.$$"
      fi
      case "$out" in
        -|@sleep:*) ;;
        *) cat "$FAKE_SCENARIO/$out" ;;
      esac
      if [[ -n "${errf:-}" && "$errf" != "-" ]]; then cat "$FAKE_SCENARIO/$errf" >&2; fi
      if [[ -n "$nap" ]]; then sleep "$nap"; fi
      exit "$code"
    fi
  done <"$rules"
fi
echo "fake $name: no scenario rule matches: $name $args" >&2
exit 97
