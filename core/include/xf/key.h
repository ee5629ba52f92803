/* Node identity: an Ed25519 key pair (libsodium).
 *
 * The secret key lives in DATA_DIR/node.key, mode 0600, and is refused when
 * group or others may read it. The public key is given to other nodes as 64
 * lowercase hex characters. */
#ifndef XF_KEY_H
#define XF_KEY_H

#include <stddef.h>
#include <stdint.h>

#define XF_PUBKEY_BYTES 32
#define XF_PUBKEY_HEX   (2 * XF_PUBKEY_BYTES + 1)
#define XF_SIG_BYTES    64

typedef struct xf_key xf_key;

/* Create a new key pair and write it to PATH (created 0600, never
 * overwritten: XF_EEXIST if the file exists). */
int xf_key_generate(const char *path);

/* Load the key pair at PATH into *out; the caller frees it with
 * xf_key_free(). XF_EUNSAFE when the file is readable by group or others,
 * XF_ECORRUPT when it is not a key file, -ENOENT when missing. */
int xf_key_load(xf_key **out, const char *path);

/* Wipes and frees; accepts NULL. */
void xf_key_free(xf_key *key);

/* The 32-byte public key, borrowed for the life of KEY. */
const uint8_t *xf_key_public(const xf_key *key);

/* Sign MSG into SIG (XF_SIG_BYTES). */
void xf_key_sign(const xf_key *key, const uint8_t *msg, size_t len, uint8_t *sig);

/* 0 when SIG is PUBKEY's signature over MSG, XF_EBADSIG otherwise. */
int xf_sig_verify(const uint8_t *pubkey, const uint8_t *msg, size_t len, const uint8_t *sig);

/* Hex forms of a public key. xf_pubkey_from_hex() takes exactly 64 hex
 * characters and returns -EINVAL otherwise. */
void xf_pubkey_to_hex(const uint8_t *pubkey, char hex[XF_PUBKEY_HEX]);
int xf_pubkey_from_hex(const char *hex, uint8_t pubkey[XF_PUBKEY_BYTES]);

#endif
