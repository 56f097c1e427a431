/* a64insn.c - the few AArch64 instructions Kernel Text Modified judges. */
#include "linux/a64insn.h"

static int64_t sext(uint64_t v, int bits)
{
	uint64_t m = 1ULL << (bits - 1);
	v &= (1ULL << bits) - 1;
	return (int64_t)((v ^ m) - m);
}

int a64_branch(uint32_t i, uint64_t pc, uint64_t *target, int *link)
{
	if ((i & 0x7c000000u) != 0x14000000u)	/* B 000101, BL 100101 */
		return 0;
	*link = (int)(i >> 31);
	*target = pc + (uint64_t)(sext(i, 26) * 4);
	return 1;
}

int a64_leads(const uint8_t *c, size_t n, uint64_t pc, int max, int skip_hints, uint64_t *target,
	      uint32_t *len)
{
	uint64_t reg[32] = { 0 };
	uint32_t known = 0, end = 0;	/* registers set; bytes used by literals */

	for (int k = 0; k < max && (size_t)(k + 1) * 4 <= n; k++) {
		uint64_t at = pc + 4u * (unsigned)k, to;
		uint32_t i = a64_word(c + 4 * k), rd = i & 31, rn = (i >> 5) & 31;
		int link;
		if (a64_branch(i, at, &to, &link)) {
			*target = to;
			*len = 4u * (unsigned)k + 4 > end ? 4u * (unsigned)k + 4 : end;
			return 1;
		}
		if ((i & 0xff9ffc1fu) == 0xd61f0000u) {	/* BR / BLR / RET Xn */
			if (!(known & (1u << rn)))
				return 0;
			*target = reg[rn];
			*len = 4u * (unsigned)k + 4 > end ? 4u * (unsigned)k + 4 : end;
			return 1;
		}
		if ((i & 0xff000000u) == 0x58000000u) {	/* LDR Xt, literal */
			int64_t off = sext(i >> 5, 19) * 4;
			uint64_t lit = 4u * (unsigned)k + (uint64_t)off;
			if (off < 0 || lit + 8 > n)
				return 0;
			reg[rd] = 0;
			for (int b = 7; b >= 0; b--)
				reg[rd] = reg[rd] << 8 | c[lit + (unsigned)b];
			known |= 1u << rd;
			if (lit + 8 > end)
				end = (uint32_t)(lit + 8);
		} else if ((i & 0x9f000000u) == 0x90000000u) {	/* ADRP */
			int64_t imm = sext(((i >> 5) & 0x7ffff) << 2 | ((i >> 29) & 3), 21);
			reg[rd] = (at & ~0xfffULL) + (uint64_t)(imm * 4096);
			known |= 1u << rd;
		} else if ((i & 0xff800000u) == 0x91000000u && (known & (1u << rn))) {	/* ADD imm */
			uint64_t imm = (i >> 10) & 0xfff;
			reg[rd] = reg[rn] + (i & (1u << 22) ? imm << 12 : imm);
			known |= 1u << rd;
		} else if ((i & 0xff800000u) == 0xd2800000u) {	/* MOVZ Xd */
			reg[rd] = (uint64_t)((i >> 5) & 0xffff) << (16 * ((i >> 21) & 3));
			known |= 1u << rd;
		} else if ((i & 0xff800000u) == 0xf2800000u && (known & (1u << rd))) {	/* MOVK Xd */
			unsigned sh = 16 * ((i >> 21) & 3);
			reg[rd] = (reg[rd] & ~(0xffffULL << sh)) | (uint64_t)((i >> 5) & 0xffff) << sh;
		} else if (!(skip_hints && (a64_is_hint(i) || i == A64_MOV_X9_X30))) {
			return 0;
		}
	}
	return 0;
}

/* an instruction a jump away can start with: B/BL, LDR literal, ADRP, MOVZ */
static int starts_jump(uint32_t i)
{
	return (i & 0x7c000000u) == 0x14000000u || (i & 0xff000000u) == 0x58000000u ||
	       (i & 0x9f000000u) == 0x90000000u || (i & 0xff800000u) == 0xd2800000u;
}

size_t a64_sweep(const uint8_t *c, size_t n, uint64_t pc, uint64_t ptr_lo, uint64_t ptr_hi,
		 a64_sweep_out *out, a64_sweep_hit *hit, void *ctx)
{
	size_t hits = 0;

	for (size_t p = 0; p + 4 <= n;) {
		uint64_t to, v;
		uint32_t len;
		/* a literal pool's pointer into the kernel (`ldr x8, =sym`):
		 * its low word may read as a B, by where KASLR put the kernel */
		if (!((pc + p) & 7) && p + 8 <= n &&
		    (v = (uint64_t)a64_word(c + p + 4) << 32 | a64_word(c + p)) >= ptr_lo && v < ptr_hi) {
			p += 8;
			continue;
		}
		if (!starts_jump(a64_word(c + p)) ||
		    !a64_leads(c + p, n - p < A64_SWEEP_WINDOW ? n - p : A64_SWEEP_WINDOW, pc + p, 6, 0,
			       &to, &len) ||
		    !out(ctx, to)) {
			p += 4;
			continue;
		}
		hits++;
		hit(ctx, pc + p, len, to);
		p += len;
	}
	return hits;
}
