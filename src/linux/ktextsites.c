/* ktextsites.c - the sites of core kernel text the kernel rewrites itself
 * (see ktextmod.h for the list), and of a module's.
 *
 * The tables are read from guest memory once, bounded: at most 8192
 * ftrace pages and 1 << 20 records, 8 MiB of jump table and of static
 * call sites.  A site outside core text (init text, a module's) is not
 * kept.  What a site may hold is judged in ktextjudge.c.
 */
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux/ktextmod.h"
#include "linux/walk.h"

#define FTRACE_PAGES_MAX 8192
#define FTRACE_RECS_MAX (1u << 20)
#define TABLE_BYTES_MAX (8u << 20)

/* sites kept: those within [lo, hi), whose bytes at first sight are copy */
struct sitevec {
	struct ksite *v;
	size_t n, cap;
	uint64_t lo, hi;
	const uint8_t *copy;
};

static int add(struct sitevec *sv, uint64_t a, uint32_t len, uint8_t kind, uint64_t aux)
{
	if (a < sv->lo || a >= sv->hi || len > sv->hi - a)
		return 0;
	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? 2 * sv->cap : 1024;
		struct ksite *nv = realloc(sv->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		sv->v = nv;
		sv->cap = nc;
	}
	sv->v[sv->n++] = (struct ksite){ a, len, kind, aux };
	return 0;
}

static int ftrace_sites(struct kernel *k, struct sitevec *sv, char *why, size_t whycap)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t pg, esz = o->size_dyn_ftrace, total = 0;
	struct u64map seen;
	int ret = 0;

	if (vas_read_u64(&k->kvas, k->prof->sym.ftrace_pages_start, &pg)) {
		snprintf(why, whycap, "ftrace_pages_start unreadable");
		return -1;
	}
	u64map_init(&seen);
	for (uint32_t n = 0; pg; n++) {
		uint64_t recs = kernel_field(k, pg, &o->ftrace_page__records), idx = 0;
		uint8_t *buf;
		if (!kptr_ok(pg) || n >= FTRACE_PAGES_MAX || u64map_test_and_set(&seen, pg) ||
		    kfield_read(&k->kvas, pg, &o->ftrace_page__index, &idx) ||
		    (total += (uint32_t)idx) > FTRACE_RECS_MAX || (idx && !kptr_ok(recs))) {
			snprintf(why, whycap, "ftrace pages: implausible page or limit reached");
			ret = -1;
			break;
		}
		idx = (uint32_t)idx;
		if (idx && (buf = malloc(idx * esz))) {
			if (vas_read(&k->kvas, recs, buf, idx * esz, NULL)) {
				free(buf);
				snprintf(why, whycap, "ftrace records unreadable");
				ret = -1;
				break;
			}
			for (uint64_t i = 0; i < idx; i++) {
				uint64_t ip;
				memcpy(&ip, buf + i * esz + o->dyn_ftrace__ip.off, 8);
				if (add(sv, ip, 5, KSITE_FTRACE, 0)) {
					ret = -1;
					break;
				}
			}
			free(buf);
		} else if (idx) {
			ret = -1;
		}
		if (ret || vas_read_u64(&k->kvas, pg + (uint64_t)o->ftrace_page__next.off, &pg)) {
			if (!ret)
				snprintf(why, whycap, "ftrace pages unreadable");
			ret = -1;
			break;
		}
	}
	u64map_free(&seen);
	return ret;
}

/* a table of 32-bit self-relative entries (each esz bytes): jump labels
 * (code, target) or static call sites (addr) */
static int rel_table(struct kernel *k, struct sitevec *sv, uint64_t start, uint64_t stop,
		     uint32_t esz, uint8_t kind, char *why, size_t whycap)
{
	uint8_t *tab;

	if (stop < start || stop - start > TABLE_BYTES_MAX || (stop - start) % esz) {
		snprintf(why, whycap, "%s: implausible table",
			 kind == KSITE_JUMP ? "__jump_table" : "static_call_sites");
		return -1;
	}
	tab = malloc(stop - start + 1);
	if (!tab || vas_read(&k->kvas, start, tab, stop - start, NULL)) {
		free(tab);
		snprintf(why, whycap, "%s unreadable",
			 kind == KSITE_JUMP ? "__jump_table" : "static_call_sites");
		return -1;
	}
	for (uint64_t off = 0; off < stop - start; off += esz) {
		int32_t rel, trel;
		memcpy(&rel, tab + off, 4);
		memcpy(&trel, tab + off + 4, 4);
		uint64_t a = start + off + (int64_t)rel, aux = 0;
		uint32_t len = 5;
		if (kind == KSITE_JUMP) {
			aux = start + off + 4 + (int64_t)trel;
			/* 2 bytes: a jmp8 or a 2-byte nop, as the first scan read it */
			if (a >= sv->lo && a < sv->hi && sv->hi - a >= 2) {
				const uint8_t *c = sv->copy + (a - sv->lo);
				if (c[0] == 0xeb || (c[0] == 0x66 && c[1] == 0x90))
					len = 2;
			}
		}
		if (add(sv, a, len, kind, aux)) {
			free(tab);
			return -1;
		}
	}
	free(tab);
	return 0;
}

