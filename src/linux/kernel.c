/* kernel.c - open a memory source with its profile; per-process address spaces. */
#include "linux/kernel.h"

#include <stdlib.h>

#include <string.h>

#include "linux/guests.h"
#include "linux/kmemo.h"
#include "linux/ktext.h"
#include "linux/kcarve.h"
#include "linux/ktextarm64.h"
#include "linux/ktextmod.h"
#include "linux/pagecache.h"
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
	*out = k;
	return 0;
fail:
	kernel_close(k);
	return ret;
}

void kernel_close(struct kernel *k)
{
	if (!k)
		return;
	linux_hash_memo_free(k);
	kmemo_free(k->memo);
	ktextmod_free(k);
	ktext_kmods_free(k);
	ktext_arm64_free(k);
	kcarve_free(k);
	free(k->sct_first);
	ktext_free(k);
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
