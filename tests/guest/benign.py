"""The benign workload (benign.sh) driven from the host, shared by
tests/integration/test_benign.py (which asserts no unexpected alert) and
bench/benign.py (which reports alerts per host-hour).

    prepare(guest)                     # script, web root, container bundle, module
    pgid = start(guest, seconds)       # the workload, in its own session
    wait_done(guest, seconds + 120)
    stop(guest, pgid)                  # kill what is left, unload, delete containers
    collection_yaml()                  # every section 10 collection key on
    unexpected(messages)               # ALERTs other than EXPECTED_ALERTS
"""
import base64
import glob
import os
import re
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ACTIVITY_H = os.path.join(ROOT, "src", "detect", "activity.h")
CACHE = os.environ.get("ARGUS_CACHE", os.path.expanduser("~/.cache/argus"))
KDIR = os.path.join(CACHE, "linux-image-6.1.0-56-cloud-amd64")
W = "/tmp/benign"

# the spec raises it on every close of a writable regular file: servers do that
EXPECTED_ALERTS = {"File Descriptor File Content Change"}
# system activities that say argus could not see (not alerts, but a benign
# run should have none)
FAILURES = {"Details Gathering Failed", "Service Runtime Failure"}

# what the workload's connections stay under: any TCP alert is then false
LONG_LASTING = "60s"         # every connection of the workload lives < 10 s
EXCESSIVE = "16MB"           # every connection moves < 100 KiB
STATUS_INTERVAL = "30s"


def activities():
    """[(type, name, collection key)] of src/detect/activity.h's table:
    every event and alert of section 10, so that none is left out."""
    with open(ACTIVITY_H) as f:
        text = f.read()
    rows = re.findall(r'X\(\w+, (EVENT|ALERT), \w+, "([^"]*)", "(\w+)", [01]\)', text)
    if len(rows) < 30:
        raise RuntimeError(f"{ACTIVITY_H}: only {len(rows)} collection keys found")
    return [(t, bytes(n, "ascii").decode("unicode_escape").encode("latin-1").decode(), k)
            for t, n, k in rows]


def collection_yaml(skip=()):
    """The `collection:` entries (without the header) with every event and
    alert on; `skip`: keys the caller writes itself."""
    params = {
        "tcp_connection_excessive_data": f"    bytes_in: {EXCESSIVE}\n    bytes_out: {EXCESSIVE}\n",
        "tcp_long_lasting_connection": f"    duration: {LONG_LASTING}\n",
        "tcp_network_connections_status": f"    interval: {STATUS_INTERVAL}\n",
    }
    out = ""
    for _, _, key in activities():
        if key in skip:
            continue
        if key in params:
            out += f"  {key}:\n    enabled: true\n{params[key]}"
        else:
            out += f"  {key}: true\n"
    return out


def module_path(kdir=KDIR):
    """A stock module of the guest's kernel package (its cache directory
    kdir), harmless to load: the dummy network driver."""
    found = glob.glob(os.path.join(kdir, "root", "lib", "modules", "*", "kernel", "drivers",
                                   "net", "dummy.ko*"))
    return found[0] if found else None


def upload_dummy(guest, dest="/tmp/dummy.ko"):
    """module_path()'s module, not loaded, copied into the guest at dest;
    False when the kernel package has none."""
    ko = module_path()
    if not ko:
        return False
    guest.run("rmmod dummy 2>/dev/null")
    with open(ko, "rb") as f:
        upload(guest, f.read(), dest)
    return True


def upload_dummy_arm64(guest, dest="/tmp/dummy.ko"):
    """The arm64 kernel package's dummy.ko, of the kernel the guest runs,
    copied into it at dest, not loaded; False when the package has none."""
    rel = guest.check("uname -r").strip()
    ko = os.path.join(CACHE, f"linux-image-{rel}", "root", "lib", "modules", rel,
                      "kernel", "drivers", "net", "dummy.ko")
    if not os.path.exists(ko):
        return False
    guest.run("rmmod dummy 2>/dev/null")
    with open(ko, "rb") as f:
        # the virtconsole takes lines of up to 4 KiB
        upload(guest, f.read(), dest, chunk=2000)
    return True


def upload(guest, data, dest, chunk=8000):
    """Copy bytes into the guest through the control channel."""
    b = base64.b64encode(data).decode()
    guest.check(f"rm -f {dest}.b64")
    for i in range(0, len(b), chunk):
        guest.check(f"printf %s '{b[i:i + chunk]}' >>{dest}.b64")
    guest.check(f"base64 -d {dest}.b64 >{dest} && rm -f {dest}.b64")


def prepare(guest, kdir=KDIR, containers_optional=False, chunk=8000):
    """benign.sh in /tmp, its web root and container bundle, and the module
    of the kernel in kdir (uncompressed) as $W/dummy.ko.  Nothing is added
    to the initramfs.  containers_optional: where crun cannot run, no
    bundle (the containers part is skipped) rather than a failure.  chunk:
    upload()'s (the arm64 guest's console takes lines of up to 4 KiB)."""
    with open(os.path.join(HERE, "benign.sh"), "rb") as f:
        upload(guest, f.read(), "/tmp/benign.sh", chunk=chunk)
    opt = "CONTAINERS_OPTIONAL=1 " if containers_optional else ""
    guest.check(f"{opt}bash /tmp/benign.sh setup", timeout=60)
    ko = module_path(kdir)
    if ko:
        if ko.endswith(".xz"):
            data = subprocess.run(["xz", "-dc", ko], capture_output=True, check=True).stdout
        elif ko.endswith(".zst"):
            data = subprocess.run(["zstd", "-qdc", ko], capture_output=True, check=True).stdout
        else:
            with open(ko, "rb") as f:
                data = f.read()
        upload(guest, data, f"{W}/dummy.ko", chunk=chunk)


