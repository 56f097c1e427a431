"""Prometheus metrics (output.metrics.address): scraped directly, and by
Debian's prometheus server, whose query API must give back what the
service's own event log says."""
import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import Service, free_port


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def value(text, metric, **labels):
    """The sample of `metric` whose labels include `labels`."""
    for line in text.splitlines():
        m = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != metric:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def created(svc, system):
    svc.poll()
    return sum(m["activity_data"]["name"] == "Process Created" and
               m["workload_information"]["unique_identifier"] == system for m in svc.messages)


@pytest.fixture
def svc(guest, tmp_path):
    port, dead = free_port(), free_port()
    s = Service(tmp_path / "svc", guest, sleep="300ms",
                output=f"  metrics:\n    address: 127.0.0.1:{port}\n"
                       f"  telemetry:\n    address: 127.0.0.1:{dead}\n")
    s.port = port
    yield s
    s.stop()


def test_scraped(guest, svc):
    ctype, text = scrape(svc.port)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    sysname = guest.name
    assert value(text, "argus_systems") == 1
    scans = value(text, "argus_scans_total", system=sysname)
    assert scans and scans >= 1, text[:2000]
    assert value(text, "argus_scan_duration_seconds_count", system=sysname) == scans
    assert value(text, "argus_scan_duration_seconds_bucket", system=sysname, le="+Inf") == scans
    assert value(text, "argus_memory_reads_total", system=sysname) > 0
    assert value(text, "argus_memory_read_bytes_total", system=sysname) >= \
        4096 * value(text, "argus_memory_reads_total", system=sysname) / 64
    assert value(text, "argus_objects_skipped_total", system=sysname) is not None
    # telemetry to a port nobody listens on: down, and the queue holds
    assert value(text, "argus_telemetry_connected") == 0
    assert value(text, "argus_telemetry_queue_depth") > 0
    for i in range(3):
        guest.spawn(f"exec sleep {20 + i}")
    time.sleep(4 * svc.sleep_s + 1)
    n = created(svc, sysname)
    _, text = scrape(svc.port)
    assert value(text, "argus_messages_total", system=sysname, type="EVENT",
                 name="Process Created") == n
    assert value(text, "argus_scans_total", system=sysname) > scans
    try:
        scrape(svc.port, "/")
        assert False, "/ answered"
    except urllib.error.HTTPError as e:
        assert e.code == 404


def test_prometheus_scrapes(guest, svc, tmp_path):
    prom = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n"
                   "scrape_configs:\n  - job_name: argus\n    static_configs:\n"
                   f"      - targets: ['127.0.0.1:{svc.port}']\n")
    p = subprocess.Popen(["prometheus", f"--config.file={cfg}",
                          f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{prom}"],
                         stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prom.log", "w"))

    def query(q):
        url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(url, timeout=5) as r:
            res = json.load(r)["data"]["result"]
        return float(res[0]["value"][1]) if res else None

    try:
        sysname = guest.name
        q = f'argus_scans_total{{system="{sysname}"}}'
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if query(q):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert query(q), f"prometheus never scraped argus; see {tmp_path / 'prom.log'}"
        for i in range(2):
            guest.spawn(f"exec sleep {30 + i}")
        time.sleep(4 * svc.sleep_s + 3)     # the events, then a scrape after them
        n = created(svc, sysname)
        got = query(f'argus_messages_total{{system="{sysname}",name="Process Created"}}')
        assert got == n, f"prometheus says {got} Process Created, the event log {n}"
        assert query(f'rate(argus_scans_total{{system="{sysname}"}}[5s])') > 0
        assert query(f'histogram_quantile(0.5, argus_scan_duration_seconds_bucket'
                     f'{{system="{sysname}"}}) < 10') is not None
    finally:
        p.terminate()
        p.wait(10)
