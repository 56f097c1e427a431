/* vmcoreinfo.h - the kernel's VMCOREINFO note.
 *
 * The text is "KEY=VALUE\n" lines: OSRELEASE, PAGESIZE, KERNELOFFSET (hex),
 * SYMBOL(x)=hex, NUMBER(x)=decimal, OFFSET(t.f)=decimal, SIZE(t)=decimal,
 * LENGTH(x)=decimal, CRASHTIME, BUILD-ID.  A parsed note owns a copy of
 * the text; vmci_free() releases it.
 */
#ifndef ARGUS_VMCOREINFO_H
#define ARGUS_VMCOREINFO_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "memsrc/memsrc.h"

#define VMCI_MAX_TEXT 16384

struct vmci {
	char *text;		/* owned, NUL-terminated */
	size_t len;
	uint64_t pa;		/* where it was found (0 if from an ELF note) */
	char found_by[64];	/* how: "x86-64 trampoline at 0x9c000", "search of all memory" */
	char osrelease[65];
	uint64_t kerneloffset;
	uint64_t pagesize;
};

/* Parse text; rejects text with no valid OSRELEASE (e.g. the "%s"
 * template left in the kernel image). */
int vmci_parse(const char *text, size_t len, struct vmci *out, struct aerr *err);
void vmci_free(struct vmci *v);
/* Look up a key such as "SYMBOL(init_uts_ns)" (hex) or "NUMBER(phys_base)"
 * (decimal, may be negative; "0x..." is read as a 64-bit hex pattern, as
 * arm64 writes NUMBER(kimage_voffset)), "OFFSET(list_head.next)".  -ENOENT
 * if absent. */
int vmci_symbol(const struct vmci *v, const char *name, uint64_t *out);
int vmci_number(const struct vmci *v, const char *name, int64_t *out);
int vmci_offset(const struct vmci *v, const char *name, int64_t *out);
int vmci_size(const struct vmci *v, const char *name, int64_t *out);
/* Raw value string of KEY (without "KEY="), copied into buf. */
int vmci_value(const struct vmci *v, const char *key, char *buf, size_t cap);

/* Find VMCOREINFO candidates in physical memory: the note data starts at a
 * page boundary.  Calls cb for each valid parse, in address order, until cb
 * returns nonzero (which is returned).  Returns -ENOENT if none found. */
typedef int (*vmci_found_fn)(void *ctx, struct vmci *v);
int vmci_scan(struct memsrc *m, vmci_found_fn cb, void *ctx, struct aerr *err);

#endif
