/* A township importing a bundle file carried on a USB stick. */
#include "fuzz.h"

static struct fuzz_node town, village;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xf_ingest_stats st;

	if (!town.store)
		fuzz_pair(&town, &village);
	xf_bundle_import(town.store, fuzz_file(data, size), FUZZ_WALL, &st, NULL);
	return 0;
}
