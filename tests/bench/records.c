/* The realistic petition records of shared/data as event bodies. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

/* One visit body per line of the data set, as `visit add` would build it. */
size_t records_load(const char *path, record **out)
{
	FILE *f = fopen(path, "r");
	char line[16384];
	record *recs = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL), *names;
		const char *name_v[32];
		const uint8_t *bytes;
		xf_body *b;
		size_t i, len;

		if (!o)
			continue;
		names = json_object_get(o, "names");
		for (i = 0; i < json_array_size(names) && i < 32; i++)
			name_v[i] = json_string_value(json_array_get(names, i));
		if (xf_body_new(&b) < 0 ||
		    xf_body_put_str(b, "date", json_string_value(json_object_get(o, "date")), 10) < 0 ||
		    xf_body_put_str(b, "category", json_string_value(json_object_get(o, "category")), 200) < 0 ||
		    xf_body_put_str(b, "summary", json_string_value(json_object_get(o, "summary")), 4000) < 0 ||
		    xf_body_put_strv(b, "names", name_v, i, 64) < 0 ||
		    xf_body_put_int(b, "people", json_integer_value(json_object_get(o, "petitioners"))) < 0 ||
		    xf_body_put_bool(b, "escalated", json_is_true(json_object_get(o, "escalated"))) < 0 ||
		    xf_body_bytes(b, &bytes, &len) < 0) {
			fprintf(stderr, "bench: %s: a record does not make a body\n", path);
			exit(1);
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			recs = realloc(recs, cap * sizeof(*recs));
		}
		recs[n].body = malloc(len);
		memcpy(recs[n].body, bytes, len);
		recs[n++].len = len;
		xf_body_free(b);
		json_decref(o);
	}
	fclose(f);
	*out = recs;
	return n;
}

/* Append N visits to S, in transactions of BATCH; the drafts cycle
 * through RECS. */
int records_append(xf_store *s, const xf_key *key, const record *recs, size_t n_recs, size_t n, size_t batch)
{
	xf_draft *drafts = calloc(batch, sizeof(*drafts));
	size_t i, j, k;
	int r = 0;

	if (!drafts)
		return -ENOMEM;
	for (i = 0; i < n && r == 0; i += k) {
		k = n - i < batch ? n - i : batch;
		for (j = 0; j < k; j++) {
			const record *rec = &recs[(i + j) % n_recs];

			drafts[j] = (xf_draft){ .type = "visit.recorded", .new_kind = 'V', .author = "bench",
						.body = rec->body, .body_len = rec->len };
		}
		r = xf_store_append(s, key, drafts, k, xf_wall_ms(), NULL);
	}
	free(drafts);
	return r;
}
