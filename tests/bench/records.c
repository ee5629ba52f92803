/* The realistic petition records of shared/data as event bodies. */
#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

/* BODY with the two fields "date" and KEY, encoded into *out. */
static void act_body(const char *date, const char *key, const char *text, uint8_t **out, size_t *len)
{
	const uint8_t *bytes;
	xf_body *b;

	if (xf_body_new(&b) < 0 || xf_body_put_str(b, "date", date, 10) < 0 || xf_body_put_str(b, key, text, 4000) < 0 ||
	    xf_body_bytes(b, &bytes, len) < 0 || !(*out = malloc(*len))) {
		fprintf(stderr, "bench: a record does not make a body\n");
		exit(1);
	}
	memcpy(*out, bytes, *len);
	xf_body_free(b);
}

/* One record per line of the data set. */
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
		snprintf(recs[n].type, sizeof(recs[n].type), "%s", json_string_value(json_object_get(o, "type")));
		recs[n].body = malloc(len);
		memcpy(recs[n].body, bytes, len);
		recs[n].len = len;
		act_body(json_string_value(json_object_get(o, "date")), "text",
			 json_string_value(json_object_get(o, "summary")), &recs[n].note, &recs[n].note_len);
		act_body(json_string_value(json_object_get(o, "date")), "outcome",
			 json_string_value(json_object_get(o, "summary")), &recs[n].close, &recs[n].close_len);
		n++;
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

#define OPEN_CASES 256

int records_append_acts(xf_store *s, const xf_key *key, const record *recs, size_t n_recs, size_t n,
			size_t batch)
{
	static char open[OPEN_CASES][XF_ENTITY_ID_MAX + 1];
	xf_draft *drafts = calloc(batch, sizeof(*drafts));
	char (*about)[XF_ENTITY_ID_MAX + 1] = calloc(batch, sizeof(*about)); /* each draft's own copy */
	uint8_t hash[XF_HASH_BYTES];
	uint64_t head, rng = 1;
	size_t n_open = 0, i, j, k;
	int r = 0;

	if (!drafts || !about) {
		free(drafts);
		free(about);
		return -ENOMEM;
	}
	for (i = 0; i < n && r == 0; i += k) {
		k = n - i < batch ? n - i : batch;
		if ((r = xf_store_head(s, xf_store_node(s), &head, hash)) < 0)
			break;
		for (j = 0; j < k; j++) {
			const record *rec = &recs[(i + j) % n_recs];
			xf_draft *d = &drafts[j];
			bool update = strcmp(rec->type, "case.updated") == 0, close = strcmp(rec->type, "case.closed") == 0;
			size_t pick;

			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			pick = n_open ? (size_t)(rng >> 33) % n_open : 0;
			*d = (xf_draft){ .author = "bench", .body = rec->body, .body_len = rec->len };
			if ((update || close) && n_open) {
				strcpy(about[j], open[pick]);
				d->entity = about[j];
				d->type = update ? "case.noted" : "case.closed";
				d->body = update ? rec->note : rec->close;
				d->body_len = update ? rec->note_len : rec->close_len;
				if (close) /* its slot goes to the last case open */
					memcpy(open[pick], open[--n_open], sizeof(open[pick]));
			} else if (strcmp(rec->type, "risk.reported") == 0) {
				d->type = "risk.reported";
				d->new_kind = 'R';
			} else if (strncmp(rec->type, "case.", 5) == 0) {
				d->type = "case.opened";
				d->new_kind = 'C';
				/* Its id is known before it is appended: K-node-seq. */
				if (n_open < OPEN_CASES)
					snprintf(open[n_open++], XF_ENTITY_ID_MAX + 1, "C-%s-%llu", xf_store_node(s),
						 (unsigned long long)(head + 1 + j));
			} else {
				d->type = "visit.recorded";
				d->new_kind = 'V';
			}
		}
		r = xf_store_append(s, key, drafts, k, xf_wall_ms(), NULL);
	}
	free(drafts);
	free(about);
	return r;
}
