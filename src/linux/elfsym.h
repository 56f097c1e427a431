/* elfsym.h - look up exported symbols of an ELF image mapped in a
 * process, through its in-memory dynamic section (no file access). */
#ifndef ARGUS_ELFSYM_H
#define ARGUS_ELFSYM_H

#include <stdint.h>

#include "arch/arch.h"

#define ELFSYM_MAX_SYMS 200000u
#define ELFSYM_NAME_MAX 128	/* longest name looked up, NUL included */

struct elfsym_image {
	struct vas *as;
	uint64_t base;		/* load address (lowest mapping, file offset 0) */
	uint64_t symtab, strtab, strsz;
	uint32_t nsyms;		/* for the linear search: 0 when the GNU hash is used */
	uint16_t machine;	/* e_machine: EM_X86_64, EM_AARCH64, ... */
	/* DT_GNU_HASH, when the image has one: a lookup reads one bucket and
	 * its chain instead of every symbol */
	uint64_t gh_buckets, gh_chains;
	uint32_t gh_nbuckets, gh_symoffset;
};

/* Parse the image's headers and dynamic section: 0 or -errno. */
int elfsym_open(struct elfsym_image *img, struct vas *as, uint64_t base);
/* Runtime address of a defined symbol, 0 and *addr, or -ENOENT. */
int elfsym_lookup(const struct elfsym_image *img, const char *name, uint64_t *addr);

#endif
