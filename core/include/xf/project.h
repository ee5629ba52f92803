/* Projections: the state of one visit, letter, case or risk, a pure
 * function of the set of its events, so every node holding the same
 * events shows the same state whatever order they arrived in. The store
 * keeps each entity's projection and refreshes it in the transaction that
 * adds one of its events. The rules are in core/MERGE.md:
 *
 * Fields set by an act (title, leader, due, outcome, ...) are attributes:
 * the last writer in (hlc, origin, seq) order wins. Notes, dispatches and
 * the visits or letters a case was opened from accumulate as items. The
 * status follows the state machine in that order. Two writes of one field
 * or of the status that are concurrent (neither event has the other among
 * its ancestors through parents) and differ are a conflict, listed with
 * every competing value until an event that has seen them all settles it. */
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
/* A resolution names at most this many fields (a body holds 32). */
#define XF_CONFLICTS_MAX 24

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

/* A field written concurrently to different values: each rival is one
 * competing write, its value and event (type XF_VALUE_NIL: the write
 * cleared the field), in fold order. Which shows follows the rules in
 * core/MERGE.md (for a field the last rival; for the status, the state
 * machine). */
typedef struct xf_conflict {
	char field[XF_ATTR_NAME_MAX + 1]; /* an attribute, or "status" */
	xf_attr *rivals;
	size_t n;
} xf_conflict;

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
	xf_conflict *conflicts;
	size_t n_conflicts;
	/* Its events no other names as a parent, sorted: the parents of the
	 * next act recorded on it. */
	char (*heads)[XF_EVENT_ID_MAX + 1];
	size_t n_heads;
	/* Parents its events name that it does not hold (yet), sorted. */
	char (*awaited)[XF_EVENT_ID_MAX + 1];
	size_t n_awaited;
} xf_entity;

/* The projection of entity ID as the store keeps it. The caller frees
 * *out with xf_entity_free(). XF_ENOTFOUND if S holds no event of ID. */
int xf_entity_load(xf_store *s, const char *id, xf_entity **out);
void xf_entity_free(xf_entity *e);

/* Fold the N events EVS (views, in any order) of entity ID into *out, to
 * be freed with xf_entity_free(). The events are only read. */
int xf_entity_fold(const char *id, const xf_event *evs, size_t n, xf_entity **out);

/* Fold one more event EV into E, as xf_entity_fold() over E's events and
 * EV would: possible when EV has seen every event folded into E (its
 * parents are E's heads), which makes it last in fold order, and E's
 * status allows its act. XF_ESTATE otherwise, E unchanged: fold the entity
 * afresh. After any other failure E is only fit to be freed. */
int xf_entity_fold_next(xf_entity *e, const xf_event *ev);

/* The canonical encoding of a projection, the bytes the store keeps and
 * digests: equal projections encode to equal bytes. *out is the caller's
 * to free(). */
int xf_entity_encode(const xf_entity *e, uint8_t **out, size_t *len);
/* XF_ECORRUPT if BYTES is not such an encoding. */
int xf_entity_decode(const uint8_t *bytes, size_t len, xf_entity **out);

/* Re-derive every projection in S from the log, in one transaction.
 * REPORT, if not NULL, says how many entities were folded and how many of
 * their stored projections differed (and were replaced). */
typedef struct xf_rebuild_report {
	size_t entities;
	size_t differed;
} xf_rebuild_report;
int xf_store_rebuild(xf_store *s, xf_rebuild_report *report);

/* BLAKE2b-256 over every stored projection in entity order: two nodes
 * holding the same events have the same digest. */
int xf_store_digest(xf_store *s, uint8_t digest[XF_HASH_BYTES]);

/* Call CB with the id of each entity in conflict, in id order; a non-zero
 * return from CB stops the walk and is returned. */
int xf_store_conflicts(xf_store *s, int (*cb)(const char *entity, void *ctx), void *ctx);

/* The attribute NAME, or NULL. */
const xf_attr *xf_entity_attr(const xf_entity *e, const char *name);

/* 0 if an event of TYPE may be recorded about E now, XF_ESTATE if the
 * entity's status forbids it (closing a closed case, reopening an open
 * one, resolving a resolved risk, ...), -EINVAL if TYPE does not apply to
 * E's kind. E is NULL for an entity about to be created, of KIND. */
int xf_entity_allows(const xf_entity *e, char kind, const char *type);

/* The body of a "conflict.resolved" event that keeps, in every conflict of
 * E where the event KEEP (an "origin:seq" id) is a rival, KEEP's value.
 * Appended with the entity's heads as parents, it has seen every rival,
 * so the conflicts it settles are gone on every node that holds it.
 * XF_ENOTFOUND if KEEP is a rival in no conflict of E. The caller frees
 * *out with xf_body_free(). */
int xf_entity_resolution(const xf_entity *e, const char *keep, xf_body **out);

#endif
