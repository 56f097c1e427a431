/* A QEMU process's command line and smaps (memsrc/vmlayout.c), and its
 * monitor's answers (memsrc/qmp.c): all another user's input.  The first two bytes give the command line's
 * length; the rest is the smaps text. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "memsrc/qmp.h"
#include "memsrc/vmlayout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct vm_info vi;
	struct vm_map *maps = NULL;
	struct mem_range *r = NULL;
	size_t nmaps = 0, nr = 0;

	fuzz_init();
	if (len < 2)
		return 0;
	size_t cl = (size_t)data[0] | (size_t)data[1] << 8;
	data += 2;
	len -= 2;
	if (cl > len)
		cl = len;
	if (vm_parse_cmdline((const char *)data, cl, &vi, NULL))
		return 0;
	/* the rest as QMP's answers too (query-memory-devices, then
	 * qom-list /objects after a NUL): a monitor is another process */
	struct vm_info qv = vi;
	const char *q = (const char *)data + cl, *nul = memchr(q, '\0', len - cl);
	size_t ql = nul ? (size_t)(nul - q) : len - cl;
	if (!qmp_apply_devices(&qv, q, ql, nul ? nul + 1 : NULL, nul ? len - cl - ql - 1 : 0, NULL))
		for (size_t i = 0; i < qv.ndimms; i++)
			if (qv.dimms[i].backend < 0 || (size_t)qv.dimms[i].backend >= qv.nbackends)
				abort();
	if (vm_parse_maps((const char *)data + cl, len - cl, &maps, &nmaps, NULL))
		return 0;
	if (!vm_layout(&vi, maps, nmaps, "fuzz", &r, &nr, NULL, 0, NULL)) {
		for (size_t i = 0; i < nr; i++)
			if (!r[i].len)
				abort();
		free(r);
	}
	free(maps);
	return 0;
}
