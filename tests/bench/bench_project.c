/* What projections cost (issue 4): a village log of N events made of the
 * data set's acts (visits, risks, cases that gain notes and close), then
 *   - the township's ingest rate of those events with projections kept,
 *     and without (the store's bench-only switch), in batches of 4096;
 *   - the time to rebuild every projection from the log.
 *
 *   bench_project RECORDS.ndjson [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/src/store_impl.h"
#include "records.h"

#define INGEST_BATCH 4096

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "bench_project: %s: %s\n", what, xf_strerror(r));
		exit(1);
	}
}

struct node {
	char dir[1024];
	xf_store *store;
	xf_key *key;
	uint8_t pubkey[XF_PUBKEY_BYTES];
};

static void node_make(struct node *n, const char *parent, const char *id, const char *role)
{
	char path[1100];

	snprintf(n->dir, sizeof(n->dir), "%s/%s", parent, id);
	check(xf_store_init(n->dir, id, role, xf_wall_ms(), n->pubkey), "init");
	check(xf_store_open(&n->store, n->dir, id), "open");
	snprintf(path, sizeof(path), "%s/%s", n->dir, XF_KEY_FILE);
	check(xf_key_load(&n->key, path), "key");
}

/* ON admits the village ID, whose key is PUBKEY, as its child. */
static void enrol_child(struct node *on, const char *id, const uint8_t *pubkey)
{
	char hex[XF_PUBKEY_HEX];
	const uint8_t *bytes;
	xf_body *b;
	size_t len;
	xf_draft d;

	xf_pubkey_to_hex(pubkey, hex);
	check(xf_body_new(&b), "body");
	check(xf_body_put_str(b, "node", id, XF_NODE_ID_MAX), "body");
	check(xf_body_put_str(b, "pubkey", hex, 64), "body");
	check(xf_body_put_str(b, "relation", "child", 15), "body");
	check(xf_body_bytes(b, &bytes, &len), "body");
	d = (xf_draft){ .type = "node.enrolled", .new_kind = 'N', .author = "bench", .body = bytes, .body_len = len };
	check(xf_store_append(on->store, on->key, &d, 1, xf_wall_ms(), NULL), "enrol");
	xf_body_free(b);
}

struct feed {
	xf_store *into;
	xf_blob blobs[INGEST_BATCH];
	uint8_t *copies[INGEST_BATCH];
	size_t n, events;
	double seconds;
};

static void feed_flush(struct feed *f)
{
	xf_ingest_stats stats;
	double t0 = now_s();
	size_t i;

	check(xf_store_ingest(f->into, f->blobs, f->n, xf_wall_ms(), NULL, &stats), "ingest");
	f->seconds += now_s() - t0;
	if (stats.stored != f->n) {
		fprintf(stderr, "bench_project: ingest stored %zu of %zu\n", stats.stored, f->n);
		exit(1);
	}
	f->events += f->n;
	for (i = 0; i < f->n; i++)
		free(f->copies[i]);
	f->n = 0;
}

static int feed_event(const uint8_t *bytes, size_t len, uint64_t seq, void *ctx)
{
	struct feed *f = ctx;

	(void)seq;
	f->copies[f->n] = malloc(len);
	memcpy(f->copies[f->n], bytes, len);
	f->blobs[f->n] = (xf_blob){ f->copies[f->n], len };
	if (++f->n == INGEST_BATCH)
		feed_flush(f);
	return 0;
}

/* Ingest every event of the village into INTO, timed; events/s. */
static double ingest_all(struct node *village, struct node *into, size_t *events)
{
	struct feed *f = calloc(1, sizeof(*f));
	double rate;

	f->into = into->store;
	check(xf_store_scan_bytes(village->store, "village", 1, feed_event, f), "scan");
	if (f->n)
		feed_flush(f);
	*events = f->events;
	rate = (double)f->events / f->seconds;
	free(f);
	return rate;
}

static int count_case(const char *id, void *ctx)
{
	(void)id;
	++*(size_t *)ctx;
	return 0;
}

static int report_half_year(xf_store *s, xf_counts *out)
{
	int32_t from, to;
	xf_report *r = NULL;
	int rc;

	xf_date_parse("2026-01-01", &from);
	xf_date_parse("2026-06-30", &to);
	if ((rc = xf_report_make(s, from, to, NULL, &r)) < 0)
		return rc;
	*out = r->now;
	xf_report_free(r);
	return 0;
}

static int count_open_case(const xf_entity *e, const xf_record_meta *m, void *ctx)
{
	xf_deadline d;

	*(size_t *)ctx += xf_case_deadline(e, m, &d);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/var/tmp/xf-bench-project-XXXXXX", cmd[128];
	struct node village, with, without;
	size_t n_recs, n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000, events, cases = 0, open_cases = 0;
	xf_counts half_year;
	xf_rebuild_report report;
	double t0, fill_s, rate_with, rate_without, rebuild_s;
	record *recs;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_project RECORDS.ndjson [EVENTS]\n");
		return 2;
	}
	n_recs = records_load(argv[1], &recs);
	if (!mkdtemp(dir)) {
		perror("bench_project: mkdtemp");
		return 1;
	}
	node_make(&village, dir, "village", "village");
	node_make(&with, dir, "town-with", "township");
	node_make(&without, dir, "town-without", "township");
	enrol_child(&with, "village", village.pubkey);
	enrol_child(&without, "village", village.pubkey);
	without.store->projections_off = true;

	t0 = now_s();
	check(records_append_acts(village.store, village.key, recs, n_recs, n, 1000), "fill");
	fill_s = now_s() - t0;
	check(xf_store_entities(village.store, 'C', count_case, &cases), "cases");
	printf("village log: %zu events of the data set's acts (%zu cases) appended in %.1f s, %.0f events/s\n", n,
	       cases, fill_s, (double)n / fill_s);

	rate_without = ingest_all(&village, &without, &events);
	rate_with = ingest_all(&village, &with, &events);
	printf("township ingest, batches of %d, without projections: %8.0f events/s\n", INGEST_BATCH, rate_without);
	printf("township ingest, batches of %d, with projections:    %8.0f events/s\n", INGEST_BATCH, rate_with);
	printf("projection cost per ingested event:                %8.2f us\n",
	       1e6 / rate_with - 1e6 / rate_without);

	t0 = now_s();
	check(xf_store_rebuild(with.store, &report), "rebuild");
	rebuild_s = now_s() - t0;
	printf("rebuild of all projections from %zu events: %.2f s (%zu entities, %zu differed)\n", events + 3,
	       rebuild_s, report.entities, report.differed);

	t0 = now_s();
	check(report_half_year(with.store, &half_year), "report");
	printf("report of 2026-01-01..2026-06-30 (and a year earlier) over %zu events: %.2f s (%lld visits, %lld cases "
	       "opened)\n", events + 3, now_s() - t0, (long long)half_year.n[XF_COUNT_VISITS],
	       (long long)half_year.n[XF_COUNT_CASES_OPENED]);
	t0 = now_s();
	check(xf_store_projections(with.store, 'C', NULL, count_open_case, &open_cases), "deadlines");
	printf("deadlines of every case (report --overdue): %.2f s (%zu open of %zu)\n", now_s() - t0, open_cases,
	       cases);

	xf_store_close(village.store);
	xf_store_close(with.store);
	xf_store_close(without.store);
	xf_key_free(village.key);
	xf_key_free(with.key);
	xf_key_free(without.key);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
