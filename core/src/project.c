/* The fold: an entity's events in, its projection out. The rules, with
 * examples, are in core/MERGE.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xf/error.h"
#include "xf/mem.h"
#include "xf/project.h"
#include "xf/text.h"

/* What each act does to its entity. STATUS is the status it leaves (NULL:
 * unchanged), DATE_ATTR the attribute its "date" field sets, LIST the list
 * it adds an item to (its "text" field), FROM the statuses it may be
 * recorded in (NULL: it creates the entity), CLEARS the attributes it
 * makes stale, ACCEPTS whether it settles a case's acceptance (受理: a
 * leader assigned, or a refusal by closing). KIND 0: an act on any kind
 * of entity. */
static const struct act {
	const char *type;
	char kind;
	const char *status;
	const char *date_attr;
	const char *list;
	const char *const *from;
	const char *const *clears;
	bool accepts;
} acts[] = {
#define OPEN_CASE ((const char *const[]){ "opened", "assigned", "replied", "reopened", NULL })
	{ "visit.recorded", 'V', "recorded", "date", NULL, NULL, NULL, false },
	{ "letter.recorded", 'L', "recorded", "date", NULL, NULL, NULL, false },
	{ "case.opened", 'C', "opened", "opened_on", NULL, NULL, NULL, false },
	{ "case.assigned", 'C', "assigned", "assigned_on", NULL, OPEN_CASE, NULL, true },
	{ "case.dispatched", 'C', NULL, NULL, "dispatches", OPEN_CASE, NULL, false },
	{ "case.noted", 'C', NULL, NULL, "notes", OPEN_CASE, NULL, false },
	{ "case.replied", 'C', "replied", "replied_on", NULL, OPEN_CASE, NULL, false },
	{ "case.closed", 'C', "closed", "closed_on", NULL, OPEN_CASE, NULL, true },
	{ "case.reopened", 'C', "reopened", "reopened_on", NULL, ((const char *const[]){ "closed", NULL }),
	  ((const char *const[]){ "outcome", "closed_on", "extended_on", NULL }), false },
	{ "case.extended", 'C', NULL, "extended_on", NULL, ((const char *const[]){ "assigned", "replied", "reopened", NULL }),
	  NULL, false },
	{ "risk.reported", 'R', "open", "date", NULL, NULL, NULL, false },
	{ "risk.resolved", 'R', "resolved", "resolved_on", NULL, ((const char *const[]){ "open", NULL }), NULL, false },
	{ "node.enrolled", 'N', "enrolled", NULL, NULL, NULL, NULL, false },
#undef OPEN_CASE
};

/* The act that settles conflicts; its body is built by
 * xf_entity_resolution() and read by fold_resolution(). */
#define RESOLVED "conflict.resolved"

static const struct act *act_find(const char *type)
{
	size_t i;

	for (i = 0; i < XF_ARRAY_SIZE(acts); i++)
		if (strcmp(acts[i].type, type) == 0)
			return &acts[i];
	return NULL;
}

static bool status_known(char kind, const char *status)
{
	size_t i;

	for (i = 0; i < XF_ARRAY_SIZE(acts); i++)
		if (acts[i].kind == kind && acts[i].status && strcmp(acts[i].status, status) == 0)
			return true;
	return false;
}

static int entity_new(const char *id, xf_entity **out)
{
	xf_entity *e;

	if (!id || !*id || strlen(id) > XF_ENTITY_ID_MAX || !out)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	strcpy(e->id, id);
	e->kind = id[0];
	xf_entity_id_parse(id, e->origin, NULL); /* an odd id leaves no origin */
	*out = e;
	return 0;
}

void attr_clear(xf_attr *a)
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
	size_t i, j;

	if (!e)
		return;
	for (i = 0; i < e->n_attrs; i++)
		attr_clear(&e->attrs[i]);
	for (i = 0; i < e->n_items; i++)
		free(e->items[i].text);
	for (i = 0; i < e->n_conflicts; i++) {
		for (j = 0; j < e->conflicts[i].n; j++)
			attr_clear(&e->conflicts[i].rivals[j]);
		free(e->conflicts[i].rivals);
	}
	free(e->attrs);
	free(e->items);
	free(e->conflicts);
	free(e->heads);
	free(e->awaited);
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

