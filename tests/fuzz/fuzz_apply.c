/* A village applying its township's response: pulled events, acks,
 * cursors and a receipt, from bytes the network brought. Each input is
 * signed with the township's key first, as a genuine answer is, so that
 * the fuzzer reaches what a township's own bytes could do; the check of
 * an unsigned answer is test_sync.c's. */
#include "fuzz.h"

static struct fuzz_node town, village;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xf_auth request = { .node = "cun-a", .time_ms = FUZZ_WALL };
	xf_sync_push push = { 0 };
	xf_sync_stats st;
	char sig[XF_REPLY_SIG_MAX];

	if (!village.store)
		fuzz_pair(&town, &village);
	if (xf_reply_sign(town.key, &request, data, size, sig) == 0)
		xf_sync_apply(village.store, &push, &request, data, size, sig, FUZZ_WALL, &st);
	return 0;
}
