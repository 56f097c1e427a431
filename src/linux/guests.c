/* guests.c - the VMs a monitored host runs (guests.h). */
#include "linux/guests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/kvm.h"
#include "linux/walk.h"
#include "memsrc/vmlayout.h"
#include "memsrc/xlate.h"

#define VM_DONTCOPY 0x00020000ULL	/* madvise(MADV_DONTFORK) */
#define ARGS_MAX (256u << 10)
#define GUESTS_MAX 4096

static int maybe_vmm(const struct snap_proc *p)
{
	const char *b = p->exe_path ? strrchr(p->exe_path, '/') : NULL;

	if (p->kthread || !p->mm)
		return 0;
	if (!strncmp(p->comm, "qemu-system-", 12) || !strcmp(p->comm, "qemu-kvm"))
		return 1;
	return b && (!strncmp(b + 1, "qemu-system-", 12) || !strcmp(b + 1, "qemu-kvm"));
}

/* The process's arguments, NUL-separated, from its own memory. */
static char *read_args(struct kernel *k, const struct snap_proc *p, size_t *len)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t start = kernel_field(k, p->mm, &o->mm_struct__arg_start);
	uint64_t end = kernel_field(k, p->mm, &o->mm_struct__arg_end);
	struct vas as;

	if (!start || end <= start || end - start > ARGS_MAX || linux_proc_vas(k, p, &as))
		return NULL;
	char *b = malloc((size_t)(end - start) + 1);
	if (!b || vas_read(&as, start, b, (size_t)(end - start), NULL)) {
		free(b);
		return NULL;
	}
	*len = (size_t)(end - start);
	b[*len] = '\0';
	return b;
}

/* The memory areas as /proc/PID/smaps would show them. */
static struct vm_map *maps_of(const struct snap_proc *p)
{
	struct vm_map *m = calloc(p->nvmas ? p->nvmas : 1, sizeof(*m));

	for (uint32_t i = 0; m && i < p->nvmas; i++) {
		const struct snap_vma *v = &p->vmas[i];
		m[i].start = v->start;
		m[i].end = v->end;
		m[i].pgoff = v->pgoff << 12;
		m[i].perms[0] = v->flags & 1 ? 'r' : '-';
		m[i].perms[1] = v->flags & 2 ? 'w' : '-';
		m[i].perms[2] = v->flags & 4 ? 'x' : '-';
		m[i].perms[3] = v->flags & 8 ? 's' : 'p';
		if (v->path)
			snprintf(m[i].path, sizeof(m[i].path), "%s%s", v->path,
				 v->deleted ? " (deleted)" : "");
		m[i].dontfork = !!(v->flags & VM_DONTCOPY);
	}
	return m;
}

struct kvm_state {
	enum guest_route route;
	struct linux_kvm *kv;	/* the kvm module's types, read at the first need */
	int tried;
	struct aerr err;	/* why they could not be read */
};

/* KVM's layout of p's VM into g: 0, or -ENOENT when p runs no KVM VM, or
 * another error (in err) when its memslots cannot be read. */
static int kvm_route(struct kernel *k, const struct snap_proc *p, struct kvm_state *st,
		     struct linux_guest *g, struct aerr *err)
{
	if (!(g->kvm = linux_kvm_of(k, p)))
		return aerr_set(err, ENOENT, "no KVM: no kvm-vm file");
	if (!st->tried) {
		st->tried = 1;
		linux_kvm_open(k, &st->kv, &st->err);
	}
	if (!st->kv)
		return aerr_set(err, st->err.code ? st->err.code : EINVAL, "%s", aerr_str(&st->err));
	return linux_kvm_layout(st->kv, k, p, g->kvm, &g->ranges, &g->nranges, err);
}

static void maps_route(const struct snap_proc *p, const struct vm_info *vi, const char *who,
		       struct linux_guest *g)
{
	struct aerr err = { 0 };

