/* Hybrid logical clock.
 *
 * Layout of the 64-bit value: the upper 48 bits are milliseconds since the
 * Unix epoch (enough until the year 10889), the lower 16 bits a logical
 * counter that orders events within one millisecond. Comparing two values as
 * unsigned integers therefore orders them by (physical, logical).
 *
 * Callers pass the wall clock in, so every function here is pure and tests
 * are deterministic. */
#ifndef XF_HLC_H
#define XF_HLC_H

#include <stdint.h>

#define XF_HLC_LOGICAL_BITS 16
/* How far ahead of our own wall clock a received timestamp may pull our
 * clock. A village PC whose clock is days ahead must not drag the township's
 * clock with it; causality beyond that is carried by event parents. */
#define XF_HLC_MAX_FORWARD_MS (5 * 60 * 1000)

static inline uint64_t xf_hlc_physical(uint64_t hlc) { return hlc >> XF_HLC_LOGICAL_BITS; }
static inline uint16_t xf_hlc_logical(uint64_t hlc) { return (uint16_t)(hlc & 0xffff); }
static inline uint64_t xf_hlc_make(uint64_t ms, uint16_t logical)
{
	return (ms << XF_HLC_LOGICAL_BITS) | logical;
}

/* The timestamp for a local event, given the last timestamp this node
 * issued or received and the wall clock now. Always > last. */
uint64_t xf_hlc_next(uint64_t last, uint64_t wall_ms);

/* Our clock after receiving a remote timestamp. Never goes backwards; a
 * remote timestamp more than XF_HLC_MAX_FORWARD_MS ahead of wall_ms is only
 * followed up to that bound. */
uint64_t xf_hlc_recv(uint64_t last, uint64_t remote, uint64_t wall_ms);

/* The wall clock in milliseconds since the epoch (CLOCK_REALTIME); the only
 * impure function here, for callers to pass into the ones above. */
uint64_t xf_wall_ms(void);

#endif
