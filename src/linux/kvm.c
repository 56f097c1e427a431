/* kvm.c - a VM's guest-physical layout from KVM's memslots (kvm.h). */
#include "linux/kvm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/paths.h"
#include "linux/walk.h"
#include "profile/ktypes.h"

#define BTF_MODULES_MAX 4096
#define MODULE_BTF_MAX (32u << 20)
#define FD_MAX (1u << 20)
#define FD_CHUNK 256
#define SLOTS_MAX 4096		/* slots (tree nodes) read; 6.1 allows 32764 user slots */
#define RB_DEPTH_MAX 64		/* a red-black tree of 4096 nodes is at most 24 deep */
#define USER_VA_END (1ULL << 57)

struct linux_kvm {
	struct ktypes *types;		/* the kvm module's BTF (split on vmlinux's) */
	struct kfield kvm_mm, kvm_memslots;
	struct kfield ms_gfn_tree, ms_node_idx;		/* 6.1+ */
	struct kfield ms_used_slots, ms_memslots;	/* before 5.17: an array */
	struct kfield slot_gfn_node, slot_base_gfn, slot_npages, slot_uaddr;
	uint64_t size_slot, size_rb_node;
};

static int module_named(struct kernel *k, uint64_t mod, const char *name)
{
	char buf[64] = { 0 };
	const struct kfield *f = &k->prof->off.module__name;

	if (!kptr_ok(mod) || !f->present ||
	    vas_read(&k->kvas, mod + (uint64_t)f->off, buf, sizeof(buf) - 1, NULL))
		return 0;
	return !strcmp(buf, name);
}

/* The raw BTF the kernel keeps for module name (btf_modules). */
static int module_btf(struct kernel *k, const char *name, void **blob, size_t *len,
		      struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t head = k->prof->sym.btf_modules, node, btf = 0;
	struct list_walk lw;

	if (!head || !o->btf_module__list.present || !o->btf_module__module.present ||
	    !o->btf_module__btf.present || !o->btf__data.present || !o->btf__data_size.present)
		return aerr_set(err, ENOENT, "the kernel keeps no module BTF (no btf_modules)");
	list_walk_init(&lw, &k->kvas, head, BTF_MODULES_MAX);
	while (!btf && list_walk_next(&lw, &node)) {
		uint64_t bm = node - (uint64_t)o->btf_module__list.off;
		if (module_named(k, kernel_field(k, bm, &o->btf_module__module), name))
			btf = kernel_field(k, bm, &o->btf_module__btf);
	}
	list_walk_done(&lw);
	if (!btf)
		return aerr_set(err, ENOENT, "module %s has no BTF in memory (not loaded?)", name);
	uint64_t data = kernel_field(k, btf, &o->btf__data);
	uint64_t size = kernel_field(k, btf, &o->btf__data_size);
	if (!kptr_ok(btf) || !kptr_ok(data) || size < 24 || size > MODULE_BTF_MAX)
		return aerr_set(err, EINVAL, "module %s's BTF is not plausible (%llu bytes at 0x%llx)",
				name, (unsigned long long)size, (unsigned long long)data);
	if (!(*blob = malloc((size_t)size)))
		return aerr_set(err, ENOMEM, "out of memory");
	if (vas_read(&k->kvas, data, *blob, (size_t)size, err)) {
		free(*blob);
		*blob = NULL;
		return aerr_wrap(err, "module %s's BTF", name);
	}
	*len = (size_t)size;
	return 0;
}

