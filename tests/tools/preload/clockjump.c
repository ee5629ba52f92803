/* clockjump.so: an LD_PRELOAD shim for the daemon tests. Once the file
 * named by $XF_CLOCK_JUMP exists, CLOCK_REALTIME reads one hour earlier,
 * as after an NTP correction of a village PC whose clock ran fast; every
 * other clock is left alone. Built without sanitizers: it runs inside a
 * sanitized daemon (ASAN_OPTIONS=verify_asan_link_order=0). */
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	const char *jump;
	int r;

	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	r = real(id, ts);
	jump = getenv("XF_CLOCK_JUMP");
	if (r == 0 && id == CLOCK_REALTIME && jump && access(jump, F_OK) == 0)
		ts->tv_sec -= 3600;
	return r;
}
