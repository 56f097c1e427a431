"""The argus test guest: a real Linux under QEMU (TCG) whose RAM is a shared
file that argus reads from outside.

    g = Guest("t1"); g.start()
    rc, out, err = g.run("ps")         # a shell command in the guest
    pid = g.spawn("sleep 100")         # in the background; returns its pid
    g.ram_path                         # /dev/shm/argus-t1.ram
    g.regions_path                     # its memory-regions map (file offset -> physical)
    g.dump("/tmp/x.elf")               # QMP dump-guest-memory (ELF core)
    g.stop()

Guest("d1", disk="/tmp/d1.img") attaches a raw disk image (make_disk()
builds an ext4 one from a directory) as a virtio-blk disk, read-only; the
guest mounts it read-only at DISK_MOUNT (/mnt/disk).  Files there, unlike
the initramfs's, are in the page cache only once read.

Guest("a1", arch="arm64") is an AArch64 guest (qemu-system-aarch64 -M virt,
Debian's arm64 cloud kernel, fetch-arm64.sh); its RAM starts at physical
0x40000000, so argus needs the regions map to read it.

Also a CLI: python3 guest.py start|stop|run|spawn|dump|status|console|regions NAME ...
(start --arch arm64, --disk IMAGE).  State lives in $ARGUS_GUEST_DIR/NAME (default
/tmp/argus-guests/NAME).
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Several checkouts (git worktrees) may start guests at once: each builds its
# test programs and initramfs under names of its own in the shared kernel
# cache, and ARGUS_GUEST_PREFIX keeps their guests' RAM files and
# directories apart (the demo and CI leave it empty).
CHECKOUT = __import__("hashlib").sha1(HERE.encode()).hexdigest()[:8]
PREFIX = os.environ.get("ARGUS_GUEST_PREFIX", "")


def initrd_file(kdir, base="initrd"):
    """This checkout's initramfs in the kernel cache directory kdir."""
    return os.path.join(kdir, f"{base}-{CHECKOUT}.gz")


def progs_dir(kdir, base="progs"):
    """This checkout's build of the guest's test programs."""
    return os.path.join(kdir, f"{base}-{CHECKOUT}")


class GuestError(Exception):
    pass


ARCHES = ("x86_64", "arm64")
ARM64_RAM_BASE = 0x40000000     # where RAM starts on qemu's virt machine
# Another machine, for connections that leave the guest (a reverse shell's
# attacker): QEMU's user-mode network forwards the guest's connections to
# OUTSIDE on these ports to a program of its own on this machine (guestfwd
# cmd:, one per connection).  On OUTSIDE_QUIET it reads what it is sent
# and says nothing; on OUTSIDE_COMMAND it first sends "sleep 60".  The
# guest's eth0 (192.0.2.10/24, tests/guest/init) is in that network.
OUTSIDE = "192.0.2.100"
OUTSIDE_QUIET = 4444
OUTSIDE_COMMAND = 4454
NETDEV_USER = ("user,id=n0,restrict=on,net=192.0.2.0/24,host=192.0.2.2,"
               f"guestfwd=tcp:{OUTSIDE}:{OUTSIDE_QUIET}-cmd:sh -c 'exec cat >/dev/null',"
               f"guestfwd=tcp:{OUTSIDE}:{OUTSIDE_COMMAND}-cmd:sh -c 'echo sleep 60; exec cat >/dev/null'")

DISK_MOUNT = "/mnt/disk"        # where a guest given a disk mounts it


