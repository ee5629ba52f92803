/* Fill an initialised node's log with N visits from a data set, as fast as
 * the core appends them: the villages of the sync benchmark.
 *
 *   bench_fill DATA_DIR NODE_ID RECORDS.ndjson N */
#include <stdio.h>
#include <stdlib.h>

#include "records.h"

int main(int argc, char **argv)
{
	char path[1024];
	record *recs;
	xf_store *s;
	xf_key *key;
	size_t n_recs;
	int r;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_fill DATA_DIR NODE_ID RECORDS.ndjson N\n");
		return 2;
	}
	n_recs = records_load(argv[3], &recs);
	snprintf(path, sizeof(path), "%s/%s", argv[1], XF_KEY_FILE);
	if ((r = xf_store_open(&s, argv[1], argv[2])) < 0 || (r = xf_key_load(&key, path)) < 0 ||
	    (r = records_append(s, key, recs, n_recs, strtoul(argv[4], NULL, 10), 1000)) < 0) {
		fprintf(stderr, "bench_fill: %s: %s\n", argv[1], xf_strerror(r));
		return 1;
	}
	xf_key_free(key);
	xf_store_close(s);
	return 0;
}
