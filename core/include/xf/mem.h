/* Growing arrays, the one way core, daemon and tools do it. */
#ifndef XF_MEM_H
#define XF_MEM_H

#include <stddef.h>

/* Make room for item N of the array at *ITEMS (ITEMS is the address of a
 * T *; each item SIZE bytes, *CAP of them allotted): when N has reached
 * *CAP, the array doubles (to 16 the first time). 0, or -ENOMEM with the
 * array and *CAP as they were, still the caller's to free. */
int xf_grow(void *items, size_t *cap, size_t n, size_t size);

#endif
