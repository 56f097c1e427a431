/* bash.c - bash's history and history switches, read from outside.
 *
 * For each bash process: find bash's image (the lowest mapping of its
 * executable), resolve its exported symbols through the in-memory dynamic
 * section (elfsym.c), then read
 *   history_length, remember_on_history, enable_history_list,
 *   history_lines_this_session  (ints)
 *   the_history, from the code of history_list(): "mov rax,[rip+d]; ret"
 *   HIST_ENTRY { char *line; char *timestamp; void *data; } (x86-64)
 *   HISTFILE, HISTSIZE, HISTFILESIZE, HISTIGNORE from shell_variables'
 *   global context:
 *     VAR_CONTEXT { name; int scope, flags; up; down; HASH_TABLE *table }
 *     HASH_TABLE { BUCKET_CONTENTS **bucket_array; int nbuckets, nentries }
 *     BUCKET_CONTENTS { next; char *key; void *data; ... }
 *     SHELL_VAR { char *name; char *value; ... }
 * Everything is bounded: entries, line length, buckets, chain lengths.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/elfsym.h"
#include "linux/kernel.h"
#include "core/timefmt.h"

#define HIST_MAX 100000
#define VAR_MAX_BUCKETS 65536
#define VAR_MAX_CHAIN 1024
#define VAR_MAX_CONTEXTS 256

static int read_ptr(struct vas *as, uint64_t va, uint64_t *out)
{
	return vas_read_u64(as, va, out);
}

static const char *user_str(struct vas *as, struct snapshot *s, uint64_t va, size_t cap,
			    char *buf)
{
	int trunc = 0;
	long n = va ? vas_read_str(as, va, buf, cap, &trunc) : -1;

	return n < 0 ? NULL : snapshot_keep_str(s, buf, (size_t)n, trunc);
}

/* &the_history from history_list's code, which is `return the_history;`,
 * decoded for the machine the bash image itself was built for. */
static int the_history_x86_64(const unsigned char *code, uint64_t fn, uint64_t *out)
{
	int o = 0;

	if (!memcmp(code, "\xf3\x0f\x1e\xfa", 4))	/* endbr64 */
		o = 4;
	/* mov rax, [rip + disp32]; ret */
	if (code[o] != 0x48 || code[o + 1] != 0x8b || code[o + 2] != 0x05 || code[o + 7] != 0xc3)
		return -ENOENT;
	int32_t disp;
	memcpy(&disp, code + o + 3, 4);
	*out = fn + (uint64_t)o + 7 + (uint64_t)(int64_t)disp;
	return 0;
}

static int the_history_aarch64(const unsigned char *code, uint64_t fn, uint64_t *out)
{
	uint32_t insn[4];
	int o = 0;

	memcpy(insn, code, sizeof(insn));
	if (insn[0] == 0xd503245f || insn[0] == 0xd503233f)	/* bti c, paciasp */
		o = 1;
	uint32_t adrp = insn[o], ldr = insn[o + 1];
	/* adrp xN, page; ldr xN, [xN, #imm]; ret (or autiasp; ret) */
	if ((adrp & 0x9f000000) != 0x90000000 || (ldr & 0xffc00000) != 0xf9400000 ||
	    ((ldr >> 5) & 0x1f) != (adrp & 0x1f) ||
	    (insn[o + 2] != 0xd65f03c0 && insn[o + 2] != 0xd50323bf))
		return -ENOENT;
	uint64_t imm = ((uint64_t)((adrp >> 5) & 0x7ffff) << 2) | ((adrp >> 29) & 3);
	int64_t page = (int64_t)(imm << 43) >> 31;	/* sign-extend 21 bits, times 4096 */
	uint64_t pc = fn + (uint64_t)o * 4;
	*out = (pc & ~0xfffULL) + (uint64_t)page + ((ldr >> 10) & 0xfff) * 8;
	return 0;
}

