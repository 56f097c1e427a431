/* floor.h - where a scan's time goes, and the physical floor under it
 * (argus-scanbench --floor; bench/floor.c).  Not a test: measurements. */
#ifndef ARGUS_BENCH_FLOOR_H
#define ARGUS_BENCH_FLOOR_H

#include <stdio.h>

struct kernel;
struct klimits;

/* On an open kernel whose scans are steady: `reps` scans collector by
 * collector (the order of linux_scan), one more with the read trace on,
 * and the two floors; prints JSON members ("collectors", "floor"), each
 * preceded by ", ".  0, or -1 with a message on stderr. */
int floor_report(struct kernel *k, int reps, FILE *out);

/* The limits on processes, threads, fds and memory areas, times k. */
void floor_limits(struct klimits *l, int k);

/* Opens `source` (with its memory-regions map, or NULL; limits times
 * limx) afresh and prints ", \"collectors_first\": [...]": the
 * first scan of a process, collector by collector. */
int floor_first(const char *source, const char *regions, int limx, FILE *out);

#endif
