/* attest.c - the binaries a process runs and the libraries it maps,
 * against the image's SBOM (section 10.4).
 *
 * Decided on hashes from the page cache (never guessed: a file whose hash
 * is unavailable is not judged).  Each process image and each mapped file
 * is judged once, a forked child's by its parent.
 */
#include <string.h>

#include "detect/detect.h"
#include "detect/sbom.h"

static int path_listed_for_hash(const struct sbom *s, const char *sha, const char *path)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (!strcmp(s->files[i].sha256, sha) && !strcmp(s->files[i].path, path))
			return 1;
	return 0;
}

/* A path a file can be found at: not a memfd (crun and runc run
 * themselves from one, /memfd:crun_cloned:/proc/self/exe, against
 * CVE-2019-5736) and not a file on a detached mount, which resolves to the
 * bare root ("/"): neither says where the binary was run from. */
static int path_known(const char *path)
{
	return path[0] == '/' && path[1] && strncmp(path, "/memfd:", 7);
}

/* entrypoints name this binary but none with these arguments */
static int args_unintended(const struct sbom *s, const char *path, const char *args)
{
	int listed = 0;

	for (size_t i = 0; i < s->nentries; i++) {
		if (strcmp(s->entries[i].path, path))
			continue;
		listed = 1;
		if (args && !strcmp(s->entries[i].args, args))
			return 0;
	}
	return listed;
}

static void judge(const struct detect_cfg *cfg, const struct snapshot *s, const struct snap_proc *p,
		  const struct snap_elf *e, act_emit_fn emit, void *ctx)
{
	const struct sbom *sb = cfg->sbom;
	const char *path = e->vma->path ? e->vma->path : "";
	const struct sbom_file *known = sbom_by_hash(sb, e->hash.sha256);
	const struct sbom_file *at = sbom_by_path(sb, path);
	struct act_rec r = { .snap = s, .proc = p, .elf = e };

	if (known && path_listed_for_hash(sb, e->hash.sha256, ""))
		return;	/* a signature the configuration approves wherever it lies */
	if (e->vma->is_main_exe) {
		if (known) {
			if (!path_known(path))
				return;	/* approved content, from no path to compare */
			if (!path_listed_for_hash(sb, e->hash.sha256, path))
				r.detail = "a binary of the image run from another path";
			else if (args_unintended(sb, path, p->cmdline))
				r.detail = "a binary of the image run with other arguments";
			else
				return;
			r.id = ACT_BINARY_NOT_AS_INTENDED;
		} else if (at && at->size >= 0 && at->size != e->size) {
			r.id = ACT_FOREIGN_BINARY_SIZE;
			r.detail = "the image's file at this path has another size";
		} else {
			r.id = ACT_FOREIGN_BINARY;
			r.detail = at ? "modified from the image" : "not in the image";
		}
	} else {
		if (known)
			return;
		if (at && at->size >= 0 && at->size != e->size) {
			r.id = ACT_FOREIGN_LIBRARY_SIZE;
			r.detail = "the image's file at this path has another size";
		} else {
			r.id = ACT_FOREIGN_LIBRARY;
			r.detail = at ? "modified from the image" : "not in the image";
		}
	}
	if (cfg->enabled[r.id])
		emit(ctx, &r);
}

/* Between fork and exec a process runs its parent's program under its
 * parent's arguments: a file its parent, running the same executable with
 * the same arguments, maps too is the parent's to judge (up a chain of
 * forks to the process that ran it), with the same verdict.  A child whose
 * parent is gone (re-parented: its new parent runs something else, or the
 * same program otherwise, as a shell at pid 1 may), or runs something
 * else, is judged itself: it may be all that is left of the program (a
 * daemon whose parent exited); and so is a file only the child maps. */
static int parents_to_judge(const struct snapshot *s, const struct snap_proc *p,
			    const struct snap_elf *e)
{
	if (!p->pre_exec || !p->exe_inode)
		return 0;
	const struct snap_proc *pp = snapshot_find(s, p->ppid);
	if (!pp || pp == p || pp->kthread || pp->exe_inode != p->exe_inode ||
	    !p->cmdline || !pp->cmdline || strcmp(p->cmdline, pp->cmdline))
		return 0;
	for (uint32_t j = 0; j < pp->nelfs; j++)
		if (pp->elfs[j].vma->inode == e->vma->inode && !pp->elfs[j].hash.status)
			return 1;
	return 0;
}

void detect_attestation(const struct snapshot *s, const struct detect_cfg *cfg,
			struct detect_state *st, act_emit_fn emit, void *ctx)
{
	if (!cfg->sbom || !cfg->sbom->nfiles)
		return;
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct snap_proc *p = &s->procs[i];
		if (p->unsettled)
			continue;	/* half of one program, half of the next */
		uint64_t pk = detect_mix((uint64_t)(uint32_t)p->pid, p->start_boottime_ns ^ p->self_exec_id);
		for (uint32_t j = 0; j < p->nelfs; j++) {
			const struct snap_elf *e = &p->elfs[j];
			if (e->hash.status)
				continue;	/* not all in the page cache: not judged */
			if (parents_to_judge(s, p, e))
				continue;
			if (detect_alerted(st, detect_mix(pk, e->vma->inode), p))
				continue;
			judge(cfg, s, p, e, emit, ctx);
		}
	}
}
