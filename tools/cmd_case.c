/* case open, and the acts on an existing case or risk. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define FROM_MAX 16

/* No act is dated before the record it is on, or a case before what it
 * comes from: the statutory days, and every report, count from those
 * dates. */
static int check_not_before(ctl *c, const xf_entity *e, const char *date)
{
	const xf_attr *began = xf_entity_attr(e, e->kind == 'C' ? "opened_on" : "date");

	if (began && began->type == XF_VALUE_STR && strcmp(date, began->str) < 0)
		return ctl_fail(c, "--date %s is before %s, dated %s", date, e->id, began->str);
	return 0;
}

int cmd_case_open(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "date", required_argument, NULL, 'd' },
		{ "title", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ 0 },
	};
	const char *date_arg = NULL, *title = NULL, *from[FROM_MAX];
	char date[XF_DATE_LEN + 1], received[XF_DATE_LEN + 1] = "";
	const xf_attr *dated;
	xf_entity *source = NULL;
	xf_body *body = NULL;
	size_t n_from = 0, i;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		switch (opt) {
		case 'd': date_arg = optarg; break;
		case 't': title = optarg; break;
		case 'f':
			if (n_from == FROM_MAX)
				return ctl_usage(c, "at most %d --from", FROM_MAX);
			for (i = 0; i < n_from; i++)
				if (strcmp(from[i], optarg) == 0)
					return ctl_usage(c, "--from %s is given twice", optarg);
			from[n_from++] = optarg;
			break;
		case 'h': return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return ctl_usage(c, "unexpected argument '%s'", argv[optind]);
	if (n_from == 0)
		return ctl_usage(c, "--from ID is required: the visit or letter the case comes from");
	if ((r = ctl_load_config(c)) != 0 || (r = ctl_date(c, date_arg, date)) != 0 || (r = ctl_open(c)) != 0)
		return r;
	for (i = 0; i < n_from; i++) {
		if ((from[i][0] != 'V' && from[i][0] != 'L') || from[i][1] != '-')
			return ctl_fail(c, "--from '%s' is not a visit or letter id", from[i]);
		source = NULL;
		r = xf_entity_load(c->store, from[i], &source);
		if (r == XF_ENOTFOUND || r == -EINVAL)
			return ctl_fail(c, "no such visit or letter '%s'", from[i]);
		if (r < 0)
			return ctl_fail(c, "%s: %s", from[i], xf_strerror(r));
		r = check_not_before(c, source, date);
		dated = xf_entity_attr(source, "date");
		if (dated && dated->type == XF_VALUE_STR && strlen(dated->str) == XF_DATE_LEN &&
		    (!received[0] || strcmp(dated->str, received) < 0))
			memcpy(received, dated->str, sizeof(received));
		xf_entity_free(source);
		if (r != 0)
			return r;
	}
	if (xf_body_new(&body) < 0)
		return ctl_fail(c, "out of memory");
	/* The deadlines run from the earliest source: kept with the case, for
	 * a village that holds only some of its sources counts them alike. */
	if ((r = ctl_put_text(c, body, "date", "date", date, XF_DATE_LEN)) == 0 &&
	    (r = ctl_put_text(c, body, "title", "title", title, LIMIT_TEXT)) == 0 &&
	    (!received[0] || (r = ctl_put_text(c, body, "received", "received", received, XF_DATE_LEN)) == 0)) {
		if (xf_body_put_strv(body, "from", from, n_from, XF_ENTITY_ID_MAX) < 0)
			r = ctl_fail(c, "out of memory");
		else
			r = ctl_create(c, "case.opened", 'C', body);
	}
	xf_body_free(body);
	return r;
}

/* An act on an existing entity: its event type, and the one text option
 * it requires and the body field that option fills. */
