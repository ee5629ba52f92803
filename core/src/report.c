/* Figures and deadlines from the stored projections (xf/report.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_impl.h"
#include "xf/error.h"
#include "xf/report.h"
#include "xf/text.h"

#define NO_DAY INT32_MIN

static const char *const count_names[XF_COUNT_N] = {
	"visits", "people", "collective_visits", "escalated_visits", "letters",
	"cases_opened", "cases_closed", "workgroups", "risks_reported", "risks_resolved",
};

const char *xf_count_name(xf_count i)
{
	return i < XF_COUNT_N ? count_names[i] : NULL;
}

int32_t xf_year_earlier(int32_t day)
{
	char date[XF_DATE_LEN + 1], earlier_date[32];
	int32_t earlier;

	xf_date_format(day, date);
	snprintf(earlier_date, sizeof(earlier_date), "%04d%s", atoi(date) - 1,
		 strcmp(date + 4, "-02-29") == 0 ? "-02-28" : date + 4);
	return xf_date_parse(earlier_date, &earlier) == 0 ? earlier : day - 365;
}

bool xf_percent(int64_t part, int64_t whole, int64_t *tenths)
{
	int64_t num = part * 1000, den = whole;

	if (whole == 0)
		return false;
	if (den < 0) {
		num = -num;
		den = -den;
	}
	*tenths = num >= 0 ? (2 * num + den) / (2 * den) : -((-2 * num + den) / (2 * den));
	return true;
}

/* The attribute NAME of E as a day, or NO_DAY. */
static int32_t attr_day(const xf_entity *e, const char *name)
{
	const xf_attr *a = xf_entity_attr(e, name);
	int32_t day;

	if (!a || a->type != XF_VALUE_STR || xf_date_parse(a->str, &day) < 0)
		return NO_DAY;
	return day;
}

static const char *attr_text(const xf_entity *e, const char *name)
{
	const xf_attr *a = xf_entity_attr(e, name);

	return a && a->type == XF_VALUE_STR ? a->str : "";
}

struct walk_ctx {
	char kind;
	const char *village;
	int (*cb)(const xf_entity *e, const xf_record_meta *m, void *ctx);
	void *ctx;
};

/* A case's place: its first source's village and category, and the
 * earliest date among its sources: as the case was opened with it
 * ("received", which a node holding only some of the sources needs), or
 * else from the sources held here. */
static int case_meta(xf_store *s, MDB_txn *txn, const xf_entity *c, xf_record_meta *m, xf_entity **first)
{
	int32_t recorded = attr_day(c, "received");
	bool is_first = true;
	size_t i;
	int r = 0;

	m->received = recorded != NO_DAY ? recorded : m->day;
	for (i = 0; i < c->n_items && r == 0; i++) {
		xf_entity *source = NULL;
		int32_t day;

		if (strcmp(c->items[i].list, "visits") != 0)
			continue;
		if (is_first)
			xf_entity_id_parse(c->items[i].text, m->village, NULL);
		r = projection_get(s, txn, c->items[i].text, &source);
		if (r == XF_ENOTFOUND || r == -EINVAL) { /* not held here, or not an id */
			r = 0;
			is_first = false;
			continue;
		}
		if (r < 0)
			break;
		day = attr_day(source, "date");
		if (recorded == NO_DAY && day != NO_DAY && (m->received == NO_DAY || day < m->received))
			m->received = day;
		if (is_first) {
			*first = source;
			m->category = attr_text(source, "category");
		} else {
			xf_entity_free(source);
		}
		is_first = false;
	}
	return r;
}

static int walk_one(xf_store *s, MDB_txn *txn, MDB_cursor *cur, const MDB_val *k, const MDB_val *ref,
		    struct walk_ctx *w)
{
	xf_entity *e = NULL, *first = NULL;
	xf_record_meta m = { .category = "", .day = NO_DAY, .received = NO_DAY };
	char id[XF_ENTITY_ID_MAX + 1];
	int r;

	if (k->mv_size > XF_ENTITY_ID_MAX)
		return XF_ECORRUPT;
	memcpy(id, k->mv_data, k->mv_size);
	id[k->mv_size] = '\0';
	r = projection_at(s, txn, cur, id, ref, &e);
	if (r < 0)
		return r;
	snprintf(m.village, sizeof(m.village), "%s", e->origin);
	if (e->kind == 'C') {
		m.day = attr_day(e, "opened_on");
		r = case_meta(s, txn, e, &m, &first);
	} else {
		m.day = m.received = attr_day(e, "date");
		m.category = attr_text(e, "category");
	}
	if (r == 0 && (!w->village || strcmp(w->village, m.village) == 0))
		r = w->cb(e, &m, w->ctx);
	xf_entity_free(first);
	xf_entity_free(e);
	return r;
}

