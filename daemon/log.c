#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

int log_hold_std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDONLY)) >= 0 && fd <= STDERR_FILENO)
		;
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void log_line(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];
	size_t i;

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One message, one line, whatever a peer put in it. */
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = ' ';
	fprintf(stderr, "%s%s%s%s\n", prefix, line, suffix ? ": " : "", suffix ? suffix : "");
}

void log_at(const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(prefix, NULL, fmt, ap);
	va_end(ap);
}

int log_errno(const char *prefix, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(prefix, xf_strerror(r), fmt, ap);
	va_end(ap);
	return r;
}
