/* Unit tests: the ISF writers (from BTF, from DWARF) and the ISF reader,
 * including hostile and broken files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include <jansson.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/log.h"
#include "profile/isf.h"
#include "profile/ksyms.h"
#include "profile/ktypes.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/argus-isf-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) ? -1 : 0;
}

static const char *tmp(const char *name)
{
	static char path[4][128];
	static int next;

	next = (next + 1) % 4;
	snprintf(path[next], sizeof(path[next]), "%s/%s", tmpdir, name);
	return path[next];
}

static void member_is(struct ktypes *t, const char *type, const char *member, uint64_t bit_offset,
		      uint64_t size, uint32_t bit_size)
{
	struct kmember m;

	if (ktypes_member(t, type, member, &m))
		fail_msg("%s: %s.%s not found", t->desc, type, member);
	if (m.bit_offset != bit_offset || m.size != size || m.bit_size != bit_size)
		fail_msg("%s: %s.%s is bit %llu size %llu bits %u, expected bit %llu size %llu bits %u",
			 t->desc, type, member, (unsigned long long)m.bit_offset,
			 (unsigned long long)m.size, m.bit_size, (unsigned long long)bit_offset,
			 (unsigned long long)size, bit_size);
}

static void enum_is(struct ktypes *t, const char *name, int64_t val)
{
	int64_t v;

	if (ktypes_enumval(t, name, &v))
		fail_msg("%s: enumerator %s not found", t->desc, name);
	assert_int_equal(v, val);
}

/* ---- (a) BTF -> ISF -> reader ---- */

/* struct task_struct {            enum color { RED = 1, BLUE = 7, DARK = -2 };
 *   int pid;                  @0  enum big { HUGE = 1ULL << 40 };  (64-bit)
 *   union { long a; char b; };@8  typedef struct { int counter; } atomic_t;
 *   unsigned flags:3, mode:5; @128, 131 (bits)
 *   unsigned wide:20;         @140
 *   struct task_struct *parent; @24
 *   char comm[16];            @32
 *   atomic_t usage;           @48
 *   enum color col;           @52
 * };  size 56 */
static struct btf *make_btf(void)
{
	struct btf *b = btf__new_empty();
	int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int u32 = btf__add_int(b, "unsigned int", 4, 0);
	int i64 = btf__add_int(b, "long int", 8, BTF_INT_SIGNED);
	int ch = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
	int un = btf__add_union(b, NULL, 8);
	btf__add_field(b, "a", i64, 0, 0);
	btf__add_field(b, "b", ch, 0, 0);
	int arr = btf__add_array(b, i32, ch, 16);
	int anon = btf__add_struct(b, NULL, 4);
	btf__add_field(b, "counter", i32, 0, 0);
	int atomic = btf__add_typedef(b, "atomic_t", anon);
	int color = btf__add_enum(b, "color", 4);
	btf__add_enum_value(b, "RED", 1);
	btf__add_enum_value(b, "BLUE", 7);
	btf__add_enum_value(b, "DARK", -2);
	btf__add_enum64(b, "big", 8, false);
	btf__add_enum64_value(b, "HUGE", 1ULL << 40);
	int cnst = btf__add_const(b, i32);
	int ptr = btf__add_ptr(b, cnst + 2);	/* to task_struct, added next */
	int task = btf__add_struct(b, "task_struct", 56);
	assert_int_equal(task, cnst + 2);
	btf__add_field(b, "pid", cnst, 0, 0);
	btf__add_field(b, NULL, un, 64, 0);
	btf__add_field(b, "flags", u32, 128, 3);
	btf__add_field(b, "mode", u32, 131, 5);
	btf__add_field(b, "wide", u32, 140, 20);
	btf__add_field(b, "parent", ptr, 192, 0);
	btf__add_field(b, "comm", arr, 256, 0);
	btf__add_field(b, "usage", atomic, 384, 0);
	btf__add_field(b, "col", color, 416, 0);
	btf__add_var(b, "current_task", BTF_VAR_GLOBAL_ALLOCATED, ptr);
	return b;
}

