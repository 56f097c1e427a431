#include "linux/pagecache.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "linux/walk.h"

#define XA_CHUNK_SHIFT 6
#define XA_CHUNK_SIZE 64
#define XA_MAX_DEPTH 12

static int xa_is_node(uint64_t e)
{
	return (e & 3) == 2 && e > 4096;
}

/* The xarray entry covering index (a struct page or folio pointer) and in
 * *first the first index it covers, or 0 when nothing resident is there. */
static uint64_t xa_lookup(struct kernel *k, uint64_t xa, uint64_t index, uint64_t *first)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t e = kernel_field(k, xa, &o->xarray__xa_head);
	int top = 1;

	*first = index;
	if (!xa_is_node(e))
		return index == 0 && !(e & 3) && kptr_ok(e) ? e : 0;
	for (int depth = 0; depth < XA_MAX_DEPTH && xa_is_node(e); depth++) {
		uint64_t node = e - 2;
		uint64_t shift = kernel_field(k, node, &o->xa_node__shift);
		if (!kptr_ok(node) || shift > 60 || shift % XA_CHUNK_SHIFT)
			return 0;
		if (top && (index >> shift) >= XA_CHUNK_SIZE)
			return 0;	/* beyond what the tree holds */
		top = 0;
		uint64_t off = (index >> shift) & (XA_CHUNK_SIZE - 1);
		uint64_t slots = node + (uint64_t)o->xa_node__slots.off;
		if (vas_read_u64(&k->kvas, slots + off * 8, &e))
			return 0;
		/* a sibling entry names the slot of a multi-index entry */
		if ((e & 3) == 2 && e < 256) {
			off = e >> 2;
			if (off >= XA_CHUNK_SIZE || vas_read_u64(&k->kvas, slots + off * 8, &e))
				return 0;
		}
		uint64_t span = (uint64_t)XA_CHUNK_SIZE << shift;
		*first = (index & ~(span - 1)) | (off << shift);
	}
	if ((e & 3) || !kptr_ok(e))
		return 0;	/* a value (shadow, swap) or internal entry: not resident */
	return e;
}

/* physical address of the page holding page index pgidx, or -ENODATA */
static int page_pa(struct kernel *k, uint64_t mapping, uint64_t pgidx, uint64_t *pa)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t first, page = xa_lookup(k, mapping + (uint64_t)o->address_space__i_pages.off,
					 pgidx, &first);
	uint64_t psize = 1ULL << k->prof->page_shift;

	if (!page)
		return -ENODATA;
	/* a large folio: its pages follow the head in vmemmap */
	page += (pgidx >= first ? pgidx - first : 0) * o->size_page;
	if (profile_page_to_phys(k->prof, page, pa))
		return -ENODATA;
	return memsrc_covers(k->mem, *pa, psize) ? 0 : -ENODATA;
}

