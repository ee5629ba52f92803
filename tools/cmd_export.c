/* export: one row per visit, letter, case or risk dated in a period, with
 * its current projected state, as CSV (UTF-8 with a BOM, so that WPS and
 * Excel read it right) or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* One record's row, kept to be printed in date order. */
struct row {
	int32_t day;
	uint64_t seq;    /* of the id, so that "-10" follows "-9" */
	char origin[XF_NODE_ID_MAX + 1];
	char *csv;       /* the CSV line, or */
	json_t *json;    /* the JSON object */
};

struct export {
	ctl *c;
	const ctl_column *columns;
	bool csv, chinese;
	int32_t from, to;
	struct row *rows;
	size_t n, cap;
};

/* Rows are written to OUT, a memory stream while they are collected. */
static FILE *out;

static void cell(const char *text, bool last)
{
	ctl_csv_text(out, text, last);
}

static void date_cell(int32_t day, bool last)
{
	char date[XF_DATE_LEN + 1] = "";

	if (day != INT32_MIN)
		xf_date_format(day, date);
	cell(date, last);
}

/* Names and sources in one cell, as a ledger writes them: 张三、李四. */
static void list_cell(const char *const *items, size_t n, bool last)
{
	size_t i, len = 1;
	char *joined;

	for (i = 0; i < n; i++)
		len += strlen(items[i]) + 3;
	joined = calloc(1, len);
	for (i = 0; joined && i < n; i++) {
		if (i)
			strcat(joined, "、");
		strcat(joined, items[i]);
	}
	cell(joined ? joined : "", last);
	free(joined);
}

static void attr_cell(const struct export *x, const xf_attr *a, bool last)
{
	char num[24];

	if (!a) {
		cell("", last);
		return;
	}
	switch (a->type) {
	case XF_VALUE_STR: cell(a->str, last); break;
	case XF_VALUE_INT:
		snprintf(num, sizeof(num), "%lld", (long long)a->i);
		cell(num, last);
		break;
	case XF_VALUE_BOOL: cell(a->b ? (x->chinese ? "是" : "yes") : (x->chinese ? "否" : "no"), last); break;
	case XF_VALUE_ARRAY: list_cell((const char *const *)a->strv, a->n, last); break;
	default: cell("", last); break;
	}
}

/* The values of one list of E's items ("visits": its sources). */
static void items_cell(const xf_entity *e, const char *list, bool count, bool last)
{
	const char **texts = calloc(e->n_items + 1, sizeof(*texts));
	char num[24];
	size_t i, n = 0;

	for (i = 0; texts && i < e->n_items; i++)
		if (strcmp(e->items[i].list, list) == 0)
			texts[n++] = e->items[i].text;
	snprintf(num, sizeof(num), "%zu", n);
	if (count)
		cell(num, last);
	else
		list_cell(texts, n, last);
	free(texts);
}

static void conflicts_cell(const xf_entity *e, bool last)
{
	const char *fields[XF_CONFLICTS_MAX];
	size_t i;

	for (i = 0; i < e->n_conflicts && i < XF_CONFLICTS_MAX; i++)
		fields[i] = e->conflicts[i].field;
	list_cell(fields, i, last);
}

/* A status as the office writes it. */
static const char *status_zh(const char *status)
{
	static const char *const names[][2] = {
		{ "recorded", "已登记" }, { "opened", "已立案" },   { "assigned", "已交办" }, { "replied", "已答复" },
		{ "closed", "已办结" },   { "reopened", "重新办理" }, { "open", "未化解" },     { "resolved", "已化解" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i][0], status) == 0)
			return names[i][1];
	return status;
}

static void csv_row(const struct export *x, const xf_entity *e, const xf_record_meta *m)
{
	const ctl_column *col;
	xf_deadline d;

	for (col = x->columns; col->key; col++) {
		const char *k = col->key;
		bool last = !col[1].key;

		if (strcmp(k, "id") == 0)
			cell(e->id, last);
		else if (strcmp(k, "village") == 0)
			cell(m->village, last);
		else if (strcmp(k, "category") == 0)
			cell(m->category, last);
		else if (strcmp(k, "status") == 0)
			cell(x->chinese ? status_zh(e->status) : e->status, last);
		else if (strcmp(k, "conflicts") == 0)
			conflicts_cell(e, last);
		else if (strcmp(k, "from") == 0)
			items_cell(e, "visits", false, last);
		else if (strcmp(k, "workgroups") == 0)
			items_cell(e, "dispatches", true, last);
		else if (strcmp(k, "received") == 0)
			date_cell(m->received, last);
		else if (strcmp(k, "deadline") == 0)
			date_cell(xf_case_deadline(e, m, &d) ? d.due : INT32_MIN, last);
		else
			attr_cell(x, xf_entity_attr(e, k), last);
	}
}

