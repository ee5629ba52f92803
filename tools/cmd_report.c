/* report: the figures for a period, the cases near or past their
 * statutory deadline, and the weekly dispatch sheet. The figures come from
 * core (xf_report_make, xf_case_deadline); this file only lays them out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Cases due within this many days are listed with the overdue ones. */
#define DUE_SOON_DAYS 7

struct labels {
	const char *count[XF_COUNT_N];
	const char *closure_rate, *title, *same_period, *item, *now, *before, *change;
	const char *by_village, *by_category, *none, *total;
	const char *accept, *conclude, *overdue, *left, *no_leader, *nothing_due;
	const char *week_title, *week_new, *week_open, *week_due;
};

static const struct labels zh = {
	{ "来访批次", "来访人次", "集体访批次", "越级访批次", "来信件数", "立案数", "办结数", "派驻工作组",
	  "排查隐患", "化解隐患" },
	"办结率", "信访工作统计", "同期", "项目", "本期", "同期", "同比",
	"按村", "按类别", "未分类", "合计",
	"受理", "办结", "超期", "剩余", "未交办", "没有超期或七日内到期的案件",
	"信访工作调度表", "一、本周新增（按村）", "二、在办案件（按包案领导）", "三、超期及七日内到期案件",
};

static const struct labels en = {
	{ "Visits (batches)", "People (person-times)", "Collective visits", "Escalated visits", "Letters",
	  "Cases opened", "Cases closed", "Work groups dispatched", "Risks reported", "Risks resolved" },
	"Closure rate", "Petition statistics", "same period", "Item", "Period", "Year before", "Change",
	"By village", "By category", "(none)", "Total",
	"accept", "conclude", "overdue", "left", "(no leader)", "no case overdue or due within 7 days",
	"Weekly dispatch sheet", "1. New this week, by village", "2. Open cases, by leader",
	"3. Cases overdue or due within 7 days",
};

struct report_opts {
	const char *from, *to, *village, *week, *as_of, *lang;
	bool csv, overdue, weekly;
	const struct labels *l;
	int32_t today;
};

/* ---- figures as text, JSON and CSV ---- */

/* A percentage in tenths as "66.7", or "-" when there is none. */
static const char *percent_text(bool have, int64_t tenths, char buf[32])
{
	if (!have)
		return "-";
	snprintf(buf, 32, "%s%lld.%lld", tenths < 0 ? "-" : "", llabs(tenths) / 10, llabs(tenths) % 10);
	return buf;
}

static json_t *percent_json(bool have, int64_t tenths)
{
	return have ? json_real((double)tenths / 10.0) : json_null();
}

/* The value of column I (XF_COUNT_N: the closure rate) of C. */
static bool column(const xf_counts *c, size_t i, int64_t *out)
{
	if (i < XF_COUNT_N) {
		*out = c->n[i];
		return true;
	}
	return xf_percent(c->n[XF_COUNT_CASES_CLOSED], c->n[XF_COUNT_CASES_OPENED], out);
}

/* The change on a year earlier of column I, in tenths of a percent. The
 * closure rate's from the counts, not from rates already rounded:
 * (cn/on - cb/ob) / (cb/ob) = (cn*ob - cb*on) / (cb*on). */
static bool change(const xf_counts *now, const xf_counts *before, size_t i, int64_t *out)
{
	int64_t cn = now->n[XF_COUNT_CASES_CLOSED], on = now->n[XF_COUNT_CASES_OPENED];
	int64_t cb = before->n[XF_COUNT_CASES_CLOSED], ob = before->n[XF_COUNT_CASES_OPENED];

	if (i < XF_COUNT_N)
		return xf_percent(now->n[i] - before->n[i], before->n[i], out);
	if (on == 0 || ob == 0)
		return false;
	return xf_percent(cn * ob - cb * on, cb * on, out);
}

#define COLUMNS (XF_COUNT_N + 1)

static const char *column_key(size_t i)
{
	return i < XF_COUNT_N ? xf_count_name((xf_count)i) : "closure_rate";
}

static const char *column_label(const struct labels *l, size_t i)
{
	return i < XF_COUNT_N ? l->count[i] : l->closure_rate;
}