static void check_btf_types(struct ktypes *t)
{
	uint64_t sz;

	assert_int_equal(ktypes_size(t, "task_struct", &sz), 0);
	assert_int_equal(sz, 56);
	member_is(t, "task_struct", "pid", 0, 4, 0);
	member_is(t, "task_struct", "a", 64, 8, 0);	/* through the anonymous union */
	member_is(t, "task_struct", "b", 64, 1, 0);
	member_is(t, "task_struct", "flags", 128, 4, 3);
	member_is(t, "task_struct", "mode", 131, 4, 5);
	member_is(t, "task_struct", "wide", 140, 4, 20);
	member_is(t, "task_struct", "parent", 192, 8, 0);
	member_is(t, "task_struct", "comm", 256, 16, 0);
	member_is(t, "task_struct", "usage", 384, 4, 0);
	member_is(t, "task_struct", "col", 416, 4, 0);
	struct kmember m;
	assert_int_equal(ktypes_member(t, "task_struct", "nope", &m), -ENOENT);
	assert_int_equal(ktypes_member(t, "nostruct", "pid", &m), -ENOENT);
	assert_int_equal(ktypes_size(t, "nostruct", &sz), -ENOENT);
	enum_is(t, "BLUE", 7);
	enum_is(t, "DARK", -2);
	enum_is(t, "HUGE", 1LL << 40);
	int64_t v;
	assert_int_equal(ktypes_enumval(t, "GREEN", &v), -ENOENT);
}

static json_t *load_json(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_DECODE_INT_AS_REAL, &je);

	if (!j)
		fail_msg("%s:%d: %s", path, je.line, je.text);
	return j;
}

/* What Volatility needs beyond what argus reads back. */
static void check_volatility_shape(json_t *j)
{
	json_t *ut = json_object_get(j, "user_types"), *bases = json_object_get(j, "base_types");
	json_t *meta = json_object_get(j, "metadata");
	const char *name;
	json_t *e;

	assert_string_equal(json_string_value(json_object_get(meta, "format")), "6.2.0");
	assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "producer"),
							       "name")), "argus");
	assert_true(json_is_array(json_object_get(json_object_get(meta, "linux"), "symbols")));
	json_t *task = json_object_get(json_object_get(ut, "task_struct"), "fields");
	json_t *anon = json_object_get(task, "unnamed_field_0");
	assert_true(json_is_true(json_object_get(anon, "anonymous")));
	/* the typedef of an anonymous struct is a user type of its name */
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
		task, "usage"), "type"), "name")), "atomic_t");
	assert_non_null(json_object_get(ut, "atomic_t"));
	json_t *flags = json_object_get(json_object_get(task, "flags"), "type");
	assert_string_equal(json_string_value(json_object_get(flags, "kind")), "bitfield");
	assert_string_equal(json_string_value(json_object_get(json_object_get(flags, "type"),
							       "kind")), "base");
	json_object_foreach(json_object_get(j, "enums"), name, e) {
		const char *base = json_string_value(json_object_get(e, "base"));
		if (!base || !json_object_get(bases, base))
			fail_msg("enum %s: base '%s' is not a base type", name, base ? base : "");
	}
	assert_non_null(json_object_get(bases, "pointer"));
	assert_non_null(json_object_get(bases, "void"));
}

