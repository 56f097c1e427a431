/* bpfload MODE NAME SECONDS - load one BPF program with the raw bpf()
 * syscall (no libbpf in the guest), hold its descriptor SECONDS, exit.
 *   filter     a socket filter that accepts nothing (r0 = 0; exit)
 *   writeuser  a kprobe program calling bpf_probe_write_user, what BPF
 *              rootkits use to rewrite what processes read
 * Prints the program's fd on success, the verifier's log on failure. */
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						.off = (o), .imm = (i) })

int main(int argc, char **argv)
{
	static char log[65536];
	struct bpf_insn prog[16];
	int n = 0, type;

	if (argc != 4) {
		fprintf(stderr, "usage: bpfload filter|writeuser NAME SECONDS\n");
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
	int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0) {
		perror("bpfload: BPF_PROG_LOAD");
		fputs(log, stderr);
		return 1;
	}
	printf("%d\n", fd);
	fflush(stdout);
	sleep((unsigned)atoi(argv[3]));
	return 0;
}
