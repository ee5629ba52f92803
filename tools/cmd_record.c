/* The verbs that record a visit, a letter or a risk report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* --people: a whole number of people, 1..LIMIT_PEOPLE. */
static int parse_people(ctl *c, const char *s, int64_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || strspn(s, "0123456789") != strlen(s) || v < 1 || v > LIMIT_PEOPLE)
		return ctl_usage(c, "--people must be a whole number from 1 to %d", LIMIT_PEOPLE);
	*out = v;
	return 0;
}

/* --phone: digits, spaces, '+' and '-'. */
static int check_phone(ctl *c, const char *s)
{
	if (strlen(s) > LIMIT_PHONE || !*s || strspn(s, "0123456789+- ") != strlen(s))
		return ctl_usage(c, "--phone must be up to %d digits, spaces, '+' or '-'", LIMIT_PHONE);
	return 0;
}

struct petition {
	const char *date, *category, *summary, *phone, *people;
	const char *names[LIMIT_NAMES];
	size_t n_names;
	bool escalated;
};

static int petition_body(ctl *c, const struct petition *p, bool visit, xf_body *body)
{
	char date[XF_DATE_LEN + 1];
	int64_t people = 0;
	size_t i;
	int r;

	if (visit && !p->people)
		return ctl_usage(c, "--people is required");
	if ((r = ctl_date(c, p->date, date)) != 0 || (visit && (r = parse_people(c, p->people, &people)) != 0) ||
	    (p->phone && (r = check_phone(c, p->phone)) != 0))
		return r;
	for (i = 0; i < p->n_names; i++) {
		r = xf_text_check(p->names[i], LIMIT_NAME);
		if (r < 0 || !*p->names[i])
			return ctl_usage(c, "--name must be non-empty UTF-8 text of at most %d bytes", LIMIT_NAME);
	}
	if ((r = ctl_put_text(c, body, "date", "date", date, XF_DATE_LEN)) != 0 ||
	    (r = ctl_put_text(c, body, "category", "category", p->category, LIMIT_SHORT)) != 0 ||
	    (r = ctl_put_text(c, body, "summary", "summary", p->summary, LIMIT_TEXT)) != 0)
		return r;
	if (xf_body_put_strv(body, "names", p->names, p->n_names, LIMIT_NAME) < 0)
		return ctl_fail(c, "out of memory");
	if (!visit)
		return 0;
	if (xf_body_put_int(body, "people", people) < 0 || xf_body_put_bool(body, "escalated", p->escalated) < 0 ||
	    (p->phone && xf_body_put_str(body, "phone", p->phone, LIMIT_PHONE) < 0))
		return ctl_fail(c, "out of memory");
	return 0;
}

static int record_petition(ctl *c, int argc, char **argv, bool visit)
{
	static const struct option options[] = {
		{ "date", required_argument, NULL, 'd' },
		{ "people", required_argument, NULL, 'p' },
		{ "category", required_argument, NULL, 'k' },
		{ "summary", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "phone", required_argument, NULL, 't' },
		{ "escalated", no_argument, NULL, 'e' },
		{ 0 },
	};
	struct petition p = { 0 };
	xf_body *body = NULL;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		switch (opt) {
		case 'd': p.date = optarg; break;
		case 'k': p.category = optarg; break;
		case 's': p.summary = optarg; break;
		case 'n':
			if (p.n_names == LIMIT_NAMES)
				return ctl_usage(c, "at most %d --name", LIMIT_NAMES);
			p.names[p.n_names++] = optarg;
			break;
		case 'p': case 't': case 'e':
			if (!visit)
				return ctl_usage(c, "unknown option '%s' (see --help)", argv[optind - 1]);
			if (opt == 'p')
				p.people = optarg;
			else if (opt == 't')
				p.phone = optarg;
			else
				p.escalated = true;
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
	r = petition_body(c, &p, visit, body);
	if (r == 0)
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
