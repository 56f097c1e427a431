/* bpfload MODE NAME SECONDS - load one BPF program with the raw bpf()
 * syscall (no libbpf in the guest), hold its descriptor SECONDS, exit.
 *   filter     a socket filter that accepts nothing (r0 = 0; exit)
 *   writeuser  a kprobe program calling bpf_probe_write_user, what BPF
 *              rootkits use to rewrite what processes read
 *   fentry:F   a tracing program (r0 = 0; exit) attached at the entry of
 *              kernel function F, found by name in /sys/kernel/btf/vmlinux:
 *              the kernel builds a BPF trampoline and points F's ftrace
 *              site at it (what observability and security agents,
 *              bpftrace's kfunc probes and BPF LSM programs do)
 * Prints the program's fd on success, the verifier's log on failure. */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						.off = (o), .imm = (i) })

/* the BTF type id of kernel function `name`, or -1 */
static int btf_func(const char *name)
{
	static char buf[64 << 20];
	FILE *f = fopen("/sys/kernel/btf/vmlinux", "rb");
	size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;
	const struct btf_header *h = (const void *)buf;

	if (f)
		fclose(f);
	if (len < sizeof(*h) || h->magic != BTF_MAGIC)
		return -1;
	const char *types = buf + h->hdr_len + h->type_off, *end = types + h->type_len;
	const char *strs = buf + h->hdr_len + h->str_off;
	int id = 1;
	for (const char *p = types; p + sizeof(struct btf_type) <= end; id++) {
		const struct btf_type *t = (const void *)p;
		unsigned kind = BTF_INFO_KIND(t->info), vlen = BTF_INFO_VLEN(t->info);
		if (kind == BTF_KIND_FUNC && !strcmp(strs + t->name_off, name))
			return id;
		p += sizeof(*t);
		switch (kind) {
		case BTF_KIND_INT: case BTF_KIND_VAR: case 17 /* DECL_TAG */: p += 4; break;
		case BTF_KIND_ARRAY: p += sizeof(struct btf_array); break;
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_DATASEC:
		case 19 /* ENUM64 */: p += 12 * vlen; break;
		case BTF_KIND_ENUM: case BTF_KIND_FUNC_PROTO: p += 8 * vlen; break;
		default: break;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	int attach_id = 0;
	static char log[65536];
	struct bpf_insn prog[16];
	int n = 0, type;

	if (argc != 4) {
		fprintf(stderr, "usage: bpfload filter|writeuser|fentry:FUNC NAME SECONDS\n");
		return 2;
	}
	if (!strcmp(argv[1], "filter")) {
		type = BPF_PROG_TYPE_SOCKET_FILTER;
	} else if (!strcmp(argv[1], "writeuser")) {
		type = BPF_PROG_TYPE_KPROBE;
		prog[n++] = INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0);	/* *(u64 *)(r10-8) = 0 */
		prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 0);	/* r1 = 0: dst */
		prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0);
		prog[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8);	/* r2 = r10 - 8 */
		prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 8);	/* r3 = 8 */
		prog[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_probe_write_user);
	} else if (!strncmp(argv[1], "fentry:", 7)) {
		type = BPF_PROG_TYPE_TRACING;
		attach_id = btf_func(argv[1] + 7);
		if (attach_id < 0) {
			fprintf(stderr, "bpfload: %s: no such function in the kernel's BTF\n", argv[1] + 7);
			return 1;
		}
	} else {
		fprintf(stderr, "bpfload: unknown mode %s\n", argv[1]);
		return 2;
	}
	prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);	/* r0 = 0 */
	prog[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = n;
	a.license = (uint64_t)(uintptr_t)"GPL";
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	strncpy(a.prog_name, argv[2], sizeof(a.prog_name) - 1);
	if (attach_id) {
		a.expected_attach_type = BPF_TRACE_FENTRY;
		a.attach_btf_id = (uint32_t)attach_id;
	}
	int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0) {
		perror("bpfload: BPF_PROG_LOAD");
		fputs(log, stderr);
		return 1;
	}
	if (attach_id) {	/* the link: the trampoline goes in */
		memset(&a, 0, sizeof(a));
		a.raw_tracepoint.prog_fd = (uint32_t)fd;
		if (syscall(SYS_bpf, BPF_RAW_TRACEPOINT_OPEN, &a, sizeof(a)) < 0) {
			perror("bpfload: BPF_RAW_TRACEPOINT_OPEN");
			return 1;
		}
	}
	printf("%d\n", fd);
	fflush(stdout);
	sleep((unsigned)atoi(argv[3]));
	return 0;
}
