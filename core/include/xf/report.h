/* The township office's figures, from the stored projections and nothing
 * else: every node holding the same events gives the same figures. What
 * each count means, exactly, is in README.md ("Reports"):
 *
 * a visit, letter or risk counts on its own date; a case is opened on its
 * opened_on, and closed in a period when it stands closed with its latest
 * closing in the period (a reopened case counts again only when closed
 * again); a work group counts on the day it was sent. A case belongs to
 * the village of the first visit or letter it was opened from, and to that
 * record's category; everything else to the node that recorded it. */
#ifndef XF_REPORT_H
#define XF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xf/project.h"
#include "xf/store.h"

/* A visit of this many people or more is a collective visit (集体访). */
#define XF_COLLECTIVE_PEOPLE 5
/* A visit's people beyond this are not counted (the CLI allows 10000). */
#define XF_PEOPLE_MAX 100000

typedef enum xf_count {
	XF_COUNT_VISITS,            /* 批次 */
	XF_COUNT_PEOPLE,            /* 人次 */
	XF_COUNT_COLLECTIVE,
	XF_COUNT_ESCALATED,
	XF_COUNT_LETTERS,
	XF_COUNT_CASES_OPENED,
	XF_COUNT_CASES_CLOSED,
	XF_COUNT_WORKGROUPS,
	XF_COUNT_RISKS_REPORTED,
	XF_COUNT_RISKS_RESOLVED,
	XF_COUNT_N,
} xf_count;

/* The JSON name of count I: "visits", "people", "collective_visits", ... */
const char *xf_count_name(xf_count i);

typedef struct xf_counts {
	int64_t n[XF_COUNT_N];
} xf_counts;

/* The counts of one village (its node id) or one category ("": none). */
typedef struct xf_report_row {
	char *key;
	xf_counts now, before;
} xf_report_row;

typedef struct xf_report {
	int32_t from, to;               /* days since 1970-01-01, both included */
	int32_t before_from, before_to; /* the same dates a year earlier */
	xf_counts now, before;
	xf_report_row *villages;        /* in key order */
	size_t n_villages;
	xf_report_row *categories;      /* in key order */
	size_t n_categories;
} xf_report;

/* The figures for FROM..TO (days, FROM <= TO) and for the same dates a
 * year earlier: the same whole months when the period is whole months
 * (February with the whole earlier February), else as many days from the
 * same date (29 February becomes the 28th). Of VILLAGE only when not NULL.
 * The caller frees *out with xf_report_free(). */
int xf_report_make(xf_store *s, int32_t from, int32_t to, const char *village, xf_report **out);
void xf_report_free(xf_report *r);

/* The same day a year earlier. */
int32_t xf_year_earlier(int32_t day);

/* PART as a percentage of WHOLE, in tenths rounded half away from zero:
 * false, and nothing in *tenths, when WHOLE is 0. The closure rate is
 * xf_percent(closed, opened); the change on a year earlier (同比) is
 * xf_percent(now - before, before). */
bool xf_percent(int64_t part, int64_t whole, int64_t *tenths);

/* Where a record belongs, for reports and exports. */
typedef struct xf_record_meta {
	char village[XF_NODE_ID_MAX + 1];
	const char *category; /* its own, or a case's first source's; "" none */
	int32_t day;          /* its own date (a case's opened_on); INT32_MIN none */
	int32_t received;     /* a case's earliest source's date, else DAY */
} xf_record_meta;

/* Call CB with the projection of every entity of KIND ('V', 'L', 'C', 'R';
 * every kind when 0), in id order, in one read transaction; E and M are
 * borrowed until CB returns, and a non-zero return stops the walk and is
 * returned. VILLAGE, when not NULL, keeps only that village's records. */
int xf_store_projections(xf_store *s, char kind, const char *village,
			 int (*cb)(const xf_entity *e, const xf_record_meta *m, void *ctx), void *ctx);

/* Statutory deadlines (信访工作条例): a case must be accepted (受理: a
 * leader assigned) or refused (closed) within 15 days of the earliest visit
 * or letter it comes from, and concluded within 60 days of acceptance, or
 * of its reopening, extended once by 30 (case extend; an extension before
 * a reopening does not count for the handling after it). */
#define XF_ACCEPT_DAYS 15
#define XF_CONCLUDE_DAYS 60
#define XF_EXTEND_DAYS 30

typedef struct xf_deadline {
	bool accepted;   /* false: the deadline is acceptance's */
	bool extended;
	int32_t start;   /* received, or the day accepted or reopened */
	int32_t due;     /* the last day for the next step */
} xf_deadline;

/* Has case C's current handling (since its acceptance or latest
 * reopening) had its one extension? */
bool xf_case_extended(const xf_entity *c);

/* The deadline of case C (M from xf_store_projections()): false when C is
 * closed, or not a case. */
bool xf_case_deadline(const xf_entity *c, const xf_record_meta *m, xf_deadline *out);

#endif
