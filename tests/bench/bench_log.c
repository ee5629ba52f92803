/* Append throughput of the core log, beside raw LMDB puts of the same size
 * on the same disk: the limit we measure ourselves against.
 *
 *   bench_log RECORDS.ndjson [EVENTS [raw]]
 *
 * With "raw", only the raw LMDB figures: the yardstick printed beside
 * other benchmarks' rates.
 *
 * Bodies are built from the realistic petition records in shared/data. */
#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "records.h"
#include "xf/xf.h"

#define BATCH 1000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_log: %s: %s\n", what, r ? xf_strerror(r) : "failed");
	exit(1);
}

static void make_dir(char *tmpl)
{
	if (!mkdtemp(tmpl))
		die("mkdtemp", -errno);
}

/* Core API: N events appended in transactions of PER_TXN. */
static double bench_append(const record *recs, size_t n_recs, size_t n, size_t per_txn, double *event_bytes)
{
	char dir[] = "/var/tmp/xf-bench-XXXXXX", path[512];
	uint8_t pk[XF_PUBKEY_BYTES];
	xf_store *s;
	xf_key *key;
	uint64_t seq;
	uint8_t hash[XF_HASH_BYTES];
	double t0, t;
	size_t i, sum = 0;
	int r;

	make_dir(dir);
	snprintf(path, sizeof(path), "%s/data", dir);
	if ((r = xf_store_init(path, "bench-village", "village", xf_wall_ms(), pk)) < 0 ||
	    (r = xf_store_open(&s, path, "bench-village")) < 0)
		die("store", r);
	snprintf(path, sizeof(path), "%s/data/node.key", dir);
	if ((r = xf_key_load(&key, path)) < 0)
		die("key", r);
	for (i = 0; i < n_recs; i++)
		sum += recs[i].len;
	t0 = now_s();
	r = records_append(s, key, recs, n_recs, n, per_txn);
	if (r < 0)
		die("append", r);
	t = now_s() - t0;
	if ((r = xf_store_head(s, "bench-village", &seq, hash)) < 0 || seq != n + 1)
		die("head after append", r);
	/* The envelope adds origin, seq, hlc, prev, type, entity, author and a signature. */
	*event_bytes = (double)sum / (double)n_recs;
	xf_key_free(key);
	xf_store_close(s);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		die("cleanup", 0);
	return (double)n / t;
}

/* Raw LMDB: N puts of SIZE bytes under 16-byte keys, PER_TXN per commit. */
static double bench_raw(size_t n, size_t per_txn, size_t size)
{
	char dir[] = "/var/tmp/xf-raw-XXXXXX", cmd[512];
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;
	uint8_t *value = malloc(size), keybuf[16];
	double t0, t;
	size_t i, j;

	make_dir(dir);
	memset(value, 0xab, size);
	if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 8ull << 30) || mdb_env_open(env, dir, 0, 0600))
		die("raw env", 0);
	t0 = now_s();
	for (i = 0; i < n; i += per_txn) {
		if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi))
			die("raw txn", 0);
		for (j = 0; j < per_txn; j++) {
			uint64_t k = i + j;
			MDB_val mk = { sizeof(keybuf), keybuf }, mv = { size, value };

			memset(keybuf, 0, sizeof(keybuf));
			for (int b = 0; b < 8; b++)
				keybuf[15 - b] = (uint8_t)(k >> (8 * b));
			if (mdb_put(txn, dbi, &mk, &mv, MDB_APPEND))
				die("raw put", 0);
		}
		if (mdb_txn_commit(txn))
			die("raw commit", 0);
	}
	t = now_s() - t0;
	mdb_env_close(env);
	free(value);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		die("cleanup", 0);
	return (double)n / t;
}

int main(int argc, char **argv)
{
	record *recs;
	size_t n_recs, n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
	size_t n_durable = n / 50 < 2000 ? n / 50 : 2000;
	double body_bytes = 0, batched, durable, raw_batched, raw_durable;
	size_t event_size;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_log RECORDS.ndjson [EVENTS]\n");
		return 2;
	}
	n = n / BATCH * BATCH;
	n_recs = records_load(argv[1], &recs);
	if (n_recs == 0 || n == 0)
		die("no records", 0);
	if (argc > 3 && strcmp(argv[3], "raw") == 0) {
		for (size_t i = 0; i < n_recs; i++)
			body_bytes += (double)recs[i].len / (double)n_recs;
		printf("raw LMDB put, batches of %d:     %10.0f puts/s   (%zu puts of %zu bytes)\n", BATCH,
		       bench_raw(n, BATCH, (size_t)body_bytes + 190), n, (size_t)body_bytes + 190);
		return 0;
	}
	batched = bench_append(recs, n_recs, n, BATCH, &body_bytes);
	durable = bench_append(recs, n_recs, n_durable, 1, &body_bytes);
	/* A stored event is its body plus about 190 bytes of envelope and
	 * signature; raw LMDB gets values of that size. */
	event_size = (size_t)body_bytes + 190;
	raw_batched = bench_raw(n, BATCH, event_size);
	raw_durable = bench_raw(n_durable, 1, event_size);
	printf("records: %zu from %s, mean body %.0f bytes, raw values %zu bytes\n", n_recs, argv[1], body_bytes,
	       event_size);
	printf("core append, batches of %d:      %10.0f events/s (%zu events)\n", BATCH, batched, n);
	printf("raw LMDB put, batches of %d:     %10.0f puts/s   (%zu puts)\n", BATCH, raw_batched, n);
	printf("core append, 1 durable per txn:   %10.0f events/s (%zu events)\n", durable, n_durable);
	printf("raw LMDB put, 1 durable per txn:  %10.0f puts/s   (%zu puts)\n", raw_durable, n_durable);
	return 0;
}