/* jump_entry is 16 bytes with relative code/target (x86-64 since 5.0);
 * static_call_site 8, a relative address and key */
#define JUMP_ENTRY_SIZE 16
#define SCALL_SITE_SIZE 8

static int ftrace_known(struct kernel *k)
{
	const struct koffsets *o = &k->prof->off;

	return k->prof->sym.ftrace_pages_start && o->ftrace_page__next.present &&
	       o->ftrace_page__records.present && o->ftrace_page__index.present &&
	       o->dyn_ftrace__ip.present && o->size_dyn_ftrace >= 8 && o->size_dyn_ftrace <= 64;
}

static uint64_t slid(struct kernel *k, uint64_t a)
{
	return a + (k->prof->isf_link_addrs ? k->prof->kaslr_slide : 0);
}

static int by_addr(const void *a, const void *b)
{
	const struct ksite *x = a, *y = b;
	return x->addr != y->addr ? (x->addr < y->addr ? -1 : 1) : (x->kind > y->kind) - (x->kind < y->kind);
}

/* sv's sites sorted into *v, *n; or, on ret, none (why said) */
static int sites_done(struct sitevec *sv, int ret, struct ksite **v, size_t *n, char *why,
		      size_t whycap)
{
	if (ret) {
		if (!why[0])
			snprintf(why, whycap, "out of memory");
		free(sv->v);
		return -1;
	}
	if (sv->n)
		qsort(sv->v, sv->n, sizeof(*sv->v), by_addr);
	*v = sv->v;
	*n = sv->n;
	return 0;
}

int ktext_sites_read(struct kernel *k, const struct ktext *t, struct ktext_base *b, char *why,
		     size_t whycap)
{
	const struct kaddrs *a = &k->prof->sym;
	const struct koffsets *o = &k->prof->off;
	struct sitevec sv = { .lo = t->stext, .hi = t->etext, .copy = b->copy };
	int ret = 0;

	if (ftrace_known(k))
		ret = ftrace_sites(k, &sv, why, whycap);
	if (!ret && a->__start___jump_table)
		ret = rel_table(k, &sv, a->__start___jump_table, a->__stop___jump_table,
				JUMP_ENTRY_SIZE, KSITE_JUMP, why, whycap);
	if (!ret && a->__start_static_call_sites)
		ret = rel_table(k, &sv, a->__start_static_call_sites, a->__stop_static_call_sites,
				SCALL_SITE_SIZE, KSITE_SCALL, why, whycap);
	if (!ret && a->__static_call_text_start && a->__static_call_text_end > a->__static_call_text_start &&
	    a->__static_call_text_end - a->__static_call_text_start < (1u << 20))
		ret = add(&sv, a->__static_call_text_start,
			  (uint32_t)(a->__static_call_text_end - a->__static_call_text_start),
			  KSITE_SCTRAMP, 0);
	uint64_t fc[] = { a->ftrace_call, a->ftrace_regs_call, a->ftrace_graph_call };
	for (size_t i = 0; !ret && i < 3; i++)
		if (fc[i])
			ret = add(&sv, fc[i], 5, KSITE_FCALLER, 0);
	/* BPF dispatchers: bpf_dispatcher_NAME_func, patched at its entry */
	for (size_t i = 0; !ret && i < t->n && o->bpf_dispatcher__image.present; i++) {
		const char *n = ksyms_name(k->prof->syms, t->by_addr[i].sym);
		size_t l = n ? strlen(n) : 0;
		uint64_t d, e = t->by_addr[i].addr;
		char dn[128];
		if (l < 21 || l >= sizeof(dn) || strncmp(n, "bpf_dispatcher_", 15) ||
		    strcmp(n + l - 5, "_func") || !ktext_core(t, e) || e + 9 > t->etext)
			continue;
		memcpy(dn, n, l - 5);
		dn[l - 5] = 0;
		if (ksyms_lookup(k->prof->syms, dn, &d))
			continue;
		e += ktext_endbr(b->copy + (e - t->stext));
		ret = add(&sv, e, 5, KSITE_BPFDISP, slid(k, d));
		if (!ret && b->nimages < 16) {
			uint64_t *nv = realloc(b->images, (b->nimages + 1) * sizeof(*nv));
			if (nv) {
				b->images = nv;
				b->images[b->nimages++] = slid(k, d);
			}
		}
	}
	struct ksite *v;
	size_t n;
	if (sites_done(&sv, ret, &v, &n, why, whycap))
		return -1;
	/* A BPF dispatcher's entry is also an ftrace call site where the
	 * function is traceable (5.10, 6.1): the function tracer writes its
	 * call there as it does at any function.  One site, judged by the
	 * dispatcher's rules, which take the ftrace site's forms too. */
	size_t keep = 0;
	for (size_t i = 0; i < n; i++)
		if (!(v[i].kind == KSITE_FTRACE && i + 1 < n && v[i + 1].addr == v[i].addr &&
		      v[i + 1].kind == KSITE_BPFDISP))
			v[keep++] = v[i];
	b->sites = v;
	b->nsites = keep;
	for (size_t i = 0; i < keep; i++)
		b->counts[v[i].kind]++;
	return 0;
}