int linux_kvm_from_types(struct ktypes *t, struct linux_kvm **out, struct aerr *err)
{
	struct linux_kvm *kv = calloc(1, sizeof(*kv));

	*out = NULL;
	if (!kv) {
		ktypes_free(t);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	kv->types = t;
	ktypes_kfield(t, "kvm_memslots", "gfn_tree", &kv->ms_gfn_tree);
	ktypes_kfield(t, "kvm_memslots", "node_idx", &kv->ms_node_idx);
	ktypes_kfield(t, "kvm_memslots", "used_slots", &kv->ms_used_slots);
	ktypes_kfield(t, "kvm_memslots", "memslots", &kv->ms_memslots);
	ktypes_kfield(t, "kvm_memory_slot", "gfn_node", &kv->slot_gfn_node);
	ktypes_size(t, "rb_node", &kv->size_rb_node);
	if (ktypes_kfield(t, "kvm", "mm", &kv->kvm_mm) ||
	    ktypes_kfield(t, "kvm", "memslots", &kv->kvm_memslots) ||
	    ktypes_kfield(t, "kvm_memory_slot", "base_gfn", &kv->slot_base_gfn) ||
	    ktypes_kfield(t, "kvm_memory_slot", "npages", &kv->slot_npages) ||
	    ktypes_kfield(t, "kvm_memory_slot", "userspace_addr", &kv->slot_uaddr) ||
	    ktypes_size(t, "kvm_memory_slot", &kv->size_slot) ||
	    (!(kv->ms_gfn_tree.present && kv->ms_node_idx.present && kv->slot_gfn_node.present &&
	       kv->size_rb_node) &&
	     !(kv->ms_used_slots.present && kv->ms_memslots.present))) {
		linux_kvm_close(kv);
		return aerr_set(err, ENOENT, "module kvm's BTF lacks the memslots' types");
	}
	*out = kv;
	return 0;
}

int linux_kvm_open(struct kernel *k, struct linux_kvm **out, struct aerr *err)
{
	struct ktypes *t;
	void *blob = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	if (!ktypes_btf(k->prof->types))
		return aerr_set(err, ENOENT, "the host's profile is not its BTF");
	if ((ret = module_btf(k, "kvm", &blob, &len, err)))
		return ret;
	ret = ktypes_from_btf_split(k->prof->types, blob, len, &t, err);
	free(blob);
	if (ret)
		return aerr_wrap(err, "module kvm's BTF");
	return linux_kvm_from_types(t, out, err);
}

void linux_kvm_close(struct linux_kvm *kv)
{
	if (kv) {
		ktypes_free(kv->types);
		free(kv);
	}
}

uint64_t linux_kvm_of(struct kernel *k, const struct snap_proc *p)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t files = kernel_field(k, p->task, &o->task_struct__files);
	uint64_t fdt = kptr_ok(files) ? kernel_field(k, files, &o->files_struct__fdt) : 0;
	uint64_t max = kptr_ok(fdt) ? kernel_field(k, fdt, &o->fdtable__max_fds) : 0;
	uint64_t arr = kptr_ok(fdt) ? kernel_field(k, fdt, &o->fdtable__fd) : 0;
	uint64_t ptrs[FD_CHUNK];
	char name[64];

	if (!kptr_ok(arr) || max > FD_MAX || !o->file__private_data.present)
		return 0;
	for (uint64_t base = 0; base < max; base += FD_CHUNK) {
		size_t cnt = max - base < FD_CHUNK ? (size_t)(max - base) : FD_CHUNK;
		if (vas_read(&k->kvas, arr + base * 8, ptrs, cnt * 8, NULL))
			return 0;
		for (size_t i = 0; i < cnt; i++) {
			if (!kptr_ok(ptrs[i]) ||
			    linux_file_name(k, ptrs[i], name, sizeof(name), NULL) < 0 ||
			    strcmp(name, "anon_inode:kvm-vm"))
				continue;
			uint64_t kvm = kernel_field(k, ptrs[i], &o->file__private_data);
			if (kptr_ok(kvm))
				return kvm;
		}
	}
	return 0;
}

struct slots {
	struct mem_range *r;
	size_t n;
};

static int add_slot(struct linux_kvm *kv, struct kernel *k, uint64_t slot, struct slots *s)
{
	uint64_t gfn = 0, npages = 0, ua = 0;

	if (!kptr_ok(slot) || kfield_read(&k->kvas, slot, &kv->slot_base_gfn, &gfn) ||
	    kfield_read(&k->kvas, slot, &kv->slot_npages, &npages) ||
	    kfield_read(&k->kvas, slot, &kv->slot_uaddr, &ua))
		return -EFAULT;
	/* a slot of no pages holds nothing; the rest must be pages of user
	 * space at guest-physical addresses of at most 52 bits */
	if (!npages)
		return 0;
	if (npages > (1ULL << 40) || gfn > (1ULL << 40) || ua & 0xfff || ua >= USER_VA_END ||
	    ua + (npages << 12) > USER_VA_END)
		return -EINVAL;
	if (s->n >= SLOTS_MAX)
		return -E2BIG;
	s->r[s->n++] = (struct mem_range){ .pa = gfn << 12, .len = npages << 12, .off = ua };
	return 0;
}