/* Give A the value V (NULL: no value, XF_VALUE_NIL). */
static int attr_assign(xf_attr *a, const xf_value *v)
{
	size_t i;

	attr_clear(a);
	if (!v) {
		a->type = XF_VALUE_NIL;
		return 0;
	}
	if (v->type != XF_VALUE_STR && v->type != XF_VALUE_INT && v->type != XF_VALUE_BOOL &&
	    v->type != XF_VALUE_ARRAY)
		return -EINVAL;
	a->type = v->type;
	a->i = v->i;
	a->b = v->b;
	if (v->type == XF_VALUE_STR)
		return (a->str = strndup(v->s, v->len)) ? 0 : -ENOMEM;
	if (v->type == XF_VALUE_ARRAY) {
		a->strv = calloc(v->len + 1, sizeof(*a->strv));
		if (!a->strv)
			return -ENOMEM;
		for (i = 0; i < v->len; i++) {
			if (v->items[i].type != XF_VALUE_STR)
				continue;
			a->strv[a->n] = strndup(v->items[i].s, v->items[i].len);
			if (!a->strv[a->n++])
				return -ENOMEM;
		}
	}
	return 0;
}

int attr_copy(xf_attr *dst, const xf_attr *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	memcpy(dst->name, src->name, sizeof(dst->name));
	memcpy(dst->event, src->event, sizeof(dst->event));
	dst->type = src->type;
	dst->i = src->i;
	dst->b = src->b;
	if (src->str && !(dst->str = strdup(src->str)))
		return -ENOMEM;
	if (src->type == XF_VALUE_ARRAY) {
		dst->strv = calloc(src->n + 1, sizeof(*dst->strv));
		if (!dst->strv)
			return -ENOMEM;
		for (i = 0; i < src->n; i++) {
			if (!(dst->strv[i] = strdup(src->strv[i])))
				return -ENOMEM;
			dst->n++;
		}
	}
	return 0;
}

static bool attr_same_value(const xf_attr *a, const xf_attr *b)
{
	size_t i;

	if (a->type != b->type)
		return false;
	switch (a->type) {
	case XF_VALUE_STR: return strcmp(a->str, b->str) == 0;
	case XF_VALUE_INT: return a->i == b->i;
	case XF_VALUE_BOOL: return a->b == b->b;
	case XF_VALUE_ARRAY:
		if (a->n != b->n)
			return false;
		for (i = 0; i < a->n; i++)
			if (strcmp(a->strv[i], b->strv[i]) != 0)
				return false;
		return true;
	default: return true;
	}
}

/* A fold under way: the events in fold order, who descends from whom, and
 * every write to a field or to the status, in fold order. */
struct fold {
	xf_entity *e;
	xf_event *evs;
	size_t n;
	size_t *parent_at;   /* XF_PARENTS_MAX per event: index of each parent held */
	size_t words;        /* of one ancestor bit set */
	uint64_t *ancestors; /* n bit sets: bit j of set i when event j is an ancestor of event i */
	struct write {
		size_t at;       /* index of the writing event */
		xf_attr value;   /* name: the field; event: the writer's id */
	} *writes;
	size_t n_writes, cap_writes;
	bool names_only;     /* note which fields are written, not their values */
	char id[XF_EVENT_ID_MAX + 1]; /* of the event being folded */
};

static bool is_ancestor(const struct fold *f, size_t of, size_t j)
{
	return f->ancestors[of * f->words + j / 64] >> (j % 64) & 1;
}

