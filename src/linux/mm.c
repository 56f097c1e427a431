/* mm.c - every virtual memory area of every process.
 *
 * Linux 6.1 keeps VMAs in a maple tree (mm->mm_mt); older kernels in a
 * list (mm->mmap, vm_next).  Both walks are bounded (limits.vmas overall,
 * node and depth caps per tree) and cycle-checked; every VMA found must
 * point back to its mm and have start < end, and the result must be sorted
 * and non-overlapping, or the bad entries are dropped and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/ahead.h"
#include "linux/kernel.h"
#include "linux/kmemo.h"
#include "linux/kobj.h"
#include "linux/paths.h"
#include "linux/walk.h"
#include "core/vec.h"

#define MT_MAX_DEPTH 31
#define MT_MAX_NODES 65536
#define MT_NODE_MASK 0xffULL
#define VMA_AHEAD 4

enum { MT_DENSE, MT_LEAF_64, MT_RANGE_64, MT_ARANGE_64 };

struct mctx {
	struct kernel *k;
	struct snapshot *s;
	const struct koffsets *o;
	uint64_t mm;
	uint64_t *vmas;		/* vm_area_struct addresses found */
	uint32_t n, cap, max;
	uint32_t nodes;
	struct u64map seen;
	int bad;
	struct kspan vma, file, inode;	/* the fields an area needs (kobj.h) */
};

static int add_vma(struct mctx *c, uint64_t vma)
{
	if (!kptr_ok(vma)) {
		c->bad++;
		return 0;
	}
	if (c->n >= c->max)
		return -E2BIG;
	if (vec_reserve(c->vmas, c->n, c->cap, 64))
		return -ENOMEM;
	c->vmas[c->n++] = vma;
	return 0;
}

/* ma_root holds a node with bit 1 set (MAPLE_ROOT_NODE), or a single
 * entry; inside the tree, slots of internal nodes are always nodes */
static int root_is_node(uint64_t entry)
{
	return (entry & 3) == 2 && entry > 4096;
}

/* slots, pivots and their count for a node type */
static int node_slots(struct mctx *c, uint64_t node, int type, uint64_t *slots, uint64_t *pivots,
		      uint32_t *nslots)
{
	const struct koffsets *o = c->o;
	const struct kfield *slot, *pivot, *in;

	if (type == MT_ARANGE_64) {
		in = &o->maple_node__ma64;
		slot = &o->maple_arange_64__slot;
		pivot = &o->maple_arange_64__pivot;
	} else {
		in = &o->maple_node__mr64;
		slot = &o->maple_range_64__slot;
		pivot = &o->maple_range_64__pivot;
	}
	if (!in->present || !slot->present || !pivot->present)
		return -ENOENT;
	uint32_t n = pivot->size / 8 + 1;
	if (n > 32 || n * 8 > (uint32_t)slot->size + 8)
		return -EINVAL;
	*nslots = n;
	uint64_t base = node + (uint64_t)in->off;
	if (vas_read(&c->k->kvas, base + (uint64_t)pivot->off, pivots, (n - 1) * 8, NULL))
		return -EFAULT;
	return vas_read(&c->k->kvas, base + (uint64_t)slot->off, slots, n * 8, NULL);
}

/* max: the highest index this node covers (from its parent's pivot).
 * Slot i covers up to pivot[i]; the slot that reaches max is the last one
 * in use, and what follows it is stale. */