static int the_history(struct vas *as, const struct elfsym_image *img, uint64_t fn, uint64_t *out)
{
	unsigned char code[16];

	if (vas_read(as, fn, code, sizeof(code), NULL))
		return -EFAULT;
	switch (img->machine) {
	case EM_X86_64: return the_history_x86_64(code, fn, out);
	case EM_AARCH64: return the_history_aarch64(code, fn, out);
	default: return -ENOTSUP;
	}
}

static uint64_t bash_base(const struct snap_proc *p)
{
	uint64_t base = 0;

	for (uint32_t i = 0; i < p->nvmas; i++)
		if (p->vmas[i].is_main_exe && p->vmas[i].pgoff == 0 &&
		    (!base || p->vmas[i].start < base))
			base = p->vmas[i].start;
	return base;
}

static int read_int(struct vas *as, const struct elfsym_image *img, const char *sym, int64_t *out)
{
	uint64_t a;
	int32_t v;

	if (elfsym_lookup(img, sym, &a) || vas_read(as, a, &v, 4, NULL))
		return -ENOENT;
	*out = v;
	return 0;
}

/* One read of the list: 0, 1 when it changed under the read (an entry
 * pointer NULL before history_length, or history_length or the_history
 * other after), -errno. */
static int history_once(struct snapshot *s, struct vas *as, const struct elfsym_image *img,
			uint64_t hist, struct snap_bash *b, char *buf, size_t cap)
{
	uint64_t arr, arr2;
	int64_t len, len2;

	b->nentries = 0;
	if (read_int(as, img, "history_length", &len))
		return -ENOENT;
	b->history_length = len;
	if (len < 0 || len > HIST_MAX || read_ptr(as, hist, &arr))
		return -EINVAL;
	if (!arr || !len)
		return 0;
	b->entries = arena_alloc(&s->arena, (size_t)len * sizeof(*b->entries));
	if (!b->entries)
		return -ENOMEM;
	for (int64_t i = 0; i < len; i++) {
		uint64_t ent, line, ts;
		if (read_ptr(as, arr + (uint64_t)i * 8, &ent))
			break;
		if (!ent)
			return 1;	/* the array ends early: being changed */
		if (read_ptr(as, ent, &line) || read_ptr(as, ent + 8, &ts))
			continue;
		struct snap_hist *h = &b->entries[b->nentries];
		h->line = user_str(as, s, line, cap, buf);
		if (!h->line)
			continue;
		char tsb[32];
		/* "#1761118306"; a time that has no ns value is none */
		if (ts && vas_read_str(as, ts, tsb, sizeof(tsb), NULL) > 1 && tsb[0] == '#') {
			h->time = strtoll(tsb + 1, NULL, 10);
			if (!time_ns(h->time, 0))
				h->time = 0;
		}
		b->nentries++;
	}
	if (read_int(as, img, "history_length", &len2) || read_ptr(as, hist, &arr2))
		return -EIO;
	return len2 != len || arr2 != arr;
}

/* The list, read whole: a list bash is changing as the scan reads it
 * (history -c, history -r, an entry added) is read again, twice at most,
 * then given up for this scan (-EAGAIN: judged next scan). */
static int history(struct kernel *k, struct snapshot *s, struct vas *as,
		   const struct elfsym_image *img, struct snap_bash *b, char *buf, size_t cap)
{
	uint64_t fn, hist;

	(void)k;
	if (elfsym_lookup(img, "history_list", &fn) || the_history(as, img, fn, &hist))
		return -ENOENT;
	for (int i = 0; i < 3; i++) {
		int ret = history_once(s, as, img, hist, b, buf, cap);
		if (ret <= 0)
			return ret;
	}
	b->nentries = 0;
	return -EAGAIN;
}

/* The values of the variables names[0..n) in bash's global context (NULL:
 * unset), in one walk of its table: a BUCKET_CONTENTS chain per bucket.
 * 0, or -errno when part of it could not be read: then unset says nothing. */
