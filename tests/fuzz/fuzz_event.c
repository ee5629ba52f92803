/* The event decoder, and the body parser behind it: what every peer's
 * bytes meet first. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hash[XF_HASH_BYTES];
	xf_fields *f = NULL;
	xf_event ev;

	if (xf_event_decode(data, size, &ev) < 0)
		return 0;
	xf_event_hash(ev.bytes, ev.len, hash);
	if (xf_fields_parse(ev.body, ev.body_len, &f) == 0) {
		for (size_t i = 0; i < xf_fields_count(f); i++) {
			char buf[64];
			size_t len;

			xf_fields_key(f, i, &len);
			xf_value_str(xf_fields_value(f, i), buf, sizeof(buf));
		}
		xf_fields_free(f);
	}
	return 0;
}
