/* vmlayout.h - where a QEMU/KVM guest's RAM is: from its command line and
 * the memory mappings of its process.
 *
 * QEMU does not publish its guest-physical layout outside its monitor, and
 * a VM started by libvirt keeps its monitor to itself.  So the layout is
 * derived the way QEMU derives it:
 *   - the RAM size (-m), the machine type (-machine/-M), and the RAM's
 *     backends (-object memory-backend-{ram,file,memfd}, in the key=value
 *     syntax or libvirt's JSON; -machine memory-backend=ID or
 *     -numa node,memdev=ID; none: one anonymous block of -m bytes);
 *   - each backend's mapping in the process: a file backend by its path,
 *     a memfd by its name, anonymous RAM by its size and QEMU's marks on it
 *     (MADV_DONTFORK, shown as "dc" in smaps' VmFlags);
 *   - the machine's rules for placing RAM in guest-physical space:
 *     x86 "pc" (i440fx): below 4 GiB up to 3.5 GiB, or 3 GiB when the RAM
 *       is 3.5 GiB or more, the rest from 4 GiB;
 *     x86 "q35": below 4 GiB up to 2.75 GiB, or 2 GiB when the RAM is
 *       2.75 GiB or more, the rest from 4 GiB;
 *     both capped by max-ram-below-4g=;
 *     arm64 "virt": all of it from 0x40000000.
 * The result is checked later the way every profile is: the kernel found
 * through it must prove itself on its task list.
 * DIMMs (-device pc-dimm,memdev=ID[,addr=A], either syntax) go where QEMU
 * puts them: in the device-memory region that starts at the first GiB
 * boundary after RAM (x86: after 4 GiB plus the RAM above the hole; virt:
 * after 0x40000000 plus RAM), each at its addr= or else first fit in the
 * order they were plugged, aligned as its backend is mapped (2 MiB for
 * anonymous RAM, a page for memfd and file backends).  Where the VM's QMP
 * socket is on its command line and answers, QEMU's own list
 * (query-memory-devices) replaces that: DIMMs plugged at run time are in
 * it (memsrc/qmp.c).
 *
 * Everything here parses another process's command line and maps: input
 * that an unprivileged user controls.  Every length is bounded. */
#ifndef ARGUS_VMLAYOUT_H
#define ARGUS_VMLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "memsrc/memsrc.h"

#define VM_MAX_BLOCKS 16
#define VM_MAX_BACKENDS 32

enum vm_backing { VM_RAM, VM_FILE, VM_MEMFD };

struct vm_backend {
	char id[64];
	enum vm_backing kind;
	char path[256];		/* mem-path, for files */
	uint64_t size;
	int share;
};

#define VM_MAX_DIMMS 32

struct vm_dimm {
	char id[64];		/* the device's id=, "" if none */
	char memdev[64];	/* its backend's id */
	int backend;		/* index into backends (vm_parse_cmdline) */
	uint64_t addr;		/* guest-physical; 0: not given, placed by the rule */
};

struct vm_info {
	char name[128];		/* -name guest=NAME or -name NAME; "" if none */
	char uuid[40];		/* -uuid, "" if none */
	int arm64;		/* qemu-system-aarch64 */
	char machine[64];	/* "pc", "q35", "virt", "pc-q35-7.2", ... */
	uint64_t ram_size;	/* -m, bytes */
	uint64_t max_below_4g;	/* -machine max-ram-below-4g=, 0 if not given */
	struct vm_backend backends[VM_MAX_BACKENDS];
	size_t nbackends;
	/* the backends that make up RAM, in guest-physical order (index
	 * into backends; -1: the implicit anonymous block) */
	int blocks[VM_MAX_BLOCKS];
	size_t nblocks;
	/* pc-dimm devices, in the order they were plugged */
	struct vm_dimm dimms[VM_MAX_DIMMS];
	size_t ndimms;
	char qmp[108];		/* the QMP socket's path (-qmp unix:, or -chardev
				 * socket + -mon mode=control), "" if none */
};

/* One line of /proc/PID/maps, with smaps' "dc" flag when known. */
struct vm_map {
	uint64_t start, end, pgoff;
	char perms[5];
	char path[256];		/* "" for anonymous */
	int dontfork;		/* -1 unknown */
};

/* Is argv[0] (the program, its path and arguments NUL-separated, len
 * bytes) a QEMU system emulator? */
int vm_is_qemu(const char *args, size_t len);

/* Parse a QEMU command line (NUL-separated, len bytes). */
int vm_parse_cmdline(const char *args, size_t len, struct vm_info *vi, struct aerr *err);

/* Parse /proc/PID/smaps (or maps: no VmFlags, dontfork stays -1) text. */
int vm_parse_maps(const char *text, size_t len, struct vm_map **out, size_t *n,
		  struct aerr *err);

/* Guest-physical ranges, each with `off` the host-virtual address of its
 * first byte.  who names the VM in errors.  A DIMM whose mapping cannot
 * be told apart is left out (its memory reads as absent) and named in
 * *note when note is not NULL ("" when every DIMM was placed). */
int vm_layout(const struct vm_info *vi, const struct vm_map *maps, size_t nmaps, const char *who,
	      struct mem_range **out, size_t *nout, char *note, size_t notecap, struct aerr *err);

#endif
