/* The configuration parser: an error names file and line, or the config
 * is whole. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	xf_config cfg;
	int r = xf_config_load(fuzz_file(data, size), &cfg, err, sizeof(err));

	if (r == 0 && (!cfg.node_id[0] || !cfg.role[0] || !cfg.data_dir[0]))
		abort();
	if (r < 0 && !err[0])
		abort();
	return 0;
}
