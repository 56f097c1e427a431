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
 * The count bounds what is news only when the last scan's newest entry is
 * not found: `history -a` (a common PROMPT_COMMAND) sets it back to 0 at
 * every prompt, and entries appended after one found are commands (but
 * for a `history -r FILE` in mid-session, whose lines are told too).
 * A history reloaded whole (`history -c; history -r`, another common
 * PROMPT_COMMAND) keeps its lines with new times: they are matched by line
 * too, and by the last lines of the last whole view of the list, kept
 * (detect_history_judge) so that a scan which caught the list emptied or
 * read in part is not gone by. */
#include <string.h>

#include "detect/detect.h"

/* how many older entries must also match where the newest one is found */
#define ALIGN_CHECK 32
/* an anchor: the last this-many lines of a history */
#define ANCHOR_LINES 4

/* exact: line and time; else the line alone (a list reloaded from its
 * file: the same commands, their times those of the load or the file's) */
static int same(const struct snap_hist *a, const struct snap_hist *b, int exact)
{
	return (!exact || a->time == b->time) && a->line && b->line && !strcmp(a->line, b->line);
}

/* Index in cb just after pb's newest entry, or -1 if it is not there. */
static int64_t after_last(const struct snap_bash *pb, const struct snap_bash *cb, int exact)
{
	const struct snap_hist *last = &pb->entries[pb->nentries - 1];

	for (int64_t j = (int64_t)cb->nentries - 1; j >= 0; j--) {
		if (!same(&cb->entries[j], last, exact))
			continue;
		int64_t k = 1;
		for (; k <= ALIGN_CHECK && k <= j && k < pb->nentries; k++)
			if (!same(&cb->entries[j - k], &pb->entries[pb->nentries - 1 - k], exact))
				break;
		if (k > ALIGN_CHECK || k > j || k >= pb->nentries)
			return j + 1;
	}
	return -1;
}

static int64_t aligned(const struct snap_bash *pb, const struct snap_bash *cb)
{
	int64_t j = -1;

	if (pb->nentries && (j = after_last(pb, cb, 1)) < 0)
		j = after_last(pb, cb, 0);
	return j;
}

/* The lines of entries [from, from + w), hashed with w (never 0). */
static uint64_t lines_key(const struct snap_bash *b, uint32_t from, uint32_t w)
{
	uint64_t x = 0xcbf29ce484222325ULL ^ w;	/* FNV-1a */

	for (uint32_t i = from; i < from + w; i++) {
		for (const char *c = b->entries[i].line ? b->entries[i].line : ""; *c; c++)
			x = (x ^ (unsigned char)*c) * 0x100000001b3ULL;
		x = (x ^ 0xff) * 0x100000001b3ULL;	/* between lines */
	}
	return x ? x : 1;
}

static uint32_t min_u32(int64_t a, uint32_t b)
{
	return a < (int64_t)b ? (uint32_t)a : b;
}

/* Where news starts when no entry of the last view is found in cb: bash's
 * count of commands typed this session bounds it (pb: the last scan's
 * view; NULL or unread: cb is first seen). */
static uint32_t by_count(const struct snap_bash *pb, const struct snap_bash *cb)
{
	uint32_t n = cb->nentries, start;

	if (!pb || pb->status) {
		/* first sight: only what this session typed is news; with no
		 * count to tell file lines from typed ones, nothing is */
		if (cb->session < 0)
			return n;
		return n - min_u32(cb->session, n);
	}
	if (pb->nentries && cb->session >= 0 && pb->session >= 0 && cb->session >= pb->session)
		start = n - min_u32(cb->session - pb->session, n);	/* all moved out */
	else
		start = 0;	/* cleared, loaded, or nothing to go by */
	if (cb->session >= 0 && start < n - min_u32(cb->session, n))
		start = n - min_u32(cb->session, n);
	return start;
}

uint32_t detect_history_new(const struct snap_bash *pb, const struct snap_bash *cb)
{
	int64_t j = pb && !pb->status ? aligned(pb, cb) : -1;

	return j >= 0 ? (uint32_t)j : by_count(pb, cb);	/* found: what follows is news */
}

