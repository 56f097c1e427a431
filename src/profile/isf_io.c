/* isf_io.c - whole-file reading and writing with gzip/xz, for ISF files. */
#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/rdfile.h"
#include "profile/isf.h"

/* The largest ISF argus reads, plain or once decompressed: a full kernel's
 * is some tens of MiB.  A compressed file is decoded twice: once counting
 * (nothing kept, refused as soon as it passes the cap: a gzip or xz bomb
 * costs a fraction of a second and no memory), then into a buffer reserved
 * once for what the first pass counted. */
#define ISF_MAX (256u << 20)
#define ISF_MAX_TEXT "256 MiB"

static int slurp(const char *path, char **data, size_t *len, struct aerr *err)
{
	struct buf b = BUF_INIT;
	char chunk[65536];
	struct stat st;
	size_t n;
	int fd, r = open_regular(path, 0, &fd, &st, err);

	if (r)
		return r;
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		close(fd);
		return aerr_set(err, ENOMEM, "%s: cannot read: out of memory", path);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= ISF_MAX)
		buf_add(&b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad || b.oom || b.len > ISF_MAX) {
		int code = bad ? EIO : b.oom ? ENOMEM : E2BIG;
		buf_free(&b);
		return aerr_set(err, code, "%s: cannot read: %s", path,
				code == E2BIG ? "larger than " ISF_MAX_TEXT : strerror(code));
	}
	*data = buf_detach(&b, len);
	if (!*data)
		*data = calloc(1, 1);
	return *data ? 0 : aerr_set(err, ENOMEM, "out of memory");
}

/* Emit decoded bytes: counted, and kept when out is given. */
static int put(const char *name, struct buf *out, uint64_t *total, const void *p, size_t n,
	       struct aerr *err)
{
	*total += n;
	if (*total > ISF_MAX)
		return aerr_set(err, E2BIG, "%s: decompresses to more than " ISF_MAX_TEXT
				" (not an ISF file)", name);
	if (out)
		buf_add(out, p, n);
	return 0;
}

static int gunzip(const char *name, const char *in, size_t inlen, struct buf *out,
		  uint64_t *total, struct aerr *err)
{
	z_stream z = { 0 };
	char chunk[1 << 16];
	int r;

	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return aerr_set(err, ENOMEM, "out of memory");
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)inlen;
	for (;;) {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		r = inflate(&z, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
			inflateEnd(&z);
			return aerr_set(err, EINVAL, "%s: corrupt gzip data (%s)", name,
					z.msg ? z.msg : "inflate failed");
		}
		int e = put(name, out, total, chunk, sizeof(chunk) - z.avail_out, err);
		if (e) {
			inflateEnd(&z);
			return e;
		}
		/* another gzip member may follow (pigz, cat a.gz b.gz) */
		if (r == Z_STREAM_END && z.avail_in >= 2 && z.next_in[0] == 0x1f &&
		    z.next_in[1] == 0x8b) {
			inflateReset(&z);
			continue;
		}
		if (r != Z_OK || (!z.avail_in && z.avail_out))
			break;	/* the end, or no input left */
	}
	inflateEnd(&z);
	if (r != Z_STREAM_END)
		return aerr_set(err, EINVAL, "%s: gzip data is truncated", name);
	return 0;
}

static int unxz(const char *name, const char *in, size_t inlen, struct buf *out,
		uint64_t *total, struct aerr *err)
{
	lzma_stream z = LZMA_STREAM_INIT;
	uint8_t chunk[1 << 16];
	lzma_ret r;

	if (lzma_stream_decoder(&z, 512u << 20, LZMA_CONCATENATED) != LZMA_OK)
		return aerr_set(err, ENOMEM, "out of memory");
	z.next_in = (const uint8_t *)in;
	z.avail_in = inlen;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		r = lzma_code(&z, z.avail_in ? LZMA_RUN : LZMA_FINISH);
		if (r != LZMA_OK && r != LZMA_STREAM_END) {
			lzma_end(&z);
			return aerr_set(err, EINVAL, "%s: %s", name,
					r == LZMA_BUF_ERROR ? "xz data is truncated" :
					r == LZMA_MEMLIMIT_ERROR ? "xz data needs over 512 MiB to decode" :
					r == LZMA_MEM_ERROR ? "out of memory" : "corrupt xz data");
		}
		int e = put(name, out, total, chunk, sizeof(chunk) - z.avail_out, err);
		if (e) {
			lzma_end(&z);
			return e;
		}
	} while (r != LZMA_STREAM_END);
	lzma_end(&z);
	return 0;
}

