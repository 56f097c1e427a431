#include "linux/pagecache.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/walk.h"
#include "core/vec.h"

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

/* PG_uptodate's bit in page->flags (2 up to 6.8, 3 since), or -1 when
 * the profile does not say */
static int uptodate_bit(struct kernel *k)
{
	int64_t bit;

	if (!k->prof->types || ktypes_enumval(k->prof->types, "PG_uptodate", &bit) ||
	    bit < 0 || bit > 63)
		return -1;
	return (int)bit;
}

/* physical address of the page holding page index pgidx, or -ENODATA.  A
 * page in the cache but not up to date (a read in flight, or one that
 * failed: the page holds whatever it held before) is not resident. */
static int page_pa(struct kernel *k, uint64_t mapping, uint64_t pgidx, int uptodate,
		   uint64_t *pa)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t first, page = xa_lookup(k, mapping + (uint64_t)o->address_space__i_pages.off,
					 pgidx, &first);
	uint64_t psize = 1ULL << k->prof->page_shift, flags;

	if (!page)
		return -ENODATA;
	/* a folio's flags are its head page's, the entry in the cache */
	if (uptodate >= 0 && (kfield_read(&k->kvas, page, &o->page__flags, &flags) ||
			      !(flags >> uptodate & 1)))
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
	int shift = k->prof->page_shift, uptodate = uptodate_bit(k);
	size_t psize = (size_t)1 << shift;
	while (len) {
		uint64_t pa;
		size_t in = (size_t)(off & (psize - 1)), n = psize - in < len ? psize - in : len;
		int ret = page_pa(k, mapping, off >> shift, uptodate, &pa);
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

/* ---- hashes: SHA-256, SHA-1 and MD5 once per content ----
 *
 * Every scan checks every executable and library again: a page-cache
 * write (Dirty Pipe and its kind) changes a file without touching its
 * inode, so neither the inode nor its size nor its mtime says whether the
 * content is the one hashed before.  The content does.  For a file seen
 * before (by its inode's address), a scan computes a GMAC of its pages
 * (AES-128 GHASH, about five times faster than SHA-256 here) under a key
 * drawn at random when argus starts.  When the tag is the one remembered,
 * the three digests come from the memo; a new file, or changed content,
 * gets all three and a new tag in one pass.
 *
 * Why a MAC and not a fast checksum: GHASH with a secret key is a
 * universal hash.  The key and the tags never leave this process, so
 * software in the guest that rewrites a file cannot choose new content
 * with the old tag: two different contents of L 16-byte blocks get the
 * same tag with probability at most L / 2^128 over the key.  A checksum
 * (CRC, xxHash) has no key and would let it. */
#define MEMO_MAX 65536
#define MEMO_TAG 16

struct hash_memo {
	struct u64map idx;		/* inode address -> entry */
	struct memo_entry {
		uint64_t size;
		unsigned char tag[MEMO_TAG];
		char sha256[65], sha1[41], md5[33];	/* as snap_hash holds them */
	} *v;
	size_t n, cap;
	EVP_MAC *mac;
	EVP_MAC_CTX *mctx;
	unsigned char key[16], iv[12];
};

void linux_hash_memo_free(struct kernel *k)
{
	struct hash_memo *m = k->hmemo;

	if (!m)
		return;
	u64map_free(&m->idx);
	free(m->v);
	EVP_MAC_CTX_free(m->mctx);
	EVP_MAC_free(m->mac);
	OPENSSL_cleanse(m->key, sizeof(m->key));
	free(m);
	k->hmemo = NULL;
}

/* The memo, made on first use with a fresh random key; NULL when it
 * cannot be (no memory, no randomness, no GMAC): every file is then
 * hashed in full, every scan. */
static struct hash_memo *memo_of(struct kernel *k)
{
	struct hash_memo *m = k->hmemo;

	if (m)
		return m->mctx ? m : NULL;
	if (!(m = k->hmemo = calloc(1, sizeof(*m))))
		return NULL;
	kernel_part(k, linux_hash_memo_free);
	u64map_init(&m->idx);
	if (RAND_bytes(m->key, sizeof(m->key)) != 1 || RAND_bytes(m->iv, sizeof(m->iv)) != 1 ||
	    !(m->mac = EVP_MAC_fetch(NULL, "GMAC", NULL)) || !(m->mctx = EVP_MAC_CTX_new(m->mac)))
		return NULL;
	return m;
}

static int mac_init(struct hash_memo *m)
{
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, "AES-128-GCM", 0),
		OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_IV, m->iv, sizeof(m->iv)),
		OSSL_PARAM_construct_end(),
	};

	return EVP_MAC_init(m->mctx, m->key, sizeof(m->key), p);
}

