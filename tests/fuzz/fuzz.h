/* What the fuzz targets share. Each tests/fuzz/fuzz_*.c defines the
 * libFuzzer entry point; `make fuzz` links it with -fsanitize=fuzzer
 * (clang), `make check` with run.c, which feeds it the seed corpus and
 * every crasher kept in tests/fuzz/corpus/NAME/ under ASan and UBSan. */
#ifndef XF_FUZZ_H
#define XF_FUZZ_H

#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xf/xf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_WALL 1717000000000ull

/* A fuzz target must not fail on its input, only on its own set-up. */
static inline void fuzz_check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "fuzz set-up: %s: %s\n", what, xf_strerror(r));
		abort();
	}
}

/* DATA written to a file of this process's own; its path. */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/xf-fuzz-%ld.in", (long)getpid());
	f = fopen(path, "w");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		abort();
	return path;
}

static inline int fuzz_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* The temporary directories of this process, removed at its exit. */
static char fuzz_dirs[4][64];

static inline void fuzz_cleanup(void)
{
	for (size_t i = 0; i < sizeof(fuzz_dirs) / sizeof(fuzz_dirs[0]); i++)
		if (fuzz_dirs[i][0])
			nftw(fuzz_dirs[i], fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	unlink(fuzz_file(NULL, 0));
}

struct fuzz_node {
	char dir[128];
	xf_store *store;
	xf_key *key;
	uint8_t pubkey[XF_PUBKEY_BYTES];
};

/* Node ID, of ROLE, in a temporary directory of its own, opened. */
static inline void fuzz_node_make(struct fuzz_node *n, const char *id, const char *role)
{
	char tmpl[] = "/tmp/xf-fuzz-XXXXXX", path[256];

	size_t i;

	if (!mkdtemp(tmpl))
		abort();
	for (i = 0; i < sizeof(fuzz_dirs) / sizeof(fuzz_dirs[0]) && fuzz_dirs[i][0]; i++)
		;
	if (i == 0)
		atexit(fuzz_cleanup);
	if (i < sizeof(fuzz_dirs) / sizeof(fuzz_dirs[0]))
		snprintf(fuzz_dirs[i], sizeof(fuzz_dirs[i]), "%s", tmpl);
	snprintf(n->dir, sizeof(n->dir), "%s/%s", tmpl, id);
	fuzz_check(xf_store_init(n->dir, id, role, FUZZ_WALL, n->pubkey), "init");
	fuzz_check(xf_store_open(&n->store, n->dir, id), "open");
	snprintf(path, sizeof(path), "%s/%s", n->dir, XF_KEY_FILE);
	fuzz_check(xf_key_load(&n->key, path), "key");
}

/* ON enrols PEER as RELATION ("child", "upstream"). */
static inline void fuzz_enrol(struct fuzz_node *on, const char *id, const uint8_t *pubkey, const char *relation)
{
	char hex[XF_PUBKEY_HEX];
	const uint8_t *bytes;
	xf_body *b = NULL;
	xf_draft d;
	size_t len;

	xf_pubkey_to_hex(pubkey, hex);
	fuzz_check(xf_body_new(&b), "body");
	fuzz_check(xf_body_put_str(b, "node", id, XF_NODE_ID_MAX), "body");
	fuzz_check(xf_body_put_str(b, "pubkey", hex, 64), "body");
	fuzz_check(xf_body_put_str(b, "relation", relation, 15), "body");
	fuzz_check(xf_body_bytes(b, &bytes, &len), "body");
	d = (xf_draft){ .type = "node.enrolled", .new_kind = 'N', .author = "fuzz", .body = bytes, .body_len = len };
	fuzz_check(xf_store_append(on->store, on->key, &d, 1, FUZZ_WALL, NULL), "enrol");
	xf_body_free(b);
}

/* The township "town" and its village "cun-a", each enrolling the other:
 * the two ends every store-backed target needs, made once per process. */
static inline void fuzz_pair(struct fuzz_node *town, struct fuzz_node *village)
{
	fuzz_node_make(town, "town", "township");
	fuzz_node_make(village, "cun-a", "village");
	fuzz_enrol(town, "cun-a", village->pubkey, "child");
	fuzz_enrol(village, "town", town->pubkey, "upstream");
}

#endif
