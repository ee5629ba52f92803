/* A bounds check for msgpack from peers, before msgpack-c sees it.
 *
 * msgpack-c allocates for the element count an array or map header claims
 * before it reads the elements, so 100 bytes of nested headers each
 * claiming 2^32 items would ask for gigabytes. Every element takes at
 * least one byte, so a count larger than the bytes left is a lie: this
 * walk refuses it, allocating nothing. */
#include "internal.h"
#include "xf/error.h"

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | *p++;
	return v;
}

int xf_msgpack_check(const uint8_t *p, size_t len, size_t *used)
{
	size_t pos = 0, pending = 1;

	while (pending) {
		/* lenlen: bytes of a length or count field after the type byte;
		 * fixed: bytes of payload that follow it regardless. */
		size_t lenlen = 0, fixed = 0, per_item = 0;
		uint64_t n = 0;
		uint8_t t;

		if (pos >= len)
			return XF_EPROTO;
		t = p[pos++];
		pending--;
		if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
			continue;
		if (t >= 0x80 && t <= 0x8f) {
			n = t & 0x0f, per_item = 2;
		} else if (t >= 0x90 && t <= 0x9f) {
			n = t & 0x0f, per_item = 1;
		} else if (t >= 0xa0 && t <= 0xbf) {
			fixed = t & 0x1f;
		} else {
			switch (t) {
			case 0xc4: case 0xd9: lenlen = 1; break;                 /* bin8, str8 */
			case 0xc5: case 0xda: lenlen = 2; break;                 /* bin16, str16 */
			case 0xc6: case 0xdb: lenlen = 4; break;                 /* bin32, str32 */
			case 0xc7: lenlen = 1, fixed = 1; break;                 /* ext8: + type */
			case 0xc8: lenlen = 2, fixed = 1; break;
			case 0xc9: lenlen = 4, fixed = 1; break;
			case 0xca: case 0xce: case 0xd2: fixed = 4; break;       /* float32, u32, i32 */
			case 0xcb: case 0xcf: case 0xd3: fixed = 8; break;
			case 0xcc: case 0xd0: fixed = 1; break;
			case 0xcd: case 0xd1: fixed = 2; break;
			case 0xd4: fixed = 2; break;                             /* fixext1..16: + type */
			case 0xd5: fixed = 3; break;
			case 0xd6: fixed = 5; break;
			case 0xd7: fixed = 9; break;
			case 0xd8: fixed = 17; break;
			case 0xdc: lenlen = 2, per_item = 1; break;              /* array16 */
			case 0xdd: lenlen = 4, per_item = 1; break;
			case 0xde: lenlen = 2, per_item = 2; break;              /* map16 */
			case 0xdf: lenlen = 4, per_item = 2; break;
			default: return XF_EPROTO;                               /* 0xc1: never used */
			}
		}
		if (lenlen) {
			if (len - pos < lenlen)
				return XF_EPROTO;
			n = be(p + pos, lenlen);
			pos += lenlen;
		}
		if (per_item) {
			/* Each element is at least a byte. */
			if (n > (len - pos) / per_item || pending + n * per_item > len - pos)
				return XF_EPROTO;
			pending += (size_t)n * per_item;
			continue;
		}
		if (lenlen && !fixed)
			fixed = (size_t)n;
		else if (lenlen)
			fixed += (size_t)n;
		if (len - pos < fixed)
			return XF_EPROTO;
		pos += fixed;
	}
	*used = pos;
	return 0;
}