static const struct act {
	const char *verb;
	const char *type;
	const char *option;
	const char *field;
	size_t max;
} acts[] = {
	{ "case assign", "case.assigned", "leader", "leader", LIMIT_SHORT },
	{ "case dispatch", "case.dispatched", "members", "text", LIMIT_SHORT },
	{ "case note", "case.noted", "text", "text", LIMIT_TEXT },
	{ "case reply", "case.replied", "text", "reply", LIMIT_TEXT },
	{ "case close", "case.closed", "outcome", "outcome", LIMIT_TEXT },
	{ "case reopen", "case.reopened", "reason", "reason", LIMIT_TEXT },
	{ "case extend", "case.extended", "reason", "extension", LIMIT_TEXT },
	{ "risk resolve", "risk.resolved", "outcome", "outcome", LIMIT_TEXT },
};

/* The regulations allow one extension of the 60 days per handling,
 * granted before they run out. */
static int check_extension(ctl *c, const xf_entity *e, const char *date)
{
	/* An accepted case's deadline runs from its acceptance or its
	 * reopening, whenever it was received. */
	xf_record_meta m = { .received = 0 };
	char due[XF_DATE_LEN + 1];
	xf_deadline d;
	int32_t day;

	if (xf_case_extended(e))
		return ctl_fail(c, "%s was already extended on %s: the 30 days can be added once", e->id,
				xf_entity_attr(e, "extended_on")->str);
	if (xf_date_parse(date, &day) < 0 || !xf_case_deadline(e, &m, &d))
		return 0;
	/* Only the 60 days of handling are extended; they start when the case
	 * is accepted (assigned). */
	if (!d.accepted)
		return ctl_fail(c, "%s is not accepted yet (case assign): only an accepted case's handling can be extended",
				e->id);
	if (day <= d.due)
		return 0;
	xf_date_format(d.due, due);
	return ctl_fail(c, "--date %s is after %s's deadline of %s: an extension is granted before it", date, e->id,
			due);
}

/* A step that moves a case on (assign, reply, close, reopen, extend) comes
 * after the steps that brought it where it stands: a closing dated before
 * the reopening it ends, or an extension before the acceptance it
 * extends, would put the reports' periods and deadlines out of order. */
static int check_in_order(ctl *c, const struct act *act, const xf_entity *e, const char *date)
{
	static const struct {
		const char *attr, *done;
	} steps[] = {
		{ "assigned_on", "assigned" }, { "replied_on", "replied" }, { "closed_on", "closed" },
		{ "reopened_on", "reopened" }, { "extended_on", "extended" },
	};
	const xf_attr *a, *latest = NULL;
	size_t i, at = 0;

	if (strcmp(act->type, "case.assigned") && strcmp(act->type, "case.replied") &&
	    strcmp(act->type, "case.closed") && strcmp(act->type, "case.reopened") &&
	    strcmp(act->type, "case.extended"))
		return 0;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		a = xf_entity_attr(e, steps[i].attr);
		if (a && a->type == XF_VALUE_STR && (!latest || strcmp(a->str, latest->str) > 0)) {
			latest = a;
			at = i;
		}
	}
	if (latest && strcmp(date, latest->str) < 0)
		return ctl_fail(c, "--date %s is before %s was %s, on %s", date, e->id, steps[at].done, latest->str);
	return 0;
}

/* What the log must hold for ACT on ID dated DATE: the record began by
 * then, the steps come in order, and an extension is an accepted case's
 * handling's first and within its deadline. */
static int check_act(ctl *c, const struct act *act, const char *id, const char *date)
{
	xf_entity *e = NULL;
	int r;

	if ((r = ctl_open(c)) != 0 || (r = ctl_load_entity(c, id, &e)) != 0)
		return r;
	r = check_not_before(c, e, date);
	if (r == 0)
		r = check_in_order(c, act, e, date);
	if (r == 0 && strcmp(act->type, "case.extended") == 0)
		r = check_extension(c, e, date);
	xf_entity_free(e);
	return r;
}