int linux_file_read(struct kernel *k, uint64_t inode, uint64_t off, void *buf, size_t len)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t mapping = kernel_field(k, inode, &o->inode__i_mapping);
	unsigned char *p = buf;

	if (!kptr_ok(mapping))
		return -EFAULT;
	int shift = k->prof->page_shift;
	size_t psize = (size_t)1 << shift;
	while (len) {
		uint64_t pa;
		size_t in = (size_t)(off & (psize - 1)), n = psize - in < len ? psize - in : len;
		int ret = page_pa(k, mapping, off >> shift, &pa);
		if (ret)
			return ret;
		if (memsrc_peek(k->mem, pa + in, p, n, NULL))
			return -EFAULT;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static void hex(const unsigned char *d, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

void linux_file_hash(struct kernel *k, uint64_t inode, struct snap_hash *out, struct arena *a)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t size = kernel_field(k, inode, &o->inode__i_size);
	uint64_t mapping = kernel_field(k, inode, &o->inode__i_mapping);
	int shift = k->prof->page_shift;
	uint64_t psize = 1ULL << shift, pages = (size + psize - 1) >> shift, missing = 0, pa;
	char reason[128];

	memset(out, 0, sizeof(*out));
	out->status = -ENODATA;
	if (!kptr_ok(inode) || !kptr_ok(mapping)) {
		out->reason = "file not readable from memory";
		return;
	}
	if (size > HASH_MAX_FILE) {
		out->reason = "file larger than the hashing limit";
		return;
	}
	for (uint64_t i = 0; i < pages; i++)
		if (page_pa(k, mapping, i, &pa))
			missing++;
	if (missing) {
		snprintf(reason, sizeof(reason), "%llu of %llu pages not in the page cache",
			 (unsigned long long)missing, (unsigned long long)pages);
		out->reason = arena_strndup(a, reason, strlen(reason));
		return;
	}
	EVP_MD_CTX *c256 = EVP_MD_CTX_new(), *c1 = EVP_MD_CTX_new(), *c5 = EVP_MD_CTX_new();
	unsigned char page[4096], md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	int ok = c256 && c1 && c5 && EVP_DigestInit_ex(c256, EVP_sha256(), NULL) &&
		 EVP_DigestInit_ex(c1, EVP_sha1(), NULL) && EVP_DigestInit_ex(c5, EVP_md5(), NULL);
	for (uint64_t i = 0; ok && i < pages; i++) {
		uint64_t left = i + 1 < pages ? psize : size - i * psize;
		if (page_pa(k, mapping, i, &pa)) {
			ok = 0;
			break;
		}
		/* a page of 4, 16 or 64 KiB, hashed 4 KiB at a time */
		for (uint64_t done = 0; ok && done < left; done += sizeof(page)) {
			size_t n = left - done < sizeof(page) ? (size_t)(left - done) : sizeof(page);
			ok = !memsrc_peek(k->mem, pa + done, page, n, NULL) &&
			     EVP_DigestUpdate(c256, page, n) && EVP_DigestUpdate(c1, page, n) &&
			     EVP_DigestUpdate(c5, page, n);
		}
	}
	if (ok && EVP_DigestFinal_ex(c256, md, &mdlen))
		hex(md, mdlen, out->sha256);
	if (ok && EVP_DigestFinal_ex(c1, md, &mdlen))
		hex(md, mdlen, out->sha1);
	if (ok && EVP_DigestFinal_ex(c5, md, &mdlen))
		hex(md, mdlen, out->md5);
	EVP_MD_CTX_free(c256);
	EVP_MD_CTX_free(c1);
	EVP_MD_CTX_free(c5);
	if (ok) {
		out->status = 0;
		out->reason = NULL;
	} else {
		out->reason = "page changed while hashing";
	}
}

/* ---- the collector: executables and mapped ELF files, once per inode ---- */

struct hashed {
	uint64_t inode;
	struct snap_hash h;
	uint16_t e_type;
	int64_t size;
};

static const struct hashed *hash_once(struct kernel *k, struct snapshot *s, struct u64map *idx,
				      struct hashed **v, size_t *n, size_t *cap, uint64_t inode)
{
	uint64_t i;

	if (u64map_get(idx, inode, &i))
		return &(*v)[i];
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct hashed *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		*v = nv;
		*cap = nc;
	}
	struct hashed *h = &(*v)[*n];
	unsigned char ehdr[18];
	h->inode = inode;
	h->size = (int64_t)kernel_field(k, inode, &k->prof->off.inode__i_size);
	h->e_type = 0;
	if (!linux_file_read(k, inode, 0, ehdr, sizeof(ehdr)) && !memcmp(ehdr, "\x7f" "ELF", 4))
		memcpy(&h->e_type, ehdr + 16, 2);
	linux_file_hash(k, inode, &h->h, &s->arena);
	u64map_put(idx, inode, *n);
	return &(*v)[(*n)++];
}

int linux_collect_hashes(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	struct u64map idx;
	struct hashed *v = NULL;
	size_t n = 0, cap = 0;

	(void)err;
	u64map_init(&idx);
	for (size_t i = 0; i < s->nprocs; i++) {
		struct snap_proc *p = &s->procs[i];
		if (p->exe_inode) {
			const struct hashed *h = hash_once(k, s, &idx, &v, &n, &cap, p->exe_inode);
			if (h)
				p->exe_hash = h->h;
		}
		/* ELF files mapped by the process, each once */
		struct snap_elf *elfs = p->nvmas ? arena_alloc(&s->arena, p->nvmas * sizeof(*elfs)) : NULL;
		uint32_t ne = 0;
		for (uint32_t j = 0; elfs && j < p->nvmas; j++) {
			const struct snap_vma *vm = &p->vmas[j];
			int dup = !vm->inode;
			for (uint32_t q = 0; q < ne && !dup; q++)
				dup = elfs[q].vma->inode == vm->inode;
			if (dup)
				continue;
			const struct hashed *h = hash_once(k, s, &idx, &v, &n, &cap, vm->inode);
			if (!h || !h->e_type)
				continue;
			elfs[ne].vma = vm;
			elfs[ne].e_type = h->e_type;
			elfs[ne].size = h->size;
			elfs[ne].hash = h->h;
			ne++;
		}
		p->elfs = elfs;
		p->nelfs = ne;
	}
	u64map_free(&idx);
	free(v);
	return 0;
}
