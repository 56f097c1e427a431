/* profile.c - find, load and verify the kernel profile of a memory source. */
#include "profile/profile.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "profile/a64ref.h"
#include "profile/imgscan.h"
#include "profile/isf.h"
#include "profile/kfind.h"
#include "profile/kallsyms.h"

#define X86_START_KERNEL_MAP 0xffffffff80000000ULL
#define KIMAGE_MAX (1ULL << 30)		/* a kernel image larger than this is bogus */

/* ---- the table of fields and symbols we resolve ---- */

struct field_spec {
	const char *type, *member;
	size_t off;		/* offsetof(struct koffsets, ...) */
};

#define KF_SPEC(t, m) { #t, #m, offsetof(struct koffsets, t##__##m) },
static const struct field_spec field_specs[] = {
	KFIELDS_TASK(KF_SPEC)
	KFIELDS_FS(KF_SPEC)
	KFIELDS_NET(KF_SPEC)
	KFIELDS_MM(KF_SPEC)
	KFIELDS_NS(KF_SPEC)
	KFIELDS_KMOD(KF_SPEC)
	KFIELDS_BPF(KF_SPEC)
	KFIELDS_HOOK(KF_SPEC)
	KFIELDS_KTEXT(KF_SPEC)
};
#undef KF_SPEC

/* older names of the same member */
static const struct { const char *type, *member, *alias; } field_aliases[] = {
	{ "task_struct", "__state", "state" },
	{ "task_struct", "start_boottime", "real_start_time" },
};

/* what a profile must resolve to be usable at all */
static const char *const required_fields[] = {
	"task_struct.tasks", "task_struct.pid", "task_struct.tgid", "task_struct.comm",
	"task_struct.real_parent", "task_struct.real_cred", "task_struct.__state",
	"task_struct.mm", "cred.uid", "cred.gid", "cred.euid", "cred.egid",
	"uts_namespace.name", "new_utsname.release", "list_head.next",
};

struct sym_spec {
	const char *name;
	size_t off;
};
#define KS_SPEC(s) { #s, offsetof(struct kaddrs, s) },
static const struct sym_spec sym_specs[] = {
	KSYMS_LIST(KS_SPEC)
};
#undef KS_SPEC

static const char *const required_syms[] = { "init_task", "init_uts_ns" };

