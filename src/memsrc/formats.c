/* formats.c - LiME, ELF cores and memory-regions maps.
 *
 * Every header field is checked against the file size before use; counts
 * are bounded; nothing read from a file is trusted to be consistent.
 */
#include "memsrc/formats.h"

#include <elf.h>
#include <errno.h>
#include <jansson.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rdfile.h"
#include "core/vec.h"

#define LIME_MAGIC 0x4C694D45u
#define MAX_RANGES 65536u

enum memfmt memfmt_detect(const struct filemap *f)
{
	unsigned char h[20];

	if (f->size < sizeof(h) || filemap_read(f, 0, h, sizeof(h), NULL))
		return MEMFMT_RAW;
	uint32_t magic;
	memcpy(&magic, h, 4);
	if (magic == LIME_MAGIC)
		return MEMFMT_LIME;
	if (!memcmp(h, ELFMAG, SELFMAG) && h[EI_CLASS] == ELFCLASS64) {
		uint16_t type;
		memcpy(&type, h + 16, 2);
		if (type == ET_CORE)
			return MEMFMT_ELF;
	}
	return MEMFMT_RAW;
}

static int push_range(struct mem_range **v, size_t *n, size_t *cap, uint64_t pa, uint64_t len,
		      uint64_t off)
{
	if (*n >= MAX_RANGES)
		return -E2BIG;
	if (vec_reserve(*v, *n, *cap, 16))
		return -ENOMEM;
	(*v)[*n].pa = pa;
	(*v)[*n].len = len;
	(*v)[*n].off = off;
	(*n)++;
	return 0;
}

static int cmp_pa(const void *a, const void *b)
{
	const struct mem_range *x = a, *y = b;

	return (x->pa > y->pa) - (x->pa < y->pa);
}

int ranges_normalize(struct mem_range *r, size_t n, const char *name, struct aerr *err)
{
	if (n)
		qsort(r, n, sizeof(*r), cmp_pa);
	for (size_t i = 0; i < n; i++) {
		/* compare last bytes: a range may end at the top of the space */
		if (!r[i].len)
			return aerr_set(err, EINVAL, "%s: memory range %zu at 0x%llx is empty", name,
					i, (unsigned long long)r[i].pa);
		if (r[i].len - 1 > UINT64_MAX - r[i].pa)
			return aerr_set(err, EINVAL, "%s: memory range at 0x%llx (%llu bytes) wraps "
					"around the end of the address space", name,
					(unsigned long long)r[i].pa, (unsigned long long)r[i].len);
		if (i && r[i - 1].pa + (r[i - 1].len - 1) >= r[i].pa)
			return aerr_set(err, EINVAL, "%s: memory ranges at 0x%llx and 0x%llx overlap",
					name, (unsigned long long)r[i - 1].pa,
					(unsigned long long)r[i].pa);
	}
	return 0;
}

/* ---- LiME: (header, data)* ---- */

struct lime_hdr {
	uint32_t magic, version;
	uint64_t s_addr, e_addr;	/* e_addr inclusive */
	uint8_t reserved[8];
};

