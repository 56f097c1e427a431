/* What a forward receiver answers: acknowledgements read one after the
 * other from the bytes, as telemetry.c reads them off the socket. */
#include <string.h>

#include "fuzz_util.h"
#include "service/forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char id[FWD_ID_CAP];
	size_t used;

	fuzz_init();
	while (len) {
		used = 0;
		if (forward_parse_ack((const char *)data, len, &used, id, sizeof(id)) != 1)
			break;
		if (!used || used > len || strlen(id) >= sizeof(id))
			__builtin_trap();
		data += used;
		len -= used;
	}
	return 0;
}