static int fold_order(const void *pa, const void *pb)
{
	const xf_event *a = pa, *b = pb;
	int c;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	c = strcmp(a->origin, b->origin);
	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct id_at {
	char id[XF_EVENT_ID_MAX + 1];
	size_t at;
};

static int id_order(const void *a, const void *b)
{
	return strcmp(((const struct id_at *)a)->id, ((const struct id_at *)b)->id);
}

#define NO_PARENT SIZE_MAX

/* Each event's parents as indexes into f->evs; NO_PARENT for a parent not
 * held (it may arrive later, and the entity is then folded again). */
static int resolve_parents(struct fold *f)
{
	struct id_at *ids = calloc(f->n, sizeof(*ids)), key;
	size_t i, p;

	f->parent_at = malloc(f->n * XF_PARENTS_MAX * sizeof(*f->parent_at));
	if (!ids || !f->parent_at) {
		free(ids);
		return -ENOMEM;
	}
	for (i = 0; i < f->n; i++) {
		xf_event_id(f->evs[i].origin, f->evs[i].seq, ids[i].id);
		ids[i].at = i;
	}
	qsort(ids, f->n, sizeof(*ids), id_order);
	for (i = 0; i < f->n; i++) {
		for (p = 0; p < XF_PARENTS_MAX; p++) {
			const xf_str *parent = &f->evs[i].parents[p];
			const struct id_at *found = NULL;

			if (p < f->evs[i].n_parents && parent->len <= XF_EVENT_ID_MAX) {
				memcpy(key.id, parent->ptr, parent->len);
				key.id[parent->len] = '\0';
				found = bsearch(&key, ids, f->n, sizeof(*ids), id_order);
			}
			f->parent_at[i * XF_PARENTS_MAX + p] = found && found->at != i ? found->at : NO_PARENT;
		}
	}
	free(ids);
	return 0;
}

/* Put the events (sorted by (hlc, origin, seq)) in causal order: an event
 * after every parent held, ties going to the least (hlc, origin, seq). A
 * clock days ahead thus cannot put an event after one that answered it.
 * Events in a parent cycle, which only forged events can make, go last
 * in clock order. */
static int causal_order(struct fold *f)
{
	size_t edges = f->n * XF_PARENTS_MAX;
	size_t *waiting = calloc(f->n, sizeof(*waiting)), *order = malloc(f->n * sizeof(*order));
	size_t *first_child = calloc(f->n + 1, sizeof(*first_child)), *children = malloc(edges * sizeof(*children));
	size_t *parents = malloc(edges * sizeof(*parents));
	bool *placed = calloc(f->n, sizeof(*placed));
	xf_event *evs = malloc(f->n * sizeof(*evs));
	size_t i, e, c, n = 0, from = 0;
	int r = 0;

	if (!waiting || !order || !first_child || !children || !parents || !placed || !evs) {
		r = -ENOMEM;
		goto cleanup;
	}
	/* Each event's children, contiguous: those of i at
	 * children[first_child[i] .. first_child[i + 1]). */
	for (e = 0; e < edges; e++)
		if (f->parent_at[e] != NO_PARENT) {
			waiting[e / XF_PARENTS_MAX]++;
			first_child[f->parent_at[e] + 1]++;
		}
	for (i = 0; i < f->n; i++)
		first_child[i + 1] += first_child[i];
	memcpy(parents, first_child, f->n * sizeof(*parents)); /* fill positions */
	for (e = 0; e < edges; e++)
		if (f->parent_at[e] != NO_PARENT)
			children[parents[f->parent_at[e]]++] = e / XF_PARENTS_MAX;
	while (n < f->n) {
		for (i = from; i < f->n && (placed[i] || waiting[i]); i++)
			;
		if (i == f->n) /* a cycle: take the least left */
			for (i = from; placed[i]; i++)
				;
		placed[i] = true;
		order[n++] = i;
		for (c = first_child[i]; c < first_child[i + 1]; c++)
			if (waiting[children[c]])
				waiting[children[c]]--;
		while (from < f->n && placed[from])
			from++;
	}
	/* Rearrange the events and renumber their parents. */
	for (i = 0; i < f->n; i++) {
		evs[i] = f->evs[order[i]];
		waiting[order[i]] = i; /* now: old index -> new */
	}
	for (e = 0; e < edges; e++) {
		size_t old = f->parent_at[order[e / XF_PARENTS_MAX] * XF_PARENTS_MAX + e % XF_PARENTS_MAX];

		parents[e] = old == NO_PARENT ? NO_PARENT : waiting[old];
	}
	memcpy(f->evs, evs, f->n * sizeof(*evs));
	memcpy(f->parent_at, parents, edges * sizeof(*parents));
cleanup:
	free(waiting);
	free(order);
	free(first_child);
	free(children);
	free(parents);
	free(placed);
	free(evs);
	return r;
}

/* Ancestry through parents among the events held, built in causal order
 * so that each parent's set is complete before its children read it (a
 * second pass confirms; more only after a forged cycle). */
static int ancestry(struct fold *f)
{
	size_t i, p, w;
	bool changed = true;

	f->words = (f->n + 63) / 64;
	f->ancestors = calloc(f->n * f->words, sizeof(*f->ancestors));
	if (!f->ancestors)
		return -ENOMEM;
	while (changed) {
		changed = false;
		for (i = 0; i < f->n; i++) {
			uint64_t *set = &f->ancestors[i * f->words];

			for (p = 0; p < XF_PARENTS_MAX; p++) {
				size_t at = f->parent_at[i * XF_PARENTS_MAX + p];
				const uint64_t *pset;

				if (at == NO_PARENT)
					continue;
				pset = &f->ancestors[at * f->words];
				for (w = 0; w < f->words; w++) {
					uint64_t grown = set[w] | pset[w];

					if (w == at / 64)
						grown |= UINT64_C(1) << (at % 64);
					if (grown != set[w]) {
						set[w] = grown;
						changed = true;
					}
				}
			}
		}
	}
	return 0;
}

/* Note that event AT wrote NAME (V NULL: cleared it). */
static int write_note(struct fold *f, size_t at, const char *name, const xf_value *v)
{
	struct write *w;
	size_t k;
	int r;

	/* An event that names a field twice (a "date" that maps onto a field
	 * it also sets) writes it once: the value that shows. */
	for (k = f->n_writes; k > 0 && f->writes[k - 1].at == at; k--) {
		if (strcmp(f->writes[k - 1].value.name, name) == 0) {
			w = &f->writes[k - 1];
			attr_clear(&w->value);
			return f->names_only ? 0 : attr_assign(&w->value, v);
		}
	}
	if (xf_grow(&f->writes, &f->cap_writes, f->n_writes, sizeof(*f->writes)) < 0)
		return -ENOMEM;
	w = &f->writes[f->n_writes];
	memset(w, 0, sizeof(*w));
	w->at = at;
	snprintf(w->value.name, sizeof(w->value.name), "%s", name);
	memcpy(w->value.event, f->id, sizeof(f->id));
	r = f->names_only ? 0 : attr_assign(&w->value, v);
	f->n_writes++;
	return r;
}

/* Give E's attribute NAME (added if new) the value V, written by EVENT. */
static int attr_put(xf_entity *e, const char *name, const xf_value *v, const char *event)
{
	xf_attr *a = (xf_attr *)xf_entity_attr(e, name);

	if (!a) {
		void *p = realloc(e->attrs, (e->n_attrs + 1) * sizeof(*e->attrs));

		if (!p)
			return -ENOMEM;
		e->attrs = p;
		a = &e->attrs[e->n_attrs++];
		memset(a, 0, sizeof(*a));
		strcpy(a->name, name);
	}
	memcpy(a->event, event, sizeof(a->event));
	return attr_assign(a, v);
}

static int attr_set(struct fold *f, size_t at, const char *name, const xf_value *v)
{
	int r;

	/* Kinds of value a newer version may write are left unread. */
	if (v->type != XF_VALUE_STR && v->type != XF_VALUE_INT && v->type != XF_VALUE_BOOL &&
	    v->type != XF_VALUE_ARRAY)
		return 0;
	r = attr_put(f->e, name, v, f->id);
	return r < 0 ? r : write_note(f, at, name, v);
}

static int attr_remove(struct fold *f, size_t at, const char *name)
{
	xf_entity *e = f->e;
	xf_attr *a = (xf_attr *)xf_entity_attr(e, name);

	if (a) {
		attr_clear(a);
		*a = e->attrs[--e->n_attrs];
	}
	return write_note(f, at, name, NULL);
}

static int status_set(struct fold *f, size_t at, const char *status, bool legal)
{
	xf_value v = { .type = XF_VALUE_STR, .s = status, .len = strlen(status) };

	if (legal)
		snprintf(f->e->status, sizeof(f->e->status), "%s", status);
	return write_note(f, at, "status", &v);
}

/* The status the act at AT saw: the last write of it among its ancestors,
 * in fold order (the writes are noted in that order). */
static const char *status_seen(const struct fold *f, size_t at)
{
	size_t k;

	for (k = f->n_writes; k > 0; k--) {
		const struct write *w = &f->writes[k - 1];

		if (w->at != at && is_ancestor(f, at, w->at) && strcmp(w->value.name, "status") == 0 &&
		    w->value.type == XF_VALUE_STR)
			return w->value.str;
	}
	return f->e->status;
}

static int item_add(struct fold *f, size_t at, const char *list, const xf_value *text, const char *date)
{
	const xf_event *ev = &f->evs[at];
	xf_entity *e = f->e;
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
	it->text = strndup(text->s, text->len);
	if (!it->text)
		return -ENOMEM;
	snprintf(it->date, sizeof(it->date), "%s", date);
	snprintf(it->author, sizeof(it->author), "%s", ev->author);
	memcpy(it->event, f->id, sizeof(f->id));
	e->n_items++;
	return 0;
}

/* A field's name, or "" for one too long to be ours. */
static const char *field_name(const xf_fields *fs, size_t i, char name[XF_ATTR_NAME_MAX + 1])
{
	size_t len;
	const char *key = xf_fields_key(fs, i, &len);

	if (len > XF_ATTR_NAME_MAX)
		len = 0;
	memcpy(name, key, len);
	name[len] = '\0';
	return name;
}

/* A resolution sets what it names whatever the state: it has seen every
 * rival, and a person chose. */
static int fold_resolution(struct fold *f, size_t at, const xf_fields *fs)
{
	char name[XF_ATTR_NAME_MAX + 1], status[XF_STATUS_MAX + 1];
	const xf_value *clear = xf_fields_get(fs, "clear");
	size_t i;
	int r = 0;

	xf_value_str(xf_fields_get(fs, "status"), status, sizeof(status));
	if (status_known(f->e->kind, status))
		r = status_set(f, at, status, true);
	for (i = 0; r == 0 && clear && clear->type == XF_VALUE_ARRAY && i < clear->len; i++) {
		const xf_value *c = &clear->items[i];

		if (c->type == XF_VALUE_STR && c->len <= XF_ATTR_NAME_MAX) {
			memcpy(name, c->s, c->len);
			name[c->len] = '\0';
			r = attr_remove(f, at, name);
		}
	}
	for (i = 0; r == 0 && i < xf_fields_count(fs); i++) {
		field_name(fs, i, name);
		if (*name && strcmp(name, "keep") && strcmp(name, "status") && strcmp(name, "clear"))
			r = attr_set(f, at, name, xf_fields_value(fs, i));
	}
	return r;
}

static bool status_in(const char *const *from, const char *status)
{
	size_t i;

	for (i = 0; from[i]; i++)
		if (strcmp(from[i], status) == 0)
			return true;
	return false;
}

/* The day a case was accepted (受理): that of the first act that accepts
 * it. The statutory 60 days run from it (core/src/report.c). Derived,
 * never written by an act, so it cannot be in conflict: the fold order
 * alone makes it the same on every node. */
#define ACCEPTED "accepted_on"

static int fold_one(struct fold *f, size_t at)
{
	const xf_event *ev = &f->evs[at];
	xf_entity *e = f->e;
	const struct act *act = act_find(ev->type);
	char date[XF_DATE_LEN + 1], name[XF_ATTR_NAME_MAX + 1];
	xf_fields *fs = NULL;
	const xf_value *from;
	bool legal;
	size_t i;
	int r = 0;

	xf_event_id(ev->origin, ev->seq, f->id);
	e->n_events++;
	if (ev->hlc > e->hlc)
		e->hlc = ev->hlc;
	if (xf_fields_parse(ev->body, ev->body_len, &fs) < 0)
		return 0;
	if (strcmp(ev->type, RESOLVED) == 0) {
		r = fold_resolution(f, at, fs);
		goto cleanup;
	}
	/* Acts a newer version invented are kept in the log, not folded. */
	if (!act || act->kind != e->kind)
		goto cleanup;
	xf_value_str(xf_fields_get(fs, "date"), date, sizeof(date));
	/* A transition the state machine forbids can only arrive by merge,
	 * from an act concurrent with the one that moved the status on: it
	 * leaves the status as it is, and the clash shows as a conflict. */
	legal = act->from ? status_in(act->from, e->status) : !e->status[0];
	if (act->status)
		r = status_set(f, at, act->status, legal);
	/* A note, work group or extension moves no status, but one the status
	 * forbids clashes all the same (a work group sent apart to a case
	 * closed elsewhere): it stands for the status it saw. */
	else if (!legal)
		r = status_set(f, at, status_seen(f, at), false);
	for (i = 0; r == 0 && legal && act->clears && act->clears[i]; i++)
		r = attr_remove(f, at, act->clears[i]);
	if (r == 0 && act->list) {
		r = item_add(f, at, act->list, xf_fields_get(fs, "text"), date);
		goto cleanup;
	}
	if (r == 0 && legal && act->accepts && *date && !xf_entity_attr(e, ACCEPTED))
		r = attr_put(e, ACCEPTED, &(xf_value){ .type = XF_VALUE_STR, .s = date, .len = strlen(date) }, f->id);
	from = xf_fields_get(fs, "from");
	for (i = 0; from && from->type == XF_VALUE_ARRAY && i < from->len && r == 0; i++)
		r = item_add(f, at, "visits", &from->items[i], date);
	for (i = 0; i < xf_fields_count(fs) && r == 0; i++) {
		field_name(fs, i, name);
		if (!*name || strcmp(name, "from") == 0 || strcmp(name, ACCEPTED) == 0)
			continue;
		if (strcmp(name, "date") == 0) {
			if (!act->date_attr)
				continue;
			strcpy(name, act->date_attr);
		}
		r = attr_set(f, at, name, xf_fields_value(fs, i));
	}
cleanup:
	xf_fields_free(fs);
	return r;
}

/* The writes of W's field that no other write of it descends from: the
 * values still standing. They conflict when they differ. */
static bool standing(const struct fold *f, size_t w)
{
	size_t o;

	for (o = 0; o < f->n_writes; o++)
		if (o != w && f->writes[o].at != f->writes[w].at &&
		    strcmp(f->writes[o].value.name, f->writes[w].value.name) == 0 &&
		    is_ancestor(f, f->writes[o].at, f->writes[w].at))
			return false;
	return true;
}

static int conflict_add(xf_entity *e, const char *field, const xf_attr *rival)
{
	xf_conflict *c = e->n_conflicts ? &e->conflicts[e->n_conflicts - 1] : NULL;
	void *p;

	if (!c || strcmp(c->field, field) != 0) {
		p = realloc(e->conflicts, (e->n_conflicts + 1) * sizeof(*e->conflicts));
		if (!p)
			return -ENOMEM;
		e->conflicts = p;
		c = &e->conflicts[e->n_conflicts++];
		memset(c, 0, sizeof(*c));
		snprintf(c->field, sizeof(c->field), "%s", field);
	}
	p = realloc(c->rivals, (c->n + 1) * sizeof(*c->rivals));
	if (!p)
		return -ENOMEM;
	c->rivals = p;
	c->n++;
	return attr_copy(&c->rivals[c->n - 1], rival);
}

static int head_order(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The parents named by events held that are not held themselves: an
 * event that arrives to fill one is not last in fold order. */
static int find_awaited(struct fold *f)
{
	xf_entity *e = f->e;
	size_t i, p, j;

	for (i = 0; i < f->n; i++) {
		for (p = 0; p < f->evs[i].n_parents; p++) {
			const xf_str *parent = &f->evs[i].parents[p];
			char id[XF_EVENT_ID_MAX + 1];
			void *grown;

			if (f->parent_at[i * XF_PARENTS_MAX + p] != NO_PARENT || parent->len > XF_EVENT_ID_MAX)
				continue;
			memcpy(id, parent->ptr, parent->len);
			id[parent->len] = '\0';
			xf_event_id(f->evs[i].origin, f->evs[i].seq, f->id);
			if (strcmp(id, f->id) == 0) /* names itself: no event awaited */
				continue;
			for (j = 0; j < e->n_awaited && strcmp(e->awaited[j], id) != 0; j++)
				;
			if (j < e->n_awaited)
				continue;
			grown = realloc(e->awaited, (e->n_awaited + 1) * sizeof(*e->awaited));
			if (!grown)
				return -ENOMEM;
			e->awaited = grown;
			strcpy(e->awaited[e->n_awaited++], id);
		}
	}
	if (e->n_awaited)
		qsort(e->awaited, e->n_awaited, sizeof(*e->awaited), head_order);
	return 0;
}

/* The events no other event held names as a parent, sorted. */
static int find_heads(struct fold *f)
{
	bool *named = calloc(f->n + 1, sizeof(*named));
	size_t i;

	f->e->heads = calloc(f->n + 1, sizeof(*f->e->heads));
	if (!named || !f->e->heads) {
		free(named);
		return -ENOMEM;
	}
	for (i = 0; i < f->n * XF_PARENTS_MAX; i++)
		if (f->parent_at[i] != NO_PARENT)
			named[f->parent_at[i]] = true;
	for (i = 0; i < f->n; i++)
		if (!named[i])
			xf_event_id(f->evs[i].origin, f->evs[i].seq, f->e->heads[f->e->n_heads++]);
	qsort(f->e->heads, f->e->n_heads, sizeof(*f->e->heads), head_order);
	free(named);
	return 0;
}

static int find_conflicts(struct fold *f)
{
	bool *done = calloc(f->n_writes + 1, sizeof(*done));
	size_t *stand = calloc(f->n_writes + 1, sizeof(*stand));
	size_t w, o, n, k;
	bool differ;
	int r = 0;

	if (!done || !stand) {
		r = -ENOMEM;
		goto cleanup;
	}
	for (w = 0; w < f->n_writes && r == 0; w++) {
		const char *field = f->writes[w].value.name;

		if (done[w])
			continue;
		n = 0;
		differ = false;
		for (o = w; o < f->n_writes; o++) {
			if (strcmp(f->writes[o].value.name, field) != 0)
				continue;
			done[o] = true;
			if (!standing(f, o))
				continue;
			if (n && !attr_same_value(&f->writes[stand[0]].value, &f->writes[o].value))
				differ = true;
			stand[n++] = o;
		}
		for (k = 0; differ && k < n && r == 0; k++)
			r = conflict_add(f->e, field, &f->writes[stand[k]].value);
	}
cleanup:
	free(done);
	free(stand);
	return r;
}

int xf_entity_fold(const char *id, const xf_event *evs, size_t n, xf_entity **out)
{
	struct fold f = { 0 };
	size_t i;
	int r;

	if (!evs && n)
		return -EINVAL;
	r = entity_new(id, &f.e);
	if (r < 0)
		return r;
	f.n = n;
	f.evs = malloc((n ? n : 1) * sizeof(*f.evs));
	if (!f.evs) {
		r = -ENOMEM;
		goto cleanup;
	}
	if (n) {
		memcpy(f.evs, evs, n * sizeof(*evs));
		qsort(f.evs, n, sizeof(*f.evs), fold_order);
	}
	for (i = 0; i < n; i++)
		if (strcmp(f.evs[i].entity, id) != 0)
			r = -EINVAL;
	if (r == 0 && n)
		r = resolve_parents(&f);
	if (r == 0 && n)
		r = causal_order(&f);
	if (r == 0 && n)
		r = ancestry(&f);
	for (i = 0; r == 0 && i < n; i++)
		r = fold_one(&f, i);
	if (r == 0)
		r = find_conflicts(&f);
	if (r == 0 && n)
		r = find_heads(&f);
	if (r == 0 && n)
		r = find_awaited(&f);
cleanup:
	for (i = 0; i < f.n_writes; i++)
		attr_clear(&f.writes[i].value);
	free(f.writes);
	free(f.ancestors);
	free(f.parent_at);
	free(f.evs);
	if (r < 0) {
		xf_entity_free(f.e);
		return r;
	}
	*out = f.e;
	return 0;
}

/* Do EV's parents name exactly E's heads, each once, and does no event
 * of E wait for EV as its parent? Then EV comes last in fold order. */
static bool has_seen_all(const xf_entity *e, const xf_event *ev)
{
	char id[XF_EVENT_ID_MAX + 1];
	size_t i, j;

	if (ev->n_parents != e->n_heads)
		return false;
	xf_event_id(ev->origin, ev->seq, id);
	for (i = 0; i < e->n_awaited; i++)
		if (strcmp(e->awaited[i], id) == 0)
			return false;
	for (i = 0; i < ev->n_parents; i++)
		for (j = 0; j < i; j++)
			if (ev->parents[i].len == ev->parents[j].len &&
			    memcmp(ev->parents[i].ptr, ev->parents[j].ptr, ev->parents[i].len) == 0)
				return false;
	for (i = 0; i < ev->n_parents; i++) {
		for (j = 0; j < e->n_heads; j++)
			if (ev->parents[i].len == strlen(e->heads[j]) &&
			    memcmp(ev->parents[i].ptr, e->heads[j], ev->parents[i].len) == 0)
				break;
		if (j == e->n_heads)
			return false;
	}
	return true;
}

static void conflict_drop(xf_entity *e, const char *field)
{
	size_t i, j;

	for (i = 0; i < e->n_conflicts; i++) {
		if (strcmp(e->conflicts[i].field, field) != 0)
			continue;
		for (j = 0; j < e->conflicts[i].n; j++)
			attr_clear(&e->conflicts[i].rivals[j]);
		free(e->conflicts[i].rivals);
		memmove(&e->conflicts[i], &e->conflicts[i + 1], (e->n_conflicts - i - 1) * sizeof(*e->conflicts));
		e->n_conflicts--;
		return;
	}
}

/* EV descends from every event of E, so it comes last in fold order, and
 * each field it writes has it as its only standing write: its conflicts
 * are settled. Fields it does not write keep theirs. */
int xf_entity_fold_next(xf_entity *e, const xf_event *ev)
{
	struct fold f = { .e = e, .evs = (xf_event *)ev, .n = 1, .names_only = true };
	char (*heads)[XF_EVENT_ID_MAX + 1];
	size_t i;
	int r;

	if (!e || !ev || strcmp(e->id, ev->entity) != 0)
		return -EINVAL;
	if (!has_seen_all(e, ev))
		return XF_ESTATE;
	/* An act its status forbids is a clash to be found among all the
	 * entity's events: the caller folds them afresh. */
	if (xf_entity_allows(e, e->kind, ev->type) == XF_ESTATE)
		return XF_ESTATE;
	heads = realloc(e->heads, sizeof(*e->heads));
	if (!heads)
		return -ENOMEM;
	e->heads = heads;
	r = fold_one(&f, 0);
	for (i = 0; i < f.n_writes; i++) {
		if (r == 0)
			conflict_drop(e, f.writes[i].value.name);
		attr_clear(&f.writes[i].value);
	}
	free(f.writes);
	memcpy(e->heads[0], f.id, sizeof(f.id));
	e->n_heads = 1;
	return r;
}

int xf_entity_allows(const xf_entity *e, char kind, const char *type)
{
	const struct act *act = act_find(type);

	if (strcmp(type, RESOLVED) == 0)
		return e && e->n_conflicts ? 0 : e ? XF_ESTATE : -EINVAL;
	if (!act)
		return e ? 0 : -EINVAL; /* unknown acts are the caller's business */
	if (!e)
		return act->from || act->kind != kind ? -EINVAL : 0;
	if (!act->from || act->kind != e->kind)
		return -EINVAL;
	return status_in(act->from, e->status) ? 0 : XF_ESTATE;
}

static int put_value(xf_body *b, const xf_attr *a)
{
	switch (a->type) {
	case XF_VALUE_STR: return xf_body_put_str(b, a->name, a->str, XF_EVENT_MAX);
	case XF_VALUE_INT: return xf_body_put_int(b, a->name, a->i);
	case XF_VALUE_BOOL: return xf_body_put_bool(b, a->name, a->b);
	case XF_VALUE_ARRAY:
		return xf_body_put_strv(b, a->name, (const char *const *)a->strv, a->n, XF_EVENT_MAX);
	default: return -EINVAL;
	}
}

int xf_entity_resolution(const xf_entity *e, const char *keep, xf_body **out)
{
	const char *cleared[XF_CONFLICTS_MAX];
	xf_body *b = NULL;
	size_t i, j, n_cleared = 0, kept = 0;
	int r;

	if (!e || !keep || !out)
		return -EINVAL;
	r = xf_body_new(&b);
	if (r == 0)
		r = xf_body_put_str(b, "keep", keep, XF_EVENT_ID_MAX);
	for (i = 0; r == 0 && i < e->n_conflicts; i++) {
		const xf_conflict *c = &e->conflicts[i];

		for (j = 0; j < c->n && strcmp(c->rivals[j].event, keep) != 0; j++)
			;
		if (j == c->n)
			continue;
		kept++;
		if (c->rivals[j].type == XF_VALUE_NIL) {
			if (n_cleared == XF_ARRAY_SIZE(cleared))
				r = XF_ETOOBIG;
			else
				cleared[n_cleared++] = c->field;
		} else if (strcmp(c->field, "status") == 0) {
			r = xf_body_put_str(b, "status", c->rivals[j].str, XF_STATUS_MAX);
		} else {
			xf_attr named = c->rivals[j];

			snprintf(named.name, sizeof(named.name), "%s", c->field);
			r = put_value(b, &named);
		}
	}
	if (r == 0 && n_cleared)
		r = xf_body_put_strv(b, "clear", cleared, n_cleared, XF_ATTR_NAME_MAX);
	if (r == 0 && kept == 0)
		r = XF_ENOTFOUND;
	if (r < 0) {
		xf_body_free(b);
		return r;
	}
	*out = b;
	return 0;
}
