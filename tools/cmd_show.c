/* show and list for visits, letters, cases and risks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static char verb_kind(const ctl *c)
{
	switch (c->verb[0]) {
	case 'v': return 'V';
	case 'l': return 'L';
	case 'c': return 'C';
	default: return 'R';
	}
}

static json_t *attr_json(const xf_attr *a)
{
	json_t *arr;
	size_t i;

	switch (a->type) {
	case XF_VALUE_STR: return json_string(a->str);
	case XF_VALUE_INT: return json_integer(a->i);
	case XF_VALUE_BOOL: return json_boolean(a->b);
	case XF_VALUE_ARRAY:
		arr = json_array();
		for (i = 0; arr && i < a->n; i++)
			json_array_append_new(arr, json_string(a->strv[i]));
		return arr;
	default: return json_null();
	}
}

/* [{"field": F, "values": [{"event": ID, "value": V}, ...]}, ...]: a
 * cleared value is null. */
static json_t *conflicts_json(const xf_entity *e)
{
	json_t *arr = json_array(), *values;
	size_t i, j;

	for (i = 0; arr && i < e->n_conflicts; i++) {
		values = json_array();
		for (j = 0; values && j < e->conflicts[i].n; j++)
			json_array_append_new(values, json_pack("{s:s, s:o}", "event", e->conflicts[i].rivals[j].event,
								"value", attr_json(&e->conflicts[i].rivals[j])));
		json_array_append_new(arr, json_pack("{s:s, s:o}", "field", e->conflicts[i].field, "values", values));
	}
	return arr;
}

json_t *ctl_entity_json(const xf_entity *e)
{
	static const char *const case_fields[] = { "title", "leader", "due", "outcome", NULL };
	static const char *const lists[] = { "visits", "notes", "dispatches", NULL };
	json_t *o = json_object(), *item;
	size_t i;

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(e->id));
	json_object_set_new(o, "status", json_string(e->status));
	json_object_set_new(o, "origin", json_string(e->origin));
	json_object_set_new(o, "events", json_integer((json_int_t)e->n_events));
	if (e->kind == 'C') {
		for (i = 0; case_fields[i]; i++)
			json_object_set_new(o, case_fields[i], json_null());
		for (i = 0; lists[i]; i++)
			json_object_set_new(o, lists[i], json_array());
	}
	for (i = 0; i < e->n_attrs; i++)
		json_object_set_new(o, e->attrs[i].name, attr_json(&e->attrs[i]));
	for (i = 0; i < e->n_items; i++) {
		const xf_item *it = &e->items[i];

		if (strcmp(it->list, "visits") == 0) {
			item = json_string(it->text);
		} else {
			item = json_pack("{s:s, s:s, s:s, s:s}", "date", it->date, "text", it->text, "author",
					 it->author, "event", it->event);
		}
		json_array_append_new(json_object_get(o, it->list), item);
	}
	json_object_set_new(o, "conflicts", conflicts_json(e));
	return o;
}

static void print_value(const xf_attr *a)
{
	size_t i;

	switch (a->type) {
	case XF_VALUE_STR: printf("%s", a->str); break;
	case XF_VALUE_INT: printf("%lld", (long long)a->i); break;
	case XF_VALUE_BOOL: printf("%s", a->b ? "yes" : "no"); break;
	case XF_VALUE_ARRAY:
		for (i = 0; i < a->n; i++)
			printf("%s%s", i ? ", " : "", a->strv[i]);
		break;
	default: printf("(none)"); break;
	}
}

static void print_attr(const xf_attr *a)
{
	printf("%-12s ", a->name);
	print_value(a);
	putchar('\n');
}

/* One line per competing value: "conflict    leader: 王书记 (t:7)". */
static void print_conflicts(const xf_entity *e)
{
	size_t i, j;

	for (i = 0; i < e->n_conflicts; i++) {
		for (j = 0; j < e->conflicts[i].n; j++) {
			printf("%-12s %s: ", "conflict", e->conflicts[i].field);
			print_value(&e->conflicts[i].rivals[j]);
			printf(" (%s)\n", e->conflicts[i].rivals[j].event);
		}
	}
}

