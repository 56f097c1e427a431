/* kernel.c - open a memory source with its profile; per-process address spaces. */
#include "linux/kernel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#include "linux/guests.h"
#include "linux/kmemo.h"
#include "linux/walk.h"

int kernel_open(const struct kernel_opts *o, struct kernel **out, struct aerr *err)
{
	struct memsrc_opts mo = { .regions_path = o->regions };
	struct profile_opts po = { .spec = o->profile, .event = o->event,
				   .event_ctx = o->event_ctx };
	struct klimits lim = KLIMITS_DEFAULT;
	struct kernel *k;
	int ret;

	*out = NULL;
	if (!o->mem && o->source && !strncmp(o->source, "guest:", 6))
		return linux_open_guest_kernel(o, out, err);
	k = calloc(1, sizeof(*k));
	if (!k) {
		memsrc_close(o->mem);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	k->limits = lim;
	k->log_level = o->log_level ? o->log_level : alog_sdk_level();
	const char *tag = o->log_tag ? o->log_tag : alog_sdk_tag();
	if (tag)
		snprintf(k->log_tag, sizeof(k->log_tag), "%s", tag);
	k->threads = o->threads > 1 ? (o->threads < SCAN_THREADS_MAX ? o->threads :
				       SCAN_THREADS_MAX) : 1;
	k->mem = o->mem;
	ret = k->mem ? 0 : memsrc_open(o->source, &mo, &k->mem, err);
	if (ret)
		goto fail;
	if (!o->no_cache && memsrc_cache_enable(k->mem, 0)) {
		ret = aerr_set(err, ENOMEM, "out of memory for the page cache");
		goto fail;
	}
	/* count the distinct pages finding and proving the kernel reads: it
	 * must not grow with the size of memory (argus info shows it) */
	struct u64map seen;
	u64map_init(&seen);
	struct u64map *outer = k->mem->pages_seen;
	if (!outer)
		k->mem->pages_seen = &seen;
	ret = profile_load(k->mem, &po, &k->prof, err);
	if (!outer) {
		k->mem->pages_seen = NULL;
		k->startup_pages = seen.len;
	}
	u64map_free(&seen);
	if (ret)
		goto fail;
	profile_kernel_vas(k->prof, k->mem, &k->kvas);
	if (klog_on(k, ALOG_INFO)) {
		uint64_t bytes = 0;
		for (size_t i = 0; i < k->mem->nranges; i++)
			bytes += k->mem->ranges[i].len;
		klog(k, ALOG_INFO, "memory: %s %s, %llu MiB in %zu ranges", k->mem->kind,
		     k->mem->path, (unsigned long long)(bytes >> 20), k->mem->nranges);
		klog(k, ALOG_INFO, "kernel: Linux %s (%s), %d-level tables at 0x%llx, KASLR slide "
		     "0x%llx; profile: %s; %llu distinct pages read to find it", k->prof->release,
		     k->prof->arch ? k->prof->arch->name : "?", k->prof->levels,
		     (unsigned long long)k->prof->kernel_pgd_pa,
		     (unsigned long long)k->prof->kaslr_slide, k->prof->source,
		     (unsigned long long)k->startup_pages);
	}
	*out = k;
	return 0;
fail:
	kernel_close(k);
	return ret;
}

static void vklog(const struct kernel *k, int level, const char *fmt, va_list ap)
{
	char msg[900];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (k->log_tag[0])
		alog_at(k->log_level, level, "sdk: %s: %s", k->log_tag, msg);
	else
		alog_at(k->log_level, level, "sdk: %s", msg);
}

void klog(const struct kernel *k, int level, const char *fmt, ...)
{
	va_list ap;

	if (!klog_on(k, level))
		return;
	va_start(ap, fmt);
	vklog(k, level, fmt, ap);
	va_end(ap);
}

static void told(const struct kernel *k, struct snapshot *s, const char *what,
		 const char *fmt, va_list ap)
{
	char msg[700];

	if (!klog_on(k, ALOG_INFO) || s->stats.bad_told > KERNEL_BAD_TOLD)
		return;
	if (s->stats.bad_told++ == KERNEL_BAD_TOLD) {
		klog(k, ALOG_INFO, "further objects skipped in this scan are not told");
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	klog(k, ALOG_INFO, "%s: %s", what, msg);
}

void kernel_bad(const struct kernel *k, struct snapshot *s, const char *fmt, ...)
{
	va_list ap;

	s->stats.bad_objects++;
	va_start(ap, fmt);
	told(k, s, "skipped", fmt, ap);
	va_end(ap);
}

void kernel_loop(const struct kernel *k, struct snapshot *s, const char *fmt, ...)
{
	va_list ap;

	s->stats.loops++;
	va_start(ap, fmt);
	told(k, s, "cyclic list", fmt, ap);
	va_end(ap);
}

void kernel_walk_end(const struct kernel *k, struct snapshot *s, const char *name,
		     const struct list_walk *w)
{
	if (w->end == WALK_LOOP)
		kernel_loop(k, s, "%s: the entry after 0x%llx was seen before", name,
			    (unsigned long long)w->cur);
	else if (w->end != WALK_OK && w->end != WALK_LIMIT)
		kernel_bad(k, s, "%s: the link at 0x%llx: %s", name, (unsigned long long)w->cur,
			   walk_end_str(w->end));
}

void kernel_close(struct kernel *k)
{
	if (!k)
		return;
	while (k->nparts > 0)
		k->parts[--k->nparts](k);
	kmemo_free(k->memo);
	free(k->task_hint);
	free(k->sct_first);
	if (k->bpf_memo) {
		u64map_free(k->bpf_memo);
		free(k->bpf_memo);
	}
	profile_free(k->prof);
	memsrc_close(k->mem);
	kernel_close(k->host);
	free(k);
}

int kernel_scan_begin(struct kernel *k, struct aerr *err)
{
	int ret = memsrc_check(k->mem, err);

	if (ret)
		return ret;
	memsrc_cache_flush(k->mem);
	vas_flush(&k->kvas);
	kmemo_clear(k->memo);
	return 0;
}

void kernel_part(struct kernel *k, void (*free_fn)(struct kernel *k))
{
	for (int i = 0; i < k->nparts; i++)
		if (k->parts[i] == free_fn)
			return;
	if (k->nparts == KERNEL_PARTS)
		abort();	/* a fixed set of collectors: a bug, never the guest's doing */
	k->parts[k->nparts++] = free_fn;
}

struct kmemo *kernel_memo(struct kernel *k)
{
	if (!k->memo)
		k->memo = kmemo_new();
	return k->memo;
}

uint64_t kernel_ns_inum(struct kernel *k, uint64_t ns, const struct kfield *ns_member)
{
	const struct koffsets *o = &k->prof->off;
	struct kmemo *m = kernel_memo(k);
	uint64_t at, v;

	if (!kptr_ok(ns) || !ns_member->present)
		return 0;
	/* shared by most processes and sockets: read once a scan */
	at = ns + (uint64_t)ns_member->off;
	if (kmemo_val_get(m, at + (uint64_t)o->ns_common__inum.off, &v))
		return v;
	v = kernel_field(k, at, &o->ns_common__inum);
	kmemo_val_put(m, at + (uint64_t)o->ns_common__inum.off, v);
	return v;
}

int linux_proc_vas(struct kernel *k, const struct snap_proc *p, struct vas *as)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t mm, pgd;

	if (p->kthread || kfield_read(&k->kvas, p->task, &o->task_struct__mm, &mm) || !mm)
		return -ENOENT;
	uint64_t root;

	if (kfield_read(&k->kvas, mm, &o->mm_struct__pgd, &pgd) ||
	    profile_lm_to_phys(k->prof, pgd, &root))
		return -EFAULT;
	/* mm->pgd is a direct-map address; on x86-64 with PTI the kernel half
	 * (this one) also maps all of user space */
	profile_user_vas(k->prof, k->mem, root, as);
	return 0;
}

int linux_mm_vas(struct kernel *k, uint64_t mm, uint64_t pgd, struct vas *as)
{
	uint64_t root;

	if (!mm)
		return -ENOENT;
	if (!pgd || profile_lm_to_phys(k->prof, pgd, &root))
		return -EFAULT;
	profile_user_vas(k->prof, k->mem, root, as);
	return 0;
}
