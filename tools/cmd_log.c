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
	json_t *array = NULL;
	int r;

	if ((r = ctl_plain_args(c, argc, argv, 0)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	if ((r = ctl_open(c)) != 0)
		return r;
	if (c->json && !(array = json_array()))
		return ctl_fail(c, "out of memory");
	r = xf_store_scan(c->store, NULL, 1, array ? log_json : log_line, array);
	if (r < 0) {
		json_decref(array);
		return ctl_fail(c, "%s", xf_strerror(r));
	}
	return array ? ctl_print_json(c, array) : EXIT_OK;
}

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
	printf("ok: %" PRIu64 " events from %zu origins, signatures and chains intact\n", report.events,
	       report.origins);
	return EXIT_OK;
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