static json_t *counts_json(const xf_counts *c, const xf_counts *versus, bool yoy)
{
	json_t *o = json_object();
	int64_t v;
	size_t i;

	for (i = 0; o && i < COLUMNS; i++) {
		bool have = yoy ? change(c, versus, i, &v) : column(c, i, &v);

		json_object_set_new(o, column_key(i),
				    !yoy && i < XF_COUNT_N ? json_integer((json_int_t)v) : percent_json(have, v));
	}
	return o;
}

/* {"totals": ..., "previous": ..., "yoy": ...} into O. */
static void period_json(json_t *o, const xf_counts *now, const xf_counts *before)
{
	json_object_set_new(o, "totals", counts_json(now, NULL, false));
	json_object_set_new(o, "previous", counts_json(before, NULL, false));
	json_object_set_new(o, "yoy", counts_json(now, before, true));
}

static json_t *rows_json(const xf_report_row *rows, size_t n, const char *name)
{
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; a && i < n; i++) {
		if (!(o = json_pack("{s:s}", name, rows[i].key)))
			break;
		period_json(o, &rows[i].now, &rows[i].before);
		json_array_append_new(a, o);
	}
	return a;
}

/* The period's dates and the year-earlier ones, as YYYY-MM-DD. */
static void report_dates(const xf_report *rep, char d[4][XF_DATE_LEN + 1])
{
	xf_date_format(rep->from, d[0]);
	xf_date_format(rep->to, d[1]);
	xf_date_format(rep->before_from, d[2]);
	xf_date_format(rep->before_to, d[3]);
}

static void dates_json(json_t *o, const xf_report *rep)
{
	char d[4][XF_DATE_LEN + 1];

	report_dates(rep, d);
	json_object_set_new(o, "from", json_string(d[0]));
	json_object_set_new(o, "to", json_string(d[1]));
	json_object_set_new(o, "previous_from", json_string(d[2]));
	json_object_set_new(o, "previous_to", json_string(d[3]));
}

static int print_report_json(ctl *c, const struct report_opts *o, const xf_report *rep)
{
	json_t *out = json_object();

	if (!out)
		return ctl_fail(c, "out of memory");
	dates_json(out, rep);
	json_object_set_new(out, "village", o->village ? json_string(o->village) : json_null());
	period_json(out, &rep->now, &rep->before);
	json_object_set_new(out, "by_village", rows_json(rep->villages, rep->n_villages, "village"));
	json_object_set_new(out, "by_category", rows_json(rep->categories, rep->n_categories, "category"));
	return ctl_print_json(c, out);
}

static void csv_cell(const char *text, bool last)
{
	ctl_csv_cell(stdout, text, last);
}

/* Item I of a row as text: its figure now and a year earlier, and the
 * change; a percentage followed by PERCENT ("%" in text, "" in CSV), "-"
 * where there is none. */
struct item_text {
	char now[40], before[40], change[40];
};

static void item_text(const xf_counts *now, const xf_counts *before, size_t i, const char *percent,
		      struct item_text *t)
{
	char buf[32];
	int64_t v = 0;
	bool have;

	if (i < XF_COUNT_N) {
		snprintf(t->now, sizeof(t->now), "%lld", (long long)now->n[i]);
		snprintf(t->before, sizeof(t->before), "%lld", (long long)before->n[i]);
	} else {
		have = column(now, i, &v);
		snprintf(t->now, sizeof(t->now), "%s%s", percent_text(have, v, buf), have ? percent : "");
		have = column(before, i, &v);
		snprintf(t->before, sizeof(t->before), "%s%s", percent_text(have, v, buf), have ? percent : "");
	}
	have = change(now, before, i, &v);
	snprintf(t->change, sizeof(t->change), "%s%s", percent_text(have, v, buf), have ? percent : "");
}

/* FN for the totals, then each village's row, then each category's. */
typedef void scope_fn(const struct labels *l, const char *scope, const char *name, const xf_counts *now,
		      const xf_counts *before);

static void each_scope(const struct labels *l, const xf_report *rep, scope_fn *fn)
{
	size_t i;

	fn(l, l->total, "", &rep->now, &rep->before);
	for (i = 0; i < rep->n_villages; i++)
		fn(l, l->by_village, rep->villages[i].key, &rep->villages[i].now, &rep->villages[i].before);
	for (i = 0; i < rep->n_categories; i++)
		fn(l, l->by_category, *rep->categories[i].key ? rep->categories[i].key : l->none,
		   &rep->categories[i].now, &rep->categories[i].before);
}