static struct memo_entry *memo_get(struct hash_memo *m, uint64_t inode)
{
	uint64_t i;

	return m && u64map_get(&m->idx, inode, &i) ? &m->v[i] : NULL;
}

static struct memo_entry *memo_new(struct hash_memo *m, uint64_t inode)
{
	struct memo_entry *e = memo_get(m, inode);

	if (e || !m)
		return e;
	if (m->n == MEMO_MAX) {		/* bounded: start over */
		u64map_clear(&m->idx);
		m->n = 0;
	}
	if (vec_reserve(m->v, m->n, m->cap, 256))
		return NULL;
	if (u64map_put(&m->idx, inode, m->n) < 0)
		return NULL;
	return &m->v[m->n++];
}

/* One pass over the file's pages (at physical addresses pas): each of nmd
 * digests into md[], and the memo's MAC into tag when mac is set.  0, or
 * -1 when a page went away or could not be read. */
static int digest_pages(struct kernel *k, const uint64_t *pas, uint64_t size, const EVP_MD **mds,
			unsigned char (*md)[EVP_MAX_MD_SIZE], int nmd, struct hash_memo *mac,
			unsigned char tag[MEMO_TAG])
{
	uint64_t psize = 1ULL << k->prof->page_shift, pages = (size + psize - 1) >> k->prof->page_shift;
	EVP_MD_CTX *c[3] = { 0 };
	unsigned char page[4096];
	unsigned mdlen;
	size_t taglen;
	int ok = !mac || mac_init(mac);

	for (int j = 0; j < nmd; j++)
		ok = ok && (c[j] = EVP_MD_CTX_new()) && EVP_DigestInit_ex(c[j], mds[j], NULL);
	for (uint64_t i = 0; ok && i < pages; i++) {
		uint64_t left = i + 1 < pages ? psize : size - i * psize, pa = pas[i];
		/* a page of 4, 16 or 64 KiB, hashed 4 KiB at a time */
		for (uint64_t done = 0; ok && done < left; done += sizeof(page)) {
			size_t n = left - done < sizeof(page) ? (size_t)(left - done) : sizeof(page);
			ok = !memsrc_peek(k->mem, pa + done, page, n, NULL);
			for (int j = 0; ok && j < nmd; j++)
				ok = EVP_DigestUpdate(c[j], page, n);
			ok = ok && (!mac || EVP_MAC_update(mac->mctx, page, n));
		}
	}
	for (int j = 0; j < nmd; j++) {
		ok = ok && EVP_DigestFinal_ex(c[j], md[j], &mdlen);
		EVP_MD_CTX_free(c[j]);
	}
	ok = ok && (!mac || EVP_MAC_final(mac->mctx, tag, &taglen, MEMO_TAG));
	return ok ? 0 : -1;
}

void linux_file_hash(struct kernel *k, uint64_t inode, struct snap_hash *out, struct arena *a)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t size = kernel_field(k, inode, &o->inode__i_size);
	uint64_t mapping = kernel_field(k, inode, &o->inode__i_mapping);
	int shift = k->prof->page_shift, uptodate = uptodate_bit(k);
	uint64_t psize = 1ULL << shift, pages = (size + psize - 1) >> shift, missing = 0;
	unsigned char md[3][EVP_MAX_MD_SIZE], tag[MEMO_TAG];
	uint64_t *pas;
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
	if (!(pas = malloc((pages ? pages : 1) * sizeof(*pas)))) {
		out->reason = "out of memory";
		return;
	}
	/* each page's place looked up once: the digests read them */
	for (uint64_t i = 0; i < pages; i++)
		if (page_pa(k, mapping, i, uptodate, &pas[i]))
			missing++;
	if (missing) {
		snprintf(reason, sizeof(reason), "%llu of %llu pages not in the page cache",
			 (unsigned long long)missing, (unsigned long long)pages);
		out->reason = arena_strndup(a, reason, strlen(reason));
		free(pas);
		return;
	}
	out->reason = "page changed while hashing";
	const EVP_MD *all[3] = { EVP_sha256(), EVP_sha1(), EVP_md5() };
	struct hash_memo *m = memo_of(k);
	struct memo_entry *e = memo_get(m, inode);
	if (e && e->size == size && !digest_pages(k, pas, size, NULL, md, 0, m, tag) &&
	    !CRYPTO_memcmp(tag, e->tag, MEMO_TAG)) {
		memcpy(out->sha256, e->sha256, sizeof(out->sha256));
		memcpy(out->sha1, e->sha1, sizeof(out->sha1));
		memcpy(out->md5, e->md5, sizeof(out->md5));
	} else {
		/* a new file or new content: all three and the tag in one pass */
		if (digest_pages(k, pas, size, all, md, 3, m, tag)) {
			free(pas);
			return;
		}
		hex(md[0], 32, out->sha256);
		hex(md[1], 20, out->sha1);
		hex(md[2], 16, out->md5);
		if ((e = memo_new(m, inode))) {
			e->size = size;
			memcpy(e->tag, tag, MEMO_TAG);
			memcpy(e->sha256, out->sha256, sizeof(e->sha256));
			memcpy(e->sha1, out->sha1, sizeof(e->sha1));
			memcpy(e->md5, out->md5, sizeof(e->md5));
		}
	}
	free(pas);
	out->status = 0;
	out->reason = NULL;
}