static int walk_txn(xf_store *s, MDB_txn *txn, void *vctx)
{
	struct walk_ctx *w = vctx;
	char prefix[2] = { w->kind, '-' };
	MDB_cursor *cur;
	MDB_val k = { sizeof(prefix), prefix }, v;
	int r;

	r = mdb_rc(mdb_cursor_open(txn, s->entities, &cur));
	if (r < 0)
		return r;
	r = mdb_rc(mdb_cursor_get(cur, &k, &v, w->kind ? MDB_SET_RANGE : MDB_FIRST));
	while (r == 0) {
		if (w->kind && (k.mv_size < 2 || memcmp(k.mv_data, prefix, 2) != 0))
			break;
		r = walk_one(s, txn, cur, &k, &v, w);
		if (r != 0)
			break;
		r = mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP));
	}
	mdb_cursor_close(cur);
	return r == MDB_NOTFOUND ? 0 : r;
}

int xf_store_projections(xf_store *s, char kind, const char *village,
			 int (*cb)(const xf_entity *e, const xf_record_meta *m, void *ctx), void *ctx)
{
	struct walk_ctx w = { kind, village, cb, ctx };

	if (!s || !cb)
		return -EINVAL;
	return store_read(s, walk_txn, &w);
}

/* The day C's current handling began: its acceptance or its latest
 * reopening; NO_DAY while it waits to be accepted. */
static int32_t handling_start(const xf_entity *c)
{
	int32_t accepted = attr_day(c, "accepted_on"), reopened = attr_day(c, "reopened_on");

	return reopened > accepted ? reopened : accepted;
}

/* An extension granted in the handling a reopening ended does not count
 * for the new one, which has its own 60 days, to be extended once. The
 * reopening clears the extension (project.c), so that one of the same
 * day is told apart; the days tell apart one made apart on another node
 * and merged in after the reopening. */
bool xf_case_extended(const xf_entity *c)
{
	int32_t start = handling_start(c), extended = attr_day(c, "extended_on");

	return start != NO_DAY && extended != NO_DAY && extended >= start;
}

bool xf_case_deadline(const xf_entity *c, const xf_record_meta *m, xf_deadline *out)
{
	if (c->kind != 'C' || strcmp(c->status, "closed") == 0 || m->received == NO_DAY)
		return false;
	memset(out, 0, sizeof(*out));
	out->start = handling_start(c);
	if (out->start == NO_DAY) {
		out->start = m->received;
		out->due = m->received + XF_ACCEPT_DAYS;
		return true;
	}
	out->accepted = true;
	out->extended = xf_case_extended(c);
	out->due = out->start + XF_CONCLUDE_DAYS + (out->extended ? XF_EXTEND_DAYS : 0);
	return true;
}

/* The report under way: which period a day falls in, and the rows. */
struct tally {
	xf_report *r;
	const xf_entity *e;
	const xf_record_meta *m;
};

