#include "service/forward.h"

#include <jansson.h>
#include <msgpack.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>

static int to_buf(void *data, const char *p, size_t len)
{
	buf_add(data, p, len);
	return 0;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_json(msgpack_packer *pk, json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach(v, k, x) {
			pack_str(pk, k, strlen(k));
			pack_json(pk, x);
		}
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, x)
			pack_json(pk, x);
		break;
	}
	case JSON_STRING:
		pack_str(pk, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(v));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(v));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	case JSON_NULL:
		msgpack_pack_nil(pk);
		break;
	}
}

void forward_entry(struct buf *out, uint64_t time_ns, const char *json, size_t len)
{
	msgpack_packer pk;
	unsigned char et[8];
	uint32_t sec = (uint32_t)(time_ns / 1000000000ULL), nsec = (uint32_t)(time_ns % 1000000000ULL);
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);

	for (int i = 0; i < 4; i++) {
		et[i] = (unsigned char)(sec >> (24 - 8 * i));
		et[4 + i] = (unsigned char)(nsec >> (24 - 8 * i));
	}
	msgpack_packer_init(&pk, out, to_buf);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_ext(&pk, 8, 0);
	msgpack_pack_ext_body(&pk, et, 8);
	if (root && json_is_object(root)) {
		pack_json(&pk, root);
	} else {
		msgpack_pack_map(&pk, 1);
		pack_str(&pk, "log", 3);
		pack_str(&pk, json, len);
	}
	json_decref(root);
}

void forward_chunk_id(char id[FWD_ID_CAP])
{
	unsigned char raw[16];
	static uint64_t seq;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		/* never expected; still unique within this process */
		uint64_t n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
		memset(raw, 0, sizeof(raw));
		memcpy(raw, &n, sizeof(n));
	}
	EVP_EncodeBlock((unsigned char *)id, raw, sizeof(raw));	/* 24 characters and a NUL */
}

void forward_chunk_begin(struct buf *out, const char *tag, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, to_buf);
	msgpack_pack_array(&pk, 3);
	pack_str(&pk, tag, strlen(tag));
	msgpack_pack_array(&pk, n);
}

void forward_chunk_end(struct buf *out, const char *id, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, to_buf);
	msgpack_pack_map(&pk, 2);
	pack_str(&pk, "chunk", 5);
	pack_str(&pk, id, strlen(id));
	pack_str(&pk, "size", 4);
	msgpack_pack_uint64(&pk, n);
}

/* The receiver's bytes are read with a parser of our own that allocates
 * nothing (msgpack-c's unpacker allocates what a header claims: a map32
 * header alone would ask for 64 GB). */
static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Step over one object at p[*off]: 1 done, 0 more bytes needed, -1 bad. */
static int skip(const unsigned char *p, size_t len, size_t *off, int depth)
{
	static const signed char fixed[32] = {	/* 0xc0..0xdf: bytes after the type */
		0, -1, 0, 0, -2, -2, -2, -3, -3, -3, 4, 8, 1, 2, 4, 8,
		1, 2, 4, 8, 2, 3, 5, 9, 17, -2, -2, -2, -4, -4, -5, -5 };
	size_t o = *off;
	uint64_t n = 0, objs = 0;

	if (depth > 32)
		return -1;
	if (o >= len)
		return 0;
	unsigned b = p[o++];
	if (b <= 0x7f || b >= 0xe0) {
		/* fixint */
	} else if (b <= 0x8f) {
		objs = 2 * (uint64_t)(b & 0xf);
	} else if (b <= 0x9f) {
		objs = b & 0xf;
	} else if (b <= 0xbf) {
		n = b & 0x1f;
	} else {
		int f = fixed[b - 0xc0];
		if (f == -1)
			return -1;	/* 0xc1: never used */
		if (f >= 0) {
			n = (uint64_t)f;
		} else {
			/* -2: 8/16/32-bit length of bytes (bin, str), -3: ext (length, type),
			 * -4: 16/32-bit count of an array, -5: of a map */
			static const unsigned char width[32] = {
				[4] = 1, [5] = 2, [6] = 4, [7] = 1, [8] = 2, [9] = 4,
				[25] = 1, [26] = 2, [27] = 4, [28] = 2, [29] = 4, [30] = 2, [31] = 4 };
			int w = width[b - 0xc0];
			if (len - o < (size_t)w)
				return 0;
			uint64_t v = be(p + o, w);
			o += (size_t)w;
			if (f == -2)
				n = v;
			else if (f == -3)
				n = v + 1;
			else
				objs = f == -4 ? v : 2 * v;
		}
	}
	if (len - o < n)
		return 0;
	o += n;
	for (uint64_t i = 0; i < objs; i++) {	/* each at least a byte: ends with the input */
		int r = skip(p, len, &o, depth + 1);
		if (r <= 0)
			return r;
	}
	*off = o;
	return 1;
}

/* A string at p[*off]: its bytes, or NULL (not a string), *off past it. */
static const unsigned char *str_at(const unsigned char *p, size_t len, size_t *off, size_t *n)
{
	size_t o = *off;

	if (o >= len)
		return NULL;
	unsigned b = p[o];
	int w = b >= 0xa0 && b <= 0xbf ? 0 : b == 0xd9 ? 1 : b == 0xda ? 2 : b == 0xdb ? 4 : -1;

	if (w < 0)
		return NULL;
	*n = w ? (size_t)be(p + o + 1, w) : (b & 0x1f);
	*off = o + 1 + (size_t)w + *n;
	return p + o + 1 + w;
}

int forward_parse_ack(const char *text, size_t len, size_t *used, char *id, size_t idcap)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t off = 0, end = 0;
	int r = skip(p, len, &end, 0), found = 0;

	if (r <= 0)
		return r;
	/* a whole object: a map? */
	unsigned b = p[0];
	uint64_t pairs;
	if (b >= 0x80 && b <= 0x8f) {
		pairs = b & 0xf;
		off = 1;
	} else if (b == 0xde || b == 0xdf) {
		int w = b == 0xde ? 2 : 4;
		pairs = be(p + 1, w);
		off = 1 + (size_t)w;
	} else {
		return -1;
	}
	for (uint64_t i = 0; i < pairs; i++) {
		size_t kn, vn, v = off;
		const unsigned char *k = str_at(p, end, &v, &kn), *s;
		if (!k) {	/* a key that is not a string: step over it */
			skip(p, end, &off, 0);
			v = off;
		}
		off = v;
		size_t at = off;
		s = str_at(p, end, &at, &vn);
		skip(p, end, &off, 0);
		if (!found && k && kn == 3 && !memcmp(k, "ack", 3) && s && idcap) {
			size_t n = vn < idcap - 1 ? vn : idcap - 1;
			memcpy(id, s, n);
			id[n] = '\0';
			found = 1;
		}
	}
	if (!found)
		return -1;
	*used = end;
	return 1;
}
