/* log and verify: the log itself. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "ctl.h"

static json_t *body_json(const xf_event *ev)
{
	xf_fields *f = NULL;
	json_t *o;
	size_t i, len;
	const char *key;

	if (xf_fields_parse(ev->body, ev->body_len, &f) < 0)
		return json_null();
	o = json_object();
	for (i = 0; o && i < xf_fields_count(f); i++) {
		key = xf_fields_key(f, i, &len);
		json_object_setn_new(o, key, len, ctl_value_json(xf_fields_value(f, i)));
	}
	xf_fields_free(f);
	return o;
}

static json_t *event_json(const xf_event *ev)
{
	char id[XF_EVENT_ID_MAX + 1];
	json_t *o, *parents = json_array();
	size_t i;

	xf_event_id(ev->origin, ev->seq, id);
	for (i = 0; parents && i < ev->n_parents; i++)
		json_array_append_new(parents, json_stringn(ev->parents[i].ptr, ev->parents[i].len));
	o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:o, s:o}", "id", id, "origin", ev->origin, "seq",
		      (json_int_t)ev->seq, "hlc", (json_int_t)ev->hlc, "type", ev->type, "entity", ev->entity,
		      "author", ev->author, "parents", parents, "body", body_json(ev));
	return o;
}

static int log_json(const xf_event *ev, void *ctx)
{
	return json_array_append_new(ctx, event_json(ev)) < 0 ? -ENOMEM : 0;
}

static int log_line(const xf_event *ev, void *ctx)
{
	char id[XF_EVENT_ID_MAX + 1], when[32];
	time_t t = (time_t)(xf_hlc_physical(ev->hlc) / 1000);
	struct tm tm;

	(void)ctx;
	xf_event_id(ev->origin, ev->seq, id);
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%-20s %s  %-16s %-28s %s\n", id, when, ev->type, ev->entity, ev->author);
	return 0;
}

int cmd_log(ctl *c, int argc, char **argv)
{
	json_t *array;
	int r;

	if ((r = ctl_list_open(c, argc, argv, &array)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	r = xf_store_scan(c->store, NULL, 1, array ? log_json : log_line, array);
	return ctl_list_close(c, r, array);
}

static int receipt_holds(const xf_receipt_status *st, void *vctx);

int cmd_verify(ctl *c, int argc, char **argv)
{
	xf_verify_report report;
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 0)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_open(c)) != 0)
		return r;
	r = xf_store_verify(c->store, &report);
	if (r < 0) {
		if (report.bad_event[0])
			return ctl_fail(c, "event %s: %s", report.bad_event, xf_strerror(r));
		return ctl_fail(c, "%s", xf_strerror(r));
	}
	if ((r = xf_receipts_scan(c->store, receipt_holds, c)) != 0)
		return r < 0 ? ctl_fail(c, "receipts: %s", xf_strerror(r)) : EXIT_FAIL;
	printf("ok: %" PRIu64 " events from %zu origins, signatures and chains intact; receipts agree\n",
	       report.events, report.origins);
	return EXIT_OK;
}

/* A receipt signed by the upstream that names an event this log no longer
 * holds as it was: the log was rolled back or changed after the upstream
 * acknowledged it. */
static int receipt_holds(const xf_receipt_status *st, void *vctx)
{
	ctl *c = vctx;

	if (st->signature != 0 || st->held == 0)
		return 0;
	ctl_fail(c, "event %s:%" PRIu64 ", acknowledged by %s's signed receipt, is %s", xf_store_node(c->store),
		 st->receipt.seq, st->receipt.upstream,
		 st->held == XF_ENOTFOUND ? "missing: the log was rolled back" : "not the event it acknowledged");
	return 1;
}

int cmd_rebuild(ctl *c, int argc, char **argv)
{
	xf_rebuild_report report;
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 0)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_open(c)) != 0)
		return r;
	r = xf_store_rebuild(c->store, &report);
	if (r < 0)
		return ctl_fail(c, "%s", xf_strerror(r));
	if (report.differed)
		printf("rebuilt %zu projections: %zu differed from the log and were replaced\n", report.entities,
		       report.differed);
	else
		printf("rebuilt %zu projections: nothing differed\n", report.entities);
	return EXIT_OK;
}

static const char *receipt_word(int r)
{
	return r == 0 ? "ok" : r == XF_ENOTFOUND ? "missing" : r == XF_EFORK ? "changed" : xf_strerror(r);
}

static int receipt_row(const xf_receipt_status *st, void *vctx)
{
	json_t *array = vctx;
	char hash[2 * XF_HASH_BYTES + 1], when[32];
	time_t t = (time_t)(st->receipt.time_ms / 1000);
	struct tm tm;
	size_t i;

	for (i = 0; i < XF_HASH_BYTES; i++)
		snprintf(hash + 2 * i, 3, "%02x", st->receipt.hash[i]);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	if (array)
		return json_array_append_new(array, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "seq",
							      (json_int_t)st->receipt.seq, "hash", hash, "upstream",
							      st->receipt.upstream, "time", when, "signature",
							      receipt_word(st->signature), "log", receipt_word(st->held)));
	printf("%8" PRIu64 "  %s  %-16s %.16s...  signature %s, log %s\n", st->receipt.seq, when,
	       st->receipt.upstream, hash, receipt_word(st->signature), receipt_word(st->held));
	return 0;
}

int cmd_receipts(ctl *c, int argc, char **argv)
{
	json_t *array;
	int r;

	if ((r = ctl_list_open(c, argc, argv, &array)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	return ctl_list_close(c, xf_receipts_scan(c->store, receipt_row, array), array);
}