static void print_entity(const xf_entity *e)
{
	size_t i;

	printf("%-12s %s\n%-12s %s\n%-12s %s\n", "id", e->id, "status", e->status, "origin", e->origin);
	for (i = 0; i < e->n_attrs; i++)
		print_attr(&e->attrs[i]);
	for (i = 0; i < e->n_items; i++) {
		const xf_item *it = &e->items[i];

		if (strcmp(it->list, "visits") == 0)
			printf("%-12s %s\n", "from", it->text);
		else
			printf("%-12s %s %s: %s\n", strcmp(it->list, "notes") == 0 ? "note" : "work group", it->date,
			       it->author, it->text);
	}
	print_conflicts(e);
}

int cmd_entity_show(ctl *c, int argc, char **argv)
{
	xf_entity *e = NULL;
	const char *id;
	int opt, r;

	while ((opt = ctl_getopt(c, argc, argv, "", NULL)) != -1)
		return opt == 'h' ? EXIT_OK : EXIT_USAGE;
	if ((r = ctl_entity_arg(c, argc, argv, verb_kind(c), &id)) != 0 || (r = ctl_open(c)) != 0)
		return r;
	if ((r = ctl_load_entity(c, id, &e)) != 0)
		return r;
	if (c->json)
		r = ctl_print_json(c, ctl_entity_json(e));
	else
		print_entity(e);
	xf_entity_free(e);
	return r;
}

struct list_ctx {
	ctl *c;
	json_t *array;
	char (*ids)[XF_ENTITY_ID_MAX + 1];
	size_t n, cap;
};

/* Lists take the ids first and load each after: a load is a transaction
 * of its own, which may not nest in the walk's. */
static int note_id(const char *id, void *vctx)
{
	struct list_ctx *l = vctx;

	if (xf_grow(&l->ids, &l->cap, l->n, sizeof(*l->ids)) < 0)
		return -ENOMEM;
	snprintf(l->ids[l->n++], XF_ENTITY_ID_MAX + 1, "%s", id);
	return 0;
}

/* Call ROW for every id in L, then print the JSON array if there is one. */
static int list_rows(ctl *c, struct list_ctx *l, int r, int (*row)(const char *id, void *ctx))
{
	size_t i;

	for (i = 0; r == 0 && i < l->n; i++)
		r = row(l->ids[i], l);
	free(l->ids);
	return ctl_list_close(c, r, l->array);
}

static const char *attr_str(const xf_entity *e, const char *name)
{
	const xf_attr *a = xf_entity_attr(e, name);

	return a && a->type == XF_VALUE_STR ? a->str : "";
}

/* One row of a listing: entity ID into the JSON array, or as PRINT shows it. */
static int show_row(struct list_ctx *l, const char *id, void (*print)(const xf_entity *e))
{
	xf_entity *e = NULL;
	int r;

	r = xf_entity_load(l->c->store, id, &e);
	if (r < 0)
		return r;
	if (l->array)
		json_array_append_new(l->array, ctl_entity_json(e));
	else
		print(e);
	xf_entity_free(e);
	return 0;
}

static void print_summary(const xf_entity *e)
{
	const char *date = e->kind == 'C' ? attr_str(e, "opened_on") : attr_str(e, "date");
	const char *text = e->kind == 'C' ? attr_str(e, "title") : attr_str(e, "summary");

	printf("%-28s %-9s %-10s ", e->id, e->status, date);
	ctl_put_oneline(text);
	putchar('\n');
}

static void print_conflicted(const xf_entity *e)
{
	printf("%s (%s)\n", e->id, e->status);
	print_conflicts(e);
}

static int list_one(const char *id, void *vctx)
{
	return show_row(vctx, id, print_summary);
}

static int conflict_row(const char *id, void *vctx)
{
	return show_row(vctx, id, print_conflicted);
}

/* A listing verb: the entities of KIND, or with KIND 0 those in conflict,
 * each shown by ROW. */
static int list_verb(ctl *c, int argc, char **argv, char kind, int (*row)(const char *id, void *ctx))
{
	struct list_ctx l = { c, NULL, NULL, 0, 0 };
	int r;

	if ((r = ctl_list_open(c, argc, argv, &l.array)) != 0)
		return r == CTL_HELPED ? EXIT_OK : r;
	r = kind ? xf_store_entities(c->store, kind, note_id, &l) : xf_store_conflicts(c->store, note_id, &l);
	return list_rows(c, &l, r, row);
}

int cmd_entity_list(ctl *c, int argc, char **argv)
{
	return list_verb(c, argc, argv, verb_kind(c), list_one);
}

int cmd_conflicts(ctl *c, int argc, char **argv)
{
	return list_verb(c, argc, argv, 0, conflict_row);
}
