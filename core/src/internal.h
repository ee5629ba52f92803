/* Helpers shared by core modules; not part of the public API. */
#ifndef XF_INTERNAL_H
#define XF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* sodium_init(), idempotent. */
int xf_crypto_init(void);

/* Write a file so that it survives a crash whole or not at all: temporary
 * file, fsync, rename, fsync of the directory. Unless REPLACE, an existing
 * file is left alone and -EEXIST returned. */
int xf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool replace);

#define XF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