int cmd_case_act(ctl *c, int argc, char **argv)
{
	const struct act *act = NULL;
	const char *date_arg = NULL, *text = NULL, *due = NULL, *id;
	char date[XF_DATE_LEN + 1];
	int32_t due_days, act_days;
	xf_body *body = NULL;
	size_t i;
	int opt, r;

	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strcmp(acts[i].verb, c->verb) == 0)
			act = &acts[i];
	if (!act)
		return ctl_fail(c, "no such act");
	struct option options[] = {
		{ "date", required_argument, NULL, 'd' },
		{ act->option, required_argument, NULL, 'v' },
		{ 0 },
		{ 0 },
	};
	if (strcmp(act->type, "case.replied") == 0)
		options[2] = (struct option){ "due", required_argument, NULL, 'u' };
	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		switch (opt) {
		case 'd': date_arg = optarg; break;
		case 'v': text = optarg; break;
		case 'u': due = optarg; break;
		case 'h': return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if ((r = ctl_entity_arg(c, argc, argv, act->verb[0] == 'c' ? 'C' : 'R', &id)) != 0)
		return r;
	if ((r = ctl_load_config(c)) != 0 || (r = ctl_date(c, date_arg, date)) != 0)
		return r;
	if (xf_body_new(&body) < 0)
		return ctl_fail(c, "out of memory");
	if ((r = ctl_put_text(c, body, "date", "date", date, XF_DATE_LEN)) != 0 ||
	    (r = ctl_put_text(c, body, act->field, act->option, text, act->max)) != 0)
		goto cleanup;
	if (strcmp(act->type, "case.replied") == 0) {
		xf_date_parse(date, &act_days);
		if (!due) {
			r = ctl_usage(c, "--due YYYY-MM-DD is required: the deadline given to the petitioner");
			goto cleanup;
		}
		if (xf_date_parse(due, &due_days) < 0 || due_days < act_days) {
			r = ctl_usage(c, "--due '%s' must be a real date YYYY-MM-DD, not before the reply", due);
			goto cleanup;
		}
		if ((r = ctl_put_text(c, body, "due", "due", due, XF_DATE_LEN)) != 0)
			goto cleanup;
	}
	if ((r = check_act(c, act, id, date)) != 0)
		goto cleanup;
	r = ctl_record(c, act->type, id, 0, body, NULL);
cleanup:
	xf_body_free(body);
	return r;
}

/* Settle the conflicts EVENT is a rival in by keeping its values: one
 * event whose parents are all the entity's heads, so every node that
 * holds it sees the conflict gone. */
int cmd_resolve(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "keep", required_argument, NULL, 'k' },
		{ 0 },
	};
	const char *keep = NULL, *id;
	xf_entity *e = NULL;
	xf_body *body = NULL;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		switch (opt) {
		case 'k': keep = optarg; break;
		case 'h': return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	/* `case resolve` takes a case; `conflicts resolve` any entity. */
	if ((r = ctl_entity_arg(c, argc, argv, c->verb[0] == 'c' && c->verb[1] == 'a' ? 'C' : 0, &id)) != 0)
		return r;
	if (!keep)
		return ctl_usage(c, "--keep EVENT_ID is required: the event whose values stand");
	if ((r = ctl_load_config(c)) != 0 || (r = ctl_open(c)) != 0)
		return r;
	if ((r = ctl_load_entity(c, id, &e)) != 0)
		return r;
	if (e->n_conflicts == 0)
		r = ctl_fail(c, "%s has no conflicts", id);
	else if ((r = xf_entity_resolution(e, keep, &body)) == XF_ENOTFOUND)
		r = ctl_fail(c, "%s is not one of the competing events of %s (see xinfangctl conflicts)", keep, id);
	else if (r < 0)
		r = ctl_fail(c, "%s: %s", id, xf_strerror(r));
	else
		r = ctl_record(c, "conflict.resolved", id, 0, body, NULL);
	xf_body_free(body);
	xf_entity_free(e);
	return r;
}
