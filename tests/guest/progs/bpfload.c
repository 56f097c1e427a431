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
 *   fentry:M:F the same at function F of module M, found in the module's
 *              split BTF (/sys/kernel/btf/M), whose ids follow vmlinux's
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

/* The BTF type id of function `name` in the BTF at path, or -1.  Its first
 * type id is first, and its names' offsets start at base_strs: 1 and 0 for
 * vmlinux; for a module's split BTF, the ids and string offsets after
 * vmlinux's (an offset below base_strs names one of vmlinux's strings, never
 * a module function's).  In *last the id after its last type, in *strs_len
 * its strings' length. */
static int btf_func(const char *path, int first, unsigned base_strs, const char *name, int *last,
		    unsigned *strs_len)
{
	static char buf[64 << 20];
	FILE *f = fopen(path, "rb");
	size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;
	const struct btf_header *h = (const void *)buf;
	int found = -1, id = first;

	if (f)
		fclose(f);
	if (len < sizeof(*h) || h->magic != BTF_MAGIC)
		return -1;
	const char *types = buf + h->hdr_len + h->type_off, *end = types + h->type_len;
	const char *strs = buf + h->hdr_len + h->str_off;
	*strs_len = h->str_len;
	for (const char *p = types; p + sizeof(struct btf_type) <= end; id++) {
		const struct btf_type *t = (const void *)p;
		unsigned kind = BTF_INFO_KIND(t->info), vlen = BTF_INFO_VLEN(t->info);
		if (found < 0 && kind == BTF_KIND_FUNC && t->name_off >= base_strs &&
		    t->name_off - base_strs < h->str_len && !strcmp(strs + t->name_off - base_strs, name))
			found = id;
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
	*last = id;
	return found;
}

/* The descriptor of the kernel's BTF object named `name` (a module's), or -1 */
static int btf_obj_fd(const char *name)
{
	union bpf_attr a;
	uint32_t id = 0;

	for (;;) {
		memset(&a, 0, sizeof(a));
		a.start_id = id;
		if (syscall(SYS_bpf, BPF_BTF_GET_NEXT_ID, &a, sizeof(a)) < 0)
			return -1;
		id = a.next_id;
		memset(&a, 0, sizeof(a));
		a.btf_id = id;
		int fd = (int)syscall(SYS_bpf, BPF_BTF_GET_FD_BY_ID, &a, sizeof(a));
		if (fd < 0)
			continue;
		char got[64] = "";
		struct bpf_btf_info info;
		memset(&info, 0, sizeof(info));
		info.name = (uint64_t)(uintptr_t)got;
		info.name_len = sizeof(got);
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = (uint32_t)fd;
		a.info.info_len = sizeof(info);
		a.info.info = (uint64_t)(uintptr_t)&info;
		if (!syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) && info.kernel_btf &&
		    !strcmp(got, name))
			return fd;
		close(fd);
	}
}

int main(int argc, char **argv)
{
	int attach_id = 0, obj_fd = -1;
	static char log[65536];
	struct bpf_insn prog[16];
	int n = 0, type;

	if (argc != 4) {
		fprintf(stderr, "usage: bpfload filter|writeuser|fentry:[MODULE:]FUNC NAME SECONDS\n");
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
		char *func = argv[1] + 7, *mod = NULL, path[256];
		int last;
		unsigned strs;
		type = BPF_PROG_TYPE_TRACING;
		if (strchr(func, ':')) {
			mod = func;
			func = strchr(func, ':');
			*func++ = 0;
		}
		attach_id = btf_func("/sys/kernel/btf/vmlinux", 1, 0, func, &last, &strs);
		if (mod) {
			snprintf(path, sizeof(path), "/sys/kernel/btf/%s", mod);
			attach_id = btf_func(path, last, strs, func, &last, &strs);
			if (attach_id >= 0 && (obj_fd = btf_obj_fd(mod)) < 0) {
				fprintf(stderr, "bpfload: %s: no BTF object\n", mod);
				return 1;
			}
		}
		if (attach_id < 0) {
			fprintf(stderr, "bpfload: %s: no such function in %s's BTF\n", func,
				mod ? mod : "the kernel");
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
		if (obj_fd >= 0)
			a.attach_btf_obj_fd = (uint32_t)obj_fd;
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
