#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xf/error.h"
#include "xf/project.h"

/* What each act does to its entity. STATUS is the status it leaves (NULL:
 * unchanged), DATE_ATTR the attribute its "date" field sets, LIST the list
 * it adds an item to (its "text" field), FROM the statuses it may be
 * recorded in (NULL: it creates the entity), CLEARS the attributes it
 * makes stale. */
static const struct act {
	const char *type;
	char kind;
	const char *status;
	const char *date_attr;
	const char *list;
	const char *const *from;
	const char *const *clears;
} acts[] = {
#define OPEN_CASE ((const char *const[]){ "opened", "assigned", "replied", "reopened", NULL })
	{ "visit.recorded", 'V', "recorded", "date", NULL, NULL, NULL },
	{ "letter.recorded", 'L', "recorded", "date", NULL, NULL, NULL },
	{ "case.opened", 'C', "opened", "opened_on", NULL, NULL, NULL },
	{ "case.assigned", 'C', "assigned", "assigned_on", NULL, OPEN_CASE, NULL },
	{ "case.dispatched", 'C', NULL, NULL, "dispatches", OPEN_CASE, NULL },
	{ "case.noted", 'C', NULL, NULL, "notes", OPEN_CASE, NULL },
	{ "case.replied", 'C', "replied", "replied_on", NULL, OPEN_CASE, NULL },
	{ "case.closed", 'C', "closed", "closed_on", NULL, OPEN_CASE, NULL },
	{ "case.reopened", 'C', "reopened", "reopened_on", NULL, ((const char *const[]){ "closed", NULL }),
	  ((const char *const[]){ "outcome", "closed_on", NULL }) },
	{ "risk.reported", 'R', "open", "date", NULL, NULL, NULL },
	{ "risk.resolved", 'R', "resolved", "resolved_on", NULL, ((const char *const[]){ "open", NULL }), NULL },
	{ "node.enrolled", 'N', "enrolled", NULL, NULL, NULL, NULL },
#undef OPEN_CASE
};

static const struct act *act_find(const char *type)
{
	size_t i;

	for (i = 0; i < XF_ARRAY_SIZE(acts); i++)
		if (strcmp(acts[i].type, type) == 0)
			return &acts[i];
	return NULL;
}

int xf_entity_new(const char *id, xf_entity **out)
{
	xf_entity *e;
	const char *dash;
	size_t n;

	if (!id || !*id || strlen(id) > XF_ENTITY_ID_MAX || !out)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	strcpy(e->id, id);
	e->kind = id[0];
	/* "K-origin-seq": the origin sits between the first and last dash. */
	dash = strrchr(id, '-');
	if (id[1] == '-' && dash > id + 2 && (n = (size_t)(dash - id - 2)) <= XF_NODE_ID_MAX) {
		memcpy(e->origin, id + 2, n);
		e->origin[n] = '\0';
	}
	*out = e;
	return 0;
}

static void attr_clear(xf_attr *a)
{
	size_t i;

	free(a->str);
	for (i = 0; i < a->n; i++)
		free(a->strv[i]);
	free(a->strv);
	a->str = NULL;
	a->strv = NULL;
	a->n = 0;
}

void xf_entity_free(xf_entity *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n_attrs; i++)
		attr_clear(&e->attrs[i]);
	for (i = 0; i < e->n_items; i++)
		free(e->items[i].text);
	free(e->attrs);
	free(e->items);
	free(e);
}

const xf_attr *xf_entity_attr(const xf_entity *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->n_attrs; i++)
		if (strcmp(e->attrs[i].name, name) == 0)
			return &e->attrs[i];
	return NULL;
}

static char *strndup_value(const xf_value *v)
{
	return strndup(v->s, v->len);
}

/* Set attribute NAME from V; values of kinds this version does not read
 * are skipped, as is any name too long to be ours. */
static int attr_set(xf_entity *e, const char *name, const xf_value *v, const char *event)
{
	xf_attr *a = (xf_attr *)xf_entity_attr(e, name);
	size_t i;

	if (strlen(name) > XF_ATTR_NAME_MAX ||
	    (v->type != XF_VALUE_STR && v->type != XF_VALUE_INT && v->type != XF_VALUE_BOOL &&
	     v->type != XF_VALUE_ARRAY))
		return 0;
	if (!a) {
		void *p = realloc(e->attrs, (e->n_attrs + 1) * sizeof(*e->attrs));

		if (!p)
			return -ENOMEM;
		e->attrs = p;
		a = &e->attrs[e->n_attrs++];
		memset(a, 0, sizeof(*a));
		strcpy(a->name, name);
	}
	attr_clear(a);
	a->type = v->type;
	a->i = v->i;
	a->b = v->b;
	snprintf(a->event, sizeof(a->event), "%s", event);
	if (v->type == XF_VALUE_STR)
		return (a->str = strndup_value(v)) ? 0 : -ENOMEM;
	if (v->type == XF_VALUE_ARRAY) {
		a->strv = calloc(v->len + 1, sizeof(*a->strv));
		if (!a->strv)
			return -ENOMEM;
		for (i = 0; i < v->len; i++) {
			if (v->items[i].type != XF_VALUE_STR)
				continue;
			a->strv[a->n] = strndup_value(&v->items[i]);
			if (!a->strv[a->n++])
				return -ENOMEM;
		}
	}
	return 0;
}