/* ---- the collector: executables and mapped ELF files, once per inode ---- */

struct hashed {
	uint64_t inode;
	struct snap_hash h;
	uint16_t e_type;
	int hashed;		/* linux_file_hash() ran */
	int64_t size;
	size_t proc;		/* the last process listing it + 1 */
};

static struct hashed *hash_once(struct kernel *k, struct snapshot *s, struct u64map *idx,
				struct hashed **v, size_t *n, size_t *cap, uint64_t inode,
				int mapped_only)
{
	uint64_t i;

	if (u64map_get(idx, inode, &i)) {
		struct hashed *h = &(*v)[i];
		/* first seen mapped and not ELF, now as an executable */
		if (!mapped_only && !h->hashed) {
			linux_file_hash(k, inode, &h->h, &s->arena);
			h->hashed = 1;
		}
		return h;
	}
	if (vec_reserve(*v, *n, *cap, 64))
		return NULL;
	struct hashed *h = &(*v)[*n];
	unsigned char ehdr[18];
	h->inode = inode;
	h->proc = 0;
	h->size = (int64_t)kernel_field(k, inode, &k->prof->off.inode__i_size);
	h->e_type = 0;
	if (!linux_file_read(k, inode, 0, ehdr, sizeof(ehdr)) && !memcmp(ehdr, "\x7f" "ELF", 4))
		memcpy(&h->e_type, ehdr + 16, 2);
	/* a mapped file that is not ELF (a locale archive, a database) is
	 * not reported: not hashed either */
	memset(&h->h, 0, sizeof(h->h));
	h->h.status = -ENODATA;
	h->h.reason = "not an ELF file";
	h->hashed = h->e_type || !mapped_only;
	if (h->hashed)
		linux_file_hash(k, inode, &h->h, &s->arena);
	u64map_put(idx, inode, *n);
	return &(*v)[(*n)++];
}

int linux_collect_hashes(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	struct u64map idx;
	struct hashed *v = NULL;
	struct snap_elf *elfs = NULL;	/* one process's, then copied whole */
	size_t n = 0, cap = 0, ecap = 0;

	(void)err;
	u64map_init(&idx);
	for (size_t i = 0; i < s->nprocs; i++) {
		struct snap_proc *p = &s->procs[i];
		if (p->exe_inode) {
			const struct hashed *h = hash_once(k, s, &idx, &v, &n, &cap, p->exe_inode, 0);
			if (h)
				p->exe_hash = h->h;
		}
		/* ELF files mapped by the process, each once: a file's entry
		 * remembers the last process that listed it */
		uint32_t ne = 0;
		for (uint32_t j = 0; j < p->nvmas; j++) {
			const struct snap_vma *vm = &p->vmas[j];
			if (!vm->inode)
				continue;
			struct hashed *h = hash_once(k, s, &idx, &v, &n, &cap, vm->inode, 1);
			if (!h || !h->e_type || h->proc == i + 1)
				continue;
			h->proc = i + 1;
			if (vec_reserve(elfs, ne, ecap, 16))
				break;
			elfs[ne].vma = vm;
			elfs[ne].e_type = h->e_type;
			elfs[ne].size = h->size;
			elfs[ne].hash = h->h;
			ne++;
		}
		p->elfs = ne ? arena_memdup(&s->arena, elfs, ne * sizeof(*elfs)) : NULL;
		p->nelfs = p->elfs ? ne : 0;
	}
	u64map_free(&idx);
	free(v);
	free(elfs);
	return 0;
}
