/* kcarve.c - struct module candidates carved from module memory: a module
 * that unlinked itself from all three of the kernel's views (the modules
 * list, module_kset, mod_tree) is still in the memory it was loaded into.
 *
 * The module area [MODULES_VADDR, MODULES_END) (x86-64: the 1008 MiB
 * below 0xffffffffff000000, one PDPT entry) is walked through the kernel
 * page tables: its page directory, then the page table of each present
 * 2 MiB entry; only mapped writable pages are read (the kernel writes a
 * struct module as it runs: its state, its reference count; module text
 * and read-only data, and BPF images, are mapped read-only).  The list of mapped pages is
 * taken at the start of each pass; each scan reads the next CARVE_PAGES of
 * them (4 KiB each, plus the page after, past the scan cache), so a pass
 * over M mapped pages takes M / CARVE_PAGES scans.
 *
 * A candidate is an 8-aligned address m in a mapped page that points back
 * at itself twice, as the kernel writes every struct module it loads:
 *   - mod->mkobj.mod == m (module_kobject.mod, set when its sysfs
 *     directory is made; kobject_del leaves it);
 *   - the module's own mod_tree node names it: core_layout.mtn.mod (6.1)
 *     or mem[MOD_TEXT].mtn.mod (6.4+) == m (set when it enters mod_tree;
 *     latch_tree_erase leaves it);
 * and, read through the page tables as they are now:
 *   - its state is 0..3 (live, coming, going, unformed);
 *   - its name is printable and NUL-terminated within module.name;
 *   - its memory lies in the module area and holds m itself: core_layout
 *     [base, base + size) (6.1), or one of mem[] (6.4+: MOD_DATA).
 * Found candidates are kept (at most KNOWN_MAX) and re-checked every scan
 * the same way; one that fails is dropped (its memory was freed: vfree
 * unmaps it).  Each is added to the scan's modules with view
 * SNAP_KMOD_CARVE (modules.c); one in no other view is hidden from all of
 * them (detect/kmod.c).
 *
 * Ownership: struct kcarve belongs to the struct kernel (k->kcarve),
 * freed by kcarve_free().
 */
#include <stdlib.h>
#include <string.h>

#include "linux/kcarve.h"
#include "linux/walk.h"

#define MODULES_VADDR 0xffffffffc0000000ULL
#define MODULES_END 0xffffffffff000000ULL
#define CARVE_PAGES 64		/* pages read per scan */
#define PAGES_MAX (1u << 18)	/* the whole area in 4 KiB pages */
#define KNOWN_MAX 256
#define PTE_ADDR 0x000ffffffffff000ULL
#define PTE_P 1ULL
#define PTE_RW 2ULL
#define PTE_PS 0x80ULL

struct kcarve {
	uint64_t *va, *pa;	/* the mapped pages of this pass, by va */
	size_t npages, next;	/* next: the page the next scan reads first */
	uint64_t known[KNOWN_MAX];	/* candidates found, re-checked every scan */
	size_t nknown;
	uint64_t passes;
};

static int add_page(struct kcarve *c, size_t *cap, uint64_t va, uint64_t pa)
{
	if (c->npages >= PAGES_MAX)
		return -1;
	if (c->npages == *cap) {
		size_t nc = *cap ? 2 * *cap : 1024;
		uint64_t *v = realloc(c->va, nc * sizeof(*v)), *p;
		if (!v)
			return -1;
		c->va = v;
		if (!(p = realloc(c->pa, nc * sizeof(*p))))
			return -1;
		c->pa = p;
		*cap = nc;
	}
	c->va[c->npages] = va;
	c->pa[c->npages++] = pa;
	return 0;
}

