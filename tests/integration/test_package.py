"""The Debian package, built and installed as a user would.

dpkg-buildpackage builds it from a copy of this tree; lintian finds nothing
to say; unpacked into a fresh root, its files are where Debian puts them and
its configuration is a conffile (unpacked: the postinst is not run there); installed on this machine (then purged),
its postinst makes the service user, `argus run --check` accepts the
configuration it ships, systemd-analyze verifies the unit, and the unit's
exposure score is the one docs/deploy.md states.
"""
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sh(cmd, **kw):
    p = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    top = tmp_path_factory.mktemp("pkg")
    src = top / "argus"
    src.mkdir()
    rc, out = sh(f"git ls-files -co --exclude-standard | grep -v '^fuzz/corpus/' | "
                 f"tar -cf - -T - | tar -xf - -C {src}", cwd=ROOT)
    assert rc == 0, out
    rc, out = sh("dpkg-buildpackage -us -uc -b -j2", cwd=src)
    assert rc == 0, out[-3000:]
    debs = [f for f in os.listdir(top) if re.fullmatch(r"argus_[^_]+_(amd64|arm64)\.deb", f)]
    assert len(debs) == 1, os.listdir(top)
    return top, top / debs[0]


def test_lintian_clean(deb):
    top, _ = deb
    changes = [f for f in os.listdir(top) if f.endswith(".changes")]
    rc, out = sh(f"lintian --fail-on warning,error {top / changes[0]}")
    out = "\n".join(l for l in out.splitlines() if "root privileges" not in l)
    assert rc == 0 and not out.strip(), out


def unpack_fresh_root(path, root):
    """The package unpacked into an empty root (its own dpkg database)."""
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
        (root / d).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    rc, out = sh(f"dpkg --root={root} --force-depends --force-script-chrootless "
                 f"--unpack {path}")
    assert rc == 0, out
    # unpacked, not configured: conffiles wait as .dpkg-new (configuring
    # would run the postinst, which makes a user on this machine)
    for f in ("usr/bin/argus", "etc/argus/argus.yaml.dpkg-new",
              "lib/systemd/system/argus.service", "etc/logrotate.d/argus.dpkg-new",
              "usr/share/man/man1/argus.1.gz", "usr/share/man/man5/argus.yaml.5.gz",
              "usr/share/bash-completion/completions/argus"):
        assert (root / f).exists(), f
    rc, out = sh(f"dpkg --root={root} -s argus")
    assert "Conffiles:\n /etc/argus/argus.yaml" in out, out


def test_installed(deb, tmp_path):
    _, path = deb
    root = tmp_path / "root"
    unpack_fresh_root(path, root)
    if shutil.which("argus") and not os.path.exists("/var/lib/dpkg/info/argus.list"):
        pytest.fail("an argus not from the package is on PATH: " + shutil.which("argus"))
    # no service start while installing on a machine that runs systemd
    policy = "/usr/sbin/policy-rc.d"
    made_policy = not os.path.exists(policy)
    if made_policy:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        rc, out = sh(f"dpkg -i {path}")
        assert rc == 0, out
        rc, out = sh("getent passwd argus")
        assert rc == 0 and "/nonexistent" in out, out
        st = os.stat("/var/log/argus")
        assert st.st_uid == int(out.split(":")[2]), "log folder not the service user's"
        rc, out = sh("/usr/bin/argus run --check --config /etc/argus/argus.yaml")
        assert rc == 0, out
        # the fresh root's own binary and configuration (its service user
        # exists now, made by the postinst of the installed package)
        rc, out = sh(f"{root}/usr/bin/argus --version")
        assert rc == 0 and out.startswith("argus "), out
        rc, out = sh(f"{root}/usr/bin/argus run --check --config {root}/etc/argus/argus.yaml.dpkg-new")
        assert rc == 0 and "configuration is valid" in out, out
        rc, out = sh("systemd-analyze verify /lib/systemd/system/argus.service")
        assert rc == 0 and not out.strip(), out
        rc, out = sh("systemd-analyze security --offline=true /lib/systemd/system/argus.service")
        m = re.search(r"Overall exposure level for argus.service: ([0-9.]+)", out)
        assert m, out
        with open(os.path.join(ROOT, "docs", "deploy.md")) as f:
            assert f"exposure level {m.group(1)}" in f.read(), \
                f"docs/deploy.md does not state the unit's exposure level {m.group(1)}"
    finally:
        sh("dpkg --purge argus")
        if made_policy:
            os.unlink(policy)
    rc, out = sh("getent passwd argus")
    assert rc != 0, "purge left the service user"
    assert not os.path.exists("/usr/bin/argus")
