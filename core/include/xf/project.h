/* Projections: the state of one visit, letter, case or risk, folded from
 * its events in (hlc, origin, seq) order. The fold is a pure function of
 * the set of events, so every node holding the same events shows the same
 * state.
 *
 * Fields set by an act (title, leader, due, outcome, ...) are attributes:
 * the last act in fold order that sets one wins. Notes, dispatches and
 * the visits or letters a case was opened from accumulate as items. */
#ifndef XF_PROJECT_H
#define XF_PROJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xf/body.h"
#include "xf/event.h"
#include "xf/store.h"

#define XF_ATTR_NAME_MAX 24
#define XF_STATUS_MAX 15

typedef struct xf_attr {
	char name[XF_ATTR_NAME_MAX + 1];
	xf_value_type type;    /* XF_VALUE_STR, _INT, _BOOL or _ARRAY of strings */
	char *str;
	int64_t i;
	bool b;
	char **strv;
	size_t n;
	char event[XF_EVENT_ID_MAX + 1]; /* the event whose value shows */
} xf_attr;

typedef struct xf_item {
	const char *list;      /* "visits", "notes" or "dispatches" */
	char *text;
	char date[XF_DATE_LEN + 1];
	char author[XF_AUTHOR_MAX + 1];
	char event[XF_EVENT_ID_MAX + 1];
} xf_item;

typedef struct xf_entity {
	char id[XF_ENTITY_ID_MAX + 1];
	char kind;             /* 'V' visit, 'L' letter, 'C' case, 'R' risk, 'N' node */
	char status[XF_STATUS_MAX + 1];
	char origin[XF_NODE_ID_MAX + 1]; /* the node that created it */
	size_t n_events;
	uint64_t hlc;          /* of the latest event folded */
	xf_attr *attrs;
	size_t n_attrs;
	xf_item *items;
	size_t n_items;
} xf_entity;

/* Fold the events of entity ID held in S. The caller frees *out with
 * xf_entity_free(). XF_ENOTFOUND if S holds no event of ID. */
int xf_entity_load(xf_store *s, const char *id, xf_entity **out);
void xf_entity_free(xf_entity *e);

/* An empty projection of entity ID, and one event folded into it; the two
 * pieces of xf_entity_load() for callers that hold events already. */
int xf_entity_new(const char *id, xf_entity **out);
int xf_entity_fold(xf_entity *e, const xf_event *ev);

/* The attribute NAME, or NULL. */
const xf_attr *xf_entity_attr(const xf_entity *e, const char *name);

/* 0 if an event of TYPE may be recorded about E now, XF_ESTATE if the
 * entity's status forbids it (closing a closed case, reopening an open
 * one, resolving a resolved risk, ...), -EINVAL if TYPE does not apply to
 * E's kind. E is NULL for an entity about to be created, of KIND. */
int xf_entity_allows(const xf_entity *e, char kind, const char *type);

#endif
