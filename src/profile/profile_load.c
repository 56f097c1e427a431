/* profile_load.c - find, load and verify the kernel profile of a memory
 * source: "auto" (VMCOREINFO, kallsyms and BTF from memory) or ISF files,
 * each candidate checked against the release, banner and task list. */
#include "profile/profile.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "profile/imgscan.h"
#include "profile/isf.h"
#include "profile/kallsyms.h"
#include "profile/kfind.h"
#include "profile/profile_priv.h"

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
		alog_sdk(ALOG_DEBUG, "profile: %s", detail);
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
		profile_image_bounds(p, &etext, &init);
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
	ret = profile_setup_arch(p, c->m, err);
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
	ret = profile_resolve_all(p, &as, err);
	if (ret)
		return ret;
	profile_setup_late(p, &as);
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
	ret = p->vmci.text ? profile_setup_arch(p, m, err) : aerr_set(err, ENOMEM, "out of memory");
	if (!ret)
		ret = profile_resolve_all(p, NULL, err);
	if (!ret) {
		profile_kernel_vas(p, m, &as);
		profile_setup_late(p, &as);
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