	if (p->partial & SNAP_PARTIAL_VMAS) {
		snprintf(g->error, sizeof(g->error), "%s: its memory areas were read in part", who);
		return;
	}
	struct vm_map *maps = maps_of(p);
	if (!maps) {
		snprintf(g->error, sizeof(g->error), "out of memory");
		return;
	}
	if (vm_layout(vi, maps, p->nvmas, who, &g->ranges, &g->nranges, NULL, 0, &err))
		snprintf(g->error, sizeof(g->error), "%s", aerr_str(&err));
	free(maps);
}

static void one_guest(struct kernel *k, const struct snap_proc *p, struct kvm_state *st,
		      struct linux_guest *g)
{
	struct vm_info vi;
	struct aerr err = { 0 }, kerr = { 0 };
	size_t len = 0;
	char who[64];
	int kret = -ENOENT;

	g->pid = p->pid;
	g->task = p->task;
	g->mm = p->mm;
	snprintf(g->name, sizeof(g->name), "qemu-%d", p->pid);
	snprintf(who, sizeof(who), "VM process %d", p->pid);
	if (st->route != GUEST_ROUTE_MAPS)
		kret = kvm_route(k, p, st, g, &kerr);
	if (!kret)
		snprintf(g->route, sizeof(g->route), "KVM memslots (struct kvm at 0x%llx, %zu "
			 "slot%s)", (unsigned long long)g->kvm, g->nranges, g->nranges == 1 ? "" : "s");
	else if (st->route == GUEST_ROUTE_MAPS)
		snprintf(g->route, sizeof(g->route), "RAM mappings (as asked)");
	else if (st->route == GUEST_ROUTE_KVM)
		snprintf(g->route, sizeof(g->route), "none (KVM's memslots asked for, not read)");
	else
		snprintf(g->route, sizeof(g->route), "RAM mappings (KVM's memslots not used: %s)",
			 aerr_str(&kerr));
	if (kret && st->route == GUEST_ROUTE_KVM)
		snprintf(g->error, sizeof(g->error), "%s: %s", who, aerr_str(&kerr));
	char *args = read_args(k, p, &len);
	if (!args) {
		if (kret && !g->error[0])
			snprintf(g->error, sizeof(g->error), "%s: its command line cannot be read", who);
		return;
	}
	/* the name is kept even when a later option does not parse: with
	 * KVM's layout, the options are not needed */
	int ret = vm_parse_cmdline(args, len, &vi, &err);
	free(args);
	if (vi.name[0])
		snprintf(g->name, sizeof(g->name), "%s", vi.name);
	snprintf(g->uuid, sizeof(g->uuid), "%s", vi.uuid);
	if (!kret || st->route == GUEST_ROUTE_KVM)
		return;
	if (ret) {
		snprintf(g->error, sizeof(g->error), "%s: %s", who, aerr_str(&err));
		return;
	}
	maps_route(p, &vi, who, g);
}

int linux_find_guests(struct kernel *k, const struct snapshot *s, enum guest_route route,
		      struct linux_guest **out, size_t *n, struct aerr *err)
{
	struct linux_guest *g = NULL;
	struct kvm_state st = { .route = route };
	size_t ng = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < s->nprocs && ng < GUESTS_MAX; i++) {
		const struct snap_proc *p = &s->procs[i];
		if (!maybe_vmm(p))
			continue;
		struct linux_guest *ng_ = realloc(g, (ng + 1) * sizeof(*g));
		if (!ng_) {
			linux_guests_free(g, ng);
			linux_kvm_close(st.kv);
			return aerr_set(err, ENOMEM, "out of memory");
		}
		g = ng_;
		memset(&g[ng], 0, sizeof(*g));
		one_guest(k, p, &st, &g[ng++]);
	}
	linux_kvm_close(st.kv);
	*out = g;
	*n = ng;
	return 0;
}

void linux_guests_free(struct linux_guest *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		free(g[i].ranges);
	free(g);
}

/* ---- the VMMs of one scan ---- */

