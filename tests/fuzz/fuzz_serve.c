/* A township serving a sync request from an enrolled village: the whole
 * server side after authentication (parse, ingest, answer). */
#include "fuzz.h"

static struct fuzz_node town, village;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xf_auth request = { .node = "cun-a", .time_ms = FUZZ_WALL };
	xf_buf out = { 0 };
	xf_sync_stats st;
	char sig[XF_REPLY_SIG_MAX];

	if (!town.store)
		fuzz_pair(&town, &village);
	xf_sync_serve(town.store, town.key, &request, data, size, FUZZ_WALL, &out, sig, &st);
	xf_buf_dispose(&out);
	return 0;
}