int lime_parse(const struct filemap *f, struct mem_range **out, size_t *n, struct aerr *err)
{
	struct mem_range *v = NULL;
	size_t cnt = 0, cap = 0;
	uint64_t off = 0;
	int ret = 0;

	while (off < f->size) {
		struct lime_hdr h;
		if (f->size - off < sizeof(h)) {
			ret = aerr_set(err, EINVAL, "%s: LiME segment %zu: truncated header at offset %llu",
				       f->path, cnt, (unsigned long long)off);
			break;
		}
		if ((ret = filemap_read(f, off, &h, sizeof(h), err)))
			break;
		if (h.magic != LIME_MAGIC || h.version != 1) {
			ret = aerr_set(err, EINVAL, "%s: LiME segment %zu: bad header at offset %llu "
				       "(magic 0x%08x, version %u)", f->path, cnt,
				       (unsigned long long)off, h.magic, h.version);
			break;
		}
		if (h.e_addr < h.s_addr) {
			ret = aerr_set(err, EINVAL, "%s: LiME segment %zu: end 0x%llx before start 0x%llx",
				       f->path, cnt, (unsigned long long)h.e_addr,
				       (unsigned long long)h.s_addr);
			break;
		}
		if (!h.s_addr && h.e_addr == UINT64_MAX) {	/* 2^64 bytes: no file holds them */
			ret = aerr_set(err, EINVAL, "%s: LiME segment %zu spans the whole 64-bit "
				       "address space", f->path, cnt);
			break;
		}
		uint64_t len = h.e_addr - h.s_addr + 1;
		off += sizeof(h);
		if (len > f->size - off) {
			ret = aerr_set(err, EINVAL, "%s: LiME segment %zu (0x%llx-0x%llx) is cut off: "
				       "%llu bytes announced, %llu left in the file", f->path, cnt,
				       (unsigned long long)h.s_addr, (unsigned long long)h.e_addr,
				       (unsigned long long)len, (unsigned long long)(f->size - off));
			break;
		}
		if ((ret = push_range(&v, &cnt, &cap, h.s_addr, len, off))) {
			aerr_set(err, ret, "%s: too many LiME segments", f->path);
			break;
		}
		off += len;
	}
	if (!ret && !cnt)
		ret = aerr_set(err, EINVAL, "%s: LiME file holds no segment", f->path);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- ELF64 cores ---- */

static int elf_notes(const struct filemap *f, const Elf64_Phdr *ph, char **vmcoreinfo,
		     struct aerr *err)
{
	uint64_t pos = ph->p_offset, end = ph->p_offset + ph->p_filesz;

	if (ph->p_offset > f->size || ph->p_filesz > f->size - ph->p_offset)
		return aerr_set(err, EINVAL, "%s: ELF note segment is cut off", f->path);
	while (end - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		int ret = filemap_read(f, pos, &nh, sizeof(nh), err);
		if (ret)
			return ret;
		pos += sizeof(nh);
		uint64_t nsz = ((uint64_t)nh.n_namesz + 3) & ~3ULL;
		uint64_t dsz = ((uint64_t)nh.n_descsz + 3) & ~3ULL;
		if (nsz > end - pos || dsz > end - pos - nsz)
			return aerr_set(err, EINVAL, "%s: malformed ELF note at offset %llu", f->path,
					(unsigned long long)(pos - sizeof(nh)));
		char name[16] = { 0 };
		if (nh.n_namesz == 11)
			filemap_read(f, pos, name, 11, NULL);
		if (!strcmp(name, "VMCOREINFO") && !*vmcoreinfo && nh.n_descsz < (1u << 20)) {
			char *t = malloc(nh.n_descsz + 1);
			if (!t)
				return aerr_set(err, ENOMEM, "out of memory");
			if ((ret = filemap_read(f, pos + nsz, t, nh.n_descsz, err))) {
				free(t);
				return ret;
			}
			t[nh.n_descsz] = '\0';
			*vmcoreinfo = t;
		}
		pos += nsz + dsz;
	}
	return 0;
}

/* QEMU's paging dumps describe some physical ranges more than once:
 * keep the first description of every byte. */
static size_t drop_overlaps(struct mem_range *r, size_t n)
{
	size_t o = 0;

	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), cmp_pa);
	for (size_t i = 0; i < n; i++) {
		if (o) {
			uint64_t prev_end = r[o - 1].pa + r[o - 1].len;
			if (r[i].pa + r[i].len <= prev_end)
				continue;
			if (r[i].pa < prev_end) {
				uint64_t cut = prev_end - r[i].pa;
				r[i].pa += cut;
				r[i].off += cut;
				r[i].len -= cut;
			}
		}
		r[o++] = r[i];
	}
	return o;
}

int elfcore_parse(const struct filemap *f, struct mem_range **out, size_t *n, char **vmcoreinfo,
		  struct aerr *err)
{
	Elf64_Ehdr eh;
	struct mem_range *v = NULL;
	size_t cnt = 0, cap = 0;
	int ret;