/* hist_last's value: 32 bits of the last lines' hash, the length (23
 * bits), whether a clearing waits (1 bit), and how many views of a busy
 * bash were passed over since (8 bits) */
#define LAST_ANCHOR(v) ((v) & 0xffffffffULL)
#define LAST_LEN(v) (((v) >> 32) & 0x7fffff)
#define LAST_WAITS (1ULL << 55)
#define LAST_SKIPPED(v) ((v) >> 56)
#define LAST_MAX_LEN 0x7fffffu
/* views of a busy bash passed over before one is judged anyway */
#define SKIP_MAX 8

static uint64_t last_of(const struct snap_bash *b)
{
	uint32_t w = b->nentries < ANCHOR_LINES ? b->nentries : ANCHOR_LINES;
	uint64_t a = w ? lines_key(b, b->nentries - w, w) & 0xffffffffULL : 0;

	return (a ? a : 1) | (uint64_t)(b->nentries < LAST_MAX_LEN ? b->nentries : LAST_MAX_LEN) << 32;
}

/* The index in cb just after the last view's last lines (32 bits of their
 * hash; as many lines as last_of took), where they end last; or -1 */
static int64_t after_last_view(const struct snap_bash *cb, uint64_t v)
{
	uint32_t w = LAST_LEN(v) < ANCHOR_LINES ? (uint32_t)LAST_LEN(v) : ANCHOR_LINES;

	for (int64_t j = (int64_t)cb->nentries; w && j >= w; j--)
		if ((lines_key(cb, (uint32_t)j - w, w) & 0xffffffffULL) == LAST_ANCHOR(v))
			return j;
	return -1;
}

/* A bash read while it ran (not blocked at its prompt or on a command) may
 * be in the middle of changing its list: `history -c; history -r`, a
 * PROMPT_COMMAND that shares history between terminals, rebuilds it at
 * every prompt, and a view taken meanwhile is the file read in part, with
 * no length to show it (a list at HISTSIZE stays at HISTSIZE as it is
 * refilled).  So such a view is passed over, SKIP_MAX times in a row at
 * most (a bash that stays busy is judged all the same), and the next one
 * is compared with the last view judged.
 * Cleared: the list shorter than in that view and the view's last lines
 * gone from it.  Told a scan later, if they are not back by then (a view
 * of a bash that was at rest when its task was read, but woke before its
 * list was). */
uint32_t detect_history_judge(struct u64map *last, uint64_t key, int same, int at_rest,
			      const struct snap_bash *pb, const struct snap_bash *cb, int *cleared)
{
	uint64_t v = 0;
	int known = same && u64map_get(last, key, &v);

	*cleared = 0;
	if (!at_rest && (!known || LAST_SKIPPED(v) < SKIP_MAX)) {
		if (known)
			u64map_put(last, key, v + (1ULL << 56));
		return cb->nentries;
	}
	/* the last scan's view: not to go by if it was passed over, or cut
	 * or emptied as it changed (a clearing waits) */
	int usable = pb && !pb->status && pb->nentries && (!known || !(v >> 55));
	int64_t at = usable ? after_last(pb, cb, 1) : -1, seen = -2;

	if (at < 0 && known)
		at = seen = after_last_view(cb, v);
	if (at < 0 && usable)
		at = after_last(pb, cb, 0);	/* reloaded: the lines, new times */
	uint32_t start = at >= 0 ? (uint32_t)at : by_count(usable ? pb : NULL, cb);

	if (known && cb->nentries < LAST_LEN(v) && (cb->nentries == 0 || LAST_LEN(v) > 1) &&
	    (seen != -2 ? seen : after_last_view(cb, v)) < 0) {
		if (!(v & LAST_WAITS)) {
			u64map_put(last, key, v | LAST_WAITS);
			return start;	/* judged next scan */
		}
		*cleared = 1;
	}
	u64map_put(last, key, last_of(cb));
	return start;
}
