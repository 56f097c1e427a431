/* vmproc.h - a running QEMU/KVM guest's RAM through its process ("vm:PID"). */
#ifndef ARGUS_VMPROC_H
#define ARGUS_VMPROC_H

#include "core/err.h"
#include "memsrc/memsrc.h"
#include "memsrc/vmlayout.h"

/* Set m up to read process pid's guest RAM (spec: the PID in decimal). */
int vmproc_open(struct memsrc *m, const char *spec, struct aerr *err);
/* What process pid's command line says of its VM. */
int vmproc_info(int pid, struct vm_info *vi, struct aerr *err);

/* When process pid started (field 22 of /proc/PID/stat, clock ticks after
 * boot): with the pid, it names one process for good.  0 if there is none. */
unsigned long long vmproc_start_time(int pid);
/* Its parent and start time; -1 when there is no such process. */
int vmproc_stat(int pid, int *ppid, unsigned long long *start);

#endif
