/* xinfangctl: what the verbs share. Each verb lives in cmd_<verb>.c and is
 * listed in the table in main.c. */
#ifndef XF_CTL_H
#define XF_CTL_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

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
	bool config_before_verb; /* -c came before the verb: once is all */
	bool json;
	xf_config cfg;
	xf_store *store;         /* opened by ctl_open() */
	xf_key *key;             /* loaded by ctl_open_key() */
	uint64_t now_ms;
	/* ctl_getopt's: the argv it is reading, and the options given so far */
	char **parsing;
	bool given[128];
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
 * usage error was printed, 'h' after help was printed. An option given
 * twice is a usage error unless the verb's usage shows it repeated
 * ("[--name NAME]..."). */
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

/* Rules broken by what a clerk gave, as words for the caller to print
 * after "--" or after "FILE:LINE:" (import). ctl_refuse() puts them in
 * WHY and returns CTL_REFUSED. */
#define CTL_REFUSED 1
int ctl_refuse(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A real date YYYY-MM-DD not after today, or today when DATE is NULL. */
int ctl_check_date(const ctl *c, const char *date, char out[XF_DATE_LEN + 1], char *why, size_t size);

/* A visit or a letter as a clerk gives it: as options to visit add and
 * letter add, or as a spreadsheet row to import. */
typedef struct ctl_petition {
	const char *date;     /* YYYY-MM-DD; NULL: today */
	const char *category, *summary;
	const char *people;   /* a visit's: required */
	const char *phone;    /* a visit's: NULL for none */
	bool escalated;       /* a visit's */
	const char *names[LIMIT_NAMES];
	size_t n_names;
} ctl_petition;

/* Check P by the rules for a visit (VISIT) or a letter and put its fields
 * into BODY: date, category, summary, names, and a visit's people,
 * escalated and phone. Returns 0; CTL_REFUSED when a value breaks a rule,
 * with WHY saying which and how ("people must be a whole number from 1 to
 * 10000"); negative on failure. */
int ctl_petition_body(const ctl *c, const ctl_petition *p, bool visit, xf_body *body, char *why, size_t size);

/* What is wrong with TEXT that xf_text_check refused with XF_EUTF8, as
 * words to follow its name: "is not valid UTF-8 text", or "holds a
 * control character ...". */
const char *ctl_text_fault(const char *text);

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

/* Print TEXT with its line breaks and tabs as spaces, so that one record
 * stays one line of a listing. */
void ctl_put_oneline(const char *text);

/* Print a JSON value (stolen) followed by a newline. */
int ctl_print_json(ctl *c, json_t *v);
json_t *ctl_value_json(const xf_value *v);
/* A record's current state as JSON, what `show --json` prints. */
json_t *ctl_entity_json(const xf_entity *e);

/* Flush stdout. If anything printed could not be written, print "cannot
 * write output: REASON" (after DONE, what was done all the same, when not
 * NULL) and return EXIT_FAIL; else EXIT_OK. main() calls it after every
 * verb that succeeded. */
int ctl_flush(ctl *c, const char *done);

void ctl_close(ctl *c);

/* Spreadsheets: CSV in UTF-8 starting with a byte-order mark, without
 * which WPS and Excel take the text for the local code page. A cell is
 * quoted; LAST ends the row. */
#define CTL_CSV_BOM "\xEF\xBB\xBF"
void ctl_csv_cell(FILE *f, const char *text, bool last);

/* A cell of text a person typed. Text that starts like a formula (=, +,
 * -, @), which WPS and Excel would run when the sheet is opened, is
 * written after an apostrophe that keeps it text, and so is text whose
 * leading apostrophes come before one of those: ctl_csv_unguard() takes
 * exactly one off again, so what was typed comes back whole. */
void ctl_csv_text(FILE *f, const char *text, bool last);
void ctl_csv_unguard(char *cell);

/* --village ID: this node, or a node enrolled here as a village (or a
 * township) below it; a one-line refusal otherwise, for an id that would
 * only give empty figures. */
int ctl_check_village(ctl *c, const char *village);

/* Strip the spaces around S (ASCII, ideographic U+3000, newlines), in
 * place: what import takes off every cell. */
void ctl_trim(char *s);

/* S holds nothing but what ctl_trim strips. */
bool ctl_blank(const char *s);

/* The length of the separator between names (、，,；;) at S, or 0. */
size_t ctl_name_separator_at(const char *s);

/* --lang zh (the default, LANG NULL) or en. */
int ctl_lang(ctl *c, const char *lang, bool *chinese);

/* A spreadsheet column of a record type: its English and Chinese headers
 * (export writes one, import reads either), and whether import fills it. */
typedef struct ctl_column {
	const char *key;
	const char *zh;
	bool imported;
} ctl_column;

/* The columns of "visits", "letters", "cases" or "risks", ending with a
 * zeroed one, and the kind of entity in *kind; NULL for another TYPE. */
const ctl_column *ctl_columns(const char *type, char *kind);

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
int cmd_report(ctl *c, int argc, char **argv);
int cmd_export(ctl *c, int argc, char **argv);
int cmd_import(ctl *c, int argc, char **argv);

#endif