static void test_btf_roundtrip(void **state)
{
	(void)state;
	struct btf *b = make_btf();
	struct ktypes *bt;
	__u32 rawsz;
	const void *raw = btf__raw_data(b, &rawsz);
	assert_int_equal(ktypes_from_btf(raw, rawsz, &bt, NULL), 0);
	check_btf_types(bt);	/* the BTF backend agrees with what we expect */

	const uint64_t slide = 0x1000000, kbase = 0xffffffff82000000ULL;
	struct ksyms *ks = ksyms_new("test");
	ksyms_add(ks, "init_task", 9, kbase + 0x1000, 'D');
	ksyms_add(ks, "linux_banner", 12, kbase + 0x2000, 'D');
	ksyms_add(ks, "current_task", 12, 0x21440, 'A');	/* per-CPU: not slid */
	ksyms_add(ks, "init_task", 9, kbase + 0x5000, 't');	/* duplicate: first wins */
	ksyms_finish(ks);
	static const char *const names[] = { "btf.json", "btf.json.gz", "btf.json.xz" };
	for (int i = 0; i < 3; i++) {
		struct aerr err = { 0 };
		struct isf_stats st = { 0 };
		struct ktypes *t;
		struct ksyms *s;
		char *banner;
		uint64_t a;
		const char *path = tmp(names[i]);
		if (isf_write_btf_stats(ktypes_btf(bt), ks, slide, "Linux version 9.9 test", path,
					&st, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(st.symbols, 3);
		assert_true(st.user_types >= 3 && st.enums == 2 && st.bytes > 0);
		if (isf_load(path, &t, &s, &banner, &err))
			fail_msg("%s: %s", path, err.msg);
		check_btf_types(t);
		assert_int_equal(ksyms_lookup(s, "init_task", &a), 0);
		assert_int_equal(a, kbase + 0x1000 - slide);	/* link-time */
		assert_int_equal(ksyms_lookup(s, "current_task", &a), 0);
		assert_int_equal(a, 0x21440);
		assert_string_equal(banner, "Linux version 9.9 test");
		ktypes_free(t);
		ksyms_free(s);
		free(banner);
	}
	json_t *j = load_json(tmp("btf.json"));
	check_volatility_shape(j);
	json_t *syms = json_object_get(j, "symbols");
	/* the kernel's bytes: text, newline, NUL */
	assert_string_equal(json_string_value(json_object_get(json_object_get(syms, "linux_banner"),
							       "constant_data")),
			    "TGludXggdmVyc2lvbiA5LjkgdGVzdAoA");
	json_t *ity = json_object_get(json_object_get(syms, "init_task"), "type");
	assert_string_equal(json_string_value(json_object_get(ity, "name")), "task_struct");
	json_t *cty = json_object_get(json_object_get(syms, "current_task"), "type");
	assert_string_equal(json_string_value(json_object_get(cty, "kind")), "pointer");
	json_decref(j);
	ksyms_free(ks);
	ktypes_free(bt);
	btf__free(b);
}

/* ---- (b) DWARF -> ISF -> reader, against the compiler's own offsets ---- */

#define SHAPES \
	struct inner { int x; char tag[3]; }; \
	typedef struct { int counter; } atomic_t; \
	typedef unsigned long ulong_t; \
	enum color { RED = 1, BLUE = 7, DARK = -2 }; \
	enum { TASK_COMM_LEN = 16 }; \
	struct list_head { struct list_head *next, *prev; }; \
	struct task_struct { \
		int pid; \
		union { long a; char b; struct { short s1, s2; }; }; \
		unsigned flags : 3, mode : 5; \
		unsigned long wide : 40; \
		unsigned char : 0; \
		struct task_struct *parent; \
		char comm[TASK_COMM_LEN]; \
		int grid[2][3]; \
		struct inner in; \
		atomic_t usage; \
		ulong_t ul; \
		enum color col; \
		enum color cbits : 4; \
		struct list_head tasks; \
		void (*fn)(int); \
		const volatile int cv; \
		struct opaque *op; \
		char tail[]; \
	}; \
	struct __attribute__((packed)) packed { char c; unsigned int straddle : 30; };
#define STR_(...) #__VA_ARGS__
#define STR(...) STR_(__VA_ARGS__)

SHAPES

static const char dwarf_main[] =
	"struct task_struct init_task;\n"
	"enum color init_color;\n"
	"const char linux_banner[] = \"Linux version 9.9 dwarf\\n\";\n"
	"int main(void) { return init_task.pid + (int)init_color + linux_banner[0]; }\n";

/* A bitfield's bit offset and width, found by setting all its bits. */
#define BITFIELD(type, member, out_off, out_len) do { \
	type v_; \
	unsigned char *p_ = (unsigned char *)&v_; \
	volatile unsigned long long ones_ = ~0ULL; \
	memset(&v_, 0, sizeof(v_)); \
	v_.member = ones_; \
	out_off = UINT64_MAX; \
	out_len = 0; \
	for (size_t i_ = 0; i_ < sizeof(v_) * 8; i_++) \
		if (p_[i_ / 8] >> (i_ % 8) & 1) { \
			if (out_off == UINT64_MAX) \
				out_off = i_; \
			out_len++; \
		} \
} while (0)

#define MSIZE(type, member) sizeof(((type *)0)->member)
#define OFF(member) (offsetof(struct task_struct, member) * 8)

static void check_dwarf_types(struct ktypes *t)
{
	typedef struct task_struct ts;
	uint64_t sz, off, len;

	assert_int_equal(ktypes_size(t, "task_struct", &sz), 0);
	assert_int_equal(sz, sizeof(ts));
	assert_int_equal(ktypes_size(t, "atomic_t", &sz), 0);	/* named after the typedef */
	assert_int_equal(sz, sizeof(atomic_t));
	member_is(t, "task_struct", "pid", OFF(pid), 4, 0);
	member_is(t, "task_struct", "a", OFF(a), MSIZE(ts, a), 0);
	member_is(t, "task_struct", "b", OFF(b), 1, 0);
	member_is(t, "task_struct", "s2", OFF(s2), 2, 0);	/* two anonymous levels */
	BITFIELD(ts, flags, off, len);
	member_is(t, "task_struct", "flags", off, 4, (uint32_t)len);
	BITFIELD(ts, mode, off, len);
	member_is(t, "task_struct", "mode", off, 4, (uint32_t)len);
	BITFIELD(ts, wide, off, len);
	member_is(t, "task_struct", "wide", off, 8, (uint32_t)len);
	BITFIELD(ts, cbits, off, len);
	member_is(t, "task_struct", "cbits", off, sizeof(enum color), (uint32_t)len);
	member_is(t, "task_struct", "parent", OFF(parent), 8, 0);
	member_is(t, "task_struct", "comm", OFF(comm), 16, 0);
	member_is(t, "task_struct", "grid", OFF(grid), sizeof(((ts *)0)->grid), 0);
	member_is(t, "task_struct", "in", OFF(in), sizeof(struct inner), 0);
	member_is(t, "task_struct", "usage", OFF(usage), sizeof(atomic_t), 0);
	member_is(t, "task_struct", "ul", OFF(ul), sizeof(ulong_t), 0);
	member_is(t, "task_struct", "col", OFF(col), sizeof(enum color), 0);
	member_is(t, "task_struct", "tasks", OFF(tasks), sizeof(struct list_head), 0);
	member_is(t, "task_struct", "fn", OFF(fn), 8, 0);
	member_is(t, "task_struct", "cv", OFF(cv), 4, 0);
	member_is(t, "task_struct", "op", OFF(op), 8, 0);
	member_is(t, "task_struct", "tail", OFF(tail), 0, 0);
	member_is(t, "list_head", "prev", offsetof(struct list_head, prev) * 8, 8, 0);
	BITFIELD(struct packed, straddle, off, len);
	member_is(t, "packed", "straddle", off, 4, (uint32_t)len);
	enum_is(t, "BLUE", BLUE);
	enum_is(t, "DARK", DARK);
	enum_is(t, "TASK_COMM_LEN", TASK_COMM_LEN);	/* from an anonymous enum */
}

static int compile(const char *flags, const char *src, const char *out)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cc -fno-eliminate-unused-debug-types %s -o '%s' '%s' 2>/dev/null",
		 flags, out, src);
	return system(cmd);
}