	*vmcoreinfo = NULL;
	if (f->size < sizeof(eh) || (ret = filemap_read(f, 0, &eh, sizeof(eh), err)))
		return aerr_set(err, EINVAL, "%s: ELF header is cut off", f->path);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_CORE)
		return aerr_set(err, EINVAL, "%s: not a little-endian ELF64 core file", f->path);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_phnum)
		return aerr_set(err, EINVAL, "%s: ELF core has no usable program headers", f->path);
	uint64_t phsz = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (eh.e_phoff > f->size || phsz > f->size - eh.e_phoff)
		return aerr_set(err, EINVAL, "%s: ELF program headers are cut off (file truncated?)",
				f->path);
	for (uint16_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if ((ret = filemap_read(f, eh.e_phoff + (uint64_t)i * sizeof(ph), &ph, sizeof(ph), err)))
			goto fail;
		if (ph.p_type == PT_NOTE) {
			if ((ret = elf_notes(f, &ph, vmcoreinfo, err)))
				goto fail;
			continue;
		}
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		if (ph.p_offset > f->size || ph.p_filesz > f->size - ph.p_offset) {
			ret = aerr_set(err, EINVAL, "%s: ELF segment %u (physical 0x%llx, %llu bytes) is "
				       "cut off: the file is truncated", f->path, i,
				       (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_filesz);
			goto fail;
		}
		if ((ret = push_range(&v, &cnt, &cap, ph.p_paddr, ph.p_filesz, ph.p_offset))) {
			aerr_set(err, ret, "%s: too many ELF segments", f->path);
			goto fail;
		}
	}
	cnt = drop_overlaps(v, cnt);
	if (!cnt) {
		ret = aerr_set(err, EINVAL, "%s: ELF core holds no memory", f->path);
		goto fail;
	}
	*out = v;
	*n = cnt;
	return 0;
fail:
	free(v);
	free(*vmcoreinfo);
	*vmcoreinfo = NULL;
	return ret;
}

/* ---- memory-regions JSON ---- */

/* Remove commas that directly precede '}' or ']' (outside strings): DOCA's
 * generator writes them.  Returns how many were removed. */
static int strip_trailing_commas(char *s)
{
	int in_str = 0, esc = 0, removed = 0;
	char *last_comma = NULL;

	for (char *p = s; *p; p++) {
		if (in_str) {
			if (esc)
				esc = 0;
			else if (*p == '\\')
				esc = 1;
			else if (*p == '"')
				in_str = 0;
			continue;
		}
		if (*p == '"') {
			in_str = 1;
			last_comma = NULL;
		} else if (*p == ',') {
			last_comma = p;
		} else if ((*p == '}' || *p == ']') && last_comma) {
			*last_comma = ' ';
			last_comma = NULL;
			removed++;
		} else if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			last_comma = NULL;
		}
	}
	return removed;
}