/* One CSV row per scope and item: scope, name, item, now, before, change. */
static void csv_rows(const struct labels *l, const char *scope, const char *name, const xf_counts *now,
		     const xf_counts *before)
{
	struct item_text t;
	size_t i;

	for (i = 0; i < COLUMNS; i++) {
		item_text(now, before, i, "", &t);
		csv_cell(scope, false);
		ctl_csv_text(stdout, name, false); /* a category as a person typed it */
		csv_cell(column_label(l, i), false);
		csv_cell(t.now, false);
		csv_cell(t.before, false);
		csv_cell(t.change, true);
	}
}

static int print_report_csv(const struct report_opts *o, const xf_report *rep)
{
	const struct labels *l = o->l;

	fputs(CTL_CSV_BOM, stdout);
	csv_cell(l == &zh ? "范围" : "Scope", false);
	csv_cell(l == &zh ? "名称" : "Name", false);
	csv_cell(l->item, false);
	csv_cell(l->now, false);
	csv_cell(l->before, false);
	csv_cell(l->change, true);
	each_scope(l, rep, csv_rows);
	return EXIT_OK;
}

/* The scope's name, then "  来访批次: 3 (同期 2, 同比 50.0%)" for every
 * item, one line each. */
static void text_counts(const struct labels *l, const char *scope, const char *name, const xf_counts *now,
			const xf_counts *before)
{
	struct item_text t;
	size_t i;

	printf("%s%s%s\n", scope, *name ? " " : "", name);
	for (i = 0; i < COLUMNS; i++) {
		item_text(now, before, i, "%", &t);
		printf("  %s: %s (%s %s, %s %s)\n", column_label(l, i), t.now, l->before, t.before, l->change, t.change);
	}
}

static int print_report_text(const struct report_opts *o, const xf_report *rep)
{
	const struct labels *l = o->l;
	char d[4][XF_DATE_LEN + 1];

	report_dates(rep, d);
	printf("%s %s .. %s (%s %s .. %s)%s%s\n", l->title, d[0], d[1], l->same_period, d[2], d[3],
	       o->village ? " " : "", o->village ? o->village : "");
	each_scope(l, rep, text_counts);
	return EXIT_OK;
}

/* ---- cases by deadline ---- */

struct due_case {
	char id[XF_ENTITY_ID_MAX + 1];
	char village[XF_NODE_ID_MAX + 1];
	char *leader, *title;
	char status[XF_STATUS_MAX + 1];
	xf_deadline d;
	int32_t days_left;
};

struct open_cases {
	int32_t today;
	struct due_case *cases;
	size_t n, cap;
};

static char *attr_dup(const xf_entity *e, const char *name)
{
	const xf_attr *a = xf_entity_attr(e, name);

	return strdup(a && a->type == XF_VALUE_STR ? a->str : "");
}

static int note_open_case(const xf_entity *e, const xf_record_meta *m, void *vctx)
{
	struct open_cases *oc = vctx;
	struct due_case *dc;
	xf_deadline d;

	if (!xf_case_deadline(e, m, &d))
		return 0;
	if (xf_grow(&oc->cases, &oc->cap, oc->n, sizeof(*oc->cases)) < 0)
		return -ENOMEM;
	dc = &oc->cases[oc->n];
	memset(dc, 0, sizeof(*dc));
	snprintf(dc->id, sizeof(dc->id), "%s", e->id);
	snprintf(dc->village, sizeof(dc->village), "%s", m->village);
	snprintf(dc->status, sizeof(dc->status), "%s", e->status);
	dc->d = d;
	dc->days_left = d.due - oc->today;
	oc->n++;
	dc->leader = attr_dup(e, "leader");
	dc->title = attr_dup(e, "title");
	return dc->leader && dc->title ? 0 : -ENOMEM;
}

static void open_cases_free(struct open_cases *oc)
{
	size_t i;

	for (i = 0; i < oc->n; i++) {
		free(oc->cases[i].leader);
		free(oc->cases[i].title);
	}
	free(oc->cases);
}

