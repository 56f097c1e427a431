/* The service configuration (YAML). */
#include "fuzz_util.h"
#include "service/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct config c;

	fuzz_init();
	if (!config_parse((const char *)data, len, "fuzz.yaml", &c, NULL))
		config_free(&c);
	return 0;
}
