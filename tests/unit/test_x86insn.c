/* test_x86insn.c - x86-64 instruction lengths and direct branches: the
 * first instructions of Debian 6.1's x64_sys_call, the forms a hooked
 * dispatcher shows, and what the decoder must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "linux/x86insn.h"

#define VA 0xffffffff81003320ULL

static void test_x64_sys_call_start(void **state)
{
	(void)state;
	static const uint8_t code[] = {
		0xe8, 0x0b, 0x84, 0x06, 0x00,		/* call __fentry__ */
		0x81, 0xfe, 0xb0, 0x00, 0x00, 0x00,	/* cmp $0xb0,%esi */
		0x0f, 0x84, 0x43, 0x0c, 0x00, 0x00,	/* je +0xc54 */
		0x77, 0x7a,				/* ja +0x8d */
		0x83, 0xfe, 0x56,			/* cmp $0x56,%esi */
		0xf3, 0x0f, 0x1e, 0xfa,			/* endbr64 */
		0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8,	/* movabs $imm64,%rax */
		0x48, 0x8b, 0x44, 0x24, 0x08,		/* mov 0x8(%rsp),%rax */
		0x48, 0x8b, 0x05, 0, 0, 0, 0,		/* mov 0(%rip),%rax */
		0x66, 0xf7, 0xc7, 0x34, 0x12,		/* test $0x1234,%di */
		0xf7, 0xc7, 0x34, 0x12, 0, 0,		/* test $0x1234,%edi */
		0x0f, 0x1f, 0x44, 0x00, 0x00,		/* nopl 0x0(%rax,%rax,1) */
		0xff, 0xe0,				/* jmp *%rax */
		0xe9, 0xfb, 0xff, 0xff, 0xff,		/* jmp . */
		0xcc,
	};
	static const struct { uint8_t len, branch, indirect; uint64_t target; } want[] = {
		{ 5, X86_CALL, 0, 0xffffffff8106b730ULL }, { 6, 0, 0, 0 },
		{ 6, X86_JMP, 0, VA + 0xc54 }, { 2, X86_JMP, 0, VA + 0x8d }, { 3, 0, 0, 0 },
		{ 4, 0, 0, 0 }, { 10, 0, 0, 0 }, { 5, 0, 0, 0 }, { 7, 0, 0, 0 }, { 5, 0, 0, 0 },
		{ 6, 0, 0, 0 }, { 5, 0, 0, 0 }, { 2, 0, 1, 0 }, { 5, X86_JMP, 0, 0 }, { 1, 0, 0, 0 },
	};
	size_t off = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct x86_insn in;
		assert_int_equal(x86_insn_decode(code + off, sizeof(code) - off, VA + off, &in), 0);
		assert_int_equal(in.len, want[i].len);
		assert_int_equal(in.branch, want[i].branch);
		assert_int_equal(in.indirect, want[i].indirect);
		if (want[i].branch)
			assert_int_equal(in.target, want[i].target ? want[i].target : VA + off);
		off += in.len;
	}
	assert_int_equal(off, sizeof(code));
}

static void test_refused(void **state)
{
	(void)state;
	static const uint8_t vex[] = { 0xc5, 0xf8, 0x77 };		/* vzeroupper */
	static const uint8_t invalid[] = { 0x06 };			/* push %es: not in 64-bit */
	static const uint8_t cut[] = { 0xe8, 0x00, 0x00 };		/* call, truncated */
	static const uint8_t prefixes[16] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					      0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90 };
	struct x86_insn in;

	assert_int_equal(x86_insn_decode(vex, sizeof(vex), VA, &in), -1);
	assert_int_equal(x86_insn_decode(invalid, sizeof(invalid), VA, &in), -1);
	assert_int_equal(x86_insn_decode(cut, sizeof(cut), VA, &in), -1);
	assert_int_equal(x86_insn_decode(prefixes, sizeof(prefixes), VA, &in), -1);	/* > 15 bytes */
	assert_int_equal(x86_insn_decode(prefixes, 0, VA, &in), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x64_sys_call_start),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