static int walk_node(struct mctx *c, uint64_t entry, int depth, uint64_t max)
{
	uint64_t slots[32], pivots[32];
	uint32_t n;
	int ret;

	if (depth == 0 && !root_is_node(entry))
		return add_vma(c, entry);
	uint64_t node = entry & ~MT_NODE_MASK;
	int type = (int)((entry >> 3) & 0xf);
	if (depth > MT_MAX_DEPTH || ++c->nodes > MT_MAX_NODES || !kptr_ok(node) ||
	    u64map_test_and_set(&c->seen, node)) {
		c->bad++;
		return 0;
	}
	if (type == MT_DENSE || type > MT_ARANGE_64) {
		c->bad++;
		return 0;
	}
	if (node_slots(c, node, type, slots, pivots, &n)) {
		c->bad++;
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t slot_max = i + 1 < n ? pivots[i] : max;
		if (i && (pivots[i - 1] >= max || (i + 1 < n && !pivots[i])))
			break;
		if (slots[i]) {
			if (type == MT_LEAF_64)
				ret = add_vma(c, slots[i]);
			else
				ret = walk_node(c, slots[i], depth + 1, slot_max);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int walk_list(struct mctx *c)
{
	const struct koffsets *o = c->o;
	uint64_t vma = kernel_field(c->k, c->mm, &o->mm_struct__mmap);

	while (vma) {
		if (u64map_test_and_set(&c->seen, vma)) {
			kernel_loop(c->k, c->s, "the memory areas of mm 0x%llx: 0x%llx again",
				    (unsigned long long)c->mm, (unsigned long long)vma);
			return 0;
		}
		int ret = add_vma(c, vma);
		if (ret)
			return ret;
		vma = kernel_field(c->k, vma, &o->vm_area_struct__vm_next);
	}
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct snap_vma *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

static int fill_vma(struct mctx *c, const struct snap_proc *p, uint64_t vma, struct snap_vma *v,
		    char *name, size_t cap)
{
	const struct koffsets *o = c->o;
	struct kernel *k = c->k;
	struct vas *as = &k->kvas;
	struct kobj vo, fo, io;

	memset(v, 0, sizeof(*v));
	kobj_load(&vo, as, vma, c->vma);
	if (o->vm_area_struct__vm_mm.present && kobj_get(as, &vo, &o->vm_area_struct__vm_mm) != c->mm)
		return -EINVAL;
	v->start = kobj_get(as, &vo, &o->vm_area_struct__vm_start);
	v->end = kobj_get(as, &vo, &o->vm_area_struct__vm_end);
	if (v->start >= v->end || (v->start & 0xfff) || (v->end & 0xfff))
		return -EINVAL;
	v->flags = kobj_get(as, &vo, &o->vm_area_struct__vm_flags);
	v->pgoff = kobj_get(as, &vo, &o->vm_area_struct__vm_pgoff);
	v->file = kobj_get(as, &vo, &o->vm_area_struct__vm_file);
	/* anonymous memory a process maps has no vm_ops (vma_set_anonymous);
	 * the kernel's own mappings without a file ([vdso], [vvar]) have */
	if (!v->file) {
		v->special = o->vm_area_struct__vm_ops.present &&
			     kobj_get(as, &vo, &o->vm_area_struct__vm_ops) != 0;
		return 0;
	}
	if (!kptr_ok(v->file))
		return -EINVAL;
	/* a forked process shares its parent's struct files */
	struct kmemo *m = kernel_memo(k);
	const struct kmemo_file *e = kmemo_file_get(m, KMEMO_VMA, v->file);
	if (e && e->cap == cap) {
		v->inode = e->inode;
		if (kptr_ok(v->inode)) {
			uint64_t size = (uint64_t)e->size, pages = (v->end - v->start) >> 12;
			v->past_eof = size < (1ULL << 52) && v->pgoff < (1ULL << 40) &&
				      v->pgoff + pages > (size + 4095) >> 12;
			v->ino = e->ino;
			v->dev = e->dev;
		}
		v->deleted = e->deleted;
		if (e->name_ret >= 0)
			v->path = arena_strndup(&c->s->arena, e->name, (size_t)e->name_ret);
		v->is_main_exe = p->exe_inode && v->inode == p->exe_inode;
		return 0;
	}
	struct kmemo_file ne = { .cap = (uint32_t)cap };
	kobj_load(&fo, as, v->file, c->file);
	v->inode = kobj_get(as, &fo, &o->file__f_inode);
	if (kptr_ok(v->inode)) {
		kobj_load(&io, as, v->inode, c->inode);
		uint64_t size = kobj_get(as, &io, &o->inode__i_size);
		uint64_t pages = (v->end - v->start) >> 12;
		ne.size = (int64_t)size;
		v->past_eof = size < (1ULL << 52) && v->pgoff < (1ULL << 40) &&
			      v->pgoff + pages > (size + 4095) >> 12;
		v->ino = kobj_get(as, &io, &o->inode__i_ino);
		v->dev = (uint32_t)kernel_field(k, kobj_get(as, &io, &o->inode__i_sb),
						&o->super_block__s_dev);
	}
	long n = linux_file_name_obj(k, &fo, name, cap, &v->deleted);
	if (n >= 0)
		v->path = arena_strndup(&c->s->arena, name, (size_t)n);
	v->is_main_exe = p->exe_inode && v->inode == p->exe_inode;
	ne.inode = v->inode;
	ne.ino = v->ino;
	ne.dev = v->dev;
	ne.name_ret = n;
	ne.deleted = v->deleted;
	ne.namelen = n >= 0 ? (size_t)n : 0;
	if (m && cap <= UINT32_MAX && (n < 0 || (size_t)n < cap))
		kmemo_file_put(m, KMEMO_VMA, v->file, &ne, name);
	return 0;
}

/* An exec replaces the mm, bumps self_exec_id, maps the new image, then
 * the vDSO, then writes the arguments and environment (env_end): until
 * then the areas are half of one program and half of nothing.  Read once
 * more after the walk; a process that moved is judged next scan. */
static void settled(struct mctx *c, struct snap_proc *p)
{
	const struct koffsets *o = c->o;
	uint64_t mm = kernel_field(c->k, p->task, &o->task_struct__mm);
	uint64_t exec_id = kernel_field(c->k, p->task, &o->task_struct__self_exec_id);

	if (p->mm && mm != p->mm)
		p->unsettled = "its mm changed during the scan";
	else if (exec_id != p->self_exec_id)
		p->unsettled = "it executed a program during the scan";
	else if (o->mm_struct__env_end.present && !kernel_field(c->k, c->mm, &o->mm_struct__env_end))
		p->unsettled = "its new program is not set up yet";
}

/* The head of a process's areas, fetched a few processes ahead (ahead.h):
 * 1 task->mm, 2 the maple tree's root (or the first area of the list),
 * 3 the root node's slots, 4 the slots of the root's children, each
 * stage prefetching what the next reads: stage 3 the root's children,
 * areas or nodes, stage 4 the areas in those nodes (MM_HEAD_VMAS at most;
 * the walk's own look-ahead, VMA_AHEAD, takes the rest). */
#define MM_HEAD_STAGES 4
#define MM_HEAD_VMAS 32

struct mm_head {
	uint64_t mm, root;
	uint64_t child[16];	/* the root's children, when they are nodes */
	uint32_t nchild;
};

static void mm_head(void *ctx, const struct snap_proc *p, void *hv, int from, int to)
{
	struct mctx *c = ctx;
	struct mm_head *h = hv;
	const struct koffsets *o = c->o;
	struct vas *as = &c->k->kvas;
	int maple = o->mm_struct__mm_mt.present;
	uint64_t at = maple ? (uint64_t)o->mm_struct__mm_mt.off + (uint64_t)o->maple_tree__ma_root.off
			    : (uint64_t)o->mm_struct__mmap.off;

	if (!h) {
		if (o->task_struct__mm.present)
			vas_prefetch(as, p->task + (uint64_t)o->task_struct__mm.off, 8);
		return;
	}
	for (int st = from + 1; st <= to; st++) {
		if (st == 1) {
			h->mm = kernel_field(c->k, p->task, &o->task_struct__mm);
			h->root = 0;
			h->nchild = 0;
			if (kptr_ok(h->mm))
				vas_prefetch(as, h->mm + at, 8);
		} else if (st == 2 && kptr_ok(h->mm) && maple) {
			h->root = kernel_field(c->k, h->mm + (uint64_t)o->mm_struct__mm_mt.off,
					       &o->maple_tree__ma_root);
			if (root_is_node(h->root) && kptr_ok(h->root & ~MT_NODE_MASK))
				vas_prefetch(as, h->root & ~MT_NODE_MASK, MT_NODE_MASK + 1);
		} else if (st == 2 && kptr_ok(h->mm)) {
			uint64_t vma = kernel_field(c->k, h->mm, &o->mm_struct__mmap);
			if (kptr_ok(vma))
				vas_prefetch(as, vma + (uint64_t)(int64_t)c->vma.lo,
					     (size_t)(c->vma.hi - c->vma.lo));
		} else if (st == 3 && root_is_node(h->root)) {
			uint64_t slots[32], pivots[32];
			uint32_t n;
			int type = (int)((h->root >> 3) & 0xf);
			if ((type != MT_LEAF_64 && type != MT_RANGE_64 && type != MT_ARANGE_64) ||
			    !kptr_ok(h->root & ~MT_NODE_MASK) ||
			    node_slots(c, h->root & ~MT_NODE_MASK, type, slots, pivots, &n))
				continue;
			for (uint32_t i = 0; i < n; i++) {
				if (!kptr_ok(slots[i] & ~MT_NODE_MASK))
					continue;
				if (type == MT_LEAF_64) {
					vas_prefetch(as, slots[i] + (uint64_t)(int64_t)c->vma.lo,
						     (size_t)(c->vma.hi - c->vma.lo));
				} else {
					vas_prefetch(as, slots[i] & ~MT_NODE_MASK, MT_NODE_MASK + 1);
					if (h->nchild < 16)
						h->child[h->nchild++] = slots[i];
				}
			}
		} else if (st == 4) {
			uint64_t slots[32], pivots[32];
			uint32_t n, left = MM_HEAD_VMAS;
			for (uint32_t j = 0; j < h->nchild && left; j++) {
				uint64_t e = h->child[j];
				if ((int)((e >> 3) & 0xf) != MT_LEAF_64 ||
				    node_slots(c, e & ~MT_NODE_MASK, MT_LEAF_64, slots, pivots, &n))
					continue;
				for (uint32_t i = 0; i < n && left; i++) {
					if (!kptr_ok(slots[i]))
						continue;
					vas_prefetch(as, slots[i] + (uint64_t)(int64_t)c->vma.lo,
						     (size_t)(c->vma.hi - c->vma.lo));
					left--;
				}
			}
		}
	}
}

static void proc_vmas(struct mctx *c, struct snap_proc *p, const struct mm_head *h, char *name,
		      size_t cap)
{
	const struct koffsets *o = c->o;
	int ret;

	c->mm = h->mm;
	if (!kptr_ok(c->mm))
		return;
	c->n = 0;
	c->nodes = 0;
	c->bad = 0;
	u64map_clear(&c->seen);
	if (o->mm_struct__mm_mt.present) {
		uint64_t root = h->root;
		ret = root ? walk_node(c, root, 0, UINT64_MAX) : 0;
	} else {
		ret = walk_list(c);
	}
	if (ret == -E2BIG) {
		c->s->stats.limit_hits++;
		c->s->stats.limit_vmas = 1;
	}
	/* not zeroed: fill_vma clears each entry it fills */
	struct snap_vma *v = c->n ? arena_alloc_raw(&c->s->arena, c->n * sizeof(*v)) : NULL;
	uint32_t got = 0;
	/* the first areas too, not only those VMA_AHEAD on from one decoded */
	for (uint32_t i = 0; v && i < VMA_AHEAD && i < c->n; i++)
		vas_prefetch(&c->k->kvas, c->vmas[i] + (uint64_t)c->vma.lo,
			     (size_t)(c->vma.hi - c->vma.lo));
	for (uint32_t i = 0; v && i < c->n; i++) {
		/* the area a few on: in the CPU's cache by then */
		if (i + VMA_AHEAD < c->n)
			vas_prefetch(&c->k->kvas, c->vmas[i + VMA_AHEAD] + (uint64_t)c->vma.lo,
				     (size_t)(c->vma.hi - c->vma.lo));
		if (fill_vma(c, p, c->vmas[i], &v[got], name, cap))
			c->bad++;
		else
			got++;
	}
	if (v)
		qsort(v, got, sizeof(*v), cmp_start);
	/* drop anything overlapping its predecessor: a racing or forged tree */
	uint32_t keep = 0;
	for (uint32_t i = 0; i < got; i++) {
		if (keep && v[i].start < v[keep - 1].end) {
			c->bad++;
			continue;
		}
		v[keep++] = v[i];
	}
	p->vmas = v;
	p->nvmas = keep;
	settled(c, p);
	c->max -= keep < c->max ? keep : c->max;
	if (ret || c->bad)
		p->partial |= SNAP_PARTIAL_VMAS;
	if (c->bad) {
		c->s->stats.bad_objects += (uint64_t)c->bad - 1;
		kernel_bad(c->k, c->s, "pid %d: %d memory-area entries of mm 0x%llx", p->pid, c->bad,
			   (unsigned long long)p->mm);
	}
}

int linux_collect_vmas(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	struct mctx c = { .k = k, .s = s, .o = &k->prof->off, .max = k->limits.vmas };
	const struct koffsets *o = c.o;
	const struct kfield *vf[] = {
		&o->vm_area_struct__vm_mm, &o->vm_area_struct__vm_start,
		&o->vm_area_struct__vm_end, &o->vm_area_struct__vm_flags,
		&o->vm_area_struct__vm_pgoff, &o->vm_area_struct__vm_file,
		&o->vm_area_struct__vm_ops,
	};
	const struct kfield *inf[] = { &o->inode__i_size, &o->inode__i_ino, &o->inode__i_sb };
	c.vma = kspan_of(vf, (int)(sizeof(vf) / sizeof(vf[0])));
	c.file = linux_file_span(o);
	c.inode = kspan_of(inf, 3);
	size_t cap = k->limits.string_length + 1 > 4096 ? k->limits.string_length + 1 : 4096;
	char *name = malloc(cap);

	if (!name)
		return aerr_set(err, ENOMEM, "out of memory");
	struct mm_head heads[AHEAD_RING];
	struct ahead a;
	ahead_init(&a, MM_HEAD_STAGES, heads, sizeof(heads[0]), mm_head, &c);
	u64map_init(&c.seen);
	for (size_t i = 0; i < s->nprocs; i++)
		if (!s->procs[i].kthread)
			proc_vmas(&c, &s->procs[i], ahead_next(&a, s, i), name, cap);
	u64map_free(&c.seen);
	free(c.vmas);
	free(name);
	return 0;
}
