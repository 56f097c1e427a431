/* cmd_dump.c - `argus dump`: acquire a memory image from a source. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "memsrc/dump.h"
#include "core/timefmt.h"
#include "profile/ksyms.h"
#include "profile/profile.h"
#include "profile/kfind.h"
#include "profile/vmcoreinfo.h"

static void dump_usage(FILE *out)
{
	fprintf(out,
		"usage: argus dump --source SRC [--regions FILE] --format raw|lime|elf -o FILE\n"
		"\n"
		"Copy a machine's physical memory into an image file.  A live guest keeps\n"
		"running while it is copied, so a busy guest's image is not one instant;\n"
		"pause the guest first (QMP 'stop') for a consistent image.\n"
		"  raw   the bytes of each range, packed; when the memory is not one range\n"
		"        from address 0, FILE.regions.json is written beside it\n"
		"  lime  LiME format, one segment per range\n"
		"  elf   ELF core laid out as kdump's: a VMCOREINFO note, a PT_LOAD per\n"
		"        range at its physical and direct-map addresses and one for the\n"
		"        kernel image at its virtual address (sharing the range's bytes),\n"
		"        which crash and drgn need to find the kernel's page table\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
	int *last = ctx;
	int pct = total ? (int)(done * 100 / total) : 100;

	if (pct != *last) {
		fprintf(stderr, "\rargus: dumping... %3d%%", pct);
		*last = pct;
	}
}

static int first_vmci(void *ctx, struct vmci *v)
{
	char **out = ctx;

	*out = strdup(v->text);
	return 1;
}

/* The kernel's virtual layout from its profile: the direct map, and the
 * image from _text (else _stext) to _end in whole pages.  Where kallsyms
 * has no _end (arm64's), the image ends past the last symbol in it, and
 * past the kernel's page table, which debuggers read there first. */
static void elf_kmap(const struct kprofile *p, struct dump_kmap *k)
{
	uint64_t pg = 1ULL << p->page_shift, limit = 1ULL << 30;
	uint64_t start = p->sym._text ? p->sym._text : p->sym._stext, end = p->sym._end;

	k->page_offset_base = p->page_offset_base;
	k->dmap_pa = p->dmap_pa;
	k->dmap_size = p->dmap_size;
	if (start && !end) {
		uint64_t slide = p->isf_link_addrs ? p->kaslr_slide : 0, pgd = 0;
		for (size_t i = 0; p->syms && i < p->syms->n; i++) {
			uint64_t a = p->syms->syms[i].addr + slide;
			if (a >= start && a - start < limit && a + 8 > end)
				end = a + 8;
		}
		if ((!vmci_symbol(&p->vmci, "swapper_pg_dir", &pgd) ||
		     !vmci_symbol(&p->vmci, "init_top_pgt", &pgd)) &&
		    pgd >= start && pgd - start < limit && pgd + pg > end)
			end = pgd + pg;
	}
	if (start && end > start && end - start < limit) {
		start &= ~(pg - 1);
		k->kimage_va = start;
		k->kimage_pa = start - p->kimage_voffset;
		k->kimage_len = ((end + pg - 1) & ~(pg - 1)) - start;
	} else {
		alog_warn("the kernel image's extent (_text.._end) is not known: the ELF core "
			  "will not map it, which drgn and crash need");
	}
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "regions", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct memsrc_opts mo = { 0 };
	const char *src = NULL, *fmt_s = NULL, *out = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': src = optarg; break;
		case 'r': mo.regions_path = optarg; break;
		case 'f': fmt_s = optarg; break;
		case 'o': out = optarg; break;
		case 'h': dump_usage(stdout); return 0;
		default: dump_usage(stderr); return EXIT_USAGE;
		}
	}
	enum memfmt fmt = !fmt_s ? MEMFMT_UNKNOWN : !strcmp(fmt_s, "raw") ? MEMFMT_RAW :
			  !strcmp(fmt_s, "lime") ? MEMFMT_LIME : !strcmp(fmt_s, "elf") ? MEMFMT_ELF :
			  MEMFMT_UNKNOWN;
	if (optind < argc || !src || !out || fmt == MEMFMT_UNKNOWN) {
		cli_error("dump: give --source SRC, --format raw|lime|elf and -o FILE "
			  "(see 'argus dump --help')");
		return EXIT_USAGE;
	}
	struct aerr err = { 0 };
	struct memsrc *m;
	if (memsrc_open(src, &mo, &m, &err)) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	char *vmci = NULL;
	struct dump_kmap kmap = { 0 };
	if (fmt == MEMFMT_ELF) {
		/* the profile places the kernel: where it maps memory, and
		 * the VMCOREINFO it proved on the task list */
		struct kprofile *p = NULL;
		struct aerr perr = { 0 };
		if (profile_load(m, NULL, &p, &perr)) {
			alog_warn("no kernel profile (%s): the ELF core gives no virtual addresses, "
				  "which drgn and crash need", aerr_str(&perr));
			p = NULL;
		} else {
			elf_kmap(p, &kmap);
		}
		if (m->vmcoreinfo)
			vmci = strdup(m->vmcoreinfo);
		else if (p && p->vmci.text)
			vmci = strdup(p->vmci.text);
		else if (vmci_locate(m, first_vmci, &vmci, NULL) < 0 || !vmci)
			alog_warn("no VMCOREINFO found: the ELF core will lack it");
		profile_free(p);
	}
	int last = -1, need_regions = 0;
	uint64_t t0 = now_monotonic_ns();
	int ret = memsrc_dump(m, fmt, vmci, &kmap, out, isatty(2) ? progress : NULL, &last,
			      &need_regions, &err);
	if (last >= 0)
		fputc('\n', stderr);
	if (!ret && fmt == MEMFMT_RAW && need_regions) {
		char rp[4096];
		struct mem_range *packed = malloc(m->nranges * sizeof(*packed));
		uint64_t pos = 0;
		for (size_t i = 0; packed && i < m->nranges; i++) {
			packed[i] = m->ranges[i];
			packed[i].off = pos;
			pos += m->ranges[i].len;
		}
		snprintf(rp, sizeof(rp), "%s.regions.json", out);
		ret = packed ? regions_write(rp, packed, m->nranges, &err) : -ENOMEM;
		free(packed);
		if (!ret)
			fprintf(stderr, "argus: the memory is not one range from 0: wrote %s; "
				"open the image with --regions %s\n", rp, rp);
	}
	double secs = (double)(now_monotonic_ns() - t0) / 1e9;
	uint64_t bytes = 0;
	for (size_t i = 0; i < m->nranges; i++)
		bytes += m->ranges[i].len;
	free(vmci);
	memsrc_close(m);
	if (ret) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	fprintf(stderr, "argus: wrote %s: %llu bytes of memory in %.2f s (%.0f MiB/s)\n", out,
		(unsigned long long)bytes, secs, secs > 0 ? (double)bytes / secs / 1048576.0 : 0.0);
	return 0;
}
