/* A township serving a sync request from an enrolled village: the whole
 * server side after authentication (parse, ingest, answer). */
#include "fuzz.h"

static struct fuzz_node town, village;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xf_buf out = { 0 };
	xf_sync_stats st;

	if (!town.store)
		fuzz_pair(&town, &village);
	xf_sync_serve(town.store, town.key, "cun-a", FUZZ_WALL, data, size, FUZZ_WALL, &out, &st);
	xf_buf_dispose(&out);
	return 0;
}
