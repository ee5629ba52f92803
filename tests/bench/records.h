/* Realistic petition records for the benchmarks. */
#ifndef XF_BENCH_RECORDS_H
#define XF_BENCH_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "xf/xf.h"

typedef struct record {
	uint8_t *body;
	size_t len;
} record;

/* Every line of the ndjson data set at PATH as a visit body; exits on
 * failure (a benchmark has nothing to fall back to). */
size_t records_load(const char *path, record **out);

/* Append N visits to S in transactions of BATCH, cycling through RECS. */
int records_append(xf_store *s, const xf_key *key, const record *recs, size_t n_recs, size_t n, size_t batch);

#endif
