/* A village applying its township's response: pulled events, acks,
 * cursors and a receipt, from bytes the network brought. */
#include "fuzz.h"

static struct fuzz_node town, village;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xf_sync_push push = { 0 };
	xf_sync_stats st;

	if (!village.store) {
		fuzz_node_make(&town, "town", "township");
		fuzz_node_make(&village, "cun-a", "village");
		fuzz_enrol(&village, "town", town.pubkey, "upstream");
	}
	xf_sync_apply(village.store, &push, data, size, FUZZ_WALL, &st);
	return 0;
}