static int daemonize_parent(const struct snapshot *s, const struct snap_proc *p)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct snap_proc *c = &s->procs[i];
		if (c->ppid == p->pid && c != p && c->cmdline && maybe_vmm(c) &&
		    !strcmp(c->cmdline, p->cmdline))
			return 1;
	}
	return 0;
}

size_t linux_vmms(const struct snapshot *s, struct linux_vmm *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nprocs && n < max; i++) {
		const struct snap_proc *p = &s->procs[i];
		if (!maybe_vmm(p) || (p->cmdline && daemonize_parent(s, p)))
			continue;
		struct linux_vmm *v = &out[n++];
		v->pid = p->pid;
		v->start_ns = p->start_boottime_ns;
		snprintf(v->name, sizeof(v->name), "vm-%d", p->pid);
		v->settled = p->cmdline && !p->unsettled;
		if (!v->settled)
			continue;
		/* the arguments were kept with spaces for NULs: split them
		 * there again (a -name with a space in it is cut short) */
		size_t len = strlen(p->cmdline);
		char *args = malloc(len + 1);
		struct vm_info vi;
		if (!args)
			continue;
		for (size_t j = 0; j <= len; j++)
			args[j] = p->cmdline[j] == ' ' ? '\0' : p->cmdline[j];
		/* the name is kept even when a later option does not parse */
		vm_parse_cmdline(args, len + 1, &vi, NULL);
		free(args);
		if (vi.name[0])
			snprintf(v->name, sizeof(v->name), "%s", vi.name);
	}
	return n;
}

/* ---- reading a guest through its VMM ---- */

struct gread {
	struct kernel *host;
	int32_t pid;
	uint64_t task, mm, pgd;
	struct vas as;		/* the VMM's address space */
};

static int g_read(void *ctx, uint64_t addr, void *buf, size_t len, struct aerr *err)
{
	struct gread *c = ctx;

	return vas_read(&c->as, addr, buf, len, err);
}

/* The VMM is the same process with the same memory: its task still has
 * its pid, no exit state, the same mm, and that mm the same page table.
 * (A freed task_struct that happens to hold all four again is not told
 * apart without a walk of the host's task list.) */
static int g_check(void *ctx, struct aerr *err)
{
	struct gread *c = ctx;
	const struct koffsets *o = &c->host->prof->off;
	uint64_t pid = 0, mm = 0, pgd = 0, exit_state = 0;
	int ret = kernel_scan_begin(c->host, err);

	if (ret)
		return ret;
	vas_flush(&c->as);
	if (kfield_read(&c->host->kvas, c->task, &o->task_struct__tgid, &pid) ||
	    kfield_read(&c->host->kvas, c->task, &o->task_struct__mm, &mm) ||
	    (o->task_struct__exit_state.present &&
	     kfield_read(&c->host->kvas, c->task, &o->task_struct__exit_state, &exit_state)) ||
	    kfield_read(&c->host->kvas, c->mm, &o->mm_struct__pgd, &pgd) ||
	    (int32_t)pid != c->pid || mm != c->mm || pgd != c->pgd || (uint32_t)exit_state)
		return aerr_set(err, EIO, "VM process %d is gone", c->pid);
	return 0;
}

static void g_close(void *ctx)
{
	free(ctx);
}

static const struct xlate_ops guest_ops = {
	.read = g_read,
	.check = g_check,
	.close = g_close,
};

int linux_guest_memsrc(struct kernel *k, const struct linux_guest *g, const char *name,
		       struct memsrc **out, struct aerr *err)
{
	struct snap_proc p = { .task = g->task, .pid = g->pid, .mm = g->mm };
	struct mem_range *r;
	struct gread *c;

