/* cmd_info.c - `argus info`: what argus found out about a memory source. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/log.h"
#include "linux/kernel.h"
#include "core/json.h"
#include "core/timefmt.h"

static void info_usage(FILE *out)
{
	fprintf(out,
		"usage: argus info --source SRC [--regions FILE] [--profile auto|ISF] [--json] [-v]\n"
		"\n"
		"Print what argus learned about the kernel in a memory source: release,\n"
		"banner, architecture, paging (VA bits, levels, page size), KASLR slide,\n"
		"phys_base (arm64: PHYS_OFFSET), kernel page table, direct-map base, kernel\n"
		"image and struct page array, where VMCOREINFO and BTF lie, symbol and\n"
		"type counts, and the source's ranges.\n"
		"\n"
		"Exit status: 0 success, 1 the source or profile is unusable, 2 usage error.\n");
}

static void phys_of(struct kernel *k, uint64_t va, uint64_t *pa)
{
	*pa = 0;
	if (va)
		vas_translate(&k->kvas, va, pa, NULL);
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "regions", required_argument, NULL, 'r' },
		{ "profile", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kernel_opts ko = { .profile = "auto" };
	int json = 0, verbose = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:p:jvh", opts, NULL)) != -1) {
		switch (c) {
		case 's': ko.source = optarg; break;
		case 'r': ko.regions = optarg; break;
		case 'p': ko.profile = optarg; break;
		case 'j': json = 1; break;
		case 'v': verbose++; break;
		case 'h': info_usage(stdout); return 0;
		default: info_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !ko.source) {
		cli_error("info: %s (see 'argus info --help')",
			  ko.source ? "unexpected argument" : "--source is required");
		return EXIT_USAGE;
	}
	alog_set_level(verbose >= 2 ? ALOG_DEBUG : verbose ? ALOG_INFO : ALOG_ERROR);
	struct aerr err = { 0 };
	struct kernel *k;
	uint64_t t0 = now_monotonic_ns();
	if (kernel_open(&ko, &k, &err)) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	uint64_t t1 = now_monotonic_ns();
	const struct kprofile *p = k->prof;
	uint64_t btf_pa, task_pa;
	phys_of(k, p->btf_va, &btf_pa);
	phys_of(k, p->sym.init_task, &task_pa);

	struct buf b = BUF_INIT;
	struct jw w;
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "source", k->mem->path);
	jw_kstr(&w, "source_kind", k->mem->kind);
	jw_kuint(&w, "source_ranges", k->mem->nranges);
	jw_kuint(&w, "source_end", memsrc_end(k->mem));
	jw_kstr(&w, "release", p->release);
	jw_kstr(&w, "banner", p->banner);
	jw_kstr(&w, "profile", p->source);
	jw_kstr(&w, "arch", p->arch->name);
	jw_kint(&w, "paging_levels", p->levels);
	jw_kint(&w, "va_bits", p->va_bits);
	jw_kint(&w, "kernel_va_bits", p->kernel_va_bits);
	jw_kuint(&w, "page_size", 1ULL << p->page_shift);
	jw_kuint(&w, "kaslr_slide", p->kaslr_slide);
	jw_kuint(&w, "phys_base", p->phys_base);
	jw_kuint(&w, "kernel_pgd_physical_address", p->kernel_pgd_pa);
	jw_kuint(&w, "page_offset_base", p->page_offset_base);
	jw_kuint(&w, "direct_map_physical_address", p->dmap_pa);
	jw_kuint(&w, "kimage_voffset", p->kimage_voffset);
	jw_kuint(&w, "vmemmap_start", p->vmemmap_start);
	jw_kuint(&w, "vmemmap_pfn", p->vmemmap_pfn);
	jw_kuint(&w, "vmcoreinfo_physical_address", p->vmci.pa);
	jw_kstr(&w, "vmcoreinfo_found_by", p->vmci.found_by[0] ? p->vmci.found_by : "the source");
	jw_kuint(&w, "init_task", p->sym.init_task);
	jw_kuint(&w, "init_task_physical_address", task_pa);
	jw_kuint(&w, "btf_address", p->btf_va);
	jw_kuint(&w, "btf_physical_address", btf_pa);
	jw_kuint(&w, "btf_size", p->btf_size);
	jw_kuint(&w, "symbols", p->syms ? p->syms->n : 0);
	jw_kstr(&w, "types", p->types ? p->types->desc : "");
	jw_key(&w, "offsets");
	jw_obj_begin(&w);
	jw_kint(&w, "task_struct.tasks", p->off.task_struct__tasks.off);
	jw_kint(&w, "task_struct.pid", p->off.task_struct__pid.off);
	jw_kint(&w, "task_struct.comm", p->off.task_struct__comm.off);
	jw_kuint(&w, "task_struct.size", p->off.size_task_struct);
	jw_obj_end(&w);
	jw_kuint(&w, "open_ns", t1 - t0);
	jw_kuint(&w, "reads", k->mem->stats.reads);
	jw_kuint(&w, "bytes", k->mem->stats.bytes);
	jw_kuint(&w, "startup_pages", k->startup_pages);
	jw_obj_end(&w);
	if (json) {
		printf("%s\n", b.data);
	} else {
		printf("source        %s (%s, %zu range%s, up to 0x%llx)\n", k->mem->path, k->mem->kind,
		       k->mem->nranges, k->mem->nranges == 1 ? "" : "s",
		       (unsigned long long)memsrc_end(k->mem));
		printf("kernel        Linux %s, %s, %d-level paging\n", p->release, p->arch->name,
		       p->levels);
		printf("paging        %d-bit VA", p->va_bits);
		if (p->kernel_va_bits != p->va_bits)
			printf(" (kernel %d-bit)", p->kernel_va_bits);
		printf(", %llu KiB pages\n", (1ULL << p->page_shift) >> 10);
		printf("banner        %s\n", p->banner);
		printf("profile       %s\n", p->source);
		printf("KASLR slide   0x%llx\nphys_base     0x%llx\n",
		       (unsigned long long)p->kaslr_slide, (unsigned long long)p->phys_base);
		printf("kernel pgd    phys 0x%llx\ndirect map    0x%llx (phys 0x%llx)\n",
		       (unsigned long long)p->kernel_pgd_pa, (unsigned long long)p->page_offset_base,
		       (unsigned long long)p->dmap_pa);
		printf("kernel image  VA - PA = 0x%llx\nvmemmap       0x%llx (pfn 0x%llx)\n",
		       (unsigned long long)p->kimage_voffset, (unsigned long long)p->vmemmap_start,
		       (unsigned long long)p->vmemmap_pfn);
		printf("VMCOREINFO    phys 0x%llx (found by %s)\n", (unsigned long long)p->vmci.pa,
		       p->vmci.found_by[0] ? p->vmci.found_by : "the source");
		printf("init_task     0x%llx (phys 0x%llx)\n", (unsigned long long)p->sym.init_task,
		       (unsigned long long)task_pa);
		if (p->btf_va)
			printf("BTF           0x%llx (phys 0x%llx), %llu bytes\n",
			       (unsigned long long)p->btf_va, (unsigned long long)btf_pa,
			       (unsigned long long)p->btf_size);
		printf("opened in     %.1f ms, %llu reads, %llu bytes, %llu distinct pages\n",
		       (double)(t1 - t0) / 1e6, (unsigned long long)k->mem->stats.reads,
		       (unsigned long long)k->mem->stats.bytes,
		       (unsigned long long)k->startup_pages);
	}
	buf_free(&b);
	kernel_close(k);
	return 0;
}
