/* The township's counters since it started, for GET /metrics in the
 * Prometheus text format (https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Gauges that the store knows (events held, each child's lag and last
 * sync) are read from it at scrape time. Thread-safe. */
#ifndef XFD_METRICS_H
#define XFD_METRICS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "xf/xf.h"

#define METRICS_CODES 600
#define METRICS_REASONS 9
#define METRICS_BUCKETS 11

typedef struct metrics_counts {
	uint64_t responses[METRICS_CODES];   /* by HTTP status */
	uint64_t ingested;                   /* events stored from children */
	uint64_t rejected[METRICS_REASONS];  /* events refused, by reason */
	uint64_t sync_buckets[METRICS_BUCKETS];
	uint64_t sync_count;
	double sync_seconds;
} metrics_counts;

typedef struct metrics {
	pthread_mutex_t lock;
	metrics_counts c;
} metrics;

void metrics_init(metrics *m);
void metrics_destroy(metrics *m);
void metrics_response(metrics *m, unsigned status);
/* One sync served: how long it took, what it stored, and what it refused
 * (REJECTED events, for the reason REJECT_ERROR, an XF_E* code). */
void metrics_sync(metrics *m, double seconds, size_t stored, size_t rejected, int reject_error);

/* The exposition of M and of what S holds, into OUT. */
int metrics_write(metrics *m, xf_store *s, FILE *out);

#endif