	*out = NULL;
	if (!g->nranges)
		return aerr_set(err, EINVAL, "%s", g->error[0] ? g->error : "no guest RAM found");
	if (!(c = calloc(1, sizeof(*c))) || !(r = calloc(g->nranges, sizeof(*r)))) {
		free(c);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	memcpy(r, g->ranges, g->nranges * sizeof(*r));
	c->host = k;
	c->pid = g->pid;
	c->task = g->task;
	c->mm = g->mm;
	if (linux_proc_vas(k, &p, &c->as) ||
	    kfield_read(&k->kvas, g->mm, &k->prof->off.mm_struct__pgd, &c->pgd)) {
		free(c);
		free(r);
		return aerr_set(err, EIO, "VM process %d: its page tables cannot be read", g->pid);
	}
	return memsrc_xlate_open(name, "guest", r, g->nranges, &guest_ops, c, out, err);
}

/* ---- "guest:SEL@SPEC" ---- */

static const struct linux_guest *pick(const struct linux_guest *g, size_t n, const char *sel,
				      struct aerr *err)
{
	char *end;
	long pid = strtol(sel, &end, 10);
	const struct linux_guest *found = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!(*end ? !strcmp(g[i].name, sel) : g[i].pid == pid))
			continue;
		if (found) {
			aerr_set(err, EINVAL, "more than one VM is named %s: give its VMM's pid", sel);
			return NULL;
		}
		found = &g[i];
	}
	if (!found)
		aerr_set(err, ENOENT, "no VM %s runs there (%zu VM%s found)", sel, n,
			 n == 1 ? "" : "s");
	return found;
}

int linux_open_guest_kernel(const struct kernel_opts *o, struct kernel **out, struct aerr *err)
{
	const char *sel = o->source + 6, *at = strchr(sel, '@');
	struct kernel_opts ho = { .regions = o->regions, .profile = "auto",
				  .no_cache = o->no_cache, .log_level = o->log_level };
	struct kernel *host = NULL;
	struct snapshot *s = NULL;
	struct linux_guest *g = NULL;
	struct memsrc *mem = NULL;
	size_t ng = 0;
	char name[128];
	int ret;

	*out = NULL;
	if (!at || at == sel || !at[1] || (size_t)(at - sel) >= sizeof(name))
		return aerr_set(err, EINVAL, "%s: expected guest:NAME@SOURCE or guest:PID@SOURCE",
				o->source);
	memcpy(name, sel, (size_t)(at - sel));
	name[at - sel] = '\0';
	ho.source = at + 1;
	char htag[sizeof(((struct kernel *)0)->log_tag)];
	snprintf(htag, sizeof(htag), "%s%s%s", o->log_tag ? o->log_tag : "",
		 o->log_tag ? ": its host " : "its host ", ho.source);
	ho.log_tag = htag;
	if ((ret = kernel_open(&ho, &host, err)))
		return ret;
	if (!(s = snapshot_new()))
		ret = aerr_set(err, ENOMEM, "out of memory");
	if (!ret)
		ret = kernel_scan_begin(host, err);
	if (!ret)
		ret = linux_collect_tasks(host, s, 0, err);
	if (!ret)
		ret = linux_collect_vmas(host, s, err);
	if (!ret)
		ret = linux_find_guests(host, s, GUEST_ROUTE_AUTO, &g, &ng, err);
	const struct linux_guest *vm = ret ? NULL : pick(g, ng, name, err);
	if (!ret && !vm)
		ret = err && err->code ? err->code : -ENOENT;
	if (!ret)
		ret = linux_guest_memsrc(host, vm, o->source, &mem, err);
	char route[sizeof(vm->route)] = "";
	if (vm)
		snprintf(route, sizeof(route), "%s", vm->route);
	linux_guests_free(g, ng);
	snapshot_free(s);
	if (ret) {
		kernel_close(host);
		return ret;
	}
	struct kernel_opts go = *o;
	go.mem = mem;
	if ((ret = kernel_open(&go, out, err))) {
		kernel_close(host);
		return ret;
	}
	(*out)->host = host;
	snprintf((*out)->guest_route, sizeof((*out)->guest_route), "%s", route);
	return 0;
}
