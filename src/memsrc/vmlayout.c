/* vmlayout.c - a QEMU guest's RAM layout from its process's maps and what
 * its command line said (vmcmdline.c; see vmlayout.h for the rules). */
#include "memsrc/vmlayout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GiB (1ULL << 30)
#define FOUR_GIB (4ULL << 30)
#define ARM64_VIRT_RAM 0x40000000ULL

/* ---- the process's mappings ---- */

static int map_line(const char *l, size_t n, struct vm_map *m)
{
	char buf[512], path[256] = "";
	unsigned long long s, e, off;
	char perms[8];
	int pos = 0;

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, l, n);
	buf[n] = '\0';
	if (sscanf(buf, "%llx-%llx %7s %llx %*s %*s%n", &s, &e, perms, &off, &pos) != 4 ||
	    e <= s || strlen(perms) != 4)
		return -1;
	const char *p = buf + pos;
	while (*p == ' ')
		p++;
	snprintf(path, sizeof(path), "%s", p);
	memset(m, 0, sizeof(*m));
	m->start = s;
	m->end = e;
	m->pgoff = off;
	memcpy(m->perms, perms, 5);
	memcpy(m->path, path, sizeof(m->path));
	m->dontfork = -1;
	return 0;
}

int vm_parse_maps(const char *text, size_t len, struct vm_map **out, size_t *n, struct aerr *err)
{
	struct vm_map *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < len;) {
		const char *l = text + i;
		const char *nl = memchr(l, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - l) : len - i;
		i += ll + 1;
		if (*n && ll > 8 && !strncmp(l, "VmFlags:", 8)) {
			char fl[256];
			snprintf(fl, sizeof(fl), " %.*s ", (int)(ll - 8 < 250 ? ll - 8 : 250), l + 8);
			v[*n - 1].dontfork = !!strstr(fl, " dc ");
			continue;
		}
		struct vm_map m;
		if (map_line(l, ll, &m))
			continue;
		if (*n == cap) {
			if (cap >= 1u << 20) {
				free(v);
				return aerr_set(err, E2BIG, "over a million mappings");
			}
			cap = cap ? cap * 2 : 256;
			struct vm_map *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return aerr_set(err, ENOMEM, "out of memory");
			}
			v = nv;
		}
		v[(*n)++] = m;
	}
	*out = v;
	return 0;
}

/* ---- placing the blocks ---- */

static int path_is(const char *mp, const char *want)
{
	size_t wl = strlen(want);
	return !strncmp(mp, want, wl) && (!mp[wl] || !strcmp(mp + wl, " (deleted)"));
}

/* The mapping that holds backend b (NULL: the implicit anonymous RAM). */
static const struct vm_map *find_block(const struct vm_backend *b, uint64_t size,
				       const struct vm_map *maps, size_t n, int *ambiguous)
{
	const struct vm_map *best = NULL;
	int nbest = 0, best_rank = -1;

	for (size_t i = 0; i < n; i++) {
		const struct vm_map *m = &maps[i];
		int rank;
		if (m->end - m->start != size || m->perms[0] != 'r')
			continue;
		if (b && b->kind == VM_FILE) {
			size_t pl = strlen(b->path);
			if (!path_is(m->path, b->path) &&
			    !(pl && !strncmp(m->path, b->path, pl) && m->path[pl] == '/'))
				continue;	/* a file, or a file QEMU made in a directory */
			rank = 2;
		} else if (b && b->kind == VM_MEMFD) {
			if (strncmp(m->path, "/memfd:", 7))
				continue;
			rank = 2;
		} else {
			if (m->path[0] || m->perms[3] != 'p')
				continue;
			/* QEMU marks guest RAM MADV_DONTFORK; the TCG code
			 * buffer and heaps are not */
			if (m->dontfork == 0)
				continue;
			rank = m->dontfork == 1 ? 2 : 1;
		}
		if (rank > best_rank) {
			best = m;
			best_rank = rank;
			nbest = 1;
		} else if (rank == best_rank) {
			nbest++;
		}
	}
	*ambiguous = nbest > 1;
	return best;
}

struct piece { uint64_t off, len, hva; };	/* RAM offset -> host address */

static int add_range(struct mem_range **r, size_t *n, size_t *cap, uint64_t pa, uint64_t len,
		     uint64_t hva)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct mem_range *nr = realloc(*r, nc * sizeof(**r));
		if (!nr)
			return -1;
		*r = nr;
		*cap = nc;
	}
	(*r)[(*n)++] = (struct mem_range){ .pa = pa, .len = len, .off = hva };
	return 0;
}

/* Map RAM bytes [ram, ram+len) at guest-physical pa, across pieces. */
static int place(const struct piece *pc, size_t np, uint64_t ram, uint64_t len, uint64_t pa,
		 struct mem_range **r, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < np && len; i++) {
		if (ram >= pc[i].off + pc[i].len || ram < pc[i].off)
			continue;
		uint64_t in = ram - pc[i].off, take = pc[i].len - in;
		if (take > len)
			take = len;
		if (add_range(r, n, cap, pa, take, pc[i].hva + in))
			return -1;
		ram += take;
		pa += take;
		len -= take;
	}
	return 0;
}

static int machine_is(const char *m, const char *type)
{
	size_t tl = strlen(type);
	return !strcmp(m, type) || (!strncmp(m, type, tl) && m[tl] == '-');
}

/* Where QEMU puts each DIMM (memory_device_get_free_addr): at its addr=,
 * or the first address from base, aligned, that no earlier DIMM holds. */
