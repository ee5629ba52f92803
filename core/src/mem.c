#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xf/mem.h"

int xf_grow(void *items, size_t *cap, size_t n, size_t size)
{
	size_t want = *cap ? *cap * 2 : 16;
	void *old, *grown;

	if (n < *cap)
		return 0;
	if (size == 0 || want < *cap || want > SIZE_MAX / size)
		return -ENOMEM;
	/* ITEMS points at a T *, not a void *: read and write it as bytes. */
	memcpy(&old, items, sizeof(old));
	grown = realloc(old, want * size);
	if (!grown)
		return -ENOMEM;
	memcpy(items, &grown, sizeof(grown));
	*cap = want;
	return 0;
}