const struct ksite *ktext_site_in(const struct ksite *v, size_t n, uint64_t a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && a < v[lo - 1].addr + v[lo - 1].len)
		return &v[lo - 1];
	return NULL;
}

const struct ksite *ktext_site_find(const struct ktext_base *b, uint64_t a)
{
	return ktext_site_in(b->sites, b->nsites, a);
}

int ktext_ftrace_sites(struct kernel *k, uint64_t lo, uint64_t hi, struct ksite **v, size_t *n,
		       char *why, size_t whycap)
{
	struct sitevec sv = { .lo = lo, .hi = hi };

	*v = NULL;
	*n = 0;
	if (!ftrace_known(k))
		return 0;
	return sites_done(&sv, ftrace_sites(k, &sv, why, whycap), v, n, why, whycap);
}

int ktext_jump_sites(struct kernel *k, uint64_t lo, uint64_t hi, const uint8_t *copy,
		     struct ksite **v, size_t *n, char *why, size_t whycap)
{
	const struct kaddrs *a = &k->prof->sym;
	struct sitevec sv = { .lo = lo, .hi = hi, .copy = copy };

	*v = NULL;
	*n = 0;
	return sites_done(&sv, rel_table(k, &sv, a->__start___jump_table, a->__stop___jump_table,
					 JUMP_ENTRY_SIZE, KSITE_JUMP, why, whycap),
			  v, n, why, whycap);
}

/* a module's own table of relative entries (its jump labels, its static
 * call sites): the pointer and count fields of struct module; none when
 * the profile lacks them or the count is 0 */
static int module_table(struct kernel *k, struct sitevec *sv, uint64_t mod, const struct kfield *ptr,
			const struct kfield *cnt, uint32_t esize, uint8_t kind, const char *what,
			char *why, size_t whycap)
{
	uint64_t tab, num;

	if (!ptr->present || !cnt->present || kfield_read(&k->kvas, mod, ptr, &tab) ||
	    kfield_read(&k->kvas, mod, cnt, &num) || !(uint32_t)num)
		return 0;
	/* a kernel address, not always aligned: objtool's .static_call_sites
	 * asks for none (virtio_net's is at an odd address on 6.1) */
	if (!kaddr_ok(tab) || (uint32_t)num > TABLE_BYTES_MAX / esize) {
		snprintf(why, whycap, "implausible %s (at 0x%" PRIx64 ", %u entries)", what, tab,
			 (uint32_t)num);
		return -1;
	}
	return rel_table(k, sv, tab, tab + (uint32_t)num * esize, esize, kind, why, whycap);
}

int ktext_module_sites(struct kernel *k, uint64_t mod, uint64_t lo, uint64_t hi, const uint8_t *copy,
		       const struct ksite *ft, size_t nft, struct ksite **v, size_t *n, char *why,
		       size_t whycap)
{
	const struct koffsets *o = &k->prof->off;
	struct sitevec sv = { .lo = lo, .hi = hi, .copy = copy };
	int ret = 0;

	for (const struct ksite *f = ft; f < ft + nft && !ret; f++)
		ret = add(&sv, f->addr, f->len, f->kind, f->aux);
	if (!ret)
		ret = module_table(k, &sv, mod, &o->module__jump_entries, &o->module__num_jump_entries,
				   JUMP_ENTRY_SIZE, KSITE_JUMP, "jump_entries", why, whycap);
	if (!ret)
		ret = module_table(k, &sv, mod, &o->module__static_call_sites,
				   &o->module__num_static_call_sites, SCALL_SITE_SIZE, KSITE_SCALL,
				   "static_call_sites", why, whycap);
	return sites_done(&sv, ret, v, n, why, whycap);
}
