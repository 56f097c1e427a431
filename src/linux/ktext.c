/* ktext.c - core kernel text and the symbols at an address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/ktext.h"

const char ktext_why_entry[] = "the function's first instruction leads outside core kernel text";
const char ktext_why_insn[] = "an instruction inside the function leads outside core kernel text";

static int by_addr(const void *a, const void *b)
{
	const struct ktext_sym *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->sym < y->sym ? -1 : x->sym > y->sym;
}

const struct ktext *ktext_get(struct kernel *k)
{
	const struct kprofile *p = k->prof;
	struct ktext *t;

	if (k->ktext)
		return k->ktext;
	if (!p->sym._stext || p->sym._etext <= p->sym._stext || !p->syms)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->stext = p->sym._stext;
	t->etext = p->sym._etext;
	t->image = p->sym._text;
	t->image_end = p->sym._end;
	t->by_addr = p->syms->n ? malloc(p->syms->n * sizeof(*t->by_addr)) : NULL;
	for (size_t i = 0; t->by_addr && i < p->syms->n; i++) {
		uint64_t a = p->syms->syms[i].addr + (p->isf_link_addrs ? p->kaslr_slide : 0);
		t->by_addr[t->n++] = (struct ktext_sym){ a, (uint32_t)i };
	}
	if (t->n)
		qsort(t->by_addr, t->n, sizeof(*t->by_addr), by_addr);
	k->ktext = t;
	kernel_part(k, ktext_free);
	return t;
}

void ktext_free(struct kernel *k)
{
	if (!k->ktext)
		return;
	free(k->ktext->by_addr);
	free(k->ktext);
	k->ktext = NULL;
}

long ktext_find(const struct ktext *t, uint64_t a)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {		/* first symbol above a */
		size_t mid = lo + (hi - lo) / 2;
		if (t->by_addr[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	uint64_t at = t->by_addr[lo - 1].addr;
	while (lo > 1 && t->by_addr[lo - 2].addr == at)
		lo--;
	return (long)lo - 1;
}

uint64_t ktext_size(const struct ktext *t, uint64_t a)
{
	long i = ktext_find(t, a);

	if (i < 0 || t->by_addr[i].addr != a)
		return 0;
	while ((size_t)i < t->n && t->by_addr[i].addr == a)
		i++;
	return (size_t)i < t->n ? t->by_addr[i].addr - a : 0;
}

int ktext_named(struct kernel *k, const struct ktext *t, uint64_t a, const char *const *prefixes)
{
	long i = ktext_find(t, a);

	for (; i >= 0 && (size_t)i < t->n && t->by_addr[i].addr == a; i++) {
		const char *n = ksyms_name(k->prof->syms, t->by_addr[i].sym);
		for (const char *const *pp = prefixes; n && *pp; pp++) {
			size_t l = strlen(*pp);
			if (l && (*pp)[l - 1] == '$' ? strlen(n) == l - 1 && !strncmp(n, *pp, l - 1) :
			    !strncmp(n, *pp, l))
				return 1;
		}
	}
	return 0;
}

/* the end of what kallsyms names in the kernel image: _end, or, where
 * kallsyms has no _end (arm64's, functions only), core text's end */
static uint64_t named_end(const struct kernel *k, const struct ktext *t)
{
	return k->prof->sym._end > t->stext ? k->prof->sym._end : t->etext;
}

/* the kallsyms name of the symbol holding a in [_stext, end), at most
 * 1 MiB below it, and a's offset from it; NULL if none */
static const char *holder(struct kernel *k, const struct ktext *t, uint64_t a, uint64_t end,
			  uint64_t *off)
{
	long i;

	if (a < t->stext || a >= end || (i = ktext_find(t, a)) < 0 ||
	    a - t->by_addr[i].addr >= (1u << 20))
		return NULL;
	*off = a - t->by_addr[i].addr;
	return ksyms_name(k->prof->syms, t->by_addr[i].sym);
}

const char *ktext_describe(struct kernel *k, struct snapshot *s, uint64_t a)
{
	const struct ktext *t = ktext_get(k);
	char buf[160];
	uint64_t off;
	const char *n;

	/* only inside the kernel image: kallsyms knows no module symbols */
	if (!t || !(n = holder(k, t, a, named_end(k, t), &off)))
		return NULL;
	if (!off)
		snprintf(buf, sizeof(buf), "%s", n);
	else
		snprintf(buf, sizeof(buf), "%s+0x%llx", n, (unsigned long long)off);
	return arena_strndup(&s->arena, buf, strlen(buf));
}

const char *ktext_function(struct kernel *k, struct snapshot *s, uint64_t a)
{
	const struct ktext *t = ktext_get(k);
	uint64_t off;
	const char *n;

	if (!t || !(n = holder(k, t, a, t->etext, &off)))
		return NULL;
	return arena_strndup(&s->arena, n, strlen(n));
}

struct snap_hook *ktext_hook_push(struct snap_hook **v, size_t *n, size_t *cap, size_t max)
{
	if (*n >= max)
		return NULL;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct snap_hook *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		*v = nv;
		*cap = nc;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

int ktext_listed_module(const struct snapshot *s, uint64_t a)
{
	for (size_t i = 0; i < s->nkmods; i++)
		if ((s->kmods[i].views & SNAP_KMOD_LIST) && a >= s->kmods[i].text_start &&
		    a < s->kmods[i].text_end)
			return 1;
	return 0;
}