def start(guest, seconds):
    """The workload in its own session; returns its process group."""
    return guest.spawn(f"exec bash /tmp/benign.sh {int(seconds)} >{W}/benign.log 2>&1")


def wait_done(guest, timeout, tick=None):
    """Wait for the workload's end marker; tick() is called every second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        if guest.run(f"test -f {W}/done")[0] == 0:
            return True
        time.sleep(1)
    return False


def counts(guest):
    """{part: what it did} from the workload's count files."""
    out = guest.run(f"for f in {W}/count.*; do echo ${{f##*.}} $(cat $f); done")[1]
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def stop(guest, pgid):
    guest.run(f"kill -9 -{pgid} 2>/dev/null; sleep 0.5; "
              "for c in $(crun list -q 2>/dev/null); do crun delete -f $c; done; "
              "ip link del bn0 2>/dev/null; rmmod dummy 2>/dev/null; true", timeout=60)


def make_sbom(argus, workdir, kdir=KDIR):
    """An SBOM of what the guest runs: its initramfs, plus the container
    bundle's copy of busybox (benign.sh setup), so that 10.4's attestation
    alerts are live and nothing in the workload is foreign.  No entrypoints:
    the workload runs every program with arguments of its own."""
    rootfs = os.path.join(workdir, "rootfs")
    os.makedirs(rootfs, exist_ok=True)
    from guest import initrd_file
    subprocess.run(f"zcat {initrd_file(kdir)} | cpio -id --quiet", shell=True,
                   cwd=rootfs, check=True)
    bundle = os.path.join(rootfs, "benign-bundle", "rootfs", "bin")
    os.makedirs(bundle, exist_ok=True)
    subprocess.run(["cp", os.path.join(rootfs, "bin", "busybox"), bundle], check=True)
    sbom = os.path.join(workdir, "sbom.json")
    subprocess.run([argus, "sbom", rootfs, "-o", sbom], check=True, capture_output=True)
    subprocess.run(["rm", "-rf", rootfs], check=True)
    return sbom


def where(m):
    """One line naming the process and the object an activity is about."""
    a = m["activity_data"]
    p = a.get("process_details") or {}
    if not p and a.get("process_list"):
        p = a["process_list"][0].get("process_details", {})
    bits = [f"{p.get('process_name')}[{p.get('process_id')}]"] if p else []
    if p.get("process_command_line_arguments"):
        bits.append(f"cmd={p['process_command_line_arguments'][:80]!r}")
    v = a.get("process_memory_details")
    if v:
        bits.append(f"vma {v.get('virtual_memory_area_start_address')}-"
                    f"{v.get('virtual_memory_area_end_address')} {v.get('memory_permissions')} "
                    f"{v.get('file_path')!r} main_exe={v.get('is_main_process_executable')}")
    n = a.get("network_connection_details")
    if n:
        dur = n.get("tcp_connection_overall_duration_ns")
        bits.append(f"{n.get('protocol')} {n.get('source_ip_address')}:{n.get('source_port')} -> "
                    f"{n.get('destination_ip_address')}:{n.get('destination_port')} "
                    f"{n.get('connection_state')} in={n.get('tcp_bytes_in')} "
                    f"out={n.get('tcp_bytes_out')}"
                    + (f" duration={dur / 1e9:.0f}s" if dur else "")
                    + f" created={n.get('tcp_connection_creation_time_iso_8601_ns')}")
    f = a.get("file_descriptor_details")
    if f:
        bits.append(f"fd {f.get('file_descriptor_index')} {f.get('file_descriptor_name')!r}")
    e = a.get("elf_file_details")
    if e:
        bits.append(f"elf {e.get('elf_file_path')!r}")
    if a.get("reason"):
        bits.append(f"reason={a['reason']!r}")
    if a.get("system_activity_details"):
        bits.append(repr(a["system_activity_details"].get("description")))
    return " ".join(bits)


def unexpected(messages):
    """ALERTs other than EXPECTED_ALERTS, and the failure system activities."""
    return [m for m in messages
            if (m["message_type"] == "ALERT" and m["activity_data"]["name"] not in EXPECTED_ALERTS)
            or m["activity_data"]["name"] in FAILURES]


def report(messages, limit=3):
    """Unexpected messages grouped by name: count, severity, examples."""
    groups = {}
    for m in unexpected(messages):
        groups.setdefault(m["activity_data"]["name"], []).append(m)
    lines = []
    for name, ms in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"{len(ms)} x {ms[0]['message_type']} {ms[0]['severity']} '{name}'")
        for m in ms[:limit]:
            lines.append(f"    {where(m)}")
    return "\n".join(lines)


def tempdir():
    return tempfile.mkdtemp(prefix="argus-benign-")
