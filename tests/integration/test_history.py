"""Bash histories that change under the scan: the PROMPT_COMMANDs people use
to share history between terminals, each with 300 commands typed 20 ms apart
while the service scans every 100 ms.  Every command is told once, and no
alert is raised: a list caught between `history -c` and `history -r` is a
reload, not a clearing (tests/integration/test_alerts.py has the clearings).
The build before raised 18 Shell History Cleared and told 9 of 400 commands
under the first PROMPT_COMMAND, 4 of 400 under the second, and one Shell
History Cleared with none."""
import time

import pytest

from conftest import Service

N = 300
PROMPTS = {
    "reload": "history -a; history -c; history -r",
    "append": "history -a",
    "none": "",
}


@pytest.fixture(scope="module")
def svc(guest, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("history"), guest, sleep="100ms")
    yield s
    s.stop()


@pytest.mark.parametrize("prompt", PROMPTS)
def test_every_command_told_and_no_alert(guest, svc, prompt):
    fifo, hist = f"/tmp/hp-{prompt}", f"/tmp/hh-{prompt}"
    guest.check(f"rm -f {fifo}; mkfifo {fifo}; "
                f"for i in $(seq 400); do echo echo old$i; done > {hist}")
    pc = f"PROMPT_COMMAND='{PROMPTS[prompt]}' " if PROMPTS[prompt] else ""
    sh = guest.spawn(f"HISTFILE={hist} {pc}exec bash -i <{fifo} >/dev/null 2>&1")
    holder = guest.spawn(f"exec sleep 300 >{fifo}")
    try:
        time.sleep(1)
        since = svc.mark()
        guest.check(f"for i in $(seq {N}); do echo \"echo {prompt}$i\"; sleep 0.02; done "
                    f">{fifo}", timeout=120)
        time.sleep(1)
        svc.expect_alerts(since)
        told = [m["activity_data"]["shell_history_details"]["shell_command_execution_history"]
                ["command_line"] for m in svc.messages[since:]
                if m["activity_data"]["name"] == "Shell Command Executed" and
                m["activity_data"]["process_details"]["process_id"] == sh]
        assert sorted(told) == sorted(f"echo {prompt}{i}" for i in range(1, N + 1)), \
            f"{len(told)} told: {told}"
    finally:
        guest.run(f"kill {holder} {sh}; rm -f {fifo} {hist}")
