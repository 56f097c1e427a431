/* ktextbase.c - the baseline Kernel Text Modified compares core kernel
 * text against (ktextmod.c): the text's bytes at first sight, its
 * function entries, the kernel's own patch sites, lock prefixes and block
 * sums, with what a kprobe registered before the first scan replaced
 * taken back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/ktextfast.h"
#include "linux/ktextmod.h"
#include "linux/optprobe.h"
#include "linux/walk.h"

/* the distinct function entries in core text, outside the static call
 * trampolines, with KTEXT_ENTRY_LEN bytes before _etext */
static int entries_list(struct kernel *k, const struct ktext *t, struct ktext_base *b)
{
	const struct kaddrs *a = &k->prof->sym;

	if (!(b->entries = malloc((t->n ? t->n : 1) * sizeof(*b->entries))) ||
	    !(b->ebytes = malloc((t->n ? t->n : 1) * KTEXT_ENTRY_LEN)))
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		uint64_t e = t->by_addr[i].addr;
		if (!ktext_core(t, e) || (b->nentries && b->start + b->entries[b->nentries - 1] == e) ||
		    (a->__static_call_text_start && e >= a->__static_call_text_start &&
		     e < a->__static_call_text_end) || e + KTEXT_ENTRY_LEN > t->etext)
			continue;
		b->entries[b->nentries++] = (uint32_t)(e - b->start);
	}
	return 0;
}

/* A kprobe registered before the first scan: the baseline takes back the
 * bytes it replaced (optprobe_unprobe), as the text holds them once it
 * goes; while it stays, its bytes are judged as its site's every scan. */
struct ktext_base *ktext_baseline(struct kernel *k, const struct ktext *t,
				 const struct snapshot *s, char *why, size_t whycap)
{
	struct ktext_base *b = calloc(1, sizeof(*b));
	uint64_t size = t->etext - t->stext;

	if (!b || size > KTEXT_TEXT_MAX || !(b->copy = malloc(size))) {
		snprintf(why, whycap, "core text: %s", b && size > KTEXT_TEXT_MAX ? "implausible size" : "out of memory");
		free(b);
		return NULL;
	}
	b->start = t->stext;
	b->end = t->etext;
	b->budget = KTEXT_BUDGET;
	if (entries_list(k, t, b)) {
		snprintf(why, whycap, "out of memory");
	} else if (vas_read(&k->kvas, b->start, b->copy, size, NULL)) {
		snprintf(why, whycap, "core text unreadable");
	} else if (!ktext_sites_read(k, t, b, why, whycap)) {
		optprobe_unprobe(k, t, NULL, s, b->start, b->copy, b->end - b->start);
		for (size_t i = 0; i < b->nentries; i++)
			memcpy(b->ebytes + i * KTEXT_ENTRY_LEN, b->copy + b->entries[i], KTEXT_ENTRY_LEN);
		if (!ktext_fast_new(b)) {
			ktext_locks_read(k, b);
			return b;
		}
		snprintf(why, whycap, "out of memory or no random key");
	}
	free(b->sites);
	free(b->copy);
	free(b->images);
	free(b->entries);
	free(b->ebytes);
	free(b);
	return NULL;
}

void ktextmod_free(struct kernel *k)
{
	struct ktext_base *b = k->kbase;

	if (!b)
		return;
	free(b->copy);
	free(b->sites);
	free(b->standing.v);
	free(b->images);
	free(b->entries);
	free(b->ebytes);
	ktext_fast_free(b);
	free(b);
	k->kbase = NULL;
}
