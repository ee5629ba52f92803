#include <errno.h>
#include <string.h>

#include "metrics.h"

static const double bucket_le[METRICS_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

/* Why events were refused, as label values; the last is everything else. */
static const struct {
	int error;
	const char *reason;
} reasons[METRICS_REASONS] = {
	{ XF_EBADSIG, "bad_signature" }, { XF_ECHAIN, "broken_chain" }, { XF_ESEQ, "seq_gap" },
	{ XF_EFORK, "fork" },            { XF_EUNKNOWNNODE, "unknown_node" }, { XF_EPROTO, "malformed" },
	{ XF_ETOOBIG, "too_big" },       { XF_ESCOPE, "out_of_scope" }, { 0, "other" },
};

void metrics_init(metrics *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void metrics_destroy(metrics *m)
{
	pthread_mutex_destroy(&m->lock);
}

void metrics_response(metrics *m, unsigned status)
{
	pthread_mutex_lock(&m->lock);
	m->c.responses[status < METRICS_CODES ? status : 0]++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_sync(metrics *m, double seconds, size_t stored, size_t rejected, int reject_error)
{
	size_t i, reason = METRICS_REASONS - 1;

	for (i = 0; i < METRICS_REASONS - 1; i++)
		if (reasons[i].error == reject_error)
			reason = i;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < METRICS_BUCKETS; i++)
		if (seconds <= bucket_le[i])
			m->c.sync_buckets[i]++;
	m->c.sync_count++;
	m->c.sync_seconds += seconds;
	m->c.ingested += stored;
	m->c.rejected[reason] += rejected;
	pthread_mutex_unlock(&m->lock);
}

/* One family's row for each child: the text format wants a family's
 * samples together, under its HELP and TYPE. */
struct node_rows {
	FILE *out;
	bool last_seen; /* else the lag */
};

static int node_row(const xf_peer_status *p, void *vctx)
{
	const struct node_rows *c = vctx;

	if (c->last_seen)
		fprintf(c->out, "xinfang_node_last_seen_timestamp_seconds{node=\"%s\"} %.3f\n", p->node,
			(double)p->last_seen_ms / 1000);
	else
		fprintf(c->out, "xinfang_node_lag_events{node=\"%s\"} %llu\n", p->node, (unsigned long long)p->lag);
	return 0;
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int metrics_write(metrics *m, xf_store *s, FILE *out)
{
	metrics_counts snap;
	xf_status st;
	size_t i;
	int r;

	if ((r = xf_status_read(s, &st)) < 0)
		return r;
	pthread_mutex_lock(&m->lock);
	snap = m->c;
	pthread_mutex_unlock(&m->lock);

	family(out, "xinfang_events_stored", "gauge", "Events held in this node's log, of every origin.");
	fprintf(out, "xinfang_events_stored %llu\n", (unsigned long long)st.events);
	family(out, "xinfang_events_ingested_total", "counter", "Events received from children and stored.");
	fprintf(out, "xinfang_events_ingested_total %llu\n", (unsigned long long)snap.ingested);
	family(out, "xinfang_events_rejected_total", "counter", "Events from children refused, by reason.");
	for (i = 0; i < METRICS_REASONS; i++)
		fprintf(out, "xinfang_events_rejected_total{reason=\"%s\"} %llu\n", reasons[i].reason,
			(unsigned long long)snap.rejected[i]);
	family(out, "xinfang_evidence", "gauge", "Events kept as evidence: forks and quarantined.");
	fprintf(out, "xinfang_evidence{kind=\"fork\"} %zu\nxinfang_evidence{kind=\"quarantined\"} %zu\n", st.forks,
		st.quarantined);
	family(out, "xinfang_conflicts", "gauge", "Entities in conflict, waiting for a person to resolve them.");
	fprintf(out, "xinfang_conflicts %zu\n", st.conflicts);
	family(out, "xinfang_node_lag_events", "gauge", "Events a child holds that this node does not, as it last said.");
	if ((r = xf_status_peers(s, node_row, &(struct node_rows){ out, false })) < 0)
		return r;
	family(out, "xinfang_node_last_seen_timestamp_seconds", "gauge", "When a child last synced (0: never).");
	if ((r = xf_status_peers(s, node_row, &(struct node_rows){ out, true })) < 0)
		return r;
	family(out, "xinfang_sync_duration_seconds", "histogram", "Time to serve one sync request.");
	for (i = 0; i < METRICS_BUCKETS; i++)
		fprintf(out, "xinfang_sync_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i],
			(unsigned long long)snap.sync_buckets[i]);
	fprintf(out, "xinfang_sync_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)snap.sync_count);
	fprintf(out, "xinfang_sync_duration_seconds_sum %.6f\n", snap.sync_seconds);
	fprintf(out, "xinfang_sync_duration_seconds_count %llu\n", (unsigned long long)snap.sync_count);
	family(out, "xinfang_http_responses_total", "counter", "HTTP responses, by status code.");
	for (i = 0; i < METRICS_CODES; i++)
		if (snap.responses[i])
			fprintf(out, "xinfang_http_responses_total{code=\"%zu\"} %llu\n", i,
				(unsigned long long)snap.responses[i]);
	return ferror(out) ? -EIO : 0;
}