static int region_num(json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int regions_load(const char *path, struct mem_range **out, size_t *n, struct aerr *err)
{
	char *text = NULL;
	size_t len = 0;
	json_error_t je;
	struct stat st;
	int fd, ret = open_regular(path, 0, &fd, &st, err), have_off = -1, fixed = 0;

	if (ret)
		return ret;
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		close(fd);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	text = malloc(1 << 20);
	if (text)
		len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	if (!text)
		return aerr_set(err, ENOMEM, "out of memory");
	text[len] = '\0';
	if (strip_trailing_commas(text))
		alog_sdk(ALOG_WARNING, "%s: ignored trailing commas (DOCA's generator writes them)", path);
	json_t *root = json_loads(text, 0, &je);
	free(text);
	if (!root)
		return aerr_set(err, EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	json_t *regs = json_object_get(root, "allowed_regions");
	if (!json_is_object(regs) || !json_object_size(regs)) {
		json_decref(root);
		return aerr_set(err, EINVAL, "%s: no \"allowed_regions\" object of regions", path);
	}
	size_t cnt = json_object_size(regs), i = 0;
	struct mem_range *v = calloc(cnt, sizeof(*v));
	const char *key;
	json_t *r;
	if (!v) {
		json_decref(root);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	json_object_foreach(regs, key, r) {
		uint64_t off = 0;
		if (!json_is_object(r) || region_num(r, "start", &v[i].pa) ||
		    region_num(r, "length", &v[i].len) || !v[i].len) {
			ret = aerr_set(err, EINVAL, "%s: region \"%s\" needs a non-negative \"start\" "
				       "and a positive \"length\"", path, key);
			break;
		}
		int has = !region_num(r, "offset", &off);
		if (have_off >= 0 && has != have_off) {
			ret = aerr_set(err, EINVAL, "%s: give \"offset\" for every region or for none", path);
			break;
		}
		have_off = has;
		/* /proc/iomem ends are inclusive: DOCA's lengths are one short */
		if (!has && ((v[i].pa + v[i].len + 1) & 0xfff) == 0 && ((v[i].pa + v[i].len) & 0xfff)) {
			v[i].len++;
			fixed++;
		}
		v[i].off = off;
		i++;
	}
	json_decref(root);
	if (ret) {
		free(v);
		return ret;
	}
	if (fixed)
		alog_sdk(ALOG_WARNING, "%s: %d region length%s one byte short of a page (iomem's inclusive end): "
			 "rounded up", path, fixed, fixed == 1 ? " was" : "s were");
	if (!have_off) {
		/* packed in file order, i.e. by ascending address */
		qsort(v, cnt, sizeof(*v), cmp_pa);
		uint64_t pos = 0;
		for (size_t k = 0; k < cnt; k++) {
			v[k].off = pos;
			pos += v[k].len;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

void regions_print(FILE *f, const struct mem_range *r, size_t n)
{
	fprintf(f, "{\n  \"allowed_regions\": {\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "    \"%zu\": {\"start\": %llu, \"length\": %llu, \"offset\": %llu}%s\n", i,
			(unsigned long long)r[i].pa, (unsigned long long)r[i].len,
			(unsigned long long)r[i].off, i + 1 < n ? "," : "");
	fprintf(f, "  }\n}\n");
}

int regions_write(const char *path, const struct mem_range *r, size_t n, struct aerr *err)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return aerr_set(err, errno, "%s: cannot write: %s", tmp, strerror(errno));
	regions_print(f, r, n);
	if (fclose(f) || rename(tmp, path)) {
		unlink(tmp);
		return aerr_set(err, EIO, "%s: cannot write: %s", path, strerror(errno));
	}
	return 0;
}

int regions_from_iomem(const char *text, struct mem_range **out, size_t *n, struct aerr *err)
{
	struct mem_range *v = NULL;
	size_t cnt = 0, cap = 0;
	int zeros = 0, lineno = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned long long s, e;
		char name[64];
		lineno++;
		if (*l == ' ' || *l == '\t')
			continue;	/* nested resources */
		if (sscanf(l, "%llx-%llx : %63[^\n]", &s, &e, name) != 3 || strcmp(name, "System RAM"))
			continue;
		if (!s && !e) {
			zeros++;
			continue;
		}
		if (e < s) {
			free(v);
			return aerr_set(err, EINVAL, "iomem line %d: end before start", lineno);
		}
		if (push_range(&v, &cnt, &cap, s, e - s + 1, 0)) {
			free(v);
			return aerr_set(err, ENOMEM, "out of memory");
		}
	}
	if (!cnt) {
		free(v);
		return aerr_set(err, EINVAL, zeros ? "iomem addresses are all zero: read /proc/iomem as root"
				: "no \"System RAM\" range in the iomem text");
	}
	int ret = ranges_normalize(v, cnt, "iomem", err);
	if (ret) {
		free(v);
		return ret;
	}
	uint64_t pos = 0;
	for (size_t i = 0; i < cnt; i++) {
		v[i].off = pos;
		pos += v[i].len;
	}
	*out = v;
	*n = cnt;
	return 0;
}