static int by_days_left(const void *pa, const void *pb)
{
	const struct due_case *a = pa, *b = pb;

	if (a->days_left != b->days_left)
		return a->days_left < b->days_left ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* Every case not closed, soonest deadline first. */
static int load_open_cases(ctl *c, const struct report_opts *o, struct open_cases *oc)
{
	int r;

	oc->today = o->today;
	r = xf_store_projections(c->store, 'C', o->village, note_open_case, oc);
	if (r < 0)
		return ctl_fail(c, "%s", xf_strerror(r));
	if (oc->n)
		qsort(oc->cases, oc->n, sizeof(*oc->cases), by_days_left);
	return 0;
}

static json_t *due_json(const struct due_case *dc)
{
	char due[XF_DATE_LEN + 1], start[XF_DATE_LEN + 1];

	xf_date_format(dc->d.due, due);
	xf_date_format(dc->d.start, start);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id", dc->id, "village", dc->village,
			 "leader", dc->leader, "title", dc->title, "status", dc->status, "stage",
			 dc->d.accepted ? "conclude" : "accept", "from", start, "due", due, "days_left",
			 (json_int_t)dc->days_left, "extended", dc->d.extended);
}

static void print_due(const struct labels *l, const struct due_case *dc)
{
	char due[XF_DATE_LEN + 1];

	xf_date_format(dc->d.due, due);
	printf("%s  %s  %s  %s %s  %s %d  ", dc->id, dc->village, *dc->leader ? dc->leader : l->no_leader,
	       dc->d.accepted ? l->conclude : l->accept, due, dc->days_left < 0 ? l->overdue : l->left,
	       abs(dc->days_left));
	ctl_put_oneline(dc->title);
	putchar('\n');
}

static bool due_soon(const struct due_case *dc)
{
	return dc->days_left <= DUE_SOON_DAYS;
}

/* The due cases, as a JSON array or one line each. */
static json_t *list_due(const struct labels *l, const struct open_cases *oc, bool json)
{
	json_t *a = json ? json_array() : NULL;
	size_t i, shown = 0;

	for (i = 0; i < oc->n && due_soon(&oc->cases[i]); i++, shown++) {
		if (a)
			json_array_append_new(a, due_json(&oc->cases[i]));
		else
			print_due(l, &oc->cases[i]);
	}
	if (!json && shown == 0)
		printf("%s\n", l->nothing_due);
	return a;
}

static int report_overdue(ctl *c, const struct report_opts *o)
{
	struct open_cases oc = { 0 };
	int r = load_open_cases(c, o, &oc);

	if (r == 0) {
		json_t *a = list_due(o->l, &oc, c->json);

		r = c->json ? ctl_print_json(c, a) : EXIT_OK;
	}
	open_cases_free(&oc);
	return r;
}

/* ---- the weekly sheet ---- */

/* Monday = 0. 1970-01-01 was a Thursday. */
static int weekday(int32_t day)
{
	return (int)(((day + 3) % 7 + 7) % 7);
}

/* The Monday of ISO week 1 of YEAR: the week with 4 January in it. */
static int32_t week1_monday(int year)
{
	char date[24];
	int32_t jan4;

	snprintf(date, sizeof(date), "%04d-01-04", year);
	if (xf_date_parse(date, &jan4) < 0)
		return INT32_MIN;
	return jan4 - weekday(jan4);
}

/* The Monday of ISO week "YYYY-Www"; false if there is no such week. */
static bool week_parse(const char *s, int32_t *monday)
{
	int year, week, n = 0;
	int32_t first, next;

	/* sscanf alone takes a sign or spaces in a field ("2026-W+5"). */
	if (strlen(s) != 8 || strspn(s, "0123456789") != 4 || s[4] != '-' || s[5] != 'W' ||
	    strspn(s + 6, "0123456789") != 2 || sscanf(s, "%4d-W%2d%n", &year, &week, &n) != 2 || n != 8 ||
	    year < 1971 || year > 9998)
		return false;
	first = week1_monday(year);
	next = week1_monday(year + 1);
	if (week < 1 || first + 7 * (week - 1) >= next)
		return false;
	*monday = first + 7 * (week - 1);
	return true;
}

/* The ISO week DAY falls in, "YYYY-Www". */
static void week_format(int32_t day, char out[16])
{
	char date[XF_DATE_LEN + 1];
	int32_t thursday = day - weekday(day) + 3;
	unsigned year, week;

	xf_date_format(thursday, date); /* a week belongs to its Thursday's year */
	year = (unsigned)atoi(date) % 10000;
	week = (unsigned)((thursday - 3 - week1_monday((int)year)) / 7 + 1) % 100;
	snprintf(out, 16, "%04u-W%02u", year, week);
}

