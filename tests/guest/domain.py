"""The test guest as a libvirt domain: defined the ordinary way, run by
Debian's libvirtd (qemu:///system), its RAM wherever libvirt puts it
(anonymous memory: no memoryBacking).

    with Libvirtd():                   # the daemons, started if not running
        d = Domain("lv1"); d.start()   # virsh define + start; ready to run commands
        d.run("ps"); d.spawn("sleep 9"); d.truth_ps()   # as Guest's
        d.qemu_pid(), d.uuid, d.source                  # vm:PID
        d.stop()                       # virsh destroy + undefine

The kernel and initramfs are the test guest's (Guest._prepare), copied to
a directory libvirt's QEMU user can read.  The control server listens on
the second serial port (the guest's /dev/ttyS1), which libvirt binds to a
unix socket; the first serial port is the console, written to a file.
TCG (type='qemu'): KVM does not work on this machine kind.
"""
import os
import shutil
import subprocess
import tempfile
import time
from xml.sax.saxutils import escape

from guest import Guest, GuestError

URI = "qemu:///system"
RUN_DIR = "/run/libvirt/qemu"
# the domain's user-mode network is the guest's own (192.0.2.0/24: its eth0
# is 192.0.2.10, tests/guest/init); QEMU answers for this machine at .2
USER_HOST = "192.0.2.2"


def virsh(*args, check=True):
    p = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise GuestError(f"virsh {' '.join(args)} failed ({p.returncode}): "
                         f"{(p.stderr or p.stdout).strip()}")
    return p.stdout


class Libvirtd:
    """libvirtd and virtlogd as root, as systemd would start them (socket
    activation) on an ordinary Debian host.  Where they already answer,
    nothing is started or stopped."""

    def __init__(self):
        self.procs = []

    def _up(self):
        return subprocess.run(["virsh", "-c", URI, "version"], capture_output=True,
                              timeout=30).returncode == 0

    def __enter__(self):
        for tool in ("virsh", "libvirtd", "virtlogd"):
            if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
                raise GuestError(f"{tool} is not installed (libvirt-daemon-system, "
                                 f"libvirt-clients: make deps)")
        if self._up():
            return self
        if os.geteuid() != 0:
            raise GuestError("libvirtd is not running and only root can start it")
        # virtlogd first: the system libvirtd hands each QEMU's output to it
        # and does not spawn it itself
        if not os.path.exists("/run/libvirt/virtlogd-sock"):
            self.procs.append(subprocess.Popen(["virtlogd"], stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        self.procs.append(subprocess.Popen(["libvirtd"], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 30
        while not self._up():
            if any(p.poll() is not None for p in self.procs) or time.monotonic() > deadline:
                self.__exit__()
                raise GuestError("libvirtd did not start (run `libvirtd` by hand to see why)")
            time.sleep(0.2)
        return self

    def __exit__(self, *a):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []


class Domain(Guest):
    """Guest's control channel and ground truth over a libvirt domain."""

    def __init__(self, name, mem_mb=512, machine="q35"):
        super().__init__(name, mem_mb=mem_mb, machine=machine, ram="anon")
        self.dir = tempfile.mkdtemp(prefix=f"argus-dom-{name}-")
        self.uuid = None

    def xml(self, vmlinuz, initrd):
        """The domain as anyone would write it: a kernel to boot, memory,
        serial ports, a user-mode NIC (no libvirt network needed) on the
        guest's own network."""
        p = lambda f: escape(self._p(f))     # noqa: E731
        return f"""<domain type='qemu'>
  <name>{escape(self.name)}</name>
  <memory unit='MiB'>{self.mem_mb}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='{escape(self.machine)}'>hvm</type>
    <kernel>{escape(vmlinuz)}</kernel>
    <initrd>{escape(initrd)}</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet loglevel=3</cmdline>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='file'><source path='{p("console.log")}'/><target port='0'/></serial>
    <serial type='unix'><source mode='bind' path='{p("ctl.sock")}'/><target port='1'/></serial>
    <interface type='user'><ip family='ipv4' address='192.0.2.0' prefix='24'/><model type='virtio'/></interface>
  </devices>
</domain>
"""

    def start(self, timeout=90):
        self.stop(rmdir=False)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)       # libvirt's QEMU user reads the kernel here
        vmlinuz, initrd = self._prepare()
        shutil.copy(vmlinuz, self._p("vmlinuz"))
        shutil.copy(initrd, self._p("initrd.gz"))
        with open(self._p("domain.xml"), "w") as f:
            f.write(self.xml(self._p("vmlinuz"), self._p("initrd.gz")))
        t0 = time.monotonic()
        virsh("define", self._p("domain.xml"))
        virsh("start", self.name)
        self.uuid = virsh("domuuid", self.name).strip()
        self._connect(t0 + timeout)
        self.boot_seconds = time.monotonic() - t0
        return self

    def qemu_pid(self):
        return self._pid()

    def _pid(self):
        try:
            with open(os.path.join(RUN_DIR, f"{self.name}.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def cmdline(self):
        with open(f"/proc/{self.qemu_pid()}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]

    def dumpxml(self):
        return virsh("dumpxml", self.name)

    def stop(self, rmdir=True):
        if self._ctl:
            self._ctl.close()
            self._ctl = None
        virsh("destroy", self.name, check=False)
        virsh("undefine", self.name, check=False)
        if rmdir:
            shutil.rmtree(self.dir, ignore_errors=True)
            try:    # what libvirt kept of QEMU's output
                os.unlink(f"/var/log/libvirt/qemu/{self.name}.log")
            except OSError:
                pass

    def qmp(self, execute, **arguments):
        raise GuestError("libvirt keeps the domain's monitor: use virsh")