static void attr_remove(xf_entity *e, const char *name)
{
	xf_attr *a = (xf_attr *)xf_entity_attr(e, name);

	if (!a)
		return;
	attr_clear(a);
	*a = e->attrs[--e->n_attrs];
}

static int item_add(xf_entity *e, const char *list, const xf_value *text, const char *date,
		    const xf_event *ev)
{
	xf_item *it;
	void *p;

	if (!text || text->type != XF_VALUE_STR)
		return 0;
	p = realloc(e->items, (e->n_items + 1) * sizeof(*e->items));
	if (!p)
		return -ENOMEM;
	e->items = p;
	it = &e->items[e->n_items];
	memset(it, 0, sizeof(*it));
	it->list = list;
	it->text = strndup_value(text);
	if (!it->text)
		return -ENOMEM;
	snprintf(it->date, sizeof(it->date), "%s", date);
	snprintf(it->author, sizeof(it->author), "%s", ev->author);
	xf_event_id(ev->origin, ev->seq, it->event);
	e->n_items++;
	return 0;
}

int xf_entity_fold(xf_entity *e, const xf_event *ev)
{
	const struct act *act = act_find(ev->type);
	char event[XF_EVENT_ID_MAX + 1], date[XF_DATE_LEN + 1], name[XF_ATTR_NAME_MAX + 1];
	xf_fields *f = NULL;
	const xf_value *from;
	size_t i, len;
	int r;

	if (!e || !ev || strcmp(e->id, ev->entity) != 0)
		return -EINVAL;
	e->n_events++;
	if (ev->hlc > e->hlc)
		e->hlc = ev->hlc;
	/* Acts a newer version invented are kept in the log, not folded. */
	if (!act || act->kind != e->kind)
		return 0;
	r = xf_fields_parse(ev->body, ev->body_len, &f);
	if (r < 0)
		return 0;
	xf_event_id(ev->origin, ev->seq, event);
	xf_value_str(xf_fields_get(f, "date"), date, sizeof(date));
	if (act->status)
		strcpy(e->status, act->status);
	for (i = 0; act->clears && act->clears[i]; i++)
		attr_remove(e, act->clears[i]);
	if (act->list) {
		r = item_add(e, act->list, xf_fields_get(f, "text"), date, ev);
		goto cleanup;
	}
	from = xf_fields_get(f, "from");
	for (i = 0; from && from->type == XF_VALUE_ARRAY && i < from->len && r == 0; i++)
		r = item_add(e, "visits", &from->items[i], date, ev);
	for (i = 0; i < xf_fields_count(f) && r == 0; i++) {
		const char *key = xf_fields_key(f, i, &len);

		if (len > XF_ATTR_NAME_MAX)
			continue;
		memcpy(name, key, len);
		name[len] = '\0';
		if (strcmp(name, "from") == 0)
			continue;
		if (strcmp(name, "date") == 0) {
			if (!act->date_attr)
				continue;
			strcpy(name, act->date_attr);
		}
		r = attr_set(e, name, xf_fields_value(f, i), event);
	}
cleanup:
	xf_fields_free(f);
	return r;
}

static int fold_cb(const xf_event *ev, void *ctx)
{
	return xf_entity_fold(ctx, ev);
}

int xf_entity_load(xf_store *s, const char *id, xf_entity **out)
{
	xf_entity *e = NULL;
	int r;

	if (!s || !out)
		return -EINVAL;
	r = xf_entity_new(id, &e);
	if (r < 0)
		return r;
	r = xf_store_entity_scan(s, id, fold_cb, e);
	if (r < 0) {
		xf_entity_free(e);
		return r;
	}
	*out = e;
	return 0;
}

int xf_entity_allows(const xf_entity *e, char kind, const char *type)
{
	const struct act *act = act_find(type);
	size_t i;

	if (!act)
		return e ? 0 : -EINVAL; /* unknown acts are the caller's business */
	if (!e)
		return act->from || act->kind != kind ? -EINVAL : 0;
	if (!act->from || act->kind != e->kind)
		return -EINVAL;
	for (i = 0; act->from[i]; i++)
		if (strcmp(act->from[i], e->status) == 0)
			return 0;
	return XF_ESTATE;
}