struct leader_count {
	const char *leader;
	size_t cases;
};

static int by_leader(const void *pa, const void *pb)
{
	return strcmp(((const struct leader_count *)pa)->leader, ((const struct leader_count *)pb)->leader);
}

/* Open cases per leader, in leader order; *n of them. */
static struct leader_count *count_leaders(const struct open_cases *oc, size_t *n)
{
	struct leader_count *lc = calloc(oc->n ? oc->n : 1, sizeof(*lc));
	size_t i, j;

	*n = 0;
	for (i = 0; lc && i < oc->n; i++) {
		for (j = 0; j < *n && strcmp(lc[j].leader, oc->cases[i].leader) != 0; j++)
			;
		if (j == *n)
			lc[(*n)++].leader = oc->cases[i].leader;
		lc[j].cases++;
	}
	if (lc)
		qsort(lc, *n, sizeof(*lc), by_leader);
	return lc;
}

static const xf_count week_counts[] = { XF_COUNT_VISITS, XF_COUNT_PEOPLE, XF_COUNT_LETTERS, XF_COUNT_CASES_OPENED,
					XF_COUNT_RISKS_REPORTED };

/* A village with something new this week: the report also has rows for
 * what only a year earlier, or only counts the sheet does not show, hold. */
static bool new_this_week(const xf_report_row *row)
{
	size_t k;

	for (k = 0; k < sizeof(week_counts) / sizeof(week_counts[0]); k++)
		if (row->now.n[week_counts[k]])
			return true;
	return false;
}

static json_t *week_json(const char *week, const xf_report *rep, const struct leader_count *lc, size_t n_leaders,
			 json_t *due)
{
	json_t *o = json_pack("{s:s}", "week", week), *villages = json_array(), *leaders = json_array(), *row;
	size_t i, k;

	for (i = 0; o && villages && i < rep->n_villages; i++) {
		if (!new_this_week(&rep->villages[i]))
			continue;
		if (!(row = json_pack("{s:s}", "village", rep->villages[i].key)))
			break;
		for (k = 0; k < sizeof(week_counts) / sizeof(week_counts[0]); k++)
			json_object_set_new(row, xf_count_name(week_counts[k]),
					    json_integer((json_int_t)rep->villages[i].now.n[week_counts[k]]));
		json_array_append_new(villages, row);
	}
	for (i = 0; leaders && i < n_leaders; i++)
		json_array_append_new(leaders, json_pack("{s:s, s:I}", "leader", lc[i].leader, "open_cases",
							 (json_int_t)lc[i].cases));
	if (o) {
		dates_json(o, rep);
		json_object_del(o, "previous_from");
		json_object_del(o, "previous_to");
		json_object_set_new(o, "new_by_village", villages);
		json_object_set_new(o, "open_by_leader", leaders);
		json_object_set_new(o, "due", due);
	}
	return o;
}

static void week_text(const struct labels *l, const char *week, const xf_report *rep, const struct leader_count *lc,
		      size_t n_leaders)
{
	char from[XF_DATE_LEN + 1], to[XF_DATE_LEN + 1];
	size_t i, k;

	xf_date_format(rep->from, from);
	xf_date_format(rep->to, to);
	printf("%s %s (%s .. %s)\n%s\n", l->week_title, week, from, to, l->week_new);
	for (i = 0; i < rep->n_villages; i++) {
		if (!new_this_week(&rep->villages[i]))
			continue;
		printf("  %s", rep->villages[i].key);
		for (k = 0; k < sizeof(week_counts) / sizeof(week_counts[0]); k++)
			printf("  %s %lld", l->count[week_counts[k]], (long long)rep->villages[i].now.n[week_counts[k]]);
		putchar('\n');
	}
	printf("%s\n", l->week_open);
	for (i = 0; i < n_leaders; i++)
		printf("  %s  %zu\n", *lc[i].leader ? lc[i].leader : l->no_leader, lc[i].cases);
	printf("%s\n", l->week_due);
}

