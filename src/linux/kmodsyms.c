/* kmodsyms.c - a module's function symbols, static call trampolines and
 * the modules it uses, from its struct module (see kmodsyms.h).
 *
 * mod->kallsyms is what the loader kept of the module's ELF symbol table:
 * Elf64_Sym entries (symtab, num_symtab) and their names (strtab).  Only
 * STT_FUNC symbols whose value lies in the module's core text are taken.
 * mod->target_list holds a struct module_use (linked by its target_list)
 * for each module the loader resolved one of its symbols against.
 */
#include "linux/kmodsyms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"
#include "linux/walk.h"

#define ELF_SYM_SIZE 24		/* Elf64_Sym */
#define SYMS_AT_ONCE 64
#define TRAMP_LEN 8		/* jmp rel32 or ret + int3 + 2 nops, then ud1's 3 */

struct symtab {
	uint64_t tab, str, num;
};

static int symtab(struct kernel *k, uint64_t mod, struct symtab *st)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t ks;

	if (kfield_read(&k->kvas, mod, &o->module__kallsyms, &ks) || !kptr_ok(ks) ||
	    kfield_read(&k->kvas, ks, &o->mod_kallsyms__symtab, &st->tab) || !kptr_ok(st->tab) ||
	    kfield_read(&k->kvas, ks, &o->mod_kallsyms__num_symtab, &st->num) ||
	    kfield_read(&k->kvas, ks, &o->mod_kallsyms__strtab, &st->str) || !kaddr_ok(st->str))
		return -1;
	st->num = (uint32_t)st->num < KMOD_SYMS_MAX ? (uint32_t)st->num : KMOD_SYMS_MAX;
	return 0;
}

/* each STT_FUNC symbol with a name, its value in [lo, hi): fn(ctx, value,
 * size, name offset); -1 on a read that fails */