def make_disk(srcdir, image, size_mb=64):
    """An ext4 file system image holding srcdir's files (mkfs.ext4 -d: no
    root, no loop device)."""
    mkfs = (shutil.which("mkfs.ext4") or
            next((p for p in ("/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4") if os.path.exists(p)),
                 "mkfs.ext4"))
    if os.path.exists(image):
        os.unlink(image)
    # 4 KiB blocks, as on disks of any size (mkfs.ext4 picks 1 KiB below 512 MiB)
    p = subprocess.run([mkfs, "-q", "-F", "-b", "4096", "-d", srcdir, image, f"{size_mb}M"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise GuestError(f"mkfs.ext4 -d {srcdir} failed ({p.returncode}): {p.stderr.strip()}")
    return image


class Guest:
    RAM_KINDS = ("file", "anon", "json", "memfd", "hugefile", "hugememfd")
    HUGE_DIR = "/dev/hugepages"     # a hugetlbfs mount (the caller sees to it)

    def __init__(self, name, mem_mb=512, la57=False, cpus=1, kernel_pkg=None, progs=None,
                 arch=None, ram="file", machine="q35", uuid=None, disk=None,
                 disk_bad_sectors=(), initrd="initrd", add_files=None, dimms=(), monitor=True):
        """ram: "file", a shared RAM file argus reads as qemu:PATH (the
        default); the others are VMs as they come, read as vm:PID: "anon"
        (plain -m), "json" (libvirt's JSON -object memory-backend-ram),
        "memfd" (-object memory-backend-memfd), "hugefile" and "hugememfd"
        (2 MiB huge pages: a file QEMU makes in HUGE_DIR, a hugetlb memfd;
        the caller reserves the pages).  machine: x86's "q35" or
        "pc" (or a versioned name)."""
        if ram not in self.RAM_KINDS:
            raise GuestError(f"unknown ram {ram!r} (one of {', '.join(self.RAM_KINDS)})")
        if arch is not None and arch not in ARCHES:
            raise GuestError(f"unknown arch {arch!r} (one of {', '.join(ARCHES)})")
        if arch == "arm64" and (la57 or kernel_pkg):
            raise GuestError("la57 and kernel_pkg are for x86_64 guests only")
        self.name = name
        self._arch = arch
        self.mem_mb = mem_mb
        self.ram = ram
        self.machine = machine
        self.uuid = uuid
        self.la57 = la57
        self.cpus = cpus
        self.kernel_pkg = kernel_pkg
        self.progs = progs
        self.disk = disk        # a raw disk image, attached read-only, mounted at DISK_MOUNT
        self.disk_bad_sectors = tuple(disk_bad_sectors)  # 512-byte sectors whose reads fail (EIO)
        # x86-64: the initramfs's base name (initrd_file) in the kernel's cache directory,
        # and add_files(kdir, progs), called before it is built, may add
        # files to the progs directory (which lands in /bin)
        self.initrd_name = initrd
        # DIMMs plugged at start: (MiB, "ram"|"memfd") each, with two free
        # slots for more (hotplug); monitor=False: no QMP socket
        self.dimms = tuple(dimms)
        self.monitor = monitor
        self.add_files = add_files
        self.dir = os.path.join(os.environ.get("ARGUS_GUEST_DIR", "/tmp/argus-guests"), PREFIX + name)
        self.ram_path = f"/dev/shm/argus-{PREFIX}{name}.ram"
        self._ctl = None
        self._buf = b""
        self._seq = 0

    # ---- paths ----
    def _p(self, f):
        return os.path.join(self.dir, f)

    @property
    def arch(self):
        """The arch given, else the one a running guest was started with."""
        if self._arch is None:
            try:
                with open(self._p("arch")) as f:
                    self._arch = f.read().strip()
            except OSError:
                return "x86_64"
        return self._arch

    def ram_regions(self):
        """[(physical start, length, offset in the RAM file)]"""
        size = self.mem_mb << 20
        try:
            size = os.path.getsize(self.ram_path)
        except OSError:
            pass
        if self.arch == "arm64":
            return [(ARM64_RAM_BASE, size, 0)]
        # q35 puts RAM past 2 GiB above 4 GiB once there is 2.75 GiB or more
        low = 0x80000000 if size >= 0xb0000000 else size
        regs = [(0, low, 0)]
        if size > low:
            regs.append((0x100000000, size - low, low))
        return regs

    def argus_source(self):
        """argus's arguments naming this guest's memory: the RAM file, and
        on arm64 its regions map (RAM starts at physical 0x40000000)."""
        if self.ram != "file":
            return ["--source", self.source]
        args = ["--source", self.source]
        return args + ["--regions", self.regions_path] if self.arch == "arm64" else args

    @property
    def source(self):
        """The memory source argus reads: the RAM file, or the process."""
        return f"qemu:{self.ram_path}" if self.ram == "file" else f"vm:{self._pid()}"

    def _ram_args(self):
        size = self.mem_mb << 20
        if self.ram == "file":
            return ["-object", f"memory-backend-file,id=mem,size={self.mem_mb}M,"
                               f"mem-path={self.ram_path},share=on"], "memory-backend=mem"
        if self.ram == "anon":
            return [], ""
        if self.ram == "json":
            return ["-object", json.dumps({"qom-type": "memory-backend-ram", "id": "pc.ram",
                                           "size": size})], "memory-backend=pc.ram"
        if self.ram == "hugefile":
            # QEMU makes (and unlinks) a file of its own in the directory
            return ["-object", f"memory-backend-file,id=ram0,size={size},"
                               f"mem-path={self.HUGE_DIR},prealloc=on"], "memory-backend=ram0"
        if self.ram == "hugememfd":
            return ["-object", f"memory-backend-memfd,id=ram0,size={size},hugetlb=on,"
                               "hugetlbsize=2M"], "memory-backend=ram0"
        return ["-object", f"memory-backend-memfd,id=ram0,size={size}"], "memory-backend=ram0"

    @property
    def regions_path(self):
        """A memory-regions JSON file (argus --regions) for the guest's RAM file."""
        path = self._p("regions.json")
        regs = {str(i): {"start": pa, "length": n, "offset": off}
                for i, (pa, n, off) in enumerate(self.ram_regions())}
        os.makedirs(self.dir, exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump({"allowed_regions": regs}, f, indent=2)
            f.write("\n")
        os.replace(path + ".tmp", path)
        return path

    # ---- lifecycle ----
    def _prepare(self):
        if self.arch == "arm64":
            return self._prepare_arm64()
        env = dict(os.environ, ARGUS_GUEST_ARCH="x86_64")
        if self.kernel_pkg:
            env["ARGUS_KERNEL_PKG"] = self.kernel_pkg
        kdir = subprocess.run([os.path.join(HERE, "fetch.sh")], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()
        initrd = initrd_file(kdir, self.initrd_name)
        progs = self.progs or progs_dir(kdir)
        subprocess.run([os.path.join(HERE, "progs", "build.sh"), progs], check=True)
        if not self.kernel_pkg:
            # the test rootkit, against the default kernel's headers
            subprocess.run([os.path.join(HERE, "kmod", "build.sh"), progs], check=True)
        else:
            # another kernel's: those that build for it, against the headers
            # fetch-kernel.sh fetched (not fatal: the tests that need one say so)
            kver = self.kernel_pkg.removeprefix("linux-image-")
            r = subprocess.run([os.path.join(HERE, "kmod", "build.sh"), progs],
                               env=dict(env, ARGUS_KVER=kver))
            if r.returncode:
                print(f"guest.py: the test rootkits could not be built for {kver}",
                      file=sys.stderr)
        if self.add_files:
            self.add_files(kdir, progs)
        env["ARGUS_GUEST_PROGS"] = progs
        subprocess.run([os.path.join(HERE, "mkinitrd.sh"), kdir, initrd], env=env, check=True)
        return os.path.join(kdir, "vmlinuz"), initrd

    def _prepare_arm64(self):
        env = dict(os.environ, ARGUS_GUEST_ARCH="arm64")
        kdir = subprocess.run([os.path.join(HERE, "fetch-arm64.sh")], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()
        initrd = initrd_file(kdir)
        # the test programs and rootkits need the cross compiler
        # (gcc-aarch64-linux-gnu, in the Makefile's DEB_PKGS): without it the
        # guest boots without them
        progs = self.progs
        if not progs and shutil.which("aarch64-linux-gnu-gcc"):
            progs = progs_dir(kdir)
            subprocess.run([os.path.join(HERE, "progs", "build.sh"), progs], check=True,
                           env=dict(env, CC="aarch64-linux-gnu-gcc"))
            # the arm64 test rootkits (kmod/arm64/), against this kernel's headers
            # (not fatal: the guest boots without them, and the tests that
            # need one skip saying so)
            kver = os.path.basename(os.path.realpath(os.path.join(kdir, "vmlinuz")))
            r = subprocess.run([os.path.join(HERE, "kmod", "build-arm64.sh"), progs],
                               env=dict(env, ARGUS_KVER=kver.removeprefix("vmlinuz-")))
            if r.returncode:
                print("guest.py: the arm64 test rootkits could not be built", file=sys.stderr)
        elif not progs:
            print("guest.py: no aarch64-linux-gnu-gcc: arm64 guest without the test programs",
                  file=sys.stderr)
        if progs:
            env["ARGUS_GUEST_PROGS"] = progs
        subprocess.run([os.path.join(HERE, "mkinitrd.sh"), kdir, initrd], env=env, check=True)
        return os.path.join(kdir, "vmlinuz"), initrd

    def _qemu_cmd(self, vmlinuz, initrd):
        """The QEMU command line: the machine differs by arch, the rest
        (shared RAM file, vmcoreinfo, control channel, QMP) does not."""
        ctl = ["-chardev", f"socket,id=ctl,path={self._p('ctl.sock')},server=on,wait=off"]
        ram, backend = self._ram_args()
        if self.arch == "arm64":
            # pauth-impdef: TCG emulates pointer authentication's QARMA cipher
            # slowly; with the implementation-defined one the guest was ready in
            # 9 s instead of 16 s and ran programs 5-8 times faster (measured)
            head = ["qemu-system-aarch64", "-M", "virt", "-cpu", "max,pauth-impdef=on"]
            machine, console = backend, "ttyAMA0"
            # virt has one UART: the control channel is a virtconsole (/dev/hvc0)
            ctl += ["-device", "virtio-serial-pci", "-device", "virtconsole,chardev=ctl,name=argus.ctl"]
        else:
            head = ["qemu-system-x86_64", "-cpu", "max" if self.la57 else "max,la57=off"]
            machine, console = ",".join(x for x in (self.machine, backend) if x), "ttyS0"
            ctl += ["-serial", "chardev:ctl"]
        append = f"console={console} panic=-1 quiet loglevel=3"
        disk = []
        if self.disk:
            append += f" argus.disk={DISK_MOUNT}"
            image = {"driver": "file", "filename": os.path.abspath(self.disk), "read-only": True}
            if self.disk_bad_sectors:
                # QEMU's blkdebug: every read covering one of these sectors fails with EIO
                image = {"driver": "blkdebug", "image": image, "read-only": True,
                         "inject-error": [{"event": "read_aio", "iotype": "read", "errno": 5,
                                           "sector": n, "once": False}
                                          for n in self.disk_bad_sectors]}
            disk = ["-blockdev", json.dumps({"driver": "raw", "node-name": "disk0",
                                             "read-only": True, "file": image}),
                    "-device", "virtio-blk-pci,drive=disk0"]
        mem = f"{self.mem_mb}M"
        dimms = []
        if self.dimms:
            mem += f",slots={len(self.dimms) + 2},maxmem={self.mem_mb + 4096}M"
            for i, (mb, kind) in enumerate(self.dimms):
                dimms += ["-object", f"memory-backend-{kind},id=dm{i},size={mb}M",
                          "-device", f"pc-dimm,id=dimm{i},memdev=dm{i}"]
        qmp = ["-qmp", f"unix:{self._p('qmp.sock')},server=on,wait=off"] if self.monitor else []
        return head + [
            "-accel", "tcg", "-smp", str(self.cpus), "-m", mem, *dimms,
            "-name", f"guest={self.name},debug-threads=on" if self.ram == "json" else self.name,
            *(["-uuid", self.uuid] if self.uuid else []), *ram,
            *(["-machine", machine] if machine else []), "-device", "vmcoreinfo",
            "-kernel", vmlinuz, "-initrd", initrd,
            "-append", append, *disk,
            "-display", "none", "-no-reboot",
            "-serial", f"file:{self._p('console.log')}",
            *ctl, *qmp,
            "-netdev", NETDEV_USER, "-device", "virtio-net-pci,netdev=n0",
            "-pidfile", self._p("qemu.pid"), "-daemonize",
        ]

    def start(self, timeout=90):
        self.stop()
        self._arch = self.arch
        vmlinuz, initrd = self._prepare()
        os.makedirs(self.dir, exist_ok=True)
        with open(self._p("arch"), "w") as f:
            f.write(self.arch + "\n")
        cmd = self._qemu_cmd(vmlinuz, initrd)
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise GuestError(f"qemu failed to start ({p.returncode}): {p.stderr.strip()}")
        self._connect(t0 + timeout)
        self.boot_seconds = time.monotonic() - t0
        return self

    def _connect(self, deadline):
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self._p("ctl.sock"))
                break
            except OSError:
                s.close()
                self._check_alive()
                if time.monotonic() > deadline:
                    raise GuestError(f"{self.name}: control socket never appeared")
                time.sleep(0.05)
        self._ctl = s
        # the server says HELLO when it starts; probe until it answers
        while True:
            try:
                self._request("RUN", "true", timeout=2)
                return
            except (GuestError, socket.timeout):
                self._check_alive()
                if time.monotonic() > deadline:
                    raise GuestError(f"{self.name}: guest did not become ready; console:\n"
                                     + self.console(40))

    def _pid(self):
        try:
            with open(self._p("qemu.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _check_alive(self):
        pid = self._pid()
        if pid is None:
            return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise GuestError(f"{self.name}: qemu exited; console:\n" + self.console(40))

    def stop(self):
        if self._ctl:
            self._ctl.close()
            self._ctl = None
        pid = self._pid()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.02)
            except ProcessLookupError:
                pass
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.unlink(self.ram_path)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # ---- control channel ----
    def _request(self, verb, cmd, timeout=30):
        self._seq += 1
        seq = str(self._seq)
        line = f"{verb} {seq} {base64.b64encode(cmd.encode()).decode()}\n".encode()
        self._ctl.settimeout(timeout)
        self._ctl.sendall(line)
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                parts = raw.strip().split(b" ")
                if len(parts) >= 3 and parts[0] == b"OK" and parts[1].decode() == seq:
                    rc = int(parts[2])
                    out = base64.b64decode(parts[3]) if len(parts) > 3 else b""
                    err = base64.b64decode(parts[4]) if len(parts) > 4 else b""
                    return rc, out, err
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestError(f"{self.name}: no answer to {cmd!r} within {timeout}s")
            self._ctl.settimeout(left)
            chunk = self._ctl.recv(65536)
            if not chunk:
                raise GuestError(f"{self.name}: control channel closed")
            self._buf += chunk

    def run_bytes(self, cmd, timeout=30):
        return self._request("RUN", cmd, timeout)

    def run(self, cmd, timeout=30):
        rc, out, err = self.run_bytes(cmd, timeout)
        return rc, out.decode(errors="surrogateescape"), err.decode(errors="surrogateescape")

    def check(self, cmd, timeout=30):
        rc, out, err = self.run(cmd, timeout)
        if rc != 0:
            raise GuestError(f"{cmd!r} failed in the guest ({rc}): {err.strip()}")
        return out

    def spawn(self, cmd):
        rc, out, _ = self._request("SPAWN", cmd)
        return int(out)

    # ---- QMP ----
    def qmp(self, execute, **arguments):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(self._p("qmp.sock"))
        f = s.makefile("rwb")
        json.loads(f.readline())
        for msg in ({"execute": "qmp_capabilities"}, {"execute": execute, "arguments": arguments}):
            f.write(json.dumps(msg).encode() + b"\n")
            f.flush()
            while True:
                r = json.loads(f.readline())
                if "return" in r or "error" in r:
                    break
        s.close()
        if "error" in r:
            raise GuestError(f"QMP {execute}: {r['error']}")
        return r["return"]

    def dump(self, path, paging=True, timeout=1800):
        """QMP dump-guest-memory (an ELF core) into path.  Detached, and
        query-dump polled until it is completed or failed: a big guest's
        dump (7 GiB) outlasts one QMP call's 120 s socket timeout.  QEMU
        stops the guest while it writes and resumes it after."""
        self.qmp("dump-guest-memory", paging=paging, detach=True,
                 protocol=f"file:{os.path.abspath(path)}")
        deadline, pause = time.monotonic() + timeout, 0.05
        while True:
            r = self.qmp("query-dump")     # {"status", "completed", "total"} (bytes)
            if r["status"] == "completed":
                return
            if r["status"] != "active":     # failed, or none: no dump ran
                raise GuestError(f"QMP dump-guest-memory to {path}: {r['status']} after "
                                 f"{r['completed']} of {r['total']} bytes")
            if time.monotonic() > deadline:
                raise GuestError(f"QMP dump-guest-memory to {path}: not done in {timeout} s "
                                 f"({r['completed']} of {r['total']} bytes)")
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def pause(self):
        self.qmp("stop")

    def cont(self):
        self.qmp("cont")

    def console(self, lines=20):
        try:
            with open(self._p("console.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no console log)"

    # ---- ground truth ----
    def truth_ps(self):
        keys = ("pid", "ppid", "uid", "gid", "euid", "egid", "state", "name")
        out = self.check("argus-truth ps")
        return [dict(zip(keys, l.split("\t", 7))) for l in out.splitlines() if l]


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="guest.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start")
    st.add_argument("name")
    st.add_argument("--la57", action="store_true")
    st.add_argument("--mem", type=int, default=512)
    st.add_argument("--arch", choices=ARCHES, default="x86_64")
    st.add_argument("--ram", choices=Guest.RAM_KINDS, default="file")
    st.add_argument("--machine", default="q35")
    st.add_argument("--disk", metavar="IMAGE", help=f"a raw disk image, mounted at {DISK_MOUNT}")
    for c in ("stop", "status", "console", "regions"):
        sub.add_parser(c).add_argument("name")
    for c in ("run", "spawn"):
        p = sub.add_parser(c)
        p.add_argument("name")
        p.add_argument("command", nargs=argparse.REMAINDER)
    d = sub.add_parser("dump")
    d.add_argument("name")
    d.add_argument("file")
    d.add_argument("--no-paging", action="store_true")
    a = ap.parse_args(argv)
    g = Guest(a.name, **({"mem_mb": a.mem, "la57": a.la57, "arch": a.arch, "ram": a.ram,
                          "machine": a.machine, "disk": a.disk}
                         if a.cmd == "start" else {}))
    if a.cmd == "start":
        g.start()
        print(f"{a.name}: {g.arch} ready in {g.boot_seconds:.1f}s, source {g.source}"
              + (f", regions {g.regions_path}" if g.ram == "file" else ""))
        g._ctl.close()
        return 0
    if a.cmd == "regions":
        print(g.regions_path)
        return 0
    if a.cmd == "stop":
        g.stop()
        return 0
    if a.cmd == "console":
        print(g.console(200), end="")
        return 0
    if a.cmd == "status":
        alive = g._pid() is not None
        print(f"{a.name}: {'running' if alive else 'stopped'}")
        return 0 if alive else 1
    if a.cmd == "dump":
        g.dump(a.file, paging=not a.no_paging)
        return 0
    g._connect(time.monotonic() + 10)
    cmd = " ".join(x for x in a.command if x != "--")
    if a.cmd == "run":
        rc, out, err = g.run_bytes(cmd)
        sys.stdout.buffer.write(out)
        sys.stderr.buffer.write(err)
        return rc
    if a.cmd == "spawn":
        print(g.spawn(cmd))
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
