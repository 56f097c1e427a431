/* profile_resolve.c - the table of struct members and symbols a profile
 * resolves (from profile.h's lists), and resolving them from the kernel's
 * types and symbol table, VMCOREINFO and what profile_find.c derives. */
#include "profile/profile.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "profile/profile_priv.h"

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
		alog_sdk(ALOG_ERROR, "profile: out of memory indexing symbols");
}

/* Resolve fields and symbols; with as (auto profiles), fill what kallsyms
 * lacks from VMCOREINFO and by derivation. */
int profile_resolve_all(struct kprofile *p, struct vas *as, struct aerr *err)
{
	char *base = (char *)&p->off;

	for (size_t i = 0; i < sizeof(field_specs) / sizeof(field_specs[0]); i++) {
		const struct field_spec *s = &field_specs[i];
		struct kfield *f = (struct kfield *)(base + s->off);
		if (resolve_member(p->types, s->type, s->member, f))
			alog_sdk(ALOG_DEBUG, "profile: %s.%s not in this kernel", s->type, s->member);
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
		profile_derive_syms(p, as);
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
