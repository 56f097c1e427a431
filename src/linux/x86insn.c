/* x86insn.c - the length of one x86-64 instruction, and its direct branch.
 *
 * Enough of the decoder to walk compiled kernel code from a function's
 * first byte to its last (a linear sweep): legacy prefixes, REX, the
 * one-, two- and three-byte opcode maps, ModRM/SIB/displacement and
 * immediates.  VEX/EVEX-encoded and 3DNow! instructions, and opcodes
 * invalid in 64-bit mode, are refused (-1): the caller then cannot say
 * where the next instruction starts and must not guess.
 */
#include <string.h>

#include "linux/x86insn.h"

/* one-byte map: M = has ModRM; immediate: 1 imm8, 2 imm16, Z imm16/32 by
 * operand size, X invalid in 64-bit mode or not decoded here */
#define M 0x10
#define I1 1
#define I2 2
#define IZ 3
#define IW 4		/* enter: imm16 + imm8 */
#define IV 5		/* mov r, imm: imm16/32, imm64 with REX.W */
#define MO 6		/* moffs: 8 bytes (4 with 0x67) */
#define X 0xff

static const uint8_t map1[256] = {
	/* 00 */ M, M, M, M, I1, IZ, X, X, M, M, M, M, I1, IZ, X, X,
	/* 10 */ M, M, M, M, I1, IZ, X, X, M, M, M, M, I1, IZ, X, X,
	/* 20 */ M, M, M, M, I1, IZ, X, X, M, M, M, M, I1, IZ, X, X,
	/* 30 */ M, M, M, M, I1, IZ, X, X, M, M, M, M, I1, IZ, X, X,
	/* 40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 60 */ X, X, X, M, X, X, X, X, IZ, M | IZ, I1, M | I1, 0, 0, 0, 0,
	/* 70 */ I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1,
	/* 80 */ M | I1, M | IZ, X, M | I1, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, X, 0, 0, 0, 0, 0,
	/* a0 */ MO, MO, MO, MO, 0, 0, 0, 0, I1, IZ, 0, 0, 0, 0, 0, 0,
	/* b0 */ I1, I1, I1, I1, I1, I1, I1, I1, IV, IV, IV, IV, IV, IV, IV, IV,
	/* c0 */ M | I1, M | I1, I2, 0, X, X, M | I1, M | IZ, IW, 0, I2, 0, 0, I1, X, 0,
	/* d0 */ M, M, M, M, X, X, X, 0, M, M, M, M, M, M, M, M,
	/* e0 */ I1, I1, I1, I1, I1, I1, I1, I1, IZ, IZ, X, I1, 0, 0, 0, 0,
	/* f0 */ 0, 0, 0, 0, 0, 0, M, M, 0, 0, 0, 0, 0, 0, M, M,
};

/* two-byte map (0f xx) */
static const uint8_t map2[256] = {
	/* 00 */ M, M, M, M, X, 0, 0, 0, 0, 0, X, 0, X, M, 0, X,
	/* 10 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 20 */ M, M, M, M, X, X, X, X, M, M, M, M, M, M, M, M,
	/* 30 */ 0, 0, 0, 0, 0, 0, X, 0, X, X, X, X, X, X, X, X,
	/* 40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 50 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 60 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 70 */ M | I1, M | I1, M | I1, M | I1, M, M, M, 0, M, M, X, X, M, M, M, M,
	/* 80 */ IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
	/* 90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* a0 */ 0, 0, 0, M, M | I1, M, X, X, 0, 0, 0, M, M | I1, M, M, M,
	/* b0 */ M, M, M, M, M, M, M, M, M, M, M | I1, M, M, M, M, M,
	/* c0 */ M, M, M | I1, M, M | I1, M | I1, M | I1, M, 0, 0, 0, 0, 0, 0, 0, 0,
	/* d0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* e0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* f0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, X,
};

static int prefix(uint8_t b)
{
	return b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x2e ||
	       b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65;
}

int x86_insn_decode(const uint8_t *p, size_t avail, uint64_t va, struct x86_insn *in)
{
	size_t i = 0;
	int opsize16 = 0, addr32 = 0, rexw = 0;
	uint8_t op, f;
	int map = 1;

	memset(in, 0, sizeof(*in));
#define NEED(n) do { if (i + (n) > avail || i + (n) > 15) return -1; } while (0)
	for (;;) {
		NEED(1);
		if (!prefix(p[i]))
			break;
		opsize16 |= p[i] == 0x66;
		addr32 |= p[i] == 0x67;
		i++;
	}
	if ((p[i] & 0xf0) == 0x40) {
		rexw = (p[i] & 8) != 0;
		i++;
		NEED(1);
	}
	op = p[i++];
	if (op == 0x0f) {
		NEED(1);
		op = p[i++];
		if (op == 0x38 || op == 0x3a) {
			f = M | (op == 0x3a ? I1 : 0);
			NEED(1);
			i++;
			map = 3;
		} else {
			f = map2[op];
			map = 2;
		}
	} else {
		f = map1[op];
	}
	if (f == X)
		return -1;
	int imm = f & 0x0f;
	if (f & M) {
		NEED(1);
		uint8_t modrm = p[i++], mod = modrm >> 6, rm = modrm & 7, reg = (modrm >> 3) & 7;
		if (map == 1 && (op == 0xf6 || op == 0xf7) && reg < 2)
			imm = op == 0xf6 ? I1 : IZ;	/* test r/m, imm */
		if (map == 1 && op == 0xff)
			in->indirect = reg >= 2 && reg <= 5;
		if (mod != 3 && rm == 4) {
			NEED(1);
			uint8_t sib = p[i++];
			if (mod == 0 && (sib & 7) == 5)
				i += 4;
		} else if (mod == 0 && rm == 5) {
			i += 4;		/* rip-relative */
		}
		if (mod == 1)
			i += 1;
		else if (mod == 2)
			i += 4;
	}
	size_t isz = 0;
	switch (imm) {
	case I1: isz = 1; break;
	case I2: isz = 2; break;
	case IZ: isz = opsize16 && !(map == 1 && (op == 0xe8 || op == 0xe9)) && map != 2 ? 2 : 4; break;
	case IW: isz = 3; break;
	case IV: isz = rexw ? 8 : opsize16 ? 2 : 4; break;
	case MO: isz = addr32 ? 4 : 8; break;
	}
	i += isz;
	NEED(0);
	in->len = (uint8_t)i;
	/* direct branches with a 32-bit displacement: call, jmp, jcc */
	if ((map == 1 && (op == 0xe8 || op == 0xe9)) || (map == 2 && (op & 0xf0) == 0x80)) {
		int32_t rel;
		memcpy(&rel, p + i - 4, 4);
		in->branch = map == 1 && op == 0xe8 ? X86_CALL : X86_JMP;
		in->target = va + i + (int64_t)rel;
	} else if ((map == 1 && ((op & 0xf0) == 0x70 || op == 0xeb || (op >= 0xe0 && op <= 0xe3)))) {
		in->branch = X86_JMP;
		in->target = va + i + (int8_t)p[i - 1];
	}
	return 0;
#undef NEED
}
