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
 * On arm64 the module area is not fixed: with RANDOMIZE_MODULE_REGION_FULL
 * (Debian's config) modules are allocated anywhere in a 2 GiB window that
 * covers the kernel image (module_alloc_base, a data symbol kallsyms does
 * not list, lies in [_end - 2 GiB, _stext)), so the area carved is
 * [_stext - 2 GiB, _stext + 2 GiB), walked through swapper_pg_dir (4 KiB
 * granule: every table entry inside the area, each valid writable page or
 * 2 MiB block; writable: AP[2] clear, or DBM set), less the kernel image's
 * own mapping (va - pa == kimage_voffset).  A module that is still on the
 * list also leads to the views kallsyms cannot name there
 * (kcarve_views()).
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

#include "core/log.h"
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
	uint64_t lo, hi;	/* the module area carved */
	uint64_t *va, *pa;	/* the mapped pages of this pass, by va */
	size_t npages, next;	/* next: the page the next scan reads first */
	uint64_t known[KNOWN_MAX];	/* candidates found, re-checked every scan */
	size_t nknown;
	uint64_t passes;
	uint64_t modules, kset;	/* arm64: the views found from a carved module */
	int views_tried;	/* whether kcarve_views() said it looked in vain */
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

/* the mapped pages of the x86-64 module area, from the kernel page tables */
static int list_pages_x86(struct kernel *k, struct kcarve *c)
{
	struct vas *as = &k->kvas;
	uint64_t t = as->root & PTE_ADDR, e, pd[512], pt[512];
	size_t cap = 0;
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

#define A64_VALID 1ULL
#define A64_TABLE 2ULL
#define A64_RDONLY (1ULL << 7)	/* AP[2] */
#define A64_DBM (1ULL << 51)	/* writable, hardware-managed dirty state */
#define A64_OA 0x0000fffffffff000ULL
#define A64_WALK_MAX 4096	/* table pages read in a pass at most */

struct a64walk {
	struct kernel *k;
	struct kcarve *c;
	size_t cap, tables;
};

/* the entries of the table at pa that cover [lo, hi); level 0 is the last */
static int a64_table(struct a64walk *w, uint64_t pa, int level, uint64_t base, size_t n)
{
	struct kcarve *c = w->c;
	int shift = 12 + 9 * level;
	uint64_t ent[512];

	if (n > 512 || ++w->tables > A64_WALK_MAX ||
	    memsrc_read(w->k->kvas.mem, pa, ent, n * 8, NULL))
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t va = base + ((uint64_t)i << shift), size = 1ULL << shift, d = ent[i];
		if (va + size <= c->lo || va >= c->hi || !(d & A64_VALID))
			continue;
		if (level > 0 && (d & A64_TABLE)) {
			if (a64_table(w, d & A64_OA, level - 1, va, 512))
				return -1;
			continue;
		}
		/* a page (level 0, bit 1 set) or a 2 MiB block; larger blocks,
		 * read-only mappings and the kernel image are no module data */
		if ((level == 0 && !(d & A64_TABLE)) || level > 1 ||
		    ((d & A64_RDONLY) && !(d & A64_DBM)))
			continue;
		uint64_t opa = d & A64_OA & ~(size - 1);
		if (va - opa == w->k->prof->kimage_voffset)
			continue;
		for (uint64_t o = 0; o < size; o += 4096)
			if (va + o >= c->lo && va + o < c->hi && add_page(c, &w->cap, va + o, opa + o))
				return -1;
	}
	return 0;
}

static int list_pages_a64(struct kernel *k, struct kcarve *c)
{
	struct vas *as = &k->kvas;
	struct a64walk w = { .k = k, .c = c };
	int top = 12 + 9 * (as->levels - 1);

	if (as->granule_shift != 12 || as->levels < 3 || as->levels > 4 || as->va_bits <= top)
		return -1;
	return a64_table(&w, as->root, as->levels - 1, ~0ULL << as->va_bits,
			 (size_t)1 << (as->va_bits - top));
}

static int list_pages(struct kernel *k, struct kcarve *c)
{
	c->npages = c->next = 0;
	free(c->va);
	free(c->pa);
	c->va = c->pa = NULL;
	return c->lo == MODULES_VADDR ? list_pages_x86(k, c) : list_pages_a64(k, c);
}

static int in_area(const struct kcarve *c, uint64_t a)
{
	return a >= c->lo && a < c->hi;
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
	const struct kcarve *c = k->kcarve;
	const struct koffsets *o = &k->prof->off;
	uint64_t v, state;
	char name[64] = { 0 };
	size_t cap = o->module__name.size < sizeof(name) ? o->module__name.size : sizeof(name) - 1;
	int inside = 0;

	if (!in_area(c, m) || (m & 7) || vas_read_u64(&k->kvas, m + kobj_mod_off(o), &v) || v != m ||
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
		inside = in_area(c, base) && size < (1ULL << 30) && m >= base && m - base < size;
	} else {
		uint64_t sz = o->size_module_memory, mem = m + (uint64_t)o->module__mem.off;
		for (uint64_t i = 0; sz && i < o->module__mem.size / sz && !inside; i++) {
			uint64_t base = kernel_field(k, mem + i * sz, &o->module_memory__base);
			uint64_t size = kernel_field(k, mem + i * sz, &o->module_memory__size);
			inside = in_area(c, base) && size < (1ULL << 30) && m >= base && m - base < size;
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

	int arch = !strcmp(k->prof->arch->name, "x86_64") ||
		   (!strcmp(k->prof->arch->name, "aarch64") && k->prof->sym._stext &&
		    k->kvas.granule_shift == 12);

	return arch && o->module__mkobj.present &&
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
	kernel_part(k, kcarve_free);
	if (!c->hi) {
		if (!strcmp(k->prof->arch->name, "x86_64")) {
			c->lo = MODULES_VADDR;
			c->hi = MODULES_END;
		} else {
			uint64_t t = k->prof->sym._stext;
			c->lo = t - (2ULL << 30);
			c->hi = t + (2ULL << 30) > t ? t + (2ULL << 30) : ~0ULL;
		}
	}
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

/* ---- arm64: the views kallsyms does not name, from a carved module ---- */

/* va is the kernel image's own mapping (where `modules` is) */
static int in_image(struct kernel *k, uint64_t va)
{
	uint64_t pa;

	return !vas_translate(&k->kvas, va, &pa, NULL) && va - pa == k->prof->kimage_voffset;
}

/* head is the modules list: in the kernel image, every link's prev
 * naming the one before, no other entry in the image, m among them, back
 * to head within KNOWN_MAX * 16 entries (the collector skips and reports
 * entries that are no module) */
static int prove_modules(struct kernel *k, uint64_t head, uint64_t m)
{
	uint64_t loff = (uint64_t)k->prof->off.module__list.off, prev = head, node, back;
	int seen = 0;

	if (!in_image(k, head) || vas_read_u64(&k->kvas, head, &node))
		return 0;
	for (int n = 0; n < KNOWN_MAX * 16; n++) {
		if (vas_read_u64(&k->kvas, node + 8, &back) || back != prev)
			return 0;
		if (node == head)
			return seen;
		/* an entry that is no module (a decoy an attacker linked in,
		 * unformed: the kernel's walks pass over it) does not undo the
		 * proof; a second entry in the image would make the head
		 * ambiguous */
		if (in_image(k, node))
			return 0;
		seen |= node - loff == m && verify(k, m);
		prev = node;
		if (vas_read_u64(&k->kvas, node, &node))
			return 0;
	}
	return 0;
}

/* the first link after m's own that lies in the kernel image: the head */
static uint64_t find_head(struct kernel *k, uint64_t m)
{
	uint64_t loff = (uint64_t)k->prof->off.module__list.off, node;

	if (vas_read_u64(&k->kvas, m + loff, &node))
		return 0;
	for (int n = 0; n < KNOWN_MAX * 16 && node != m + loff; n++) {
		if (in_image(k, node))
			return prove_modules(k, node, m) ? node : 0;
		if (vas_read_u64(&k->kvas, node, &node))
			return 0;
	}
	return 0;
}

/* kset is module_kset: its kobject is named "module", its list goes back
 * to it, every module_kobject on it is a module's own mkobj (or a
 * built-in module's, mod NULL), m's among them */
static int prove_kset(struct kernel *k, uint64_t kset, uint64_t m)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t name, head = kset + (uint64_t)o->kset__list.off, prev = head, node, back, mod;
	uint64_t mkoff = (uint64_t)o->module__mkobj.off;
	char buf[8] = { 0 };
	int seen = 0;

	if (!kptr_ok(kset) ||
	    vas_read_u64(&k->kvas, kset + (uint64_t)o->kset__kobj.off + (uint64_t)o->kobject__name.off,
			 &name) || vas_read_str(&k->kvas, name, buf, sizeof(buf), NULL) < 0 ||
	    strcmp(buf, "module") || vas_read_u64(&k->kvas, head, &node))
		return 0;
	for (int n = 0; n < KNOWN_MAX * 64; n++) {
		if (vas_read_u64(&k->kvas, node + 8, &back) || back != prev)
			return 0;
		if (node == head)
			return seen;
		uint64_t mk = node - (uint64_t)o->kobject__entry.off - (uint64_t)o->module_kobject__kobj.off;
		/* a kobject that is no module's own (a decoy) is passed over */
		if (vas_read_u64(&k->kvas, mk + (uint64_t)o->module_kobject__mod.off, &mod))
			return 0;
		seen |= mod == m && mod + mkoff == mk;
		prev = node;
		if (vas_read_u64(&k->kvas, node, &node))
			return 0;
	}
	return 0;
}

int kcarve_views(struct kernel *k, uint64_t *modules, uint64_t *kset)
{
	const struct koffsets *o = &k->prof->off;
	struct kcarve *c = k->kcarve;

	if (!c || strcmp(k->prof->arch->name, "aarch64") || !o->kobject__kset.present ||
	    !o->kset__kobj.present || !o->kobject__name.present || !o->module__list.present)
		return -1;
	for (size_t i = 0; !c->modules && i < c->nknown; i++) {
		uint64_t m = c->known[i], head = find_head(k, m), ks = 0;
		if (!head)
			continue;
		if (vas_read_u64(&k->kvas, m + (uint64_t)o->module__mkobj.off +
				 (uint64_t)o->module_kobject__kobj.off + (uint64_t)o->kobject__kset.off,
				 &ks) || !prove_kset(k, ks, m))
			ks = 0;
		c->modules = head;
		c->kset = ks;
		klog(k, ALOG_INFO, "modules: the modules list at 0x%llx and module_kset 0x%llx found from the "
		     "struct module carved at 0x%llx (its list neighbours, its kobject's kset)",
		     (unsigned long long)head, (unsigned long long)ks, (unsigned long long)m);
	}
	if (!c->modules && c->passes > 1 && !c->views_tried) {
		c->views_tried = 1;
		klog(k, ALOG_INFO, "modules: no carved struct module leads to the modules list yet "
		     "(%zu found in %zu writable pages)", c->nknown, c->npages);
	}
	*modules = c->modules;
	*kset = c->kset;
	return c->modules ? 0 : -1;
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