static void dwarf_case(const char *flags, const char *src, int linked)
{
	struct aerr err = { 0 };
	struct isf_stats st = { 0 };
	struct ktypes *t;
	struct ksyms *s;
	char *banner;
	uint64_t a;
	const char *bin = tmp("shapes.bin"), *isf = tmp("shapes.json.gz");

	if (compile(flags, src, bin)) {
		print_message("cc %s failed: skipping\n", flags);
		return;
	}
	if (isf_write_dwarf_stats(bin, isf, &st, &err))
		fail_msg("cc %s: %s", flags, err.msg);
	if (isf_load(isf, &t, &s, &banner, &err))
		fail_msg("cc %s: %s", flags, err.msg);
	check_dwarf_types(t);
	if (linked) {
		assert_int_equal(ksyms_lookup(s, "init_task", &a), 0);
		assert_true(a != 0);
		assert_non_null(banner);
		assert_string_equal(banner, "Linux version 9.9 dwarf");
	}
	assert_true(st.user_types >= 5 && st.enums >= 2 && st.symbols == s->n);
	ktypes_free(t);
	ksyms_free(s);
	free(banner);
}

static void test_dwarf(void **state)
{
	(void)state;
	char src[128], obj_src[128];
	snprintf(src, sizeof(src), "%s", tmp("shapes.c"));
	snprintf(obj_src, sizeof(obj_src), "%s", tmp("shapes_obj.c"));
	FILE *f = fopen(src, "w");

	assert_non_null(f);
	fprintf(f, "%s\n%s", STR(SHAPES), dwarf_main);
	fclose(f);
	f = fopen(obj_src, "w");
	assert_non_null(f);
	fprintf(f, "%s\nlong pad_first;\nstruct task_struct init_task;\n", STR(SHAPES));
	fclose(f);
	if (system("cc --version >/dev/null 2>&1"))
		skip();
	dwarf_case("-g -O0", src, 1);
	dwarf_case("-gdwarf-4 -O0", src, 1);		/* DW_AT_bit_offset bitfields */
	dwarf_case("-gdwarf-5 -O0", src, 1);		/* DW_AT_data_bit_offset */
	dwarf_case("-g -O0 -c", obj_src, 0);		/* relocatable: libdwfl relocates */

	/* the ISF of a typed global says what Volatility needs */
	struct aerr err = { 0 };
	const char *bin = tmp("shapes.bin"), *isf = tmp("shapes.json");
	assert_int_equal(compile("-g -O0", src, bin), 0);
	assert_int_equal(isf_write_dwarf(bin, isf, &err), 0);
	json_t *j = load_json(isf);
	json_t *sym = json_object_get(json_object_get(j, "symbols"), "init_task");
	assert_string_equal(json_string_value(json_object_get(json_object_get(sym, "type"),
							       "name")), "task_struct");
	json_t *fields = json_object_get(json_object_get(json_object_get(j, "user_types"),
							 "task_struct"), "fields");
	json_t *grid = json_object_get(json_object_get(fields, "grid"), "type");
	assert_int_equal(json_real_value(json_object_get(grid, "count")), 2);
	assert_int_equal(json_real_value(json_object_get(json_object_get(grid, "subtype"), "count")),
			 3);
	assert_true(json_is_true(json_object_get(json_object_get(fields, "unnamed_field_0"),
						 "anonymous")));
	json_decref(j);
	assert_true(isf_write_dwarf(tmp("nonexistent"), isf, &err) < 0);
	assert_non_null(strstr(err.msg, "cannot open"));
	struct aerr err2 = { 0 };
	assert_true(isf_write_dwarf(src, isf, &err2) < 0);	/* C source: not ELF */
	assert_non_null(strstr(err2.msg, "not an ELF"));
}