/* the mapped pages of the module area, from the kernel page tables */
static int list_pages(struct kernel *k, struct kcarve *c)
{
	struct vas *as = &k->kvas;
	uint64_t t = as->root & PTE_ADDR, e, pd[512], pt[512];
	size_t cap = 0;

	c->npages = c->next = 0;
	free(c->va);
	free(c->pa);
	c->va = c->pa = NULL;
	/* PML5 (5 levels), PML4, PDPT: one entry each for the module area */
	for (int shift = as->levels == 5 ? 48 : 39; shift >= 30; shift -= 9) {
		if (memsrc_read(as->mem, t + 8 * ((MODULES_VADDR >> shift) & 511), &e, 8, NULL) ||
		    !(e & PTE_P) || (e & PTE_PS))	/* a 1 GiB page is no module memory */
			return -1;
		t = e & PTE_ADDR;
	}
	if (memsrc_read(as->mem, t, pd, sizeof(pd), NULL))
		return -1;
	for (uint64_t i = 0; i < (MODULES_END - MODULES_VADDR) >> 21; i++) {
		uint64_t base = MODULES_VADDR + (i << 21);
		if (!(pd[i] & PTE_P))
			continue;
		if ((pd[i] & PTE_PS) && !(pd[i] & PTE_RW))
			continue;
		if (pd[i] & PTE_PS) {	/* a 2 MiB page */
			for (uint64_t j = 0; j < 512; j++)
				if (add_page(c, &cap, base + (j << 12), (pd[i] & 0x000fffffffe00000ULL) + (j << 12)))
					return -1;
			continue;
		}
		if (memsrc_read(as->mem, pd[i] & PTE_ADDR, pt, sizeof(pt), NULL))
			return -1;
		for (uint64_t j = 0; j < 512; j++)
			if ((pt[j] & (PTE_P | PTE_RW)) == (PTE_P | PTE_RW) &&
			    add_page(c, &cap, base + (j << 12), pt[j] & PTE_ADDR))
				return -1;
	}
	return 0;
}

static int in_area(uint64_t a)
{
	return a >= MODULES_VADDR && a < MODULES_END;
}

/* the offset of the module's own mod_tree_node's `mod` in struct module */
static uint64_t mtn_mod_off(const struct koffsets *o)
{
	if (o->module__core_layout.present)
		return (uint64_t)o->module__core_layout.off + (uint64_t)o->module_layout__mtn.off +
		       (uint64_t)o->mod_tree_node__mod.off;
	return (uint64_t)o->module__mem.off + (uint64_t)o->module_memory__mtn.off +
	       (uint64_t)o->mod_tree_node__mod.off;
}

static uint64_t kobj_mod_off(const struct koffsets *o)
{
	return (uint64_t)o->module__mkobj.off + (uint64_t)o->module_kobject__mod.off;
}

/* m is a struct module, read through the page tables as they are now */
static int verify(struct kernel *k, uint64_t m)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t v, state;
	char name[64] = { 0 };
	size_t cap = o->module__name.size < sizeof(name) ? o->module__name.size : sizeof(name) - 1;
	int inside = 0;

	if (!in_area(m) || (m & 7) || vas_read_u64(&k->kvas, m + kobj_mod_off(o), &v) || v != m ||
	    vas_read_u64(&k->kvas, m + mtn_mod_off(o), &v) || v != m ||
	    kfield_read(&k->kvas, m, &o->module__state, &state) || state > 3 ||
	    vas_read(&k->kvas, m + (uint64_t)o->module__name.off, name, cap, NULL))
		return 0;
	size_t n = 0;
	while (n < cap && name[n] > ' ' && name[n] <= '~')
		n++;
	if (!n || n >= cap || name[n])
		return 0;
	if (o->module__core_layout.present) {
		uint64_t core = m + (uint64_t)o->module__core_layout.off;
		uint64_t base = kernel_field(k, core, &o->module_layout__base);
		uint64_t size = kernel_field(k, core, &o->module_layout__size);
		inside = in_area(base) && size < (1ULL << 30) && m >= base && m - base < size;
	} else {
		uint64_t sz = o->size_module_memory, mem = m + (uint64_t)o->module__mem.off;
		for (uint64_t i = 0; sz && i < o->module__mem.size / sz && !inside; i++) {
			uint64_t base = kernel_field(k, mem + i * sz, &o->module_memory__base);
			uint64_t size = kernel_field(k, mem + i * sz, &o->module_memory__size);
			inside = in_area(base) && size < (1ULL << 30) && m >= base && m - base < size;
		}
	}
	return inside;
}

