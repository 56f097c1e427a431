"""A guest doing what servers do (tests/guest/benign.sh: exec storms, a web
server and its clients over IPv4 and IPv6, listeners closed and re-opened,
many threads and fds, a bash user, logs written and rotated, crun
containers, a stock kernel module loaded and unloaded, a BPF socket filter) for
ARGUS_BENIGN_SECONDS (180 by default), watched by `argus run` with every
event and alert of section 10 on, and an SBOM of the guest's own image.

Nothing in it is an attack: no ALERT may be raised but "File Descriptor
File Content Change" (section 10.6 raises it on every close of a writable
file).  The test fails listing every other alert (and every Details
Gathering Failed / Service Runtime Failure), and also when argus did not
see the workload: a silent run is not a clean one.

Two more services watch the same run with low limits, one on processes, one
on threads, fds and memory areas, so that each "Limit Reached" is raised and
what a cut walk does to the detections is judged the same way.  Rates per
host-hour are bench/benign.py's business, not this test's."""
import os
import sys
import time
from collections import Counter

from conftest import ARGUS, Service

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "guest"))
import benign  # noqa: E402

SECONDS = int(os.environ.get("ARGUS_BENIGN_SECONDS", "180"))
SLEEP = "500ms"

# what the scans must have seen of the workload (names of the processes it
# runs, from Process Created), and the events its parts must have raised
MUST_SEE_PROCESSES = {"ls", "cat", "grep", "sed", "sort", "wget", "socat", "httpd", "threads",
                      "bash", "sleep"}
MUST_SEE_EVENTS = {"Process Created", "Process Terminated", "Network Connection Created",
                   "Network Connection Terminated", "TCP Network Connection State Change",
                   "TCP Network Connections Status", "Thread Created", "Thread Terminated",
                   "File Descriptor Open", "File Descriptor Close",
                   "File Descriptor File Content Change", "New File Mapped", "File Unmapped",
                   "Process Memory Created", "Process Memory Terminated",
                   "Shell Command Executed", "Container Started", "Container Terminated",
                   "BPF Program Loaded", "BPF Program Unloaded"}

# the low limits: the idle guest has ~50 processes (most kernel threads); the
# workload adds ~30 processes, 60 threads in one, 400 fds in one bash and
# ~1000 memory areas in all
LIMITED = {
    "limit-processes": ("processes: 64", {"Process Limit Reached"}),
    "limit-others": ("threads: 100\n        file_descriptors: 300\n        vmas: 600",
                     {"Threads Limit Reached", "File Handles Limit Reached",
                      "Process Memory Limit Reached"}),
}


def name(m):
    return m["activity_data"]["name"]


def test_benign_workload(guest, tmp_path):
    benign.prepare(guest)
    sbom = benign.make_sbom(ARGUS, str(tmp_path))
    common = dict(sleep=SLEEP, output="  log_threshold_size: 1GB\n",
                  collection=benign.collection_yaml(
                      skip=("process_memory_created", "process_memory_terminated")))
    events = f"      events:\n        sbom: [{sbom}]\n"
    svcs = {"all": Service(tmp_path / "all", guest, extra=events, **common)}
    for label, (limits, _) in LIMITED.items():
        svcs[label] = Service(tmp_path / label, guest,
                              extra=events + f"      limits:\n        {limits}\n", **common)
    pgid = benign.start(guest, SECONDS)
    try:
        done = benign.wait_done(guest, SECONDS + 120,
                                tick=lambda: [s.poll() for s in svcs.values()])
        time.sleep(4 * svcs["all"].sleep_s)     # the last terminations
        did = benign.counts(guest)
    finally:
        benign.stop(guest, pgid)
        # every service stopped first; their alerts are judged below, all of them
        rcs = {label: s.stop(check_alerts=False) for label, s in svcs.items()}

    problems = []
    if not done:
        problems.append(f"the workload did not end within {SECONDS + 120} s "
                        f"(see {benign.W}/benign.log in the guest)")
    print(f"\nbenign workload, {SECONDS} s: " + ", ".join(f"{k} {v}" for k, v in sorted(did.items())))
    for part, v in did.items():
        if v == "skipped":
            print(f"  part '{part}' skipped (no crun, or no module in the kernel package)")
    for label, s in svcs.items():
        names = Counter(name(m) for m in s.messages)
        print(f"service '{label}': {len(s.messages)} messages: "
              + ", ".join(f"{n} {c}" for n, c in names.most_common()))
        if rcs[label] != 0:
            problems.append(f"service '{label}' exited with {rcs[label]}; see {s.dir}")
        if not names["Host Initialization Successful"]:
            problems.append(f"service '{label}': the host never initialized; see {s.dir}")
        bad = benign.unexpected(s.messages)
        if bad:
            problems.append(f"service '{label}': {len(bad)} unexpected alerts on a benign "
                            f"workload:\n" + benign.report(s.messages, limit=5))
    # argus must have seen the workload: a run that scanned nothing is no pass
    allm = svcs["all"].messages
    seen = {m["activity_data"]["process_details"].get("process_name")
            for m in allm if name(m) == "Process Created"}
    missing = MUST_SEE_PROCESSES - seen
    if missing:
        problems.append(f"no Process Created for the workload's {sorted(missing)} "
                        f"({len(seen)} names seen)")
    missing = MUST_SEE_EVENTS - {name(m) for m in allm}
    if missing and "skipped" in did.values():
        missing -= {"Container Started", "Container Terminated"}
    if missing:
        problems.append(f"the workload raised no {sorted(missing)}")
    for label, (_, want) in LIMITED.items():
        missing = want - {name(m) for m in svcs[label].messages}
        if missing:
            problems.append(f"service '{label}': no {sorted(missing)}")
    assert not problems, "\n".join(problems)