/* ---- (c) broken and hostile files ---- */

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* Load must fail with a message naming the file and containing needle;
 * the in-memory variant must say the same. */
static void load_fails(const char *name, const void *data, size_t len, const char *needle)
{
	struct aerr err = { 0 }, err2 = { 0 };
	struct ktypes *t = (void *)1;
	struct ksyms *s = (void *)1;
	char *banner = (void *)1;
	const char *path = tmp(name);

	write_file(path, data, len);
	assert_true(isf_load(path, &t, &s, &banner, &err) < 0);
	assert_null(t);
	assert_null(s);
	assert_null(banner);
	if (!strstr(err.msg, needle) || strncmp(err.msg, path, strlen(path)))
		fail_msg("%s: '%s' lacks '%s' or the file name", name, err.msg, needle);
	assert_true(isf_load_mem(data, len, name, &t, &s, &banner, &err2) < 0);
	if (!strstr(err2.msg, needle))
		fail_msg("%s (memory): '%s' lacks '%s'", name, err2.msg, needle);
}

static struct ktypes *load_ok(const char *json, struct ksyms **s, char **banner)
{
	struct aerr err = { 0 };
	struct ktypes *t;

	if (isf_load_mem(json, strlen(json), "mem.json", &t, s, banner, &err))
		fail_msg("%s", err.msg);
	return t;
}