static json_t *json_row(const xf_entity *e, const xf_record_meta *m)
{
	char date[XF_DATE_LEN + 1];
	json_t *o = ctl_entity_json(e);
	xf_deadline d;

	if (!o)
		return NULL;
	json_object_set_new(o, "village", json_string(m->village));
	json_object_set_new(o, "category", json_string(m->category));
	if (e->kind != 'C')
		return o;
	if (m->received != INT32_MIN) {
		xf_date_format(m->received, date);
		json_object_set_new(o, "received", json_string(date));
	} else {
		json_object_set_new(o, "received", json_null());
	}
	if (xf_case_deadline(e, m, &d)) {
		xf_date_format(d.due, date);
		json_object_set_new(o, "deadline", json_string(date));
	} else {
		json_object_set_new(o, "deadline", json_null());
	}
	return o;
}

/* "K-origin-seq" as (origin, seq), so that "-10" sorts after "-9". */
static void id_order_key(const char *entity, struct row *row)
{
	if (xf_entity_id_parse(entity, row->origin, &row->seq) < 0) {
		row->origin[0] = '\0';
		row->seq = 0;
	}
}

static int export_one(const xf_entity *e, const xf_record_meta *m, void *vctx)
{
	struct export *x = vctx;
	struct row *row;
	size_t len;
	int r;

	if (m->day == INT32_MIN ? x->from != INT32_MIN || x->to != INT32_MAX : m->day < x->from || m->day > x->to)
		return 0;
	if (xf_grow(&x->rows, &x->cap, x->n, sizeof(*x->rows)) < 0)
		return -ENOMEM;
	row = &x->rows[x->n];
	memset(row, 0, sizeof(*row));
	row->day = m->day;
	id_order_key(e->id, row);
	if (!x->csv) {
		x->n++;
		return (row->json = json_row(e, m)) ? 0 : -ENOMEM;
	}
	if (!(out = open_memstream(&row->csv, &len)))
		return -ENOMEM;
	x->n++;
	csv_row(x, e, m);
	r = ferror(out) ? -ENOMEM : 0;
	return fclose(out) == 0 ? r : -ENOMEM;
}

static int row_order(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int c;

	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	if ((c = strcmp(a->origin, b->origin)) != 0)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void rows_free(struct export *x)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		free(x->rows[i].csv);
		json_decref(x->rows[i].json);
	}
	free(x->rows);
}

/* Print the rows in date order. */
static int print_rows(struct export *x)
{
	json_t *array;
	size_t i;

	if (x->n)
		qsort(x->rows, x->n, sizeof(*x->rows), row_order);
	if (x->csv) {
		for (i = 0; i < x->n; i++)
			fputs(x->rows[i].csv, stdout);
		return EXIT_OK; /* main() checks that it was written */
	}
	array = json_array();
	for (i = 0; array && i < x->n; i++)
		if (json_array_append(array, x->rows[i].json) < 0) {
			json_decref(array);
			array = NULL;
		}
	return ctl_print_json(x->c, array);
}

static int period_arg(ctl *c, const char *option, const char *arg, int32_t *day)
{
	if (arg && xf_date_parse(arg, day) < 0)
		return ctl_usage(c, "--%s '%s' is not a real date YYYY-MM-DD", option, arg);
	return 0;
}

int cmd_export(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "type", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "format", required_argument, NULL, 'F' },
		{ "village", required_argument, NULL, 'v' },
		{ "lang", required_argument, NULL, 'l' },
		{ 0 },
	};
	const char *type = NULL, *from = NULL, *to = NULL, *format = NULL, *village = NULL, *lang = NULL;
	struct export x = { .c = c, .from = INT32_MIN, .to = INT32_MAX };
	const ctl_column *col;
	char kind;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		switch (opt) {
		case 't': type = optarg; break;
		case 'f': from = optarg; break;
		case 'T': to = optarg; break;
		case 'F': format = optarg; break;
		case 'v': village = optarg; break;
		case 'l': lang = optarg; break;
		case 'h': return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return ctl_usage(c, "unexpected argument '%s'", argv[optind]);
	if (!type || !(x.columns = ctl_columns(type, &kind)))
		return ctl_usage(c, "--type must be visits, letters, cases or risks");
	if (c->json && !format)
		format = "json";
	if (!format || (strcmp(format, "csv") && strcmp(format, "json")))
		return ctl_usage(c, "--format must be csv or json");
	x.csv = strcmp(format, "csv") == 0;
	if (x.csv && c->json)
		return ctl_usage(c, "--json goes with --format json, not csv");
	if ((r = ctl_lang(c, lang, &x.chinese)) != 0 || (r = period_arg(c, "from", from, &x.from)) != 0 ||
	    (r = period_arg(c, "to", to, &x.to)) != 0)
		return r;
	if (x.from > x.to)
		return ctl_usage(c, "--from %s is after --to %s", from, to);
	if (village && xf_node_id_check(village) < 0)
		return ctl_usage(c, "--village '%s' is not a node id", village);
	if ((r = ctl_load_config(c)) != 0 || (r = ctl_open(c)) != 0 || (r = ctl_check_village(c, village)) != 0)
		return r;
	if (x.csv) {
		out = stdout;
		fputs(CTL_CSV_BOM, stdout);
		for (col = x.columns; col->key; col++)
			cell(x.chinese ? col->zh : col->key, !col[1].key);
	}
	r = xf_store_projections(c->store, kind, village, export_one, &x);
	r = r < 0 ? ctl_fail(c, "%s", xf_strerror(r)) : print_rows(&x);
	rows_free(&x);
	return r;
}
