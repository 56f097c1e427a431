/* isf_io.c - whole-file reading and writing with gzip/xz, for ISF files. */
#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "profile/isf.h"

#define ISF_MAX (1024u << 20)	/* refuse to inflate beyond 1 GiB */

static int slurp(const char *path, char **data, size_t *len, struct aerr *err)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;

	if (!f)
		return aerr_set(err, errno, "%s: cannot open: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < ISF_MAX)
		buf_add(&b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad || b.oom) {
		buf_free(&b);
		return aerr_set(err, bad ? EIO : ENOMEM, "%s: cannot read", path);
	}
	*data = buf_detach(&b, len);
	return 0;
}

static int gunzip(const char *path, const char *in, size_t inlen, struct buf *out, struct aerr *err)
{
	z_stream z = { 0 };
	char chunk[1 << 16];
	int r;

	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return aerr_set(err, ENOMEM, "out of memory");
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)inlen;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		r = inflate(&z, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END) {
			inflateEnd(&z);
			return aerr_set(err, EINVAL, "%s: corrupt gzip data (%s)", path,
					z.msg ? z.msg : "inflate failed");
		}
		buf_add(out, chunk, sizeof(chunk) - z.avail_out);
		if (out->len > ISF_MAX) {
			inflateEnd(&z);
			return aerr_set(err, E2BIG, "%s: inflates beyond 1 GiB", path);
		}
	} while (r != Z_STREAM_END && (z.avail_in || z.avail_out == 0));
	inflateEnd(&z);
	if (r != Z_STREAM_END)
		return aerr_set(err, EINVAL, "%s: gzip data is truncated", path);
	return 0;
}

static int unxz(const char *path, const char *in, size_t inlen, struct buf *out, struct aerr *err)
{
	lzma_stream z = LZMA_STREAM_INIT;
	uint8_t chunk[1 << 16];
	lzma_ret r;

	if (lzma_stream_decoder(&z, UINT64_MAX, 0) != LZMA_OK)
		return aerr_set(err, ENOMEM, "out of memory");
	z.next_in = (const uint8_t *)in;
	z.avail_in = inlen;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		r = lzma_code(&z, z.avail_in ? LZMA_RUN : LZMA_FINISH);
		if (r != LZMA_OK && r != LZMA_STREAM_END) {
			lzma_end(&z);
			return aerr_set(err, EINVAL, "%s: corrupt or truncated xz data (code %d)", path, r);
		}
		buf_add(out, chunk, sizeof(chunk) - z.avail_out);
		if (out->len > ISF_MAX) {
			lzma_end(&z);
			return aerr_set(err, E2BIG, "%s: inflates beyond 1 GiB", path);
		}
	} while (r != LZMA_STREAM_END);
	lzma_end(&z);
	return 0;
}

int isf_read_file(const char *path, char **data, size_t *len, struct aerr *err)
{
	char *raw;
	size_t rawlen;
	struct buf out = BUF_INIT;
	int ret = slurp(path, &raw, &rawlen, err);

	if (ret)
		return ret;
	if (rawlen >= 2 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b)
		ret = gunzip(path, raw, rawlen, &out, err);
	else if (rawlen >= 6 && !memcmp(raw, "\xfd" "7zXZ\0", 6))
		ret = unxz(path, raw, rawlen, &out, err);
	else {
		*data = raw;
		*len = rawlen;
		return 0;
	}
	free(raw);
	if (!ret && out.oom)
		ret = aerr_set(err, ENOMEM, "out of memory");
	if (ret) {
		buf_free(&out);
		return ret;
	}
	*data = buf_detach(&out, len);
	return 0;
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

int isf_write_file(const char *path, const char *data, size_t len, struct aerr *err)
{
	char tmp[4096];
	FILE *f;
	int r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f)
		return aerr_set(err, errno, "%s: cannot write: %s", tmp, strerror(errno));
	if (ends_with(path, ".gz"))
		r = write_gz(f, data, len);
	else if (ends_with(path, ".xz"))
		r = write_xz(f, data, len);
	else
		r = fwrite(data, 1, len, f) == len ? 0 : -EIO;
	if (fclose(f) && !r)
		r = -EIO;
	if (!r && rename(tmp, path))
		r = -errno;
	if (r) {
		unlink(tmp);
		return aerr_set(err, r, "%s: cannot write: %s", path, strerror(-r));
	}
	return 0;
}