/* 6.1+: the slots in gfn order, an rb-tree through gfn_node[node_idx] */
static int walk_tree(struct linux_kvm *kv, struct kernel *k, uint64_t ms, struct slots *s,
		     struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t idx = 0, root = 0, stack[RB_DEPTH_MAX], node;
	struct u64map seen;
	int depth = 0, ret = 0;
	uint32_t visits = 0;

	if (kfield_read(&k->kvas, ms, &kv->ms_node_idx, &idx) || idx > 1 ||
	    !o->rb_node__rb_left.present || !o->rb_node__rb_right.present ||
	    vas_read_u64(&k->kvas, ms + (uint64_t)kv->ms_gfn_tree.off, &root))
		return aerr_set(err, EIO, "kvm_memslots at 0x%llx unreadable",
				(unsigned long long)ms);
	uint64_t to_slot = (uint64_t)kv->slot_gfn_node.off + idx * kv->size_rb_node;
	u64map_init(&seen);
	node = root;
	while (!ret && (node || depth)) {
		/* in order: down the left side, then the node, then its right */
		while (node && !ret) {
			if (!kptr_ok(node) || depth == RB_DEPTH_MAX || ++visits > SLOTS_MAX ||
			    u64map_test_and_set(&seen, node))
				ret = aerr_set(err, EINVAL, "memslot tree is not a tree (at 0x%llx)",
					       (unsigned long long)node);
			else {
				stack[depth++] = node;
				node = kernel_field(k, node, &o->rb_node__rb_left);
			}
		}
		if (ret || !depth)
			break;
		node = stack[--depth];
		if ((ret = add_slot(kv, k, node - to_slot, s)))
			ret = aerr_set(err, -ret > 0 ? -ret : EINVAL, "memslot at 0x%llx is not "
				       "plausible", (unsigned long long)(node - to_slot));
		else
			node = kernel_field(k, node, &o->rb_node__rb_right);
	}
	u64map_free(&seen);
	return ret;
}

/* before 5.17: used_slots slots in an array */
static int walk_array(struct linux_kvm *kv, struct kernel *k, uint64_t ms, struct slots *s,
		      struct aerr *err)
{
	uint64_t used = 0;

	if (kfield_read(&k->kvas, ms, &kv->ms_used_slots, &used) || used > SLOTS_MAX ||
	    !kv->size_slot)
		return aerr_set(err, EINVAL, "kvm_memslots at 0x%llx: %llu slots",
				(unsigned long long)ms, (unsigned long long)used);
	for (uint64_t i = 0; i < used; i++) {
		uint64_t slot = ms + (uint64_t)kv->ms_memslots.off + i * kv->size_slot;
		if (add_slot(kv, k, slot, s))
			return aerr_set(err, EINVAL, "memslot at 0x%llx is not plausible",
					(unsigned long long)slot);
	}
	return 0;
}

static int by_pa(const void *a, const void *b)
{
	const struct mem_range *x = a, *y = b;

	return x->pa < y->pa ? -1 : x->pa > y->pa;
}

int linux_kvm_layout(struct linux_kvm *kv, struct kernel *k, const struct snap_proc *p,
		     uint64_t kvm, struct mem_range **out, size_t *n, struct aerr *err)
{
	uint64_t mm = 0, ms = 0;
	struct slots s = { 0 };
	int ret;

	*out = NULL;
	*n = 0;
	if (kfield_read(&k->kvas, kvm, &kv->kvm_mm, &mm) || mm != p->mm)
		return aerr_set(err, EINVAL, "struct kvm at 0x%llx is not process %d's (its mm "
				"0x%llx)", (unsigned long long)kvm, p->pid, (unsigned long long)mm);
	/* memslots[0]: address space 0 (x86's SMM is address space 1) */
	if (vas_read_u64(&k->kvas, kvm + (uint64_t)kv->kvm_memslots.off, &ms) || !kptr_ok(ms))
		return aerr_set(err, EIO, "struct kvm at 0x%llx: its memslots are unreadable",
				(unsigned long long)kvm);
	if (!(s.r = calloc(SLOTS_MAX, sizeof(*s.r))))
		return aerr_set(err, ENOMEM, "out of memory");
	ret = kv->ms_gfn_tree.present && kv->ms_node_idx.present && kv->slot_gfn_node.present ?
	      walk_tree(kv, k, ms, &s, err) : walk_array(kv, k, ms, &s, err);
	if (!ret && !s.n)
		ret = aerr_set(err, ENOENT, "struct kvm at 0x%llx has no memslots",
			       (unsigned long long)kvm);
	if (!ret) {
		qsort(s.r, s.n, sizeof(*s.r), by_pa);
		for (size_t i = 1; !ret && i < s.n; i++)
			if (s.r[i].pa < s.r[i - 1].pa + s.r[i - 1].len)
				ret = aerr_set(err, EINVAL, "memslots overlap at guest-physical "
					       "0x%llx", (unsigned long long)s.r[i].pa);
	}
	if (ret) {
		free(s.r);
		return ret;
	}
	struct mem_range *r = realloc(s.r, s.n * sizeof(*s.r));
	*out = r ? r : s.r;
	*n = s.n;
	return 0;
}
