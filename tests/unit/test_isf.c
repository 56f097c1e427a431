/* Unit tests: ISF writers (from BTF, from DWARF) and the ISF reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile/isf.h"
#include "profile/ksyms.h"
#include "profile/ktypes.h"

/* struct task { int pid; union { long a; char b; }; unsigned flags:3, mode:5;
 *               struct task *next; char comm[16]; };  enum color { RED=1, BLUE=7 } */
static struct btf *make_btf(void)
{
	struct btf *b = btf__new_empty();
	int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int u32 = btf__add_int(b, "unsigned int", 4, 0);
	int i64 = btf__add_int(b, "long", 8, BTF_INT_SIGNED);
	int ch = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
	int un = btf__add_union(b, NULL, 8);
	btf__add_field(b, "a", i64, 0, 0);
	btf__add_field(b, "b", ch, 0, 0);
	int arr = btf__add_array(b, i32, ch, 16);
	int ptr = btf__add_ptr(b, arr + 2);	/* to struct task, added next */
	int task = btf__add_struct(b, "task", 48);
	assert_int_equal(task, arr + 2);
	btf__add_field(b, "pid", i32, 0, 0);
	btf__add_field(b, NULL, un, 64, 0);
	btf__add_field(b, "flags", u32, 128, 3);
	btf__add_field(b, "mode", u32, 131, 5);
	btf__add_field(b, "next", ptr, 192, 0);
	btf__add_field(b, "comm", arr, 256, 0);
	btf__add_enum(b, "color", 4);
	btf__add_enum_value(b, "RED", 1);
	btf__add_enum_value(b, "BLUE", 7);
	return b;
}

static void check_task(struct ktypes *t, uint64_t size)
{
	struct kmember m;
	uint64_t sz;
	int64_t e;

	assert_int_equal(ktypes_size(t, "task", &sz), 0);
	assert_int_equal(sz, size);
	assert_int_equal(ktypes_member(t, "task", "pid", &m), 0);
	assert_int_equal(m.bit_offset, 0);
	assert_int_equal(m.size, 4);
	assert_int_equal(ktypes_member(t, "task", "a", &m), 0);	/* through the anonymous union */
	assert_int_equal(m.bit_offset, 64);
	assert_int_equal(m.size, 8);
	assert_int_equal(ktypes_member(t, "task", "b", &m), 0);
	assert_int_equal(m.bit_offset, 64);
	assert_int_equal(ktypes_member(t, "task", "mode", &m), 0);
	assert_int_equal(m.bit_offset, 131);
	assert_int_equal(m.bit_size, 5);
	assert_int_equal(ktypes_member(t, "task", "next", &m), 0);
	assert_int_equal(m.bit_offset, 192);
	assert_int_equal(m.size, 8);
	assert_int_equal(ktypes_member(t, "task", "comm", &m), 0);
	assert_int_equal(m.bit_offset, 256);
	assert_int_equal(m.size, 16);
	assert_int_equal(ktypes_member(t, "task", "nope", &m), -ENOENT);
	assert_int_equal(ktypes_member(t, "nostruct", "pid", &m), -ENOENT);
	assert_int_equal(ktypes_enumval(t, "BLUE", &e), 0);
	assert_int_equal(e, 7);
}

static void test_btf_roundtrip(void **state)
{
	(void)state;
	struct btf *b = make_btf();
	const void *raw;
	__u32 rawsz;
	struct ktypes *bt;
	raw = btf__raw_data(b, &rawsz);
	assert_int_equal(ktypes_from_btf(raw, rawsz, &bt, NULL), 0);
	check_task(bt, 48);	/* the BTF backend itself */

	struct ksyms *ks = ksyms_new("test");
	ksyms_add(ks, "init_task", 9, 0xffffffff82000000ULL + 0x1000, 'D');
	ksyms_add(ks, "linux_banner", 12, 0xffffffff82000000ULL + 0x2000, 'D');
	ksyms_finish(ks);
	static const char *const exts[] = { ".json", ".json.gz", ".json.xz" };
	for (int i = 0; i < 3; i++) {
		char path[64];
		struct aerr err = { 0 };
		struct ktypes *t;
		struct ksyms *s;
		char *banner;
		uint64_t a;
		snprintf(path, sizeof(path), "/tmp/argus-isf-%d%s", getpid(), exts[i]);
		assert_int_equal(isf_write_btf(ktypes_btf(bt), ks, 0x1000000, "Linux version 9.9 test", path, &err), 0);
		if (isf_load(path, &t, &s, &banner, &err))
			fail_msg("%s: %s", path, err.msg);
		check_task(t, 48);
		assert_int_equal(ksyms_lookup(s, "init_task", &a), 0);
		assert_int_equal(a, 0xffffffff82000000ULL + 0x1000 - 0x1000000);	/* link-time */
		assert_string_equal(banner, "Linux version 9.9 test");
		ktypes_free(t);
		ksyms_free(s);
		free(banner);
		unlink(path);
	}
	ksyms_free(ks);
	ktypes_free(bt);
	btf__free(b);
}

