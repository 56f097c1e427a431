/* qmp.h - what a QEMU process's monitor (QMP) says about its memory devices.
 *
 * A VM started by hand often has its QMP socket on its command line
 * (-qmp unix:PATH, or -chardev socket,path=PATH with -mon mode=control).
 * When it answers, argus asks it two read-only questions:
 * query-memory-devices (each DIMM's guest-physical address, size and
 * backend, hot-plugged ones included) and qom-list /objects (the kind of
 * each backend, for one added at run time), and for a file backend added
 * at run time, qom-get mem-path.  Nothing else is sent, and the
 * connection is closed at once: a monitor serves one client at a time, and
 * its owner (libvirt holds its VMs' monitors) comes first, so a monitor that
 * does not greet within QMP_TIMEOUT_MS is left alone.
 *
 * The answers come from another process: hostile input, parsed with bounds
 * (fuzz/fuzz_vmlayout.c feeds qmp_apply_devices). */
#ifndef ARGUS_QMP_H
#define ARGUS_QMP_H

#include "core/err.h"
#include "memsrc/vmlayout.h"

#define QMP_TIMEOUT_MS 300
#define QMP_MAX_REPLY (1u << 20)

/* Ask VM process pid's monitor (vi->qmp, resolved in the process's own
 * root and working directory) for its DIMMs; on success vi->dimms (and,
 * for backends added at run time, vi->backends) are QEMU's own. */
int qmp_memory_devices(int pid, struct vm_info *vi, struct aerr *err);

/* Apply the "return" values of query-memory-devices (devices) and
 * qom-list /objects (objects, may be NULL) to vi.  Backends not on the
 * command line are added; a file backend's path is left empty. */
int qmp_apply_devices(struct vm_info *vi, const char *devices, size_t dlen, const char *objects,
		      size_t olen, struct aerr *err);

#endif
