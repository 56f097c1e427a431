/* history.c - which of a bash's history entries are commands it ran since
 * the last scan.
 *
 * The history list is not a log: bash loads its HISTFILE into it when it
 * starts (hundreds of old lines appearing at once), drops the oldest entry
 * for each new one once HISTSIZE is reached (every entry moves), and
 * `history -c` empties it.  Two facts decide:
 *   - where the last scan's newest entry is now (with the entries before
 *     it matching), which tells what was appended since;
 *   - bash's own count of commands entered this session
 *     (history_lines_this_session), which no file load raises: of the
 *     list, only the last that-many entries can be this session's.
 * A `history -r FILE` in mid-session appends lines after this session's
 * commands; then the count still bounds how many are reported, but not
 * which (the newest are taken). */
#include <string.h>

#include "detect/detect.h"

/* how many older entries must also match where the newest one is found */
#define ALIGN_CHECK 32

static int same(const struct snap_hist *a, const struct snap_hist *b)
{
	return a->time == b->time && a->line && b->line && !strcmp(a->line, b->line);
}

/* Index in cb just after pb's newest entry, or -1 if it is not there. */
static int64_t after_last(const struct snap_bash *pb, const struct snap_bash *cb)
{
	const struct snap_hist *last = &pb->entries[pb->nentries - 1];

	for (int64_t j = (int64_t)cb->nentries - 1; j >= 0; j--) {
		if (!same(&cb->entries[j], last))
			continue;
		int64_t k = 1;
		for (; k <= ALIGN_CHECK && k <= j && k < pb->nentries; k++)
			if (!same(&cb->entries[j - k], &pb->entries[pb->nentries - 1 - k]))
				break;
		if (k > ALIGN_CHECK || k > j || k >= pb->nentries)
			return j + 1;
	}
	return -1;
}

static uint32_t min_u32(int64_t a, uint32_t b)
{
	return a < (int64_t)b ? (uint32_t)a : b;
}

uint32_t detect_history_new(const struct snap_bash *pb, const struct snap_bash *cb)
{
	uint32_t n = cb->nentries, start;

	if (!pb || pb->status) {
		/* first sight: only what this session typed is news; with no
		 * count to tell file lines from typed ones, nothing is */
		if (cb->session < 0)
			return n;
		return n - min_u32(cb->session, n);
	}
	if (!pb->nentries) {
		start = 0;
	} else {
		int64_t j = after_last(pb, cb);
		if (j >= 0)
			start = (uint32_t)j;
		else if (cb->session >= 0 && pb->session >= 0 && cb->session >= pb->session)
			start = n - min_u32(cb->session - pb->session, n);	/* all moved out */
		else
			start = 0;	/* cleared, or nothing to go by */
	}
	if (cb->session >= 0 && start < n - min_u32(cb->session, n))
		start = n - min_u32(cb->session, n);
	return start;
}