static int shell_vars(struct snapshot *s, struct vas *as, uint64_t ctx, const char *const *names,
		       const char **vals, int n, char *buf, size_t cap)
{
	uint64_t table, buckets;
	int32_t nb;
	char key[64];
	int left = n;

	for (int i = 0; i < n; i++)
		vals[i] = NULL;
	if (read_ptr(as, ctx + 32, &table) || !table || read_ptr(as, table, &buckets) ||
	    vas_read(as, table + 8, &nb, 4, NULL) || nb <= 0 || nb > VAR_MAX_BUCKETS)
		return -EIO;
	for (int32_t i = 0; i < nb && left; i++) {
		uint64_t bc;
		if (read_ptr(as, buckets + (uint64_t)i * 8, &bc))
			return -EIO;
		for (int c = 0; bc && left; c++) {
			uint64_t kp, data, next, val;
			if (c == VAR_MAX_CHAIN || read_ptr(as, bc, &next) || read_ptr(as, bc + 8, &kp) ||
			    read_ptr(as, bc + 16, &data) || vas_read_str(as, kp, key, sizeof(key), NULL) < 0)
				return -EIO;
			bc = next;
			for (int v = 0; v < n; v++) {
				if (vals[v] || strcmp(key, names[v]))
					continue;
				/* no value: declared, not set (local HISTFILE) */
				if (!data || read_ptr(as, data + 8, &val))
					return -EIO;
				if (!val)
					vals[v] = "";
				else if (!(vals[v] = user_str(as, s, val, cap, buf)))
					return -EIO;
				left--;
				break;
			}
		}
	}
	return 0;
}

static void variables(struct snapshot *s, struct vas *as, const struct elfsym_image *img,
		      struct snap_bash *b, char *buf, size_t cap)
{
	static const char *const names[] = { "HISTFILE", "HISTSIZE", "HISTFILESIZE", "HISTIGNORE" };
	const char *vals[4];
	uint64_t sv, ctx, down;

	b->vars_status = -EIO;
	if (elfsym_lookup(img, "shell_variables", &sv) || read_ptr(as, sv, &ctx) || !ctx)
		return;
	/* the global context is at the bottom of the chain */
	for (int i = 0; i < VAR_MAX_CONTEXTS && !read_ptr(as, ctx + 24, &down) && down; i++)
		ctx = down;
	b->vars_status = shell_vars(s, as, ctx, names, vals, 4, buf, cap);
	if (b->vars_status)
		return;
	b->histfile = vals[0];
	b->histsize = vals[1];
	b->histfilesize = vals[2];
	b->histignore = vals[3];
}

static int is_bash(const struct snap_proc *p)
{
	const char *base = p->exe_path ? strrchr(p->exe_path, '/') : NULL;

	return base && !strcmp(base, "/bash");
}

int linux_collect_bash(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	size_t cap = k->limits.string_length + 1;
	char *buf = malloc(cap);

	if (!buf)
		return aerr_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < s->nprocs; i++) {
		struct snap_proc *p = &s->procs[i];
		struct elfsym_image img;
		struct vas as;
		int64_t v;
		uint64_t base = bash_base(p);
		if (!is_bash(p) || !base || linux_proc_vas(k, p, &as))
			continue;
		struct snap_bash *b = arena_alloc(&s->arena, sizeof(*b));
		if (!b)
			break;
		p->bash = b;
		b->status = elfsym_open(&img, &as, base);
		if (b->status) {
			klog(k, ALOG_DEBUG, "pid %d: bash image unreadable (%d)", p->pid, b->status);
			continue;
		}
		/* before the switches: bash sets them as it becomes interactive */
		b->interactive = !read_int(&as, &img, "interactive_shell", &v) ? (int)v : -1;
		b->remember_on_history = !read_int(&as, &img, "remember_on_history", &v) ? (int)v : -1;
		b->enable_history_list = !read_int(&as, &img, "enable_history_list", &v) ? (int)v : -1;
		b->session = !read_int(&as, &img, "history_lines_this_session", &v) && v >= 0 ? v : -1;
		b->status = history(k, s, &as, &img, b, buf, cap);
		variables(s, &as, &img, b, buf, cap);
	}
	free(buf);
	return 0;
}