static int report_weekly(ctl *c, const struct report_opts *o)
{
	struct open_cases oc = { 0 };
	struct leader_count *lc = NULL;
	xf_report *rep = NULL;
	int32_t monday = o->today - weekday(o->today);
	char week[16];
	size_t n_leaders = 0;
	json_t *due;
	int r;

	if (o->week && !week_parse(o->week, &monday))
		return ctl_usage(c, "--week '%s' is not an ISO week YYYY-Www", o->week);
	week_format(monday, week);
	if ((r = xf_report_make(c->store, monday, monday + 6, o->village, &rep)) < 0)
		return ctl_fail(c, "%s", xf_strerror(r));
	if ((r = load_open_cases(c, o, &oc)) != 0)
		goto cleanup;
	if (!(lc = count_leaders(&oc, &n_leaders))) {
		r = ctl_fail(c, "out of memory");
		goto cleanup;
	}
	if (!c->json)
		week_text(o->l, week, rep, lc, n_leaders);
	due = list_due(o->l, &oc, c->json);
	r = c->json ? ctl_print_json(c, week_json(week, rep, lc, n_leaders, due)) : EXIT_OK;
cleanup:
	free(lc);
	open_cases_free(&oc);
	xf_report_free(rep);
	return r;
}

/* ---- the verb ---- */

static int report_period(ctl *c, const struct report_opts *o)
{
	int32_t from, to;
	xf_report *rep = NULL;
	int r;

	if (!o->from || !o->to)
		return ctl_usage(c, "--from YYYY-MM-DD and --to YYYY-MM-DD are required (or --overdue, --weekly)");
	if (xf_date_parse(o->from, &from) < 0)
		return ctl_usage(c, "--from '%s' is not a real date YYYY-MM-DD", o->from);
	if (xf_date_parse(o->to, &to) < 0)
		return ctl_usage(c, "--to '%s' is not a real date YYYY-MM-DD", o->to);
	if (from > to)
		return ctl_usage(c, "--from %s is after --to %s", o->from, o->to);
	if ((r = xf_report_make(c->store, from, to, o->village, &rep)) < 0)
		return ctl_fail(c, "%s", xf_strerror(r));
	if (c->json)
		r = print_report_json(c, o, rep);
	else if (o->csv)
		r = print_report_csv(o, rep);
	else
		r = print_report_text(o, rep);
	xf_report_free(rep);
	return r;
}

int cmd_report(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "village", required_argument, NULL, 'v' },
		{ "csv", no_argument, NULL, 'C' },
		{ "lang", required_argument, NULL, 'l' },
		{ "overdue", no_argument, NULL, 'o' },
		{ "weekly", no_argument, NULL, 'w' },
		{ "week", required_argument, NULL, 'W' },
		{ "as-of", required_argument, NULL, 'a' },
		{ 0 },
	};
	struct report_opts o = { 0 };
	bool chinese;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		switch (opt) {
		case 'f': o.from = optarg; break;
		case 't': o.to = optarg; break;
		case 'v': o.village = optarg; break;
		case 'C': o.csv = true; break;
		case 'l': o.lang = optarg; break;
		case 'o': o.overdue = true; break;
		case 'w': o.weekly = true; break;
		case 'W': o.week = optarg; break;
		case 'a': o.as_of = optarg; break;
		case 'h': return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return ctl_usage(c, "unexpected argument '%s'", argv[optind]);
	if ((r = ctl_lang(c, o.lang, &chinese)) != 0)
		return r;
	o.l = chinese ? &zh : &en;
	if (o.overdue + o.weekly + (o.from || o.to) > 1)
		return ctl_usage(c, "--overdue, --weekly and --from/--to are three different reports: choose one");
	if (o.csv && (c->json || o.overdue || o.weekly))
		return ctl_usage(c, "--csv is for the period report, without --json");
	if (o.week && !o.weekly)
		return ctl_usage(c, "--week goes with --weekly");
	if (o.as_of && !o.overdue && !o.weekly)
		return ctl_usage(c, "--as-of goes with --overdue or --weekly");
	if (o.village && xf_node_id_check(o.village) < 0)
		return ctl_usage(c, "--village '%s' is not a node id", o.village);
	if ((r = ctl_load_config(c)) != 0)
		return r;
	o.today = xf_date_today(c->now_ms);
	if (o.as_of && xf_date_parse(o.as_of, &o.today) < 0)
		return ctl_usage(c, "--as-of '%s' is not a real date YYYY-MM-DD", o.as_of);
	if ((r = ctl_open(c)) != 0 || (r = ctl_check_village(c, o.village)) != 0)
		return r;
	if (o.overdue)
		return report_overdue(c, &o);
	if (o.weekly)
		return report_weekly(c, &o);
	return report_period(c, &o);
}
