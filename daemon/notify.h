/* Telling systemd how the daemon is: the notification protocol of
 * sd_notify(3), which systemd documents as a stable interface. It is
 * spoken here rather than through libsystemd, which would bring liblzma,
 * liblz4, libzstd and libgcrypt into the daemon, 0.9 MiB resident on a
 * village PC whose budget is 10, for one datagram; OpenSSH dropped
 * libsystemd for its own sd_notify in 2024 for the same reasons. */
#ifndef XFD_NOTIFY_H
#define XFD_NOTIFY_H

#include <stdint.h>

/* Send STATE ("READY=1", "STATUS=...", newline-separated assignments) to
 * the socket $NOTIFY_SOCKET names: a path, or '@' and a name in the
 * abstract namespace. 1 when sent, 0 when there is no such socket to tell
 * (not started by systemd), or a negative errno. */
int notify_send(const char *state);

/* The watchdog period systemd asks of this process, in microseconds
 * ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or names this process);
 * 0 when none. */
uint64_t notify_watchdog_usec(void);

#endif