static void emit(const struct profile_opts *o, enum profile_event ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void emit(const struct profile_opts *o, enum profile_event ev, const char *fmt, ...)
{
	char detail[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (o && o->event)
		o->event(o->event_ctx, ev, detail);
	else
		alog_debug("profile: %s", detail);
}

void profile_free(struct kprofile *p)
{
	if (!p)
		return;
	vmci_free(&p->vmci);
	ksyms_free(p->syms);
	ktypes_free(p->types);
	free(p);
}

int profile_symbol(const struct kprofile *p, const char *name, uint64_t *addr)
{
	uint64_t a;

	if (ksyms_lookup(p->syms, name, &a))
		return -ENOENT;
	*addr = p->isf_link_addrs ? a + p->kaslr_slide : a;
	return 0;
}

void profile_kernel_vas(const struct kprofile *p, struct memsrc *m, struct vas *as)
{
	vas_init(as, m, p->arch, p->kernel_pgd_pa, p->levels);
	vas_set_geometry(as, p->kernel_va_bits, p->page_shift);
	if (p->page_offset_base) {
		/* from the start of the direct map, or of memory if that lies
		 * higher (arm64 PHYS_OFFSET may sit below RAM) */
		uint64_t lo = p->dmap_pa, end = memsrc_end(m);
		if (m->nranges && (int64_t)lo < (int64_t)m->ranges[0].pa)
			lo = m->ranges[0].pa;
		uint64_t size = end > lo ? end - lo : 0;
		if (size > p->dmap_size)
			size = p->dmap_size;
		if (size)
			vas_add_linear(as, p->page_offset_base + (lo - p->dmap_pa), size, lo);
	}
	if (p->sym._text && p->sym._end > p->sym._text &&
	    p->sym._end - p->sym._text < KIMAGE_MAX)
		vas_add_linear(as, p->sym._text, p->sym._end - p->sym._text,
			       p->sym._text - p->kimage_voffset);
}

void profile_user_vas(const struct kprofile *p, struct memsrc *m, uint64_t root,
		      struct vas *as)
{
	vas_init(as, m, p->arch, root, p->levels);
	vas_set_geometry(as, p->va_bits, p->page_shift);
}

int profile_lm_to_phys(const struct kprofile *p, uint64_t va, uint64_t *pa)
{
	if (!p->page_offset_base || va < p->page_offset_base ||
	    va - p->page_offset_base >= p->dmap_size)
		return -EFAULT;
	*pa = va - p->page_offset_base + p->dmap_pa;
	return 0;
}

int profile_page_to_phys(const struct kprofile *p, uint64_t page, uint64_t *pa)
{
	uint64_t psz = p->off.size_page;

	if (!psz || !p->vmemmap_start || page < p->vmemmap_start)
		return -ERANGE;
	uint64_t idx = (page - p->vmemmap_start) / psz;
	if (idx >> (64 - p->page_shift))
		return -ERANGE;
	*pa = (idx + p->vmemmap_pfn) << p->page_shift;
	return 0;
}

int kfield_read(struct vas *as, uint64_t base, const struct kfield *f, uint64_t *val)
{
	uint64_t v = 0;

	if (!f->present)
		return -ENOENT;
	if (f->size == 0 || f->size > 8)
		return -EINVAL;
	int ret = vas_read(as, base + (uint64_t)f->off, &v, f->size, NULL);
	if (ret)
		return ret;
	if (f->bits) {
		v >>= f->bitpos;
		if (f->bits < 64)
			v &= (1ULL << f->bits) - 1;
	}
	*val = v;
	return 0;
}

static int resolve_member(struct ktypes *t, const char *type, const char *member,
			  struct kfield *f)
{
	struct kmember km;
	int ret = ktypes_member(t, type, member, &km);

	for (size_t i = 0; ret && i < sizeof(field_aliases) / sizeof(field_aliases[0]); i++)
		if (!strcmp(field_aliases[i].type, type) && !strcmp(field_aliases[i].member, member))
			ret = ktypes_member(t, type, field_aliases[i].alias, &km);
	if (ret)
		return ret;
	memset(f, 0, sizeof(*f));
	f->present = 1;
	if (km.bit_size) {
		/* a bitfield: address the 8-byte unit holding it */
		uint64_t byte = km.bit_offset / 8;
		f->off = (int32_t)(byte & ~7ULL);
		f->bitpos = (uint8_t)(km.bit_offset - (uint64_t)f->off * 8);
		f->bits = (uint8_t)km.bit_size;
		f->size = 8;
	} else {
		f->off = (int32_t)(km.bit_offset / 8);
		f->size = (uint16_t)(km.size > 0xffff ? 0xffff : km.size);
	}
	return 0;
}

int ktypes_kfield(struct ktypes *t, const char *type, const char *member, struct kfield *f)
{
	memset(f, 0, sizeof(*f));
	return resolve_member(t, type, member, f);
}

/* Where to look for what kallsyms lacks: read-only data lies between the
 * end of text and the init sections, data after them (arm64 layout). */
static void image_bounds(const struct kprofile *p, uint64_t *etext, uint64_t *init)
{
	uint64_t a = 0;

	*etext = *init = 0;
	if (!profile_symbol(p, "_etext", &a) || !vmci_symbol(&p->vmci, "_stext", &a) ||
	    !profile_symbol(p, "_stext", &a))
		*etext = a;
	if (!profile_symbol(p, "__init_begin", &a) && a > *etext)
		*init = a;
}

/* Symbols a kernel without CONFIG_KALLSYMS_ALL does not list: found by
 * content in the image, or by following pointers from init_task. */
static void derive_syms(struct kprofile *p, struct vas *as)
{
	const struct koffsets *o = &p->off;
	uint64_t etext, init, v;

	image_bounds(p, &etext, &init);
	if (!p->sym.init_task && etext &&
	    !imgscan_init_task(as, o, init ? init : etext, (init ? init : etext) + IMGSCAN_MAX, &v)) {
		p->sym.init_task = v;
		alog_info("profile: init_task found by content at 0x%llx", (unsigned long long)v);
	}
	uint64_t t = p->sym.init_task;
	if (t && !p->sym.init_pid_ns && o->pid__numbers.present && o->upid__ns.present &&
	    !kfield_read(as, t, &o->task_struct__thread_pid, &v) && v >= 0xff00000000000000ULL &&
	    !vas_read_u64(as, v + (uint64_t)o->pid__numbers.off + (uint64_t)o->upid__ns.off, &v) &&
	    v >= 0xff00000000000000ULL)
		p->sym.init_pid_ns = v;
	if (t && !p->sym.init_net && o->nsproxy__net_ns.present &&
	    !kfield_read(as, t, &o->task_struct__nsproxy, &v) && v >= 0xff00000000000000ULL &&
	    !kfield_read(as, v, &o->nsproxy__net_ns, &v) && v >= 0xff00000000000000ULL)
		p->sym.init_net = v;
	char version[65] = "";
	if (p->sym.init_uts_ns && o->new_utsname__version.present &&
	    !vas_read(as, p->sym.init_uts_ns + (uint64_t)o->uts_namespace__name.off +
		      (uint64_t)o->new_utsname__version.off, version, sizeof(version), NULL))
		version[sizeof(version) - 1] = '\0';
	if (!p->sym.linux_banner && etext &&
	    !imgscan_banner(as, etext, init ? init : etext + IMGSCAN_MAX, p->vmci.osrelease,
			    version, &v))
		p->sym.linux_banner = v;
	/* wall-clock offsets for creation times: a timekeeper in the data */
	if (!p->sym.shadow_timekeeper && (init || etext) &&
	    !imgscan_timekeeper(as, o, init ? init : etext, (init ? init : etext) + IMGSCAN_MAX, &v)) {
		p->sym.shadow_timekeeper = v;
		alog_info("profile: a timekeeper found by content at 0x%llx", (unsigned long long)v);
	}
	if (p->arch == &arch_aarch64)
		a64ref_derive(p, as);
}

/* Add what VMCOREINFO or derivation found to the symbol table, so that a
 * profile written from it (argus profile) has them too. */
static void publish_syms(struct kprofile *p)
{
	const char *sbase = (const char *)&p->sym;
	uint64_t a;
	int added = 0;

	for (size_t i = 0; i < sizeof(sym_specs) / sizeof(sym_specs[0]); i++) {
		uint64_t v = *(const uint64_t *)(sbase + sym_specs[i].off);
		const char *name = sym_specs[i].name;
		if (v && ksyms_lookup(p->syms, name, &a) &&
		    !ksyms_add(p->syms, name, strlen(name), v, '?'))
			added++;
	}
	if (added && ksyms_finish(p->syms))
		alog_error("profile: out of memory indexing symbols");
}

/* Resolve fields and symbols; with as (auto profiles), fill what kallsyms
 * lacks from VMCOREINFO and by derivation. */
static int resolve_all(struct kprofile *p, struct vas *as, struct aerr *err)
{
	char *base = (char *)&p->off;

	for (size_t i = 0; i < sizeof(field_specs) / sizeof(field_specs[0]); i++) {
		const struct field_spec *s = &field_specs[i];
		struct kfield *f = (struct kfield *)(base + s->off);
		if (resolve_member(p->types, s->type, s->member, f))
			alog_debug("profile: %s.%s not in this kernel", s->type, s->member);
	}
	for (size_t i = 0; i < sizeof(required_fields) / sizeof(required_fields[0]); i++) {
		char type[64];
		const char *dot = strchr(required_fields[i], '.');
		snprintf(type, sizeof(type), "%.*s", (int)(dot - required_fields[i]),
			 required_fields[i]);
		for (size_t j = 0; j < sizeof(field_specs) / sizeof(field_specs[0]); j++) {
			const struct field_spec *s = &field_specs[j];
			if (strcmp(s->type, type) || strcmp(s->member, dot + 1))
				continue;
			if (!((struct kfield *)(base + s->off))->present)
				return aerr_set(err, ENOENT, "the kernel types (%s) lack %s",
						p->types->desc, required_fields[i]);
		}
	}
	ktypes_size(p->types, "task_struct", &p->off.size_task_struct);
	ktypes_size(p->types, "upid", &p->off.size_upid);
	ktypes_size(p->types, "page", &p->off.size_page);
	ktypes_size(p->types, "file", &p->off.size_file);
	ktypes_size(p->types, "inode", &p->off.size_inode);
	ktypes_size(p->types, "dentry", &p->off.size_dentry);
	ktypes_size(p->types, "mount", &p->off.size_mount);
	ktypes_size(p->types, "module_memory", &p->off.size_module_memory);
	ktypes_size(p->types, "rb_node", &p->off.size_rb_node);
	ktypes_size(p->types, "tracepoint_func", &p->off.size_tracepoint_func);
	ktypes_size(p->types, "nf_hook_entry", &p->off.size_nf_hook_entry);
	ktypes_size(p->types, "dyn_ftrace", &p->off.size_dyn_ftrace);

	char *sbase = (char *)&p->sym;
	for (size_t i = 0; i < sizeof(sym_specs) / sizeof(sym_specs[0]); i++) {
		uint64_t *a = (uint64_t *)(sbase + sym_specs[i].off);
		if (profile_symbol(p, sym_specs[i].name, a) && as)
			vmci_symbol(&p->vmci, sym_specs[i].name, a);	/* runtime address */
	}
	if (as) {
		derive_syms(p, as);
		publish_syms(p);
	}
	for (size_t i = 0; i < sizeof(required_syms) / sizeof(required_syms[0]); i++) {
		for (size_t j = 0; j < sizeof(sym_specs) / sizeof(sym_specs[0]); j++)
			if (!strcmp(sym_specs[j].name, required_syms[i]) &&
			    !*(uint64_t *)(sbase + sym_specs[j].off))
				return aerr_set(err, ENOENT, "symbol %s not found (%s%s)",
						required_syms[i], p->syms->source,
						as ? ", VMCOREINFO, the kernel image" : "");
	}
	return 0;
}

/* ---- placing the kernel: VMCOREINFO facts ---- */

static int setup_x86(struct kprofile *p, struct memsrc *m, struct aerr *err)
{
	int64_t phys_base = 0, l5 = 0;
	uint64_t pgd;

	p->arch = &arch_x86_64;
	p->kaslr_slide = p->vmci.kerneloffset;
	if (vmci_number(&p->vmci, "phys_base", &phys_base))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks NUMBER(phys_base)");
	p->phys_base = (uint64_t)phys_base;
	p->kimage_voffset = X86_START_KERNEL_MAP - p->phys_base;
	vmci_number(&p->vmci, "pgtable_l5_enabled", &l5);
	p->levels = l5 ? 5 : 4;
	p->va_bits = p->kernel_va_bits = l5 ? 57 : 48;
	p->page_shift = 12;
	p->dmap_pa = 0;
	p->dmap_size = l5 ? 1ULL << 52 : 1ULL << 46;	/* 4 PiB / 64 TiB */
	if (vmci_symbol(&p->vmci, "init_top_pgt", &pgd) &&
	    vmci_symbol(&p->vmci, "swapper_pg_dir", &pgd))
		return aerr_set(err, ENOENT, "VMCOREINFO names no kernel page table "
				"(init_top_pgt or swapper_pg_dir)");
	if (pgd < X86_START_KERNEL_MAP)
		return aerr_set(err, EINVAL, "kernel page table 0x%llx is outside the kernel image",
				(unsigned long long)pgd);
	p->kernel_pgd_pa = pgd - X86_START_KERNEL_MAP + p->phys_base;
	if (!memsrc_covers(m, p->kernel_pgd_pa, 4096))
		return aerr_set(err, EFAULT, "kernel page table at physical 0x%llx is not in the image",
				(unsigned long long)p->kernel_pgd_pa);
	return 0;
}

/* "6.1.0-50-cloud-arm64" -> 6 * 1000 + 1; 0 if unreadable */
static int release_code(const char *rel)
{
	unsigned maj = 0, min = 0;

	if (sscanf(rel, "%u.%u", &maj, &min) != 2 || maj > 99 || min > 999)
		return 0;
	return (int)(maj * 1000 + min);
}

static int a64_levels(int va_bits, int page_shift)
{
	int stride = page_shift - 3;
	return (va_bits - page_shift + stride - 1) / stride;
}

/* arm64 (arch/arm64/include/asm/memory.h, Linux 5.4 and later): the linear
 * map starts at PAGE_OFFSET = -(1 << VA_BITS) and holds physical
 * PHYS_OFFSET there; the kernel image is at VA = PA + kimage_voffset. */
static int setup_arm64(struct kprofile *p, struct memsrc *m, struct aerr *err)
{
	int64_t vb, voff, physoff, t1sz;
	uint64_t pgd;

	p->arch = &arch_aarch64;
	p->kaslr_slide = p->vmci.kerneloffset;
	if (vmci_number(&p->vmci, "VA_BITS", &vb) || vb < 36 || vb > 52)
		return aerr_set(err, EINVAL, "VMCOREINFO lacks a usable NUMBER(VA_BITS) (36..52)");
	switch (p->vmci.pagesize) {
	case 4096: p->page_shift = 12; break;
	case 16384: p->page_shift = 14; break;
	case 65536: p->page_shift = 16; break;
	default:
		return aerr_set(err, EINVAL, "VMCOREINFO PAGESIZE %llu is not an arm64 granule",
				(unsigned long long)p->vmci.pagesize);
	}
	if (vmci_number(&p->vmci, "kimage_voffset", &voff))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks NUMBER(kimage_voffset)");
	if (vmci_number(&p->vmci, "PHYS_OFFSET", &physoff))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks NUMBER(PHYS_OFFSET)");
	if (vmci_symbol(&p->vmci, "swapper_pg_dir", &pgd))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks SYMBOL(swapper_pg_dir)");
	p->va_bits = p->kernel_va_bits = (int)vb;
	/* the kernel half may be smaller than VA_BITS (52-bit kernel on 48-bit
	 * hardware): TCR_EL1.T1SZ says what the tables really cover */
	if (!vmci_number(&p->vmci, "TCR_EL1_T1SZ", &t1sz) && t1sz >= 12 && t1sz <= 28 &&
	    64 - t1sz < vb)
		p->kernel_va_bits = (int)(64 - t1sz);
	p->levels = a64_levels(p->kernel_va_bits, p->page_shift);
	p->kimage_voffset = (uint64_t)voff;
	p->phys_base = (uint64_t)physoff;
	p->dmap_pa = (uint64_t)physoff;
	if (release_code(p->vmci.osrelease) && release_code(p->vmci.osrelease) < 5004) {
		/* before 5.4 the linear map was the top half of the kernel space */
		p->page_offset_base = ~0ULL << (vb - 1);
		p->dmap_size = 1ULL << (vb - 1);
	} else {
		int vmin = vb > 48 ? 48 : (int)vb;
		p->page_offset_base = -(1ULL << vb);
		p->dmap_size = (1ULL << vb) - (1ULL << (vmin - 1));	/* up to PAGE_END */
	}
	p->kernel_pgd_pa = pgd - p->kimage_voffset;
	if (p->kernel_va_bits < p->va_bits) {
		/* TTBR1 points into swapper_pg_dir so that the 48-bit walk uses
		 * the top entries of the 52-bit table */
		int stride = p->page_shift - 3;
		int top_shift = p->page_shift + stride * (a64_levels(p->va_bits, p->page_shift) - 1);
		if (p->page_shift != 16 || a64_levels(p->va_bits, 16) != p->levels)
			return aerr_set(err, EINVAL, "a %d-bit arm64 kernel running with %d-bit kernel "
					"addresses and %d KiB pages is not supported", p->va_bits,
					p->kernel_va_bits, (1 << p->page_shift) >> 10);
		p->kernel_pgd_pa += ((1ULL << (p->va_bits - top_shift)) -
				     (1ULL << (p->kernel_va_bits - top_shift))) * 8;
	}
	if (!memsrc_covers(m, p->kernel_pgd_pa, 8)) {
		uint64_t first = m->nranges ? m->ranges[0].pa : 0;
		return aerr_set(err, EFAULT, "kernel page table (swapper_pg_dir) at physical 0x%llx is "
				"not in the image (RAM starts at PHYS_OFFSET 0x%llx, the image at "
				"0x%llx%s)", (unsigned long long)p->kernel_pgd_pa,
				(unsigned long long)physoff, (unsigned long long)first,
				first != (uint64_t)physoff ? "; does the source need a memory-regions "
				"map, --regions FILE?" : "");
	}
	return 0;
}

/* Which architecture wrote this VMCOREINFO: arm64 adds kimage_voffset and
 * PHYS_OFFSET, x86-64 phys_base. */
static int setup_arch(struct kprofile *p, struct memsrc *m, struct aerr *err)
{
	int64_t v;

	if (!vmci_number(&p->vmci, "kimage_voffset", &v) || !vmci_number(&p->vmci, "PHYS_OFFSET", &v))
		return setup_arm64(p, m, err);
	return setup_x86(p, m, err);
}

/* Compare the release string at init_uts_ns with VMCOREINFO's OSRELEASE.
 * With types known use the exact offsets; before that try the layouts
 * Linux has used (name first since 5.11, after a kref before). */
static int verify_release(struct kprofile *p, struct vas *as, uint64_t uts, struct aerr *err)
{
	char sysname[8], rel[65];
	int32_t cands[3] = { 0, 4, 8 };
	int n = 3;

	if (p->off.uts_namespace__name.present && p->off.new_utsname__release.present) {
		cands[0] = p->off.uts_namespace__name.off;
		n = 1;
	}
	for (int i = 0; i < n; i++) {
		int32_t relo = p->off.new_utsname__release.present ?
			p->off.new_utsname__release.off : 130;
		if (vas_read(as, uts + (uint64_t)cands[i], sysname, sizeof(sysname), NULL) ||
		    vas_read(as, uts + (uint64_t)cands[i] + (uint64_t)relo, rel, sizeof(rel), NULL))
			continue;
		rel[sizeof(rel) - 1] = '\0';
		if (memcmp(sysname, "Linux", 6))
			continue;
		if (strcmp(rel, p->vmci.osrelease))
			return aerr_set(err, EINVAL, "release at init_uts_ns is '%s', VMCOREINFO says '%s'",
					rel, p->vmci.osrelease);
		snprintf(p->release, sizeof(p->release), "%s", rel);
		return 0;
	}
	return aerr_set(err, EFAULT, "init_uts_ns at 0x%llx does not read as a uts namespace "
			"through the page tables at 0x%llx", (unsigned long long)uts,
			(unsigned long long)p->kernel_pgd_pa);
}

static int load_kallsyms(struct kprofile *p, struct vas *as, struct aerr *err)
{
	struct kallsyms_loc loc = { 0 };

	vmci_symbol(&p->vmci, "kallsyms_names", &loc.names);
	vmci_symbol(&p->vmci, "kallsyms_num_syms", &loc.num_syms);
	vmci_symbol(&p->vmci, "kallsyms_token_table", &loc.token_table);
	vmci_symbol(&p->vmci, "kallsyms_token_index", &loc.token_index);
	vmci_symbol(&p->vmci, "kallsyms_offsets", &loc.offsets);
	vmci_symbol(&p->vmci, "kallsyms_relative_base", &loc.relative_base);
	vmci_symbol(&p->vmci, "kallsyms_addresses", &loc.addresses);
	if (loc.names)
		return kallsyms_decode(as, &loc, &p->syms, err);
	/* before Linux 6.0: find the tables by their shape, then check two
	 * symbols VMCOREINFO does name */
	uint64_t stext, uts, a;
	if (vmci_symbol(&p->vmci, "_stext", &stext) || vmci_symbol(&p->vmci, "init_uts_ns", &uts))
		return aerr_set(err, ENOENT, "VMCOREINFO of %s names neither kallsyms nor _stext; "
				"give an ISF profile with --profile FILE", p->vmci.osrelease);
	int ret = kallsyms_find_by_shape(as, stext, &loc, err);
	if (!ret)
		ret = kallsyms_decode(as, &loc, &p->syms, err);
	if (ret)
		return aerr_wrap(err, "Linux %s (no kallsyms in VMCOREINFO)", p->vmci.osrelease);
	if (ksyms_lookup(p->syms, "_stext", &a) || a != stext ||
	    ksyms_lookup(p->syms, "init_uts_ns", &a) || a != uts) {
		ksyms_free(p->syms);
		p->syms = NULL;
		return aerr_set(err, EINVAL, "kallsyms found by shape disagree with VMCOREINFO "
				"(_stext, init_uts_ns)");
	}
	return 0;
}

static int load_btf(struct kprofile *p, struct vas *as, struct aerr *err)
{
	uint64_t start, stop, etext, init, found;

	if (profile_symbol(p, "__start_BTF", &start) || profile_symbol(p, "__stop_BTF", &stop)) {
		/* kallsyms without data symbols: look for the BTF header in the
		 * read-only data after the text */
		image_bounds(p, &etext, &init);
		if (!etext || imgscan_btf(as, etext, init ? init : etext + IMGSCAN_MAX, &start, &found))
			return aerr_set(err, ENOENT, "kernel has no BTF (__start_BTF/__stop_BTF not in "
					"kallsyms, no BTF header after _etext); give an ISF profile "
					"with --profile FILE");
		stop = start + found;
	}
	if (stop <= start || stop - start > (256u << 20))
		return aerr_set(err, EINVAL, "BTF bounds 0x%llx..0x%llx are not plausible",
				(unsigned long long)start, (unsigned long long)stop);
	size_t len = (size_t)(stop - start);
	void *blob = malloc(len);
	if (!blob)
		return aerr_set(err, ENOMEM, "out of memory");
	int ret = vas_read(as, start, blob, len, err);
	if (!ret)
		ret = ktypes_from_btf(blob, len, &p->types, err);
	free(blob);
	if (ret)
		return aerr_wrap(err, "kernel BTF at 0x%llx (%zu bytes)", (unsigned long long)start, len);
	snprintf(p->types->desc, sizeof(p->types->desc), "BTF from memory, %zu bytes", len);
	p->btf_va = start;
	p->btf_size = len;
	return 0;
}

/* After symbols, x86-64: the direct map and vmemmap bases are variables
 * under KASLR. */
static void setup_late_x86(struct kprofile *p, struct vas *as)
{
	uint64_t v;

	if (p->sym.page_offset_base && !vas_read_u64(as, p->sym.page_offset_base, &v) &&
	    v >= 0xff00000000000000ULL && !(v & 0xfff))
		p->page_offset_base = v;
	else
		p->page_offset_base = p->levels == 5 ? 0xff11000000000000ULL : 0xffff888000000000ULL;
	if (p->sym.vmemmap_base && !vas_read_u64(as, p->sym.vmemmap_base, &v) &&
	    v >= 0xff00000000000000ULL)
		p->vmemmap_start = v;
	else
		p->vmemmap_start = p->levels == 5 ? 0xffd4000000000000ULL : 0xffffea0000000000ULL;
	p->vmemmap_pfn = 0;
}

/* After types, arm64: where the struct page array starts.  Linux 6.3+
 * exports VMEMMAP_START; before, memory.h computes it from VA_BITS, the
 * page size and sizeof(struct page) (rounded up to a power of two): since
 * 5.11 at -(1 << (VA_BITS - VMEMMAP_SHIFT)), before that 2 MiB below
 * the top, ending there.  The first struct page describes PHYS_OFFSET.  If
 * the release's layout is not mapped and the other one is, take that. */
static void setup_late_arm64(struct kprofile *p, struct vas *as)
{
	int64_t v;
	uint64_t pa;

	p->vmemmap_pfn = (uint64_t)((int64_t)p->dmap_pa >> p->page_shift);
	if (!vmci_number(&p->vmci, "VMEMMAP_START", &v)) {
		p->vmemmap_start = (uint64_t)v;
		return;
	}
	int spms = 0, vb = p->va_bits, vmin = vb > 48 ? 48 : vb;
	uint64_t psz = p->off.size_page ? p->off.size_page : 64;
	while (spms < 12 && (1ULL << spms) < psz)
		spms++;
	int shift = p->page_shift - spms;
	if (shift <= 0)
		return;
	uint64_t since511 = -(1ULL << (vb - shift));
	uint64_t size = ((1ULL << vb) - (1ULL << (vmin - 1))) >> shift;
	uint64_t before511 = -size - (2ULL << 20);
	int newer = release_code(p->vmci.osrelease) >= 5011;
	uint64_t first = newer ? since511 : before511, second = newer ? before511 : since511;
	if (vas_translate(as, first, &pa, NULL) && !vas_translate(as, second, &pa, NULL))
		first = second;
	p->vmemmap_start = first;
}

static void setup_late(struct kprofile *p, struct vas *as)
{
	if (p->arch == &arch_aarch64)
		setup_late_arm64(p, as);
	else
		setup_late_x86(p, as);
}

static void read_banner(struct kprofile *p, struct vas *as)
{
	if (p->sym.linux_banner &&
	    vas_read_str(as, p->sym.linux_banner, p->banner, sizeof(p->banner), NULL) > 0) {
		size_t n = strlen(p->banner);
		while (n && (p->banner[n - 1] == '\n'))
			p->banner[--n] = '\0';
	}
}

/* The proof on the task list (prove.c).  On a live guest a walk can race a
 * task exiting, so a failed proof is tried twice more with fresh reads. */
static int prove(struct kprofile *p, struct memsrc *m, struct vas *as, struct aerr *err)
{
	struct aerr one = { 0 };
	int ret = 0;

	for (int i = 0; i < (m->live ? 3 : 1); i++) {
		if (i) {
			memsrc_cache_flush(m);
			vas_flush(as);
		}
		aerr_clear(&one);
		ret = profile_prove(p, as, 0, &one);
		if (!ret)
			return 0;
	}
	return aerr_set(err, ret, "profile verification failed: %s", aerr_str(&one));
}

/* ---- auto: VMCOREINFO + kallsyms + BTF, all from memory ---- */

struct auto_ctx {
	struct memsrc *m;
	const struct profile_opts *opts;
	struct kprofile *result;
	struct aerr last;
	int tried;
};

static int try_auto(struct auto_ctx *c, struct kprofile *p)
{
	struct vas as;
	uint64_t uts;
	struct aerr *err = &c->last;
	int ret;

	aerr_clear(err);
	ret = setup_arch(p, c->m, err);
	if (ret)
		return ret;
	profile_kernel_vas(p, c->m, &as);
	if (vmci_symbol(&p->vmci, "init_uts_ns", &uts))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks SYMBOL(init_uts_ns)");
	ret = verify_release(p, &as, uts, err);
	if (ret)
		return ret;
	emit(c->opts, PROFILE_EV_OS_FOUND, "Linux %s (%s, %d-level paging, KASLR slide 0x%llx)",
	     p->release, p->arch->name, p->levels, (unsigned long long)p->kaslr_slide);
	ret = load_kallsyms(p, &as, err);
	if (ret)
		return ret;
	ret = load_btf(p, &as, err);
	if (ret)
		return ret;
	ret = resolve_all(p, &as, err);
	if (ret)
		return ret;
	setup_late(p, &as);
	read_banner(p, &as);
	/* verify again with exact offsets, through the final address space */
	profile_kernel_vas(p, c->m, &as);
	ret = verify_release(p, &as, p->sym.init_uts_ns, err);
	return ret ? ret : prove(p, c->m, &as, err);
}

static int auto_candidate(void *ctx, struct vmci *v)
{
	struct auto_ctx *c = ctx;
	struct kprofile *p = calloc(1, sizeof(*p));

	if (!p)
		return aerr_set(&c->last, ENOMEM, "out of memory");
	c->tried++;
	/* take ownership of the parsed note */
	p->vmci = *v;
	v->text = NULL;
	emit(c->opts, PROFILE_EV_CANDIDATE, "VMCOREINFO at 0x%llx: Linux %s",
	     (unsigned long long)p->vmci.pa, p->vmci.osrelease);
	if (try_auto(c, p)) {
		emit(c->opts, PROFILE_EV_VERIFY_FAILED, "VMCOREINFO at 0x%llx: %s",
		     (unsigned long long)p->vmci.pa, aerr_str(&c->last));
		profile_free(p);
		return 0;	/* next candidate */
	}
	snprintf(p->source, sizeof(p->source),
		 "auto: VMCOREINFO at 0x%llx, kallsyms (%zu symbols), %s",
		 (unsigned long long)p->vmci.pa, p->syms->n, p->types->desc);
	emit(c->opts, PROFILE_EV_VERIFIED, "%s", p->source);
	c->result = p;
	return 1;
}

static int profile_auto(struct memsrc *m, const struct profile_opts *o, struct kprofile **out,
			struct aerr *err)
{
	struct auto_ctx c = { .m = m, .opts = o };
	struct aerr scan_err = { 0 };

	if (m->vmcoreinfo) {
		struct vmci v;
		if (!vmci_parse(m->vmcoreinfo, strlen(m->vmcoreinfo), &v, NULL)) {
			v.pa = 0;
			auto_candidate(&c, &v);
			vmci_free(&v);
		}
	}
	if (!c.result) {
		int ret = vmci_locate(m, auto_candidate, &c, &scan_err);
		if (ret < 0 && !c.tried) {
			emit(o, PROFILE_EV_NO_MATCH, "%s", aerr_str(&scan_err));
			return aerr_set(err, scan_err.code, "%s", scan_err.msg);
		}
	}
	if (!c.result) {
		emit(o, PROFILE_EV_NO_MATCH, "no usable kernel profile in %s (%d candidates): %s",
		     m->path, c.tried, aerr_str(&c.last));
		return aerr_set(err, c.last.code ? c.last.code : ENOENT,
				"%s: no usable kernel profile (%d VMCOREINFO candidate%s); last: %s",
				m->path, c.tried, c.tried == 1 ? "" : "s", aerr_str(&c.last));
	}
	*out = c.result;
	return 0;
}

/* ---- ISF files ---- */

static int first_vmci(void *ctx, struct vmci *v)
{
	struct vmci *dst = ctx;

	*dst = *v;
	v->text = NULL;
	return 1;
}

static int find_vmci(struct memsrc *m, struct vmci *out, struct aerr *err)
{
	memset(out, 0, sizeof(*out));
	if (m->vmcoreinfo && !vmci_parse(m->vmcoreinfo, strlen(m->vmcoreinfo), out, NULL))
		return 0;
	int ret = vmci_locate(m, first_vmci, out, err);
	return ret == 1 ? 0 : (ret ? ret : -ENOENT);
}

static int try_isf(struct memsrc *m, const struct vmci *v, const char *path,
		   const struct profile_opts *o, struct kprofile **out, struct aerr *err)
{
	struct kprofile *p = calloc(1, sizeof(*p));
	char *banner = NULL;
	struct vas as;
	int ret;

	if (!p)
		return aerr_set(err, ENOMEM, "out of memory");
	emit(o, PROFILE_EV_CANDIDATE, "ISF %s", path);
	ret = isf_load(path, &p->types, &p->syms, &banner, err);
	if (ret) {
		emit(o, PROFILE_EV_PARSE_FAILED, "%s", aerr_str(err));
		profile_free(p);
		return ret;
	}
	p->isf_link_addrs = 1;
	p->vmci = *v;
	p->vmci.text = strdup(v->text);
	ret = p->vmci.text ? setup_arch(p, m, err) : aerr_set(err, ENOMEM, "out of memory");
	if (!ret)
		ret = resolve_all(p, NULL, err);
	if (!ret) {
		profile_kernel_vas(p, m, &as);
		setup_late(p, &as);
		profile_kernel_vas(p, m, &as);
		read_banner(p, &as);
		if (banner && strcmp(banner, p->banner))
			ret = aerr_set(err, EINVAL, "%s is for another kernel: its banner is '%s', "
				       "memory's is '%s'", path, banner,
				       p->banner[0] ? p->banner : "(unreadable)");
	}
	if (!ret)
		ret = verify_release(p, &as, p->sym.init_uts_ns, err);
	if (!ret && (ret = prove(p, m, &as, err)))
		aerr_wrap(err, "%s", path);
	free(banner);
	if (ret) {
		const char *why = aerr_str(err);
		size_t pl = strlen(path);
		if (!strncmp(why, path, pl) && why[pl] == ':')
			emit(o, PROFILE_EV_VERIFY_FAILED, "%s", why);
		else
			emit(o, PROFILE_EV_VERIFY_FAILED, "%s: %s", path, why);
		profile_free(p);
		return ret;
	}
	snprintf(p->source, sizeof(p->source), "ISF %s (%zu symbols)", path, p->syms->n);
	emit(o, PROFILE_EV_VERIFIED, "%s", p->source);
	*out = p;
	return 0;
}

static int is_isf_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && !strcmp(n + l - 5, ".json")) ||
	       (l > 8 && !strcmp(n + l - 8, ".json.gz")) ||
	       (l > 8 && !strcmp(n + l - 8, ".json.xz"));
}

