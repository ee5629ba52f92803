/* A village applying its township's response: pulled events, acks,
 * cursors and a receipt, from bytes the network brought. */
#include "fuzz.h"

static struct fuzz_node town, village;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xf_sync_push push = { 0 };
	xf_sync_stats st;

	if (!village.store)
		fuzz_pair(&town, &village);
	xf_sync_apply(village.store, &push, data, size, FUZZ_WALL, &st);
	return 0;
}
