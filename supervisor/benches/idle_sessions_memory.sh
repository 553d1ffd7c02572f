#!/bin/bash
# Memory of N idle sessions (supervisor + guardian), RSS and PSS from /proc/PID/smaps_rollup.
# Starts N sessions in a private socket dir, prints the means, kills them. Not run by cargo.
# usage: idle_sessions_memory.sh PATH/TO/hm [N=100]
HM=$1; N=${2:-100}
D=$(mktemp -d /tmp/hmtmemXXXX); export HEIMDALL_SOCKET_DIR=$D/s XDG_CONFIG_HOME=$D/cfg
for i in $(seq 1 $N); do $HM start --id m$i -- sleep 100000 >/dev/null || echo fail $i; done
sleep 2
sr=0; sp=0; gr=0; gp=0; ng=0
for i in $(seq 1 $N); do
  sup=$(head -1 $D/s/m$i.pid | awk '{print $1}')
  r=$(awk '/^Rss:/{print $2}' /proc/$sup/smaps_rollup); p=$(awk '/^Pss:/{print $2}' /proc/$sup/smaps_rollup)
  sr=$((sr+r)); sp=$((sp+p))
  for g in $(cat /proc/$sup/task/*/children); do
    if [ "$(cat /proc/$g/comm)" != sleep ]; then
      r=$(awk '/^Rss:/{print $2}' /proc/$g/smaps_rollup); p=$(awk '/^Pss:/{print $2}' /proc/$g/smaps_rollup)
      gr=$((gr+r)); gp=$((gp+p)); ng=$((ng+1))
    fi
  done
done
echo "N=$N supervisors: RSS $((sr/N)) KiB PSS $((sp/N)) KiB each; guardians($ng): RSS $((gr/ng)) KiB PSS $((gp/ng)) KiB each; total PSS per session $(((sp+gp)/N)) KiB"
for i in $(seq 1 $N); do $HM kill m$i >/dev/null 2>&1 & done; wait
rm -rf $D
