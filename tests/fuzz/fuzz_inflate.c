/* Decompression of a sync body, with the server's limit. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xf_buf out = { 0 };

	if (xf_inflate(data, size, XF_SYNC_BODY_MAX, true, &out) == 0 && out.len > XF_SYNC_BODY_MAX)
		abort();
	xf_buf_dispose(&out);
	return 0;
}
