/* rdfile.h - open an input file without ever blocking on it.
 *
 * open(2) of a FIFO for reading waits for a writer, and of some character
 * devices for a carrier: an input named on the command line or in a
 * configuration must not hang argus.  The file is opened with O_NONBLOCK,
 * checked to be a regular file (or a block device, when allowed), and only
 * then put back in blocking mode.
 */
#ifndef ARGUS_RDFILE_H
#define ARGUS_RDFILE_H

#include <sys/stat.h>

#include "core/err.h"

/* 0 with *fd open read-only (close-on-exec) and *st filled, or a negative
 * errno with "PATH: cannot open: why" or "PATH: not a regular file". */
int open_regular(const char *path, int allow_blk, int *fd, struct stat *st, struct aerr *err);

#endif
