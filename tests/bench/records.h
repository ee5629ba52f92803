/* Realistic petition records for the benchmarks. */
#ifndef XF_BENCH_RECORDS_H
#define XF_BENCH_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "xf/xf.h"

typedef struct record {
	char type[32];           /* the data set's: visit.recorded, case.opened, case.updated, ... */
	uint8_t *body;           /* as `visit add` would build it */
	size_t len;
	uint8_t *note, *close;   /* {date, text} and {date, outcome}: the summary as a case act */
	size_t note_len, close_len;
} record;

/* Every line of the ndjson data set at PATH; exits on failure (a
 * benchmark has nothing to fall back to). */
size_t records_load(const char *path, record **out);

/* Append N visits to S in transactions of BATCH, cycling through RECS. */
int records_append(xf_store *s, const xf_key *key, const record *recs, size_t n_recs, size_t n, size_t batch);

/* Append N events to S in transactions of BATCH, each record as the act
 * its type names: visits and risks are new entities, "case.opened" a new
 * case, "case.updated" a note and "case.closed" the close of one of the
 * cases still open, so that cases grow to several events as they do in
 * an office. */
int records_append_acts(xf_store *s, const xf_key *key, const record *recs, size_t n_recs, size_t n,
			size_t batch);

#endif