static int row_find(xf_report_row **rows, size_t *n, const char *key, xf_report_row **out)
{
	size_t lo = 0, hi = *n;
	xf_report_row *p;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp((*rows)[mid].key, key);

		if (c == 0) {
			*out = &(*rows)[mid];
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	p = realloc(*rows, (*n + 1) * sizeof(**rows));
	if (!p)
		return -ENOMEM;
	*rows = p;
	memmove(&p[lo + 1], &p[lo], (*n - lo) * sizeof(*p));
	memset(&p[lo], 0, sizeof(*p));
	if (!(p[lo].key = strdup(key))) {
		memmove(&p[lo], &p[lo + 1], (*n - lo) * sizeof(*p));
		return -ENOMEM;
	}
	(*n)++;
	*out = &p[lo];
	return 0;
}

/* Add BY to count I of every tally DAY falls into. */
static int count(struct tally *t, xf_count i, int32_t day, int64_t by)
{
	xf_report *r = t->r;
	xf_report_row *village, *category;
	bool now = day >= r->from && day <= r->to;
	bool before = day >= r->before_from && day <= r->before_to;
	int rc;

	if (day == NO_DAY || (!now && !before) || by == 0)
		return 0;
	if ((rc = row_find(&r->villages, &r->n_villages, t->m->village, &village)) < 0 ||
	    (rc = row_find(&r->categories, &r->n_categories, t->m->category, &category)) < 0)
		return rc;
	if (now) {
		r->now.n[i] += by;
		village->now.n[i] += by;
		category->now.n[i] += by;
	}
	if (before) {
		r->before.n[i] += by;
		village->before.n[i] += by;
		category->before.n[i] += by;
	}
	return 0;
}

static int tally_visit(struct tally *t)
{
	const xf_attr *people = xf_entity_attr(t->e, "people");
	const xf_attr *escalated = xf_entity_attr(t->e, "escalated");
	/* The CLI allows 1..10000; a figure far past that, from a node that
	 * does not check, is not one to add up. */
	int64_t n = people && people->type == XF_VALUE_INT && people->i > 0 && people->i <= XF_PEOPLE_MAX ? people->i : 0;
	int32_t day = t->m->day;
	int r;

	if ((r = count(t, XF_COUNT_VISITS, day, 1)) < 0 || (r = count(t, XF_COUNT_PEOPLE, day, n)) < 0 ||
	    (r = count(t, XF_COUNT_COLLECTIVE, day, n >= XF_COLLECTIVE_PEOPLE)) < 0)
		return r;
	return count(t, XF_COUNT_ESCALATED, day, escalated && escalated->type == XF_VALUE_BOOL && escalated->b);
}

static int tally_case(struct tally *t)
{
	size_t i;
	int r;

	if ((r = count(t, XF_COUNT_CASES_OPENED, t->m->day, 1)) < 0)
		return r;
	if (strcmp(t->e->status, "closed") == 0 &&
	    (r = count(t, XF_COUNT_CASES_CLOSED, attr_day(t->e, "closed_on"), 1)) < 0)
		return r;
	for (i = 0; i < t->e->n_items; i++) {
		int32_t day;

		if (strcmp(t->e->items[i].list, "dispatches") != 0 || xf_date_parse(t->e->items[i].date, &day) < 0)
			continue;
		if ((r = count(t, XF_COUNT_WORKGROUPS, day, 1)) < 0)
			return r;
	}
	return 0;
}

static int tally_one(const xf_entity *e, const xf_record_meta *m, void *vctx)
{
	struct tally *t = vctx;
	int r;

	t->e = e;
	t->m = m;
	switch (e->kind) {
	case 'V': return tally_visit(t);
	case 'L': return count(t, XF_COUNT_LETTERS, m->day, 1);
	case 'C': return tally_case(t);
	case 'R':
		if ((r = count(t, XF_COUNT_RISKS_REPORTED, m->day, 1)) < 0 || strcmp(e->status, "resolved") != 0)
			return r;
		return count(t, XF_COUNT_RISKS_RESOLVED, attr_day(e, "resolved_on"), 1);
	default: return 0;
	}
}

void xf_report_free(xf_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_villages; i++)
		free(r->villages[i].key);
	for (i = 0; i < r->n_categories; i++)
		free(r->categories[i].key);
	free(r->villages);
	free(r->categories);
	free(r);
}

static bool starts_month(int32_t day)
{
	char date[XF_DATE_LEN + 1];

	xf_date_format(day, date);
	return strcmp(date + 8, "01") == 0;
}

/* Whole months compare with the same whole months: February 2025 with
 * all 29 days of February 2024. Any other period compares with as many
 * days from the same date: a day with a day, a week ending on 2025-02-28
 * with 2024-02-22 to 2024-02-28. */
static void period_earlier(int32_t from, int32_t to, int32_t *before_from, int32_t *before_to)
{
	*before_from = xf_year_earlier(from);
	if (starts_month(from) && starts_month(to + 1))
		*before_to = xf_year_earlier(to + 1) - 1;
	else
		*before_to = *before_from + (to - from);
}

int xf_report_make(xf_store *s, int32_t from, int32_t to, const char *village, xf_report **out)
{
	struct tally t = { 0 };
	int r;

	if (!s || !out || from > to)
		return -EINVAL;
	t.r = calloc(1, sizeof(*t.r));
	if (!t.r)
		return -ENOMEM;
	t.r->from = from;
	t.r->to = to;
	period_earlier(from, to, &t.r->before_from, &t.r->before_to);
	r = xf_store_projections(s, 0, village, tally_one, &t);
	if (r < 0) {
		xf_report_free(t.r);
		return r;
	}
	*out = t.r;
	return 0;
}
