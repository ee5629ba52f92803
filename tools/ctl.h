/* xinfangctl: what the verbs share. Each verb lives in cmd_<verb>.c and is
 * listed in the table in main.c. */
#ifndef XF_CTL_H
#define XF_CTL_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "xf/xf.h"

/* Exit codes: results on stdout, one-line errors on stderr. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Limits on what a clerk types, in bytes of UTF-8 (README, "Limits"). */
#define LIMIT_TEXT     4000 /* summary, note, reply, outcome, reason, title */
#define LIMIT_SHORT    200  /* category, leader, work group members */
#define LIMIT_NAME     64
#define LIMIT_NAMES    20
#define LIMIT_PHONE    32
#define LIMIT_PEOPLE   10000

typedef struct ctl {
	const char *verb;        /* "case assign", for messages */
	const char *usage;       /* the verb's option summary */
	const char *config_path;
	bool json;
	xf_config cfg;
	xf_store *store;         /* opened by ctl_open() */
	xf_key *key;             /* loaded by ctl_open_key() */
	uint64_t now_ms;
} ctl;

typedef struct ctl_verb {
	const char *name;
	const char *usage;
	const char *help;
	int (*run)(ctl *c, int argc, char **argv);
} ctl_verb;

/* Print "xinfangctl VERB: message" on stderr and return EXIT_FAIL (or
 * EXIT_USAGE from ctl_usage). */
int ctl_fail(const ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ctl_usage(const ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* getopt_long over the verb's own OPTIONS plus the common -c/--config,
 * --json and -h/--help. Returns the option, -1 at the end, '?' after a
 * usage error was printed, 'h' after help was printed. */
int ctl_getopt(ctl *c, int argc, char **argv, const char *shortopts, const struct option *options);

/* For a verb with no options of its own: the common options, then exactly
 * POSITIONAL arguments (their names in USAGE for the message). Returns 0
 * to go on, CTL_HELPED once help was printed, or EXIT_USAGE. */
#define CTL_HELPED (-1)
int ctl_plain_args(ctl *c, int argc, char **argv, int positional);

/* Load the config; open the store; load the node key. Each prints its own
 * one-line error and returns EXIT_FAIL on failure, 0 on success. */
int ctl_load_config(ctl *c);
int ctl_open(ctl *c);
int ctl_open_key(ctl *c);

/* --date: today when DATE is NULL; a real date not after today otherwise.
 * OUT gets YYYY-MM-DD. */
int ctl_date(ctl *c, const char *date, char out[XF_DATE_LEN + 1]);

/* Put a text option into BODY, with a one-line error naming OPTION. */
int ctl_put_text(ctl *c, xf_body *body, const char *key, const char *option, const char *val, size_t max);

/* Record one act: ENTITY names the entity it is about, or is NULL and
 * NEW_KIND makes a new one, whose id goes to CREATED when not NULL. */
int ctl_record(ctl *c, const char *type, const char *entity, char new_kind, xf_body *body,
	       char created[XF_ENTITY_ID_MAX + 1]);

/* Record an act that creates an entity and print its id as the only
 * stdout line. */
int ctl_create(ctl *c, const char *type, char kind, xf_body *body);

/* Load entity ID into *e (the caller frees it with xf_entity_free()), or
 * print one line saying why not and return EXIT_FAIL. */
int ctl_load_entity(ctl *c, const char *id, xf_entity **e);

/* A required positional ID of kind KIND ('C' case, 'R' risk, ...; 0 any). */
int ctl_entity_arg(ctl *c, int argc, char **argv, char kind, const char **id);

/* A verb that lists: ctl_list_open() takes the common options (no
 * arguments), opens the store and, with --json, makes the array rows go
 * into (*array, else NULL); 0 to go on, CTL_HELPED after --help, else the
 * exit code. Once the rows
 * are walked, ctl_list_close() prints the array, or the walk's failure R,
 * and returns the exit code; it takes the array. */
int ctl_list_open(ctl *c, int argc, char **argv, json_t **array);
int ctl_list_close(ctl *c, int r, json_t *array);

/* Print a JSON value (stolen) followed by a newline. */
int ctl_print_json(ctl *c, json_t *v);
json_t *ctl_value_json(const xf_value *v);

void ctl_close(ctl *c);

int cmd_init(ctl *c, int argc, char **argv);
int cmd_key(ctl *c, int argc, char **argv);
int cmd_enroll(ctl *c, int argc, char **argv);
int cmd_visit_add(ctl *c, int argc, char **argv);
int cmd_letter_add(ctl *c, int argc, char **argv);
int cmd_entity_show(ctl *c, int argc, char **argv);
int cmd_entity_list(ctl *c, int argc, char **argv);
int cmd_case_open(ctl *c, int argc, char **argv);
int cmd_case_act(ctl *c, int argc, char **argv);
int cmd_risk_report(ctl *c, int argc, char **argv);
int cmd_resolve(ctl *c, int argc, char **argv);
int cmd_conflicts(ctl *c, int argc, char **argv);
int cmd_rebuild(ctl *c, int argc, char **argv);
int cmd_status(ctl *c, int argc, char **argv);
int cmd_receipts(ctl *c, int argc, char **argv);
int cmd_log(ctl *c, int argc, char **argv);
int cmd_verify(ctl *c, int argc, char **argv);
int cmd_sync(ctl *c, int argc, char **argv);
int cmd_bundle_export(ctl *c, int argc, char **argv);
int cmd_bundle_import(ctl *c, int argc, char **argv);

#endif