#define ISF_HEAD "{\"metadata\": {\"format\": \"6.2.0\"}, " \
	"\"base_types\": {\"int\": {\"size\": 4, \"signed\": true, \"kind\": \"int\", " \
	"\"endian\": \"little\"}}, \"enums\": {}, "
#define ISF_SYMS "\"symbols\": {\"init_task\": {\"address\": 18446744071562067968}}}"

static const struct bad_case {
	const char *name, *json, *needle;
} bad_cases[] = {
	{ "syntax.json", "{\"metadata\": {\n  \"format\": }", "line 2, column" },
	{ "array.json", "[1, 2]", "not an ISF file" },
	{ "shape.json", "{\"metadata\": {}, \"symbols\": []}", "not an ISF file" },
	{ "symarray.json", "{\"metadata\": {\"format\": \"6.2.0\"}, \"base_types\": {}, "
	  "\"user_types\": {}, \"enums\": {}, \"symbols\": []}", "\"symbols\" object" },
	{ "noformat.json", "{\"metadata\": {}, \"base_types\": {}, \"user_types\": {}, "
	  "\"enums\": {}, \"symbols\": {}}", "metadata.format" },
	{ "nosyms.json", ISF_HEAD "\"user_types\": {}, \"symbols\": {}}", "no symbol" },
	{ "missing.json", ISF_HEAD "\"user_types\": {\"a\": {\"kind\": \"struct\", \"size\": 8, "
	  "\"fields\": {\"x\": {\"offset\": 0, \"type\": {\"kind\": \"struct\", \"name\": \"nope\"}}}}}, "
	  ISF_SYMS, "user_types.a, field 'x': refers to struct 'nope', which the file does not define" },
	{ "missingbase.json", ISF_HEAD "\"user_types\": {\"a\": {\"kind\": \"struct\", \"size\": 8, "
	  "\"fields\": {\"x\": {\"offset\": 0, \"type\": {\"kind\": \"array\", \"count\": 2, "
	  "\"subtype\": {\"kind\": \"base\", \"name\": \"u9\"}}}}}}, " ISF_SYMS, "base 'u9'" },
	{ "offset.json", ISF_HEAD "\"user_types\": {\"a\": {\"kind\": \"struct\", \"size\": 4, "
	  "\"fields\": {\"x\": {\"offset\": 99, \"type\": {\"kind\": \"base\", \"name\": \"int\"}}}}}, "
	  ISF_SYMS, "within the type's 4 bytes" },
	{ "kind.json", ISF_HEAD "\"user_types\": {\"a\": {\"kind\": \"struct\", \"size\": 4, "
	  "\"fields\": {\"x\": {\"offset\": 0, \"type\": {\"kind\": \"weird\"}}}}}, " ISF_SYMS,
	  "unknown type kind 'weird'" },
	{ "bitfield.json", ISF_HEAD "\"user_types\": {\"a\": {\"kind\": \"struct\", \"size\": 4, "
	  "\"fields\": {\"x\": {\"offset\": 0, \"type\": {\"kind\": \"bitfield\", \"bit_position\": 0, "
	  "\"bit_length\": 0, \"type\": {\"kind\": \"base\", \"name\": \"int\"}}}}}}, " ISF_SYMS,
	  "bit_length" },
	{ "huge.json", ISF_HEAD "\"user_types\": {\"a\": {\"kind\": \"struct\", \"size\": 4, "
	  "\"fields\": {\"x\": {\"offset\": 0, \"type\": {\"kind\": \"array\", \"count\": 1099511627776, "
	  "\"subtype\": {\"kind\": \"array\", \"count\": 1099511627776, \"subtype\": {\"kind\": "
	  "\"base\", \"name\": \"int\"}}}}}}}, " ISF_SYMS, "too large" },
	{ "addr.json", ISF_HEAD "\"user_types\": {}, \"symbols\": {\"x\": {\"address\": \"0x10\"}}}",
	  "symbols.x: needs an integer \"address\"" },
	{ "bigaddr.json", ISF_HEAD "\"user_types\": {}, \"symbols\": {\"x\": {\"address\": "
	  "118446744071562067968}}}", "line 1" },
	{ "b64.json", ISF_HEAD "\"user_types\": {}, \"symbols\": {\"linux_banner\": {\"address\": 1, "
	  "\"constant_data\": \"!!!\"}}}", "not base64" },
	{ "enum.json", "{\"metadata\": {\"format\": \"6.2.0\"}, \"base_types\": {}, "
	  "\"enums\": {\"e\": {\"size\": 4, \"constants\": {\"A\": \"one\"}}}, \"user_types\": {}, "
	  ISF_SYMS, "enums.e.A is not an integer" },
};

