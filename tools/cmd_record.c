/* The verbs that record a visit, a letter or a risk report. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"



/* A whole number of people, 1..LIMIT_PEOPLE. */
static int parse_people(const char *s, int64_t *out, char *why, size_t size)
{
	char *end;
	long v;

	if (!s)
		return ctl_refuse(why, size, "people is required");
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || strspn(s, "0123456789") != strlen(s) || v < 1 || v > LIMIT_PEOPLE)
		return ctl_refuse(why, size, "people must be a whole number from 1 to %d", LIMIT_PEOPLE);
	*out = v;
	return 0;
}

/* Digits, spaces, '+' and '-', and a digit among them. */
static int check_phone(const char *s, char *why, size_t size)
{
	if (strlen(s) > LIMIT_PHONE || !strpbrk(s, "0123456789") || strspn(s, "0123456789+- ") != strlen(s))
		return ctl_refuse(why, size, "phone must be up to %d digits, spaces, '+' or '-'", LIMIT_PHONE);
	return 0;
}

/* Only spaces: what an import would read as an empty cell. */
/* A spreadsheet's 姓名 cell separates names (import splits it there), so
 * no one name may hold a separator. */
static bool holds_separator(const char *name)
{
	for (; *name; name++)
		if (ctl_name_separator_at(name))
			return true;
	return false;
}

static int put_text(xf_body *body, const char *key, const char *val, size_t max, char *why, size_t size)
{
	int r;

	if (!val)
		return ctl_refuse(why, size, "%s is required", key);
	if (ctl_blank(val))
		return ctl_refuse(why, size, "%s must not be empty", key);
	r = xf_body_put_str(body, key, val, max);
	if (r == XF_ETOOBIG)
		return ctl_refuse(why, size, "%s is longer than %zu bytes", key, max);
	if (r == XF_EUTF8)
		return ctl_refuse(why, size, "%s %s", key, ctl_text_fault(val));
	return r;
}

int ctl_petition_body(const ctl *c, const ctl_petition *p, bool visit, xf_body *body, char *why, size_t size)
{
	char date[XF_DATE_LEN + 1];
	int64_t people = 0;
	size_t i;
	int r;

	if ((visit && (r = parse_people(p->people, &people, why, size)) != 0) ||
	    (r = ctl_check_date(c, p->date, date, why, size)) != 0 ||
	    (visit && p->phone && (r = check_phone(p->phone, why, size)) != 0))
		return r;
	for (i = 0; i < p->n_names; i++) {
		if (ctl_blank(p->names[i]) || xf_text_check(p->names[i], LIMIT_NAME) < 0)
			return ctl_refuse(why, size, "name must be non-empty UTF-8 text of at most %d bytes", LIMIT_NAME);
		if (holds_separator(p->names[i]))
			return ctl_refuse(why, size, "a name must not hold 、 ， , ； or ; (they separate names): "
					  "give --name once for each person");
	}
	if ((r = put_text(body, "date", date, XF_DATE_LEN, why, size)) != 0 ||
	    (r = put_text(body, "category", p->category, LIMIT_SHORT, why, size)) != 0 ||
	    (r = put_text(body, "summary", p->summary, LIMIT_TEXT, why, size)) != 0 ||
	    (r = xf_body_put_strv(body, "names", p->names, p->n_names, LIMIT_NAME)) < 0)
		return r;
	if (!visit)
		return 0;
	if ((r = xf_body_put_int(body, "people", people)) < 0 || (r = xf_body_put_bool(body, "escalated", p->escalated)) < 0)
		return r;
	return p->phone ? xf_body_put_str(body, "phone", p->phone, LIMIT_PHONE) : 0;
}

static int record_petition(ctl *c, int argc, char **argv, bool visit)
{
	/* A letter takes the options after the visit's own first three, so
	 * that getopt itself names any of those three given to letter add. */
	static const struct option options[] = {
		{ "people", required_argument, NULL, 'p' },
		{ "phone", required_argument, NULL, 't' },
		{ "escalated", no_argument, NULL, 'e' },
		{ "date", required_argument, NULL, 'd' },
		{ "category", required_argument, NULL, 'k' },
		{ "summary", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ 0 },
	};
	ctl_petition p = { 0 };
	xf_body *body = NULL;
	char why[256];
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", visit ? options : options + 3)) != -1) {
		switch (opt) {
		case 'p': p.people = optarg; break;
		case 't': p.phone = optarg; break;
		case 'e': p.escalated = true; break;
		case 'd': p.date = optarg; break;
		case 'k': p.category = optarg; break;
		case 's': p.summary = optarg; break;
		case 'n':
			if (p.n_names == LIMIT_NAMES)
				return ctl_usage(c, "at most %d --name", LIMIT_NAMES);
			p.names[p.n_names++] = optarg;
			break;
		case 'h': return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return ctl_usage(c, "unexpected argument '%s'", argv[optind]);
	if ((r = ctl_load_config(c)) != 0)
		return r;
	if (xf_body_new(&body) < 0)
		return ctl_fail(c, "out of memory");
	r = ctl_petition_body(c, &p, visit, body, why, sizeof(why));
	if (r == CTL_REFUSED)
		r = ctl_usage(c, "--%s", why);
	else if (r < 0)
		r = ctl_fail(c, "%s", xf_strerror(r));
	else
		r = ctl_create(c, visit ? "visit.recorded" : "letter.recorded", visit ? 'V' : 'L', body);
	xf_body_free(body);
	return r;
}

int cmd_visit_add(ctl *c, int argc, char **argv)
{
	return record_petition(c, argc, argv, true);
}

int cmd_letter_add(ctl *c, int argc, char **argv)
{
	return record_petition(c, argc, argv, false);
}

int cmd_risk_report(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "date", required_argument, NULL, 'd' },
		{ "level", required_argument, NULL, 'l' },
		{ "summary", required_argument, NULL, 's' },
		{ 0 },
	};
	const char *date_arg = NULL, *level = NULL, *summary = NULL;
	char date[XF_DATE_LEN + 1];
	xf_body *body = NULL;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		switch (opt) {
		case 'd': date_arg = optarg; break;
		case 'l': level = optarg; break;
		case 's': summary = optarg; break;
		case 'h': return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return ctl_usage(c, "unexpected argument '%s'", argv[optind]);
	if (!level || (strcmp(level, "general") && strcmp(level, "major") && strcmp(level, "severe")))
		return ctl_usage(c, "--level must be general, major or severe");
	if ((r = ctl_load_config(c)) != 0 || (r = ctl_date(c, date_arg, date)) != 0)
		return r;
	if (xf_body_new(&body) < 0)
		return ctl_fail(c, "out of memory");
	if ((r = ctl_put_text(c, body, "date", "date", date, XF_DATE_LEN)) == 0 &&
	    (r = ctl_put_text(c, body, "level", "level", level, 16)) == 0 &&
	    (r = ctl_put_text(c, body, "summary", "summary", summary, LIMIT_TEXT)) == 0)
		r = ctl_create(c, "risk.reported", 'R', body);
	xf_body_free(body);
	return r;
}
