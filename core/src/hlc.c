#include <time.h>

#include "xf/hlc.h"

static uint64_t tick(uint64_t hlc)
{
	/* On counter overflow borrow a millisecond: still monotonic. */
	if (xf_hlc_logical(hlc) == 0xffff)
		return xf_hlc_make(xf_hlc_physical(hlc) + 1, 0);
	return hlc + 1;
}

uint64_t xf_hlc_next(uint64_t last, uint64_t wall_ms)
{
	if (wall_ms > xf_hlc_physical(last))
		return xf_hlc_make(wall_ms, 0);
	return tick(last);
}

uint64_t xf_hlc_recv(uint64_t last, uint64_t remote, uint64_t wall_ms)
{
	uint64_t bound = xf_hlc_make(wall_ms + XF_HLC_MAX_FORWARD_MS, 0);
	uint64_t seen = remote > bound ? bound : remote;
	uint64_t now = xf_hlc_make(wall_ms, 0);
	uint64_t max = last > seen ? last : seen;

	if (now > max)
		return now;
	return tick(max);
}

uint64_t xf_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
