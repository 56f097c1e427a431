/* interp.c - is a process a shell or a command interpreter?
 *
 * Decided by what the process is and does, never by its comm (any
 * process can rename itself with prctl, and a copied binary is called
 * whatever its owner likes):
 *  1. its executable's path ends in an interpreter's name (bash, sh,
 *     python3.11, perl, ...); busybox only when its first argument names
 *     a shell applet, since one binary is also cat and sleep;
 *  2. its executable's content (SHA-256 from the page cache) or inode is
 *     one a process of kind 1 ran on this host: a renamed copy of bash is
 *     still bash (learned in detect_state.interp, bounded);
 *  3. it starts other programs: a live child runs another executable --
 *     the weakest sign, which the caller asks for only where the rest of
 *     the picture is strong (revshell.c: a connection that is outbound by
 *     its ports as well, since a one-shot `socat TCP-LISTEN` closes its
 *     listener and leaves a served connection looking like a dialled one).
 */
#include <string.h>

#include "detect/detect.h"

#define INTERP_LEARN_MAX 4096
#define KIND_SHELL 1
#define KIND_MULTICALL 2	/* busybox: a shell only as a shell applet */

static const char *const shells[] = {
	"sh", "bash", "rbash", "dash", "ash", "hush", "zsh", "ksh", "ksh93", "mksh", "pdksh", "lksh",
	"yash", "posh", "fish", "tcsh", "csh", NULL
};
/* matched after trailing version digits and dots are dropped */
static const char *const interpreters[] = {
	"python", "perl", "ruby", "php", "lua", "luajit", "node", "nodejs", "tclsh", "wish",
	"awk", "gawk", "mawk", "nawk", "pwsh", "guile", "expect", "Rscript", "irb", "jrunscript",
	"osascript", NULL
};

static int in_list(const char *const *list, const char *s, size_t n)
{
	for (int i = 0; list[i]; i++)
		if (strlen(list[i]) == n && !strncmp(list[i], s, n))
			return 1;
	return 0;
}

/* the last path component of s (up to the first space: a cmdline's argv[0],
 * or " (deleted)"), its length in *n */
static const char *base_of(const char *s, size_t *n)
{
	const char *end = strchr(s, ' '), *b = s;

	end = end ? end : s + strlen(s);
	for (const char *q = s; q < end; q++)
		if (*q == '/')
			b = q + 1;
	*n = (size_t)(end - b);
	return b;
}

static int kind_by_name(const char *path)
{
	size_t n;
	const char *b = base_of(path, &n);

	if (n >= 7 && !strncmp(b, "busybox", 7))
		return KIND_MULTICALL;
	if (in_list(shells, b, n))
		return KIND_SHELL;
	while (n && ((b[n - 1] >= '0' && b[n - 1] <= '9') || b[n - 1] == '.' || b[n - 1] == '-'))
		n--;
	return in_list(interpreters, b, n) ? KIND_SHELL : 0;
}

/* busybox runs the applet its argv[0] names, or argv[1] when argv[0] is
 * busybox itself; a login shell's argv[0] starts with '-' */
static int multicall_shell(const char *cmdline)
{
	size_t n;
	const char *b;

	if (!cmdline || !*cmdline)
		return 0;
	b = base_of(cmdline, &n);
	if (n && *b == '-') {
		b++;
		n--;
	}
	if (n >= 7 && !strncmp(b, "busybox", 7)) {
		const char *arg1 = strchr(cmdline, ' ');
		if (!arg1)
			return 0;
		b = base_of(arg1 + 1, &n);
	}
	return in_list(shells, b, n);
}

static uint64_t content_key(const struct snap_proc *p)
{
	uint64_t k = 0;

	if (p->exe_hash.status || strlen(p->exe_hash.sha256) < 16)
		return 0;
	for (int i = 0; i < 16; i++) {
		char c = p->exe_hash.sha256[i];
		k = k << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return k ? k : 1;
}

static uint64_t inode_key(const struct snap_proc *p)
{
	return p->exe_ino ? detect_mix(p->exe_ino, (uint64_t)p->exe_dev | 1ULL << 40) : 0;
}

void detect_interp_learn(struct detect_state *st, const struct snapshot *s)
{
	for (size_t i = 0; i < s->nprocs && st->interp.len < INTERP_LEARN_MAX; i++) {
		const struct snap_proc *p = &s->procs[i];
		int kind = p->exe_path && !p->unsettled ? kind_by_name(p->exe_path) : 0;
		uint64_t ck = content_key(p), ik = inode_key(p);
		if (!kind)
			continue;
		if (ck)
			u64map_put(&st->interp, ck, (uint64_t)kind);
		if (ik)
			u64map_put(&st->interp, ik, (uint64_t)kind);
	}
}

static int starts_programs(const struct snapshot *s, const struct snap_proc *p)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct snap_proc *c = &s->procs[i];
		if (c->ppid == p->pid && c != p && !c->kthread && c->exe_inode &&
		    c->exe_inode != p->exe_inode)
			return 1;
	}
	return 0;
}

const char *detect_interp_why(const struct detect_state *st, const struct snapshot *s,
			      const struct snap_proc *p, int by_behaviour)
{
	uint64_t kind = 0;

	if (p->kthread)
		return NULL;
	if (p->exe_path)
		kind = (uint64_t)kind_by_name(p->exe_path);
	if (kind == KIND_SHELL)
		return "its executable is a shell or interpreter";
	if (!kind && !u64map_get(&st->interp, content_key(p), &kind))
		u64map_get(&st->interp, inode_key(p), &kind);
	if (kind == KIND_MULTICALL && multicall_shell(p->cmdline))
		return "busybox running a shell applet";
	if (kind == KIND_SHELL)
		return "its executable has the content of a shell or interpreter of this host";
	if (by_behaviour && starts_programs(s, p))
		return "it starts other programs";
	return NULL;
}
