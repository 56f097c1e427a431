"""The integration scenarios on the AArch64 guest: processes, network,
reverse shells and shell history, with the very test functions the x86-64
guest passes.  Nothing above argus's arch layer knows which one it reads;
the only difference here is the memory-regions map (QEMU virt's RAM
starts at physical 0x40000000)."""
import pytest

import test_alerts
import test_events
from conftest import Service


@pytest.fixture(scope="module")
def svc(guest_a64, tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("arm64"), guest_a64, sleep="500ms",
                extra=f"      memory_regions: {guest_a64.regions_path}\n")
    yield s
    s.stop()


def test_process_created_and_terminated(guest_a64, svc):
    test_events.test_process_created_and_terminated(guest_a64, svc)


def test_process_zombie(guest_a64, svc):
    test_events.test_process_zombie(guest_a64, svc)


def test_network_connections(guest_a64, svc):
    test_events.test_network_connections(guest_a64, svc)


def test_tcp_state_change(guest_a64, svc):
    test_events.test_tcp_state_change(guest_a64, svc)


@pytest.mark.parametrize("case", list(test_alerts.ATTACKS))
def test_reverse_shell(guest_a64, svc, case):
    test_alerts.test_reverse_shell(guest_a64, svc, case)


@pytest.mark.parametrize("case", [c for c in test_alerts.LOOKALIKES
                                  if "console" not in c])  # no ttyS0 on virt
def test_reverse_shell_lookalikes(guest_a64, svc, case):
    test_alerts.test_reverse_shell_lookalikes(guest_a64, svc, case)


def test_shell_command_executed(guest_a64, svc):
    test_events.test_shell_command_executed(guest_a64, svc)


def test_shell_history_alerts(guest_a64, svc):
    test_alerts.test_shell_history_alerts(guest_a64, svc)


def test_console_bash_is_no_reverse_shell(guest_a64, svc):
    since = test_alerts.run_case(guest_a64, svc, None,
                                 "exec bash -i </dev/ttyAMA0 >/dev/ttyAMA0 2>&1",
                                 test_alerts.CLEANUP)
    svc.expect_alerts(since)
    test_alerts.assert_seen(svc, since)
