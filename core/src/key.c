#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "xf/error.h"
#include "xf/key.h"

struct xf_key {
	uint8_t secret[crypto_sign_SECRETKEYBYTES]; /* seed ++ public key */
};

int xf_crypto_init(void)
{
	return sodium_init() < 0 ? -ENOSYS : 0;
}

int xf_key_generate(const char *path)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	int r;

	r = xf_crypto_init();
	if (r < 0)
		return r;
	crypto_sign_keypair(pk, sk);
	r = xf_write_file_atomic(path, sk, sizeof(sk), 0600, false);
	if (r == -EEXIST)
		r = XF_EEXIST;
	sodium_memzero(sk, sizeof(sk));
	return r;
}

int xf_key_load(xf_key **out, const char *path)
{
	uint8_t derived[crypto_sign_PUBLICKEYBYTES];
	uint8_t scratch[crypto_sign_SECRETKEYBYTES];
	xf_key *key = NULL;
	struct stat st;
	ssize_t n;
	int fd = -1, r;

	r = xf_crypto_init();
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto cleanup;
	}
	if ((st.st_mode & 077) || st.st_uid != geteuid()) {
		r = XF_EUNSAFE;
		goto cleanup;
	}
	if (st.st_size != crypto_sign_SECRETKEYBYTES) {
		r = XF_ECORRUPT;
		goto cleanup;
	}
	key = sodium_malloc(sizeof(*key));
	if (!key) {
		r = -ENOMEM;
		goto cleanup;
	}
	n = read(fd, key->secret, sizeof(key->secret));
	if (n != (ssize_t)sizeof(key->secret)) {
		r = n < 0 ? -errno : XF_ECORRUPT;
		goto cleanup;
	}
	/* The public half must be the one the seed derives. */
	crypto_sign_seed_keypair(derived, scratch, key->secret);
	sodium_memzero(scratch, sizeof(scratch));
	if (memcmp(derived, key->secret + crypto_sign_SEEDBYTES, sizeof(derived)) != 0) {
		r = XF_ECORRUPT;
		goto cleanup;
	}
	*out = key;
	key = NULL;
	r = 0;
cleanup:
	if (key)
		sodium_free(key);
	if (fd >= 0)
		close(fd);
	return r;
}

void xf_key_free(xf_key *key)
{
	if (key)
		sodium_free(key);
}

const uint8_t *xf_key_public(const xf_key *key)
{
	return key->secret + crypto_sign_SEEDBYTES;
}

void xf_key_sign(const xf_key *key, const uint8_t *msg, size_t len, uint8_t *sig)
{
	crypto_sign_detached(sig, NULL, msg, len, key->secret);
}

int xf_sig_verify(const uint8_t *pubkey, const uint8_t *msg, size_t len, const uint8_t *sig)
{
	return crypto_sign_verify_detached(sig, msg, len, pubkey) == 0 ? 0 : XF_EBADSIG;
}

void xf_pubkey_to_hex(const uint8_t *pubkey, char hex[XF_PUBKEY_HEX])
{
	sodium_bin2hex(hex, XF_PUBKEY_HEX, pubkey, XF_PUBKEY_BYTES);
}

int xf_pubkey_from_hex(const char *hex, uint8_t pubkey[XF_PUBKEY_BYTES])
{
	size_t n = 0;
	const char *end;

	if (strlen(hex) != 2 * XF_PUBKEY_BYTES)
		return -EINVAL;
	if (sodium_hex2bin(pubkey, XF_PUBKEY_BYTES, hex, strlen(hex), NULL, &n, &end) != 0 ||
	    n != XF_PUBKEY_BYTES || *end)
		return -EINVAL;
	return 0;
}

int xf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool replace)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd = -1, dfd = -1, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		goto cleanup;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto cleanup;
	}
	fd = -1;
	/* link() refuses to replace, so two processes racing to create the
	 * same file cannot both win. */
	if ((replace ? rename(tmp, path) : link(tmp, path)) < 0) {
		r = -errno;
		goto cleanup;
	}
	if (!replace)
		unlink(tmp);
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		r = -errno;
		goto cleanup;
	}
	r = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	if (dfd >= 0)
		close(dfd);
	return r;
}