static int decode(const char *name, const void *in, size_t inlen, int xz, struct buf *out,
		  uint64_t *total, struct aerr *err)
{
	*total = 0;
	return xz ? unxz(name, in, inlen, out, total, err) : gunzip(name, in, inlen, out, total, err);
}

int isf_inflate(const char *name, const void *in, size_t inlen, char **data, size_t *len,
		struct aerr *err)
{
	const unsigned char *u = in;
	struct buf out = BUF_INIT;
	int ret;

	*data = NULL;
	*len = 0;
	int gz = inlen >= 2 && u[0] == 0x1f && u[1] == 0x8b;
	int xz = inlen >= 6 && !memcmp(u, "\xfd" "7zXZ\0", 6);
	uint64_t total;
	if (gz || xz) {
		ret = decode(name, in, inlen, xz, NULL, &total, err);
		if (!ret && buf_reserve(&out, (size_t)total + 1))
			ret = aerr_set(err, ENOMEM, "out of memory");
		if (!ret)
			ret = decode(name, in, inlen, xz, &out, &total, err);
	} else if (inlen > ISF_MAX) {
		ret = aerr_set(err, E2BIG, "%s: larger than " ISF_MAX_TEXT, name);
	} else {
		ret = (buf_add(&out, in, inlen), 0);
	}
	if (!ret && (out.oom || buf_reserve(&out, 1)))
		ret = aerr_set(err, ENOMEM, "out of memory");
	if (ret) {
		buf_free(&out);
		return ret;
	}
	*data = buf_detach(&out, len);
	return 0;
}

int isf_read_file(const char *path, char **data, size_t *len, struct aerr *err)
{
	const unsigned char *u;
	char *raw;
	size_t rawlen;
	int ret = slurp(path, &raw, &rawlen, err);

	if (ret)
		return ret;
	u = (const unsigned char *)raw;
	if (!(rawlen >= 2 && u[0] == 0x1f && u[1] == 0x8b) &&
	    !(rawlen >= 6 && !memcmp(u, "\xfd" "7zXZ\0", 6))) {
		*data = raw;	/* plain: no copy */
		*len = rawlen;
		return 0;
	}
	ret = isf_inflate(path, raw, rawlen, data, len, err);
	free(raw);
	return ret;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static int write_gz(FILE *f, const char *data, size_t len)
{
	z_stream z = { 0 };
	char chunk[1 << 16];
	int r;

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		r = deflate(&z, Z_FINISH);
		if (fwrite(chunk, 1, sizeof(chunk) - z.avail_out, f) != sizeof(chunk) - z.avail_out) {
			deflateEnd(&z);
			return -EIO;
		}
	} while (r == Z_OK);
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -EIO;
}

static int write_xz(FILE *f, const char *data, size_t len)
{
	lzma_stream z = LZMA_STREAM_INIT;
	uint8_t chunk[1 << 16];
	lzma_ret r;

	if (lzma_easy_encoder(&z, 1, LZMA_CHECK_CRC64) != LZMA_OK)
		return -ENOMEM;
	z.next_in = (const uint8_t *)data;
	z.avail_in = len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		r = lzma_code(&z, LZMA_FINISH);
		if (fwrite(chunk, 1, sizeof(chunk) - z.avail_out, f) != sizeof(chunk) - z.avail_out) {
			lzma_end(&z);
			return -EIO;
		}
	} while (r == LZMA_OK);
	lzma_end(&z);
	return r == LZMA_STREAM_END ? 0 : -EIO;
}

int isf_write_file(const char *path, const char *data, size_t len, uint64_t *written,
		   struct aerr *err)
{
	char tmp[4096];
	FILE *f;
	int r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return aerr_set(err, ENAMETOOLONG, "%s: path too long", path);
	f = fopen(tmp, "wb");
	if (!f)
		return aerr_set(err, errno, "%s: cannot write: %s", tmp, strerror(errno));
	if (ends_with(path, ".gz"))
		r = write_gz(f, data, len);
	else if (ends_with(path, ".xz"))
		r = write_xz(f, data, len);
	else
		r = fwrite(data, 1, len, f) == len ? 0 : -EIO;
	long end = r ? -1 : ftell(f);
	if (fclose(f) && !r)
		r = -EIO;
	if (!r && rename(tmp, path))
		r = -errno;
	if (r) {
		unlink(tmp);
		return aerr_set(err, r, "%s: cannot write: %s", path, strerror(-r));
	}
	if (written)
		*written = end > 0 ? (uint64_t)end : 0;
	return 0;
}
