/* isf_dwarf_priv.h - the DWARF ISF writer's state, shared by its driver and
 * symbols (isf_dwarf.c) and its type walk (isf_dwarf_types.c); not part of
 * argus's interface. */
#ifndef ARGUS_ISF_DWARF_PRIV_H
#define ARGUS_ISF_DWARF_PRIV_H

#include <elfutils/libdw.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/u64map.h"
#include "profile/isf.h"
#include "profile/isf_priv.h"

struct section {
	struct buf b;
	struct jw w;
};

struct dw {
	Dwarf *dbg, *alt;
	struct section base, user, enums, syms;
	struct isf_strset seen_base, seen_type, seen_enum, seen_sym, vars;
	struct dvar {
		Dwarf_Die type;
		int decl;		/* from a declaration: a definition replaces it */
	} *var_types;			/* vars' values index this */
	size_t nvars, vars_cap;
	struct u64map queued;		/* anonymous type DIE keys already queued */
	Dwarf_Die *work;		/* queued DIEs not yet written */
	size_t nwork, work_cap;
	struct arena names;		/* generated names */
	struct isf_stats st;
	int oom;
};

/* Write a reference to the type of die (depth bounds the recursion). */
void isf_dw_ref(struct dw *d, struct jw *w, Dwarf_Die *die, int depth);
/* Write {"kind": kind, "name": name}. */
void isf_dw_named(struct jw *w, const char *kind, const char *name);
/* Walk every unit of dbg (pass 0: file-level types and global variables,
 * pass 1: types local to functions); the number of units walked. */
size_t isf_dw_walk_units(struct dw *d, Dwarf *dbg, int pass);
/* Write the anonymous types (and typedef'd ones) referred to so far. */
void isf_dw_drain(struct dw *d);

#endif