static void remember(struct kcarve *c, uint64_t m)
{
	for (size_t i = 0; i < c->nknown; i++)
		if (c->known[i] == m)
			return;
	if (c->nknown < KNOWN_MAX)
		c->known[c->nknown++] = m;
}

/* this scan's share of the pass */
static void carve_pages(struct kernel *k, struct kcarve *c)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t koff = kobj_mod_off(o), toff = mtn_mod_off(o);
	uint8_t buf[8192];

	for (size_t n = 0; n < CARVE_PAGES && c->next < c->npages; n++, c->next++) {
		size_t i = c->next;
		uint64_t va = c->va[i];
		memset(buf + 4096, 0, 4096);
		if (memsrc_peek(k->kvas.mem, c->pa[i], buf, 4096, NULL))
			continue;
		if (i + 1 < c->npages && c->va[i + 1] == va + 4096 &&
		    memsrc_peek(k->kvas.mem, c->pa[i + 1], buf + 4096, 4096, NULL))
			memset(buf + 4096, 0, 4096);
		for (uint64_t off = 0; off < 4096; off += 8) {
			uint64_t a, b;
			if (off + koff + 8 > sizeof(buf) || off + toff + 8 > sizeof(buf))
				break;
			memcpy(&a, buf + off + koff, 8);
			if (a != va + off)
				continue;
			memcpy(&b, buf + off + toff, 8);
			if (b == va + off && verify(k, va + off))
				remember(c, va + off);
		}
	}
}

int kcarve_supported(const struct kernel *k)
{
	const struct koffsets *o = &k->prof->off;

	return !strcmp(k->prof->arch->name, "x86_64") && o->module__mkobj.present &&
	       o->module_kobject__mod.present && o->mod_tree_node__mod.present &&
	       o->module__name.present && o->module__state.present &&
	       ((o->module__core_layout.present && o->module_layout__mtn.present &&
		 o->module_layout__base.present && o->module_layout__size.present) ||
		(o->module__mem.present && o->module_memory__mtn.present &&
		 o->module_memory__base.present && o->module_memory__size.present &&
		 o->size_module_memory));
}

size_t kcarve_scan(struct kernel *k, uint64_t *out, size_t cap)
{
	struct kcarve *c = k->kcarve;
	size_t n = 0;

	if (!c && !(c = k->kcarve = calloc(1, sizeof(*c))))
		return 0;
	if (c->next >= c->npages) {
		if (list_pages(k, c))
			c->npages = c->next = 0;	/* tried again next scan */
		else
			c->passes++;
	}
	carve_pages(k, c);
	size_t keep = 0;
	for (size_t i = 0; i < c->nknown; i++)
		if (verify(k, c->known[i]))
			c->known[keep++] = c->known[i];
	c->nknown = keep;
	for (size_t i = 0; i < c->nknown && n < cap; i++)
		out[n++] = c->known[i];
	return n;
}

void kcarve_stats(const struct kernel *k, uint64_t *pages, uint64_t *passes, uint64_t *known)
{
	const struct kcarve *c = k->kcarve;

	*known = c ? c->nknown : 0;
	*pages = c ? c->npages : 0;
	*passes = c ? c->passes : 0;
}

void kcarve_free(struct kernel *k)
{
	struct kcarve *c = k->kcarve;

	if (!c)
		return;
	free(c->va);
	free(c->pa);
	free(c);
	k->kcarve = NULL;
}