static int profile_isf(struct memsrc *m, const struct profile_opts *o, struct kprofile **out,
		       struct aerr *err)
{
	struct vmci v;
	struct stat st;
	int ret;

	if (stat(o->spec, &st) < 0)
		return aerr_set(err, ENOENT, "%s: profile not found: %s", o->spec, strerror(errno));
	ret = find_vmci(m, &v, err);
	if (ret)
		return aerr_wrap(err, "ISF profiles need VMCOREINFO in memory for KASLR");
	emit(o, PROFILE_EV_OS_FOUND, "Linux %s", v.osrelease);
	if (!S_ISDIR(st.st_mode)) {
		ret = try_isf(m, &v, o->spec, o, out, err);
		vmci_free(&v);
		return ret;
	}
	DIR *d = opendir(o->spec);
	struct dirent *de;
	struct aerr one = { 0 };
	int tried = 0;
	ret = -ENOENT;
	while (d && (de = readdir(d))) {
		char path[4096];
		if (!is_isf_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", o->spec, de->d_name);
		aerr_clear(&one);
		tried++;
		ret = try_isf(m, &v, path, o, out, &one);
		if (!ret)
			break;
	}
	if (d)
		closedir(d);
	vmci_free(&v);
	if (ret) {
		emit(o, PROFILE_EV_NO_MATCH, "no ISF file in %s matches Linux %s", o->spec, v.osrelease);
		return aerr_set(err, ENOENT, "%s: none of %d ISF files matches the kernel in memory "
				"(%s)%s%s", o->spec, tried, m->path, tried ? "; last: " : "",
				tried ? aerr_str(&one) : "");
	}
	return 0;
}

int profile_load(struct memsrc *m, const struct profile_opts *opts, struct kprofile **out,
		 struct aerr *err)
{
	static const struct profile_opts none;

	*out = NULL;
	if (!opts)
		opts = &none;
	if (!opts->spec || !strcmp(opts->spec, "auto"))
		return profile_auto(m, opts, out, err);
	return profile_isf(m, opts, out, err);
}