static void compress_gz(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	z_stream z = { 0 };

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)*outlen;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*outlen = z.total_out;
	deflateEnd(&z);
}

static void test_bad_isf(void **state)
{
	(void)state;
	struct aerr err = { 0 };
	struct ktypes *t;
	struct ksyms *s;
	char *banner;

	assert_true(isf_load(tmp("nonexistent.json"), &t, &s, &banner, &err) < 0);
	assert_non_null(strstr(err.msg, "cannot open"));
	load_fails("empty.json", "", 0, "file is empty");
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		load_fails(bad_cases[i].name, bad_cases[i].json, strlen(bad_cases[i].json),
			   bad_cases[i].needle);

	/* descriptors nested too deep */
	struct buf deep = BUF_INIT;
	buf_puts(&deep, ISF_HEAD "\"user_types\": {\"a\": {\"kind\": \"struct\", \"size\": 8, "
		 "\"fields\": {\"x\": {\"offset\": 0, \"type\": ");
	for (int i = 0; i < 40; i++)
		buf_puts(&deep, "{\"kind\": \"pointer\", \"subtype\": ");
	buf_puts(&deep, "{\"kind\": \"base\", \"name\": \"int\"}");
	for (int i = 0; i < 40; i++)
		buf_putc(&deep, '}');
	buf_puts(&deep, "}}}}, " ISF_SYMS);
	load_fails("deep.json", deep.data, deep.len, "nested more than 32 deep");
	buf_free(&deep);

	/* a valid file, compressed, then cut short */
	static const char good[] = ISF_HEAD "\"user_types\": {}, " ISF_SYMS;
	unsigned char gz[1024], xz[1024];
	size_t gzlen = sizeof(gz), xzlen = 0;
	compress_gz(good, sizeof(good) - 1, gz, &gzlen);
	load_fails("cut.json.gz", gz, gzlen / 2, "gzip data is truncated");
	gz[gzlen / 2] ^= 0xff;
	load_fails("bad.json.gz", gz, gzlen, "gzip");
	assert_int_equal(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, NULL, (const uint8_t *)good,
						 sizeof(good) - 1, xz, &xzlen, sizeof(xz)), LZMA_OK);
	load_fails("cut.json.xz", xz, xzlen / 2, "xz data is truncated");
	static const unsigned char junk[] = { 0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xab };
	load_fails("junk.json.gz", junk, sizeof(junk), "gzip");

	/* and the same valid file loads, in both forms */
	compress_gz(good, sizeof(good) - 1, gz, &(size_t){ sizeof(gz) });
	t = load_ok(good, &s, &banner);
	uint64_t a;
	assert_int_equal(ksyms_lookup(s, "init_task", &a), 0);
	assert_int_equal(a, 0xffffffff80000000ULL);	/* 64-bit address through jansson */
	assert_null(banner);
	ktypes_free(t);
	ksyms_free(s);
	write_file(tmp("x.json.xz"), xz, xzlen);
	assert_int_equal(isf_load(tmp("x.json.xz"), &t, &s, &banner, &err), 0);
	ktypes_free(t);
	ksyms_free(s);
	assert_true(isf_write_file("/nonexistent/dir/x.json", "{}", 2, NULL, &err) < 0);

	/* a type that holds itself anonymously, many times: lookups stay bounded */
	struct buf loop = BUF_INIT;
	buf_puts(&loop, ISF_HEAD "\"user_types\": {\"loop\": {\"kind\": \"union\", \"size\": 8, "
		 "\"fields\": {\"x\": {\"offset\": 0, \"type\": {\"kind\": \"base\", \"name\": \"int\"}}");
	for (int i = 0; i < 64; i++)
		buf_printf(&loop, ", \"unnamed_field_%x\": {\"offset\": 0, \"anonymous\": true, "
			   "\"type\": {\"kind\": \"union\", \"name\": \"loop\"}}", i);
	buf_puts(&loop, "}}}, " ISF_SYMS);
	t = load_ok(loop.data, &s, &banner);
	struct kmember m;
	assert_int_equal(ktypes_member(t, "loop", "nope", &m), -ENOENT);
	member_is(t, "loop", "x", 0, 4, 0);
	ktypes_free(t);
	ksyms_free(s);
	buf_free(&loop);
}