static const char dwarf_src[] =
	"struct inner { int x; };\n"
	"typedef struct inner inner_t;\n"
	"struct task { int pid; union { long a; char b; }; unsigned flags:3, mode:5;\n"
	"  struct task *next; char comm[16]; inner_t in; };\n"
	"enum color { RED = 1, BLUE = 7 };\n"
	"struct task t; enum color c;\n"
	"const char linux_banner[] = \"Linux version 9.9 dwarf\\n\";\n"
	"int main(void) { return t.pid + (int)c; }\n";

static void test_dwarf(void **state)
{
	(void)state;
	char src[64], exe[64], isf[64], cmd[256];
	struct aerr err = { 0 };
	struct ktypes *t;
	struct ksyms *s;
	char *banner;
	uint64_t a;
	struct kmember m;

	snprintf(src, sizeof(src), "/tmp/argus-dw-%d.c", getpid());
	snprintf(exe, sizeof(exe), "/tmp/argus-dw-%d", getpid());
	snprintf(isf, sizeof(isf), "/tmp/argus-dw-%d.json.gz", getpid());
	FILE *f = fopen(src, "w");
	fputs(dwarf_src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -g -O0 -o %s %s", exe, src);
	if (system(cmd))
		skip();
	if (isf_write_dwarf(exe, isf, &err))
		fail_msg("%s", err.msg);
	if (isf_load(isf, &t, &s, &banner, &err))
		fail_msg("%s", err.msg);
	check_task(t, 56);
	assert_int_equal(ktypes_member(t, "task", "in", &m), 0);	/* typedef looked through */
	assert_int_equal(m.bit_offset, 48 * 8);
	assert_int_equal(m.size, 4);
	assert_int_equal(ksyms_lookup(s, "t", &a), 0);
	assert_true(a != 0);
	assert_string_equal(banner, "Linux version 9.9 dwarf");
	ktypes_free(t);
	ksyms_free(s);
	free(banner);
	unlink(src);
	unlink(exe);
	unlink(isf);
	assert_true(isf_write_dwarf("/nonexistent", isf, &err) < 0);
}

static void load_fails(const char *name, const void *data, size_t len, const char *needle)
{
	char path[96];
	struct aerr err = { 0 };
	struct ktypes *t;
	struct ksyms *s;
	char *banner;

	snprintf(path, sizeof(path), "/tmp/argus-bad-%d-%s", getpid(), name);
	FILE *f = fopen(path, "wb");
	fwrite(data, 1, len, f);
	fclose(f);
	assert_true(isf_load(path, &t, &s, &banner, &err) < 0);
	if (!strstr(err.msg, needle))
		fail_msg("%s: '%s' lacks '%s'", name, err.msg, needle);
	unlink(path);
}

static void test_bad_isf(void **state)
{
	(void)state;
	struct aerr err = { 0 };
	struct ktypes *t;
	struct ksyms *s;
	char *banner;
	assert_true(isf_load("/nonexistent.json", &t, &s, &banner, &err) < 0);
	load_fails("empty.json", "", 0, "empty");
	load_fails("syntax.json", "{\"metadata\": {\n  \"format\": }", 27, ":2:");
	load_fails("shape.json", "{\"metadata\": {}, \"symbols\": []}", 31, "not an ISF");
	static const unsigned char gz[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab };
	load_fails("cut.json.gz", gz, sizeof(gz), "gzip");
	static const unsigned char xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00, 0x00, 0x04 };
	load_fails("cut.json.xz", xz, sizeof(xz), "xz");
	static const char nosyms[] = "{\"metadata\": {\"format\": \"6.2.0\"}, \"base_types\": {}, "
		"\"user_types\": {}, \"enums\": {}, \"symbols\": {}}";
	load_fails("nosyms.json", nosyms, sizeof(nosyms) - 1, "no symbols");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_btf_roundtrip),
		cmocka_unit_test(test_dwarf),
		cmocka_unit_test(test_bad_isf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
