/* Logging for xinfangd: one line per message on stderr with the sd-daemon
 * priority prefix; journald adds the time. */
#ifndef XFD_LOG_H
#define XFD_LOG_H

#include "xf/xf.h"

/* The priorities journald reads at the start of a line (sd-daemon(3)). */
#define SD_ERR "<3>"
#define SD_WARNING "<4>"
#define SD_NOTICE "<5>"
#define SD_INFO "<6>"
#define SD_DEBUG "<7>"

/* A descriptor 0, 1 or 2 that whoever started us left closed would be
 * handed to the next file opened, LMDB's lock or data file, and what is
 * logged or printed would be written into the log. Hold each such with
 * /dev/null, read only, so that writing to it fails rather than lands
 * there. Call first thing in main(); 0 or a negative errno. */
int log_hold_std_fds(void);

void log_at(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log with the description of error R appended; returns R. */
int log_errno(const char *prefix, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_at(SD_ERR, __VA_ARGS__)
#define log_warning(...) log_at(SD_WARNING, __VA_ARGS__)
#define log_notice(...) log_at(SD_NOTICE, __VA_ARGS__)
#define log_info(...) log_at(SD_INFO, __VA_ARGS__)
#define log_debug(...) log_at(SD_DEBUG, __VA_ARGS__)

/* For "return log_error_errno(r, ...)". */
#define log_error_errno(r, ...) log_errno(SD_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_errno(SD_WARNING, (r), __VA_ARGS__)

#endif
