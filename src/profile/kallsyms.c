#include "profile/kallsyms.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct tokens {
	char text[256][64];
	uint8_t len[256];
	char table[256 * 64];	/* raw token table window */
};

static int read_tokens(struct vas *as, const struct kallsyms_loc *loc, struct tokens *tk,
		       struct aerr *err)
{
	uint16_t idx[256];
	char *table = tk->table;
	const size_t table_cap = sizeof(tk->table);
	int ret;

	ret = vas_read(as, loc->token_index, idx, sizeof(idx), err);
	if (ret)
		return aerr_wrap(err, "reading kallsyms_token_index");
	/* the table is small (a few KB); read a generous window, tolerate a
	 * short read at an unmapped end */
	uint32_t maxoff = 0;
	for (int i = 0; i < 256; i++)
		if (idx[i] > maxoff)
			maxoff = idx[i];
	size_t want = maxoff + 64 < table_cap ? maxoff + 64 : table_cap;
	if (maxoff >= table_cap - 1)
		return aerr_set(err, EINVAL, "kallsyms token index out of range (%u)", maxoff);
	ret = vas_read(as, loc->token_table, table, want, err);
	if (ret)
		return aerr_wrap(err, "reading kallsyms_token_table");
	for (int i = 0; i < 256; i++) {
		const char *s = table + idx[i];
		size_t n = strnlen(s, want - idx[i]);
		if (n == 0 || n >= sizeof(tk->text[i]))
			return aerr_set(err, EINVAL, "kallsyms token %d is malformed", i);
		memcpy(tk->text[i], s, n);
		tk->len[i] = (uint8_t)n;
	}
	return 0;
}

/* Read n bytes starting at va in chunks (names are a few MB). */
static unsigned char *read_blob(struct vas *as, uint64_t va, size_t n, struct aerr *err)
{
	unsigned char *b = malloc(n ? n : 1);

	if (!b) {
		aerr_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	if (vas_read(as, va, b, n, err)) {
		free(b);
		return NULL;
	}
	return b;
}

struct decode_ctx {
	const unsigned char *names;
	size_t names_len, pos;
	const struct tokens *tk;
};

/* Decode one name into out (type letter first).  Returns length or -1. */
static int next_name(struct decode_ctx *c, char *out, size_t cap)
{
	if (c->pos >= c->names_len)
		return -1;
	size_t len = c->names[c->pos++];
	if (len & 0x80) {	/* "big" symbol: two-byte ULEB128 length (6.1+) */
		if (c->pos >= c->names_len)
			return -1;
		len = (len & 0x7f) | ((size_t)c->names[c->pos++] << 7);
	}
	if (len > c->names_len - c->pos)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t t = c->names[c->pos + i];
		if (o + c->tk->len[t] >= cap)
			return -1;
		memcpy(out + o, c->tk->text[t], c->tk->len[t]);
		o += c->tk->len[t];
	}
	c->pos += len;
	out[o] = '\0';
	return (int)o;
}

static int pick_absolute_percpu(const int32_t *offs, uint32_t n)
{
	uint32_t neg = 0;

	for (uint32_t i = 0; i < n; i++)
		if (offs[i] < 0)
			neg++;
	return neg > n / 2;
}

int kallsyms_decode(struct vas *as, const struct kallsyms_loc *loc, struct ksyms **out,
		    struct aerr *err)
{
	struct tokens *tk = NULL;
	unsigned char *names = NULL;
	int32_t *offs = NULL;
	uint64_t *addrs = NULL, relbase = 0;
	uint32_t num;
	struct ksyms *ks = NULL;
	int ret;

	*out = NULL;
	if (!loc->names || !loc->num_syms || !loc->token_table || !loc->token_index ||
	    !(loc->addresses || (loc->offsets && loc->relative_base)))
		return aerr_set(err, ENOENT, "kallsyms tables not located");
	ret = vas_read_u32(as, loc->num_syms, &num);
	if (ret)
		return aerr_set(err, EFAULT, "cannot read kallsyms_num_syms at 0x%llx",
				(unsigned long long)loc->num_syms);
	if (num == 0 || num > KALLSYMS_MAX_SYMS)
		return aerr_set(err, EINVAL, "kallsyms_num_syms = %u is not plausible", num);

	tk = calloc(1, sizeof(*tk));
	if (!tk)
		return aerr_set(err, ENOMEM, "out of memory");
	ret = read_tokens(as, loc, tk, err);
	if (ret)
		goto done;

	/* names end where the next table starts; bound by the layout when
	 * known, else by a cap */
	size_t names_len = KALLSYMS_MAX_NAMES;
	uint64_t ends[] = { loc->token_table, loc->token_index, loc->offsets, loc->num_syms,
			    loc->addresses, loc->relative_base };
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (ends[i] > loc->names && ends[i] - loc->names < names_len)
			names_len = (size_t)(ends[i] - loc->names);
	names = read_blob(as, loc->names, names_len, err);
	if (!names) {
		ret = aerr_wrap(err, "reading kallsyms_names");
		goto done;
	}
	if (loc->addresses) {
		addrs = (uint64_t *)read_blob(as, loc->addresses, (size_t)num * 8, err);
		if (!addrs) {
			ret = aerr_wrap(err, "reading kallsyms_addresses");
			goto done;
		}
	} else {
		offs = (int32_t *)read_blob(as, loc->offsets, (size_t)num * 4, err);
		if (!offs || vas_read_u64(as, loc->relative_base, &relbase)) {
			ret = aerr_set(err, EFAULT, "cannot read kallsyms_offsets/relative_base");
			goto done;
		}
	}
	int abs_percpu = offs ? pick_absolute_percpu(offs, num) : 0;

	ks = ksyms_new("kallsyms");
	if (!ks) {
		ret = aerr_set(err, ENOMEM, "out of memory");
		goto done;
	}
	struct decode_ctx dc = { names, names_len, 0, tk };
	char name[1024];
	for (uint32_t i = 0; i < num; i++) {
		int n = next_name(&dc, name, sizeof(name));
		if (n < 2) {
			ret = aerr_set(err, EINVAL, "kallsyms name %u of %u is malformed", i, num);
			goto done;
		}
		uint64_t addr;
		if (addrs)
			addr = addrs[i];
		else if (!abs_percpu)
			addr = relbase + (uint32_t)offs[i];
		else if (offs[i] >= 0)
			addr = (uint64_t)offs[i];
		else
			addr = relbase - 1 - (int64_t)offs[i];
		if (ksyms_add(ks, name + 1, (size_t)n - 1, addr, name[0])) {
			ret = aerr_set(err, ENOMEM, "out of memory");
			goto done;
		}
	}
	if (ksyms_finish(ks)) {
		ret = aerr_set(err, ENOMEM, "out of memory");
		goto done;
	}
	alog_sdk(ALOG_DEBUG, "kallsyms: %u symbols decoded", num);
	*out = ks;
	ks = NULL;
	ret = 0;
done:
	ksyms_free(ks);
	free(tk);
	free(names);
	free(offs);
	free(addrs);
	return ret;
}