static int each_func(struct kernel *k, const struct symtab *st, uint64_t lo, uint64_t hi,
		     int (*fn)(void *ctx, uint64_t value, uint64_t size, uint32_t name), void *ctx)
{
	uint8_t sym[ELF_SYM_SIZE * SYMS_AT_ONCE];

	for (uint64_t i = 0; i < st->num; i += SYMS_AT_ONCE) {
		uint64_t n = st->num - i < SYMS_AT_ONCE ? st->num - i : SYMS_AT_ONCE;
		if (vas_read(&k->kvas, st->tab + i * ELF_SYM_SIZE, sym, n * ELF_SYM_SIZE, NULL))
			return -1;
		for (uint64_t j = 0; j < n; j++) {
			const uint8_t *e = sym + j * ELF_SYM_SIZE;
			uint32_t name;
			uint64_t value, size;
			memcpy(&name, e, 4);
			memcpy(&value, e + 8, 8);
			memcpy(&size, e + 16, 8);
			if ((e[4] & 0xf) == 2 && name && value >= lo && value < hi &&
			    fn(ctx, value, size, name))
				return -1;
		}
	}
	return 0;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

struct collect {
	struct kernel *k;
	const struct symtab *st;
	struct kmod_funcs *f;
	size_t cap, tcap;
};

static int collect(void *ctx, uint64_t value, uint64_t size, uint32_t name)
{
	struct collect *c = ctx;
	struct kmod_funcs *f = c->f;
	char head[8] = "";

	if (vec_reserve(f->v, f->n, c->cap, 256))
		return -1;
	f->v[f->n++] = (struct ktext_sym){ value, name };
	/* DEFINE_STATIC_CALL's trampoline in the module's .static_call.text */
	if (vas_read(&c->k->kvas, c->st->str + name, head, 7, NULL) || memcmp(head, "__SCT__", 7))
		return 0;
	if (vec_reserve(f->tramps, f->ntramps, c->tcap, 16))
		return -1;
	f->tramps[f->ntramps++] = (struct ksite){ .addr = value,
						  .len = size >= 5 && size <= 16 ? (uint32_t)size : TRAMP_LEN,
						  .kind = KSITE_SCTRAMP };
	return 0;
}

/* by address, then by name offset: the loader writes a module's kept
 * names in symbol table order, so of aliases the last is the last in the
 * table (the one kmod_func_name tells) */
static int by_value(const void *a, const void *b)
{
	const struct ktext_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->sym < y->sym ? -1 : x->sym > y->sym;
}

int kmod_funcs_read(struct kernel *k, uint64_t mod, uint64_t start, uint64_t end,
		    struct kmod_funcs *f)
{
	struct symtab st;

	*f = (struct kmod_funcs){ 0 };
	if (symtab(k, mod, &st))
		return -1;
	struct collect c = { .k = k, .st = &st, .f = f };
	if (each_func(k, &st, start, end, collect, &c)) {
		kmod_funcs_free(f);
		return -1;
	}
	if (f->n)
		qsort(f->v, f->n, sizeof(*f->v), by_value);
	f->str = st.str;
	return 0;
}

void kmod_funcs_free(struct kmod_funcs *f)
{
	free(f->v);
	free(f->tramps);
	*f = (struct kmod_funcs){ 0 };
}

size_t kmod_func_after(const struct kmod_funcs *f, uint64_t a)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->v[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t kmod_func_name(struct kernel *k, const struct kmod_funcs *f, uint64_t a, char *name,
			size_t cap)
{
	size_t lo = kmod_func_after(f, a);
	char buf[KMOD_SYM_NAME_MAX + 1];

	if (!cap || !lo || vas_read(&k->kvas, f->str + f->v[lo - 1].sym, buf, KMOD_SYM_NAME_MAX, NULL))
		return 0;
	buf[KMOD_SYM_NAME_MAX] = 0;
	if (!buf[0] || !printable(buf))
		return 0;
	snprintf(name, cap, "%s", buf);
	return f->v[lo - 1].addr;
}

int kmod_uses(struct kernel *k, const struct snapshot *s, uint64_t mod, uint64_t (*r)[2],
	      size_t max)
{
	const struct koffsets *o = &k->prof->off;
	struct list_walk lw;
	uint64_t node;
	int n = 0;

	if (!o->module__target_list.present || !o->module_use__target_list.present ||
	    !o->module_use__target.present)
		return -1;
	list_walk_init(&lw, &k->kvas, mod + (uint64_t)o->module__target_list.off, KMOD_USES_MAX);
	while (list_walk_next(&lw, &node)) {
		uint64_t target;
		if (kfield_read(&k->kvas, node - (uint64_t)o->module_use__target_list.off,
				&o->module_use__target, &target))
			continue;
		for (size_t i = 0; i < s->nkmods; i++) {
			const struct snap_kmod *m = &s->kmods[i];
			if (m->addr == target && (m->views & SNAP_KMOD_LIST) && (size_t)n < max &&
			    m->text_end > m->text_start) {
				r[n][0] = m->text_start;
				r[n++][1] = m->text_end;
				break;
			}
		}
	}
	int whole = lw.closed;
	list_walk_done(&lw);
	return whole ? n : -1;
}

void kmod_its_pages(struct kernel *k, uint64_t mod, uint64_t (*r)[2], int *n, size_t max)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t arr, num, page;

	if (!o->module__its_page_array.present || !o->module__its_num_pages.present ||
	    kfield_read(&k->kvas, mod, &o->module__its_page_array, &arr) || !kptr_ok(arr) ||
	    kfield_read(&k->kvas, mod, &o->module__its_num_pages, &num))
		return;
	for (uint32_t i = 0; i < (uint32_t)num && i < KMOD_USES_MAX && (size_t)*n < max; i++) {
		if (vas_read_u64(&k->kvas, arr + 8ULL * i, &page) || !kptr_ok(page) || (page & 0xfff))
			continue;
		r[*n][0] = page;
		r[(*n)++][1] = page + 0x1000;
	}
}

int kmod_is_livepatch(struct kernel *k, uint64_t mod)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t klp;

	return o->module__klp.present && !kfield_read(&k->kvas, mod, &o->module__klp, &klp) &&
	       (klp & 0xff);
}
