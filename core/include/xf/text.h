/* Validation of the small values people type: node ids, dates, text. */
#ifndef XF_TEXT_H
#define XF_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XF_NODE_ID_MAX 32   /* letters, digits, '-' */
#define XF_ENTITY_ID_MAX 64 /* "C-" node id "-" seq */
#define XF_EVENT_ID_MAX 64  /* node id ":" seq */
#define XF_DATE_LEN 10      /* YYYY-MM-DD */

/* 0 if ID is 1..XF_NODE_ID_MAX of [A-Za-z0-9-], not starting with '-';
 * -EINVAL otherwise. */
int xf_node_id_check(const char *id);

/* 0 if S is valid UTF-8 of at most MAX bytes with no control characters
 * other than newline and tab; XF_EUTF8 or XF_ETOOBIG otherwise. */
int xf_text_check(const char *s, size_t max);

/* Whether S is valid UTF-8, control characters or not: which rule text
 * that xf_text_check refused with XF_EUTF8 broke. */
bool xf_text_is_utf8(const char *s);

/* Parse a calendar date YYYY-MM-DD into days since 1970-01-01. XF_EDATE if
 * it is not a real date. */
int xf_date_parse(const char *s, int32_t *days_out);

/* Format days since the epoch as YYYY-MM-DD. */
void xf_date_format(int32_t days, char out[XF_DATE_LEN + 1]);

/* Today in local time, as days since the epoch, for a wall clock in ms. */
int32_t xf_date_today(uint64_t wall_ms);

/* Split an event id "origin:seq". -EINVAL if it is not one. */
int xf_event_id_parse(const char *id, char origin[XF_NODE_ID_MAX + 1], uint64_t *seq);

/* Split an entity id "K-origin-seq": the node it was created on and, when
 * SEQ is not NULL, the seq of the event that created it. -EINVAL if it is
 * not one. */
int xf_entity_id_parse(const char *id, char origin[XF_NODE_ID_MAX + 1], uint64_t *seq);

#endif
