"""Walk what `argus scan` walks, with drgn, on a QEMU ELF dump; print timings.

    /usr/bin/python3 bench/drgn_walk.py DUMP VMLINUX [REPEATS]

Debian's python3-drgn (0.0.22) lives in /usr/bin/python3's dist-packages.
Per process: pid, tgid, ppid, comm, state, real and effective uid/gid,
start time, CPU time, self_exec_id, pid/mnt/net namespace inodes, the exe
path; per thread: tid, comm, state, exit_state, self_exec_id; per open file
(fdtable): its path (d_path), f_mode/f_flags, inode number, device, mode,
uid, gid, size, ctime, nlink; per TCP socket reached from a socket fd:
state, addresses and ports (IPv4 and IPv6), bytes and segments in and out;
per VMA (6.1's maple tree, walked here: 0.0.22 has no for_each_vma): start,
end, flags, pgoff, file path.  Not done:
the ELF files' hashes, bash history, the workload information.
Prints one JSON object: start-up (open + debug info), first walk, and the
median of REPEATS further walks (which reuse the types drgn looked up), wall
and CPU (the process's).
"""
import json
import socket
import statistics
import sys
import time

import drgn
from drgn import Object, cast
from drgn.helpers.linux.fs import d_path, for_each_file
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_state_to_char

AF_INET, AF_INET6, IPPROTO_TCP = 2, 10, 6
# 6.1 maple tree (include/linux/maple_tree.h)
MAPLE_NODE_MASK, MAPLE_NODE_TYPE_SHIFT, MAPLE_NODE_TYPE_MASK = 255, 3, 0xF
MAPLE_LEAF_64, MAPLE_RANGE_64, MAPLE_ARANGE_64 = 1, 2, 3


def path_of(f):
    try:
        return d_path(f.f_path)
    except (drgn.FaultError, ValueError):
        return b""


def maple_entries(prog, entry, lo, hi, root=True):
    """Yield the non-NULL leaf entries under a maple tree entry (the root
    is a node only if tagged as one, xa_is_node; children always are)."""
    if not entry:
        return
    if root and ((entry & 3) != 2 or entry <= 4096):  # the root is the value
        yield entry
        return
    node = Object(prog, "struct maple_node *", entry & ~MAPLE_NODE_MASK)
    typ = (entry >> MAPLE_NODE_TYPE_SHIFT) & MAPLE_NODE_TYPE_MASK
    if typ == MAPLE_ARANGE_64:
        n, pivots, slots = 10, node.ma64.pivot.value_(), node.ma64.slot.value_()
    elif typ in (MAPLE_LEAF_64, MAPLE_RANGE_64):
        n, pivots, slots = 16, node.mr64.pivot.value_(), node.mr64.slot.value_()
    else:
        raise ValueError(f"maple node type {typ}")
    for i in range(n):
        piv = pivots[i] if i < n - 1 else hi
        if i > 0 and piv == 0:
            break  # past the node's data
        if typ == MAPLE_LEAF_64:
            if slots[i]:
                yield slots[i]
        else:
            yield from maple_entries(prog, slots[i], lo, piv, False)
        if piv >= hi:
            break
        lo = piv + 1


def walk_vmas(prog, mm, out):
    root = mm.mm_mt.ma_root.value_()
    for va in maple_entries(prog, root, 0, 2**64 - 1):
        vma = Object(prog, "struct vm_area_struct *", va)
        out.append((vma.vm_start.value_(), vma.vm_end.value_(), vma.vm_flags.value_(),
                    vma.vm_pgoff.value_(), path_of(vma.vm_file) if vma.vm_file else b""))


