/* The stored form of a projection: what decodes re-encodes to the same
 * bytes. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xf_entity *e = NULL;
	uint8_t *again = NULL;
	size_t len;

	if (xf_entity_decode(data, size, &e) < 0)
		return 0;
	if (xf_entity_encode(e, &again, &len) < 0)
		abort();
	xf_entity_free(e);
	if (xf_entity_decode(again, len, &e) < 0)
		abort();
	xf_entity_free(e);
	free(again);
	return 0;
}