/* What dwarf2json 0.9 and older producers write, read leniently. */
static void test_dwarf2json_shapes(void **state)
{
	(void)state;
	static const char isf[] = "{\"metadata\": {\"format\": \"4.1.0\", \"producer\": "
		"{\"name\": \"dwarf2json\", \"version\": \"0.6.0\"}}, \"base_types\": {"
		"\"int\": {\"size\": 4, \"signed\": true, \"kind\": \"int\", \"endian\": \"little\"}, "
		"\"unsigned int\": {\"size\": 4, \"signed\": false, \"kind\": \"int\", \"endian\": \"little\"}},"
		"\"user_types\": {"
		" \"task_struct\": {\"kind\": \"struct\", \"size\": 16, \"fields\": {"
		"  \"pid\": {\"offset\": 0, \"type\": {\"kind\": \"base\", \"name\": \"int\"}},"
		"  \"unnamed_field_0\": {\"offset\": 4, \"type\": {\"kind\": \"union\", \"name\": \"unnamed_8a\"}},"
		"  \"flags\": {\"offset\": 13, \"type\": {\"kind\": \"bitfield\", \"bit_position\": 3, "
		"    \"bit_length\": 2, \"type\": {\"kind\": \"base\", \"name\": \"unsigned int\"}}},"
		"  \"files\": {\"offset\": 8, \"type\": {\"kind\": \"pointer\", \"subtype\": "
		"    {\"kind\": \"struct\", \"name\": \"files_struct\"}}}}},"
		" \"unnamed_8a\": {\"kind\": \"union\", \"size\": 4, \"fields\": {"
		"  \"state\": {\"offset\": 0, \"type\": {\"kind\": \"base\", \"name\": \"int\"}}}}},"
		"\"enums\": {\"pid_type\": {\"size\": 4, \"base\": \"unsigned int\", \"constants\": "
		"  {\"PIDTYPE_PID\": 0, \"PIDTYPE_TGID\": 1}}},"
		"\"symbols\": {\"init_task\": {\"type\": {\"kind\": \"struct\", \"name\": \"task_struct\"}, "
		"  \"address\": 18446744071603531776},"
		" \"jiffies\": {\"address\": 0},"
		" \"linux_banner\": {\"address\": 18446744071600000000, \"constant_data\": "
		"  \"TGludXggdmVyc2lvbiA2LjEuMCAodGVzdCkK\"}}}";
	struct ksyms *s;
	char *banner;
	uint64_t a;

	alog_set_level(ALOG_ERROR);	/* the format 4 warning */
	struct ktypes *t = load_ok(isf, &s, &banner);
	alog_set_level(ALOG_WARNING);
	member_is(t, "task_struct", "state", 32, 4, 0);	/* through unnamed_field_0 */
	member_is(t, "task_struct", "flags", 13 * 8 + 3, 4, 2);
	member_is(t, "task_struct", "files", 64, 8, 0);	/* to a type the file lacks */
	enum_is(t, "PIDTYPE_TGID", 1);
	assert_int_equal(ksyms_lookup(s, "init_task", &a), 0);
	assert_int_equal(a, 18446744071603531776ULL);
	assert_int_equal(ksyms_lookup(s, "jiffies", &a), -ENOENT);	/* address 0: unknown */
	assert_string_equal(banner, "Linux version 6.1.0 (test)");
	ktypes_free(t);
	ksyms_free(s);
	free(banner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_btf_roundtrip),
		cmocka_unit_test(test_dwarf),
		cmocka_unit_test(test_bad_isf),
		cmocka_unit_test(test_dwarf2json_shapes),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