def sock_of(prog, f, sops):
    if f.f_op.value_() != sops:
        return None
    sk = cast("struct socket *", f.private_data).sk
    if not sk:
        return None
    c = sk.__sk_common
    fam = c.skc_family.value_()
    if fam not in (AF_INET, AF_INET6) or sk.sk_protocol.value_() != IPPROTO_TCP:
        return None
    if fam == AF_INET:
        src = socket.inet_ntop(AF_INET, c.skc_rcv_saddr.value_().to_bytes(4, "little"))
        dst = socket.inet_ntop(AF_INET, c.skc_daddr.value_().to_bytes(4, "little"))
    else:
        src = socket.inet_ntop(AF_INET6, prog.read(c.skc_v6_rcv_saddr.address_of_(), 16))
        dst = socket.inet_ntop(AF_INET6, prog.read(c.skc_v6_daddr.address_of_(), 16))
    tp = cast("struct tcp_sock *", sk)
    return (c.skc_state.value_(), src, c.skc_num.value_(), dst,
            socket.ntohs(c.skc_dport.value_()), tp.bytes_received.value_(),
            tp.bytes_acked.value_(), tp.segs_in.value_(), tp.segs_out.value_())


def walk(prog):
    sops = prog["socket_file_ops"].address_of_().value_()
    procs, threads, files, socks, vmas = [], [], [], [], []
    for t in for_each_task(prog):
        if t.pid.value_() != t.tgid.value_():
            continue  # a thread: reached below from its leader
        rc, ec = t.real_cred, t.cred
        ns = t.nsproxy
        mm = t.mm
        procs.append((t.pid.value_(), t.real_parent.tgid.value_(), t.comm.string_(),
                      task_state_to_char(t), rc.uid.val.value_(), rc.gid.val.value_(),
                      ec.euid.val.value_(), ec.egid.val.value_(), t.start_time.value_(),
                      t.utime.value_() + t.stime.value_(), t.self_exec_id.value_(),
                      ns.pid_ns_for_children.ns.inum.value_() if ns else 0,
                      ns.mnt_ns.ns.inum.value_() if ns else 0,
                      ns.net_ns.ns.inum.value_() if ns else 0,
                      path_of(mm.exe_file) if mm and mm.exe_file else b""))
        for th in list_for_each_entry("struct task_struct", t.signal.thread_head.address_of_(),
                                      "thread_node"):
            threads.append((t.pid.value_(), th.pid.value_(), th.comm.string_(),
                            task_state_to_char(th), th.exit_state.value_(),
                            th.self_exec_id.value_()))
        if t.files:
            for fd, f in for_each_file(t):
                if not f:
                    continue    # drgn 0.0.22 yields an open fd bit without a file
                ino = f.f_inode
                files.append((t.pid.value_(), fd, path_of(f), f.f_mode.value_(),
                              f.f_flags.value_(), ino.i_ino.value_(), ino.i_sb.s_dev.value_(),
                              ino.i_mode.value_(), ino.i_uid.val.value_(),
                              ino.i_gid.val.value_(), ino.i_size.value_(),
                              ino.i_ctime.tv_sec.value_(), ino.__i_nlink.value_()))
                s = sock_of(prog, f, sops)
                if s:
                    socks.append((t.pid.value_(), fd) + s)
        if mm:
            walk_vmas(prog, mm, vmas)
    return {"processes": len(procs), "threads": len(threads), "file_descriptors": len(files),
            "tcp_connections": len(socks), "memory_areas": len(vmas)}


def main():
    dump, vmlinux = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    t0 = time.monotonic()
    prog = drgn.Program()
    prog.set_core_dump(dump)
    prog.load_debug_info([vmlinux])
    t1 = time.monotonic()
    counts = walk(prog)
    t2 = time.monotonic()
    again, again_cpu = [], []
    for _ in range(repeats):
        t, c = time.monotonic(), time.process_time()
        walk(prog)
        again.append(time.monotonic() - t)
        again_cpu.append(time.process_time() - c)
    print(json.dumps({"drgn": drgn.__version__ if hasattr(drgn, "__version__") else "?",
                      "startup_s": t1 - t0, "first_walk_s": t2 - t1,
                      "walk_p50_s": statistics.median(again) if again else None,
                      "walk_p50_cpu_s": statistics.median(again_cpu) if again_cpu else None,
                      "counts": counts}))


if __name__ == "__main__":
    main()