static void dimm_addrs(const struct vm_info *vi, uint64_t base, uint64_t *at)
{
	struct { uint64_t lo, hi; } used[VM_MAX_DIMMS];
	size_t nused = 0;

	for (size_t i = 0; i < vi->ndimms; i++) {
		const struct vm_dimm *d = &vi->dimms[i];
		const struct vm_backend *b = &vi->backends[d->backend];
		uint64_t align = b->kind == VM_RAM ? 2ULL << 20 : 4096, a = d->addr;
		if (!a) {
			a = (base + align - 1) & ~(align - 1);
			for (size_t j = 0; j < nused; j++)	/* sorted by lo */
				if (a + b->size > used[j].lo && a < used[j].hi)
					a = (used[j].hi + align - 1) & ~(align - 1);
		}
		at[i] = a;
		size_t k = nused++;
		for (; k > 0 && used[k - 1].lo > a; k--)
			used[k] = used[k - 1];
		used[k].lo = a;
		used[k].hi = a + b->size;
	}
}

/* The DIMMs' ranges, after RAM that ends at ram_end (guest-physical). */
static int place_dimms(const struct vm_info *vi, const struct vm_map *maps, size_t nmaps,
		       uint64_t ram_end, struct mem_range **r, size_t *n, size_t *cap,
		       char *note, size_t notecap)
{
	uint64_t at[VM_MAX_DIMMS], base = (ram_end + GiB - 1) & ~(GiB - 1);
	size_t used = 0;

	dimm_addrs(vi, base, at);
	for (size_t i = 0; i < vi->ndimms; i++) {
		const struct vm_dimm *d = &vi->dimms[i];
		const struct vm_backend *b = &vi->backends[d->backend];
		int amb;
		const struct vm_map *m = find_block(b, b->size, maps, nmaps, &amb);
		if (!m || amb) {
			if (note && used < notecap) {
				int w = snprintf(note + used, notecap - used, "%sDIMM %s (backend %s, "
						 "%llu bytes) left out: %s", used ? "; " : "",
						 d->id[0] ? d->id : "?", b->id,
						 (unsigned long long)b->size, m ? "several mappings "
						 "of its size could hold it" : "no mapping holds it");
				used += w > 0 ? (size_t)w : 0;
			}
			continue;
		}
		if (at[i] + b->size < at[i] || add_range(r, n, cap, at[i], b->size, m->start))
			return -1;
	}
	return 0;
}

int vm_layout(const struct vm_info *vi, const struct vm_map *maps, size_t nmaps, const char *who,
	      struct mem_range **out, size_t *nout, char *note, size_t notecap, struct aerr *err)
{
	struct piece pc[VM_MAX_BLOCKS];
	struct mem_range *r = NULL;
	size_t n = 0, cap = 0;
	uint64_t off = 0;

	*out = NULL;
	*nout = 0;
	if (note && notecap)
		note[0] = '\0';
	for (size_t i = 0; i < vi->nblocks; i++) {
		const struct vm_backend *b = vi->blocks[i] < 0 ? NULL : &vi->backends[vi->blocks[i]];
		uint64_t size = b ? b->size : vi->ram_size;
		int amb;
		const struct vm_map *m = find_block(b, size, maps, nmaps, &amb);
		if (!m)
			return aerr_set(err, ENOENT, "%s: layout cannot be determined: no mapping of "
					"%llu bytes holds its RAM%s%s", who, (unsigned long long)size,
					b ? " backend " : "", b ? b->id : "");
		if (amb)
			return aerr_set(err, ENOENT, "%s: layout cannot be determined: several "
					"mappings of %llu bytes could hold its RAM", who,
					(unsigned long long)size);
		pc[i] = (struct piece){ .off = off, .len = size, .hva = m->start };
		off += size;
	}
	uint64_t total = off;
	int ret = 0;
	if (vi->arm64) {
		if (!machine_is(vi->machine, "virt"))
			return aerr_set(err, ENOTSUP, "%s: layout of machine '%s' unknown (virt is)",
					who, vi->machine);
		ret = place(pc, vi->nblocks, 0, total, ARM64_VIRT_RAM, &r, &n, &cap);
		if (!ret)
			ret = place_dimms(vi, maps, nmaps, ARM64_VIRT_RAM + total, &r, &n, &cap,
					  note, notecap);
	} else {
		uint64_t low, max = vi->max_below_4g;
		if (machine_is(vi->machine, "q35") || machine_is(vi->machine, "pc-q35")) {
			low = total >= 0xb0000000ULL ? 0x80000000ULL : 0xb0000000ULL;
			if (max && low > max)
				low = max;
		} else if (machine_is(vi->machine, "pc") || machine_is(vi->machine, "pc-i440fx")) {
			low = max ? max : 0xe0000000ULL;
			if (total >= low && low > 0xc0000000ULL)
				low = 0xc0000000ULL;
		} else {
			return aerr_set(err, ENOTSUP, "%s: layout of machine '%s' unknown (pc and q35 "
					"are)", who, vi->machine);
		}
		uint64_t below = total < low ? total : low;
		ret = place(pc, vi->nblocks, 0, below, 0, &r, &n, &cap);
		if (!ret && total > below)
			ret = place(pc, vi->nblocks, below, total - below, FOUR_GIB, &r, &n, &cap);
		if (!ret)
			ret = place_dimms(vi, maps, nmaps, FOUR_GIB + (total - below), &r, &n, &cap,
					  note, notecap);
	}
	if (ret) {
		free(r);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	*out = r;
	*nout = n;
	return 0;
}
