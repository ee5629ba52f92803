#include <csv.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ctl.h"

/* One line, whatever the message quotes: control characters a user typed
 * (a newline in an option) are shown as '?'. */
static int vfail(const ctl *c, int code, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t i;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (i = 0; msg[i]; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	fprintf(stderr, "xinfangctl%s%s: %s\n", c->verb ? " " : "", c->verb ? c->verb : "", msg);
	return code;
}

int ctl_fail(const ctl *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(c, EXIT_FAIL, fmt, ap);
	va_end(ap);
	return r;
}

int ctl_usage(const ctl *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(c, EXIT_USAGE, fmt, ap);
	va_end(ap);
	return r;
}

#define OPTIONS_MAX 24

/* getopt_long refused ARG, the word it stopped at: name the option as it
 * was typed (without any "=VALUE") and say what is wrong with it. */
static void bad_option(const ctl *c, const char *arg, const struct option *all)
{
	size_t len, i, matches = 0;

	/* A short option may sit in a cluster ("-xy"): only optopt names it. */
	if (strncmp(arg, "--", 2) != 0) {
		ctl_usage(c, "unknown option '-%c' (see --help)", optopt);
		return;
	}
	len = strcspn(arg, "=");
	/* getopt_long sets optopt to a long option's value when it knew the
	 * option but not its "=VALUE", and to 0 when it knew no option. */
	if (optopt) {
		ctl_usage(c, "%.*s takes no value", (int)len, arg);
		return;
	}
	for (i = 0; all[i].name; i++)
		matches += strncmp(all[i].name, arg + 2, len - 2) == 0;
	if (matches > 1)
		ctl_usage(c, "option '%.*s' is ambiguous (see --help)", (int)len, arg);
	else
		ctl_usage(c, "unknown option '%.*s' (see --help)", (int)len, arg);
}

/* Does the verb's usage show option NAME repeated: "[--NAME VALUE]..."? */
static bool repeatable(const ctl *c, const char *name)
{
	char open[48];
	const char *at, *end;

	snprintf(open, sizeof(open), "[--%s ", name);
	at = c->usage ? strstr(c->usage, open) : NULL;
	end = at ? strchr(at, ']') : NULL;
	return end && strncmp(end, "]...", 4) == 0;
}

/* Only a verb that prints records can print them as JSON, and its usage
 * says so ("[--json]", or "--format csv|json"): any other refuses --json
 * rather than print plain text to a script that asked for JSON. */
static bool prints_json(const ctl *c)
{
	return c->usage && strstr(c->usage, "json");
}

/* The long name of option OPT in ALL, or NULL. */
static const char *option_name(const struct option *all, int opt)
{
	for (; all->name; all++)
		if (all->val == opt)
			return all->name;
	return NULL;
}

int ctl_getopt(ctl *c, int argc, char **argv, const char *shortopts, const struct option *options)
{
	static const struct option common[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
	};
	static struct option all[OPTIONS_MAX];
	char shorts[64];
	size_t n = 0, i;
	int opt;

	for (i = 0; options && options[i].name && n < OPTIONS_MAX - 4; i++)
		all[n++] = options[i];
	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		all[n++] = common[i];
	memset(&all[n], 0, sizeof(all[n]));
	snprintf(shorts, sizeof(shorts), ":c:h%s", shortopts ? shortopts : "");
	opterr = 0;
	if (c->parsing != argv) {
		c->parsing = argv;
		memset(c->given, 0, sizeof(c->given));
	}
	for (;;) {
		opt = getopt_long(argc, argv, shorts, all, NULL);
		if (opt > 0 && opt < (int)sizeof(c->given) && opt != 'h' && opt != ':' && opt != '?') {
			const char *name = option_name(all, opt);

			if (c->given[opt] && name && !repeatable(c, name)) {
				ctl_usage(c, "--%s is given twice", name);
				return '?';
			}
			c->given[opt] = true;
		}
		switch (opt) {
		case 'c':
			if (c->config_before_verb) {
				ctl_usage(c, "--config is given twice");
				return '?';
			}
			c->config_path = optarg;
			continue;
		case 'J':
			if (!prints_json(c)) {
				ctl_usage(c, "unknown option '--json' (see --help)");
				return '?';
			}
			c->json = true;
			continue;
		case 'h':
			printf("usage: xinfangctl [-c FILE] %s %s\n", c->verb, c->usage);
			return 'h';
		case ':':
			ctl_usage(c, "option '%s' needs a value", argv[optind - 1]);
			return '?';
		case '?':
			bad_option(c, argv[optind - 1], all);
			return '?';
		default:
			return opt;
		}
	}
}

int ctl_plain_args(ctl *c, int argc, char **argv, int positional)
{
	int opt;

	while ((opt = ctl_getopt(c, argc, argv, "", NULL)) != -1)
		return opt == 'h' ? CTL_HELPED : EXIT_USAGE;
	if (argc - optind > positional)
		return ctl_usage(c, "unexpected argument '%s'", argv[optind + positional]);
	if (argc - optind < positional)
		return ctl_usage(c, "expects %s (see --help)", c->usage);
	return 0;
}

int ctl_load_config(ctl *c)
{
	char err[512];
	struct passwd *pw;
	int r;

	r = xf_config_load(c->config_path, &c->cfg, err, sizeof(err));
	if (r < 0)
		return ctl_fail(c, "%s", err);
	if (!c->cfg.author[0]) {
		/* Who sits at the PC, when the config does not name them. */
		pw = getpwuid(geteuid());
		snprintf(c->cfg.author, sizeof(c->cfg.author), "%s", pw ? pw->pw_name : "unknown");
	}
	return 0;
}

int ctl_open(ctl *c)
{
	char role[XF_ROLE_MAX] = "";
	xf_store *s = NULL;
	int r;

	if (c->store)
		return 0;
	if (!c->cfg.node_id[0] && (r = ctl_load_config(c)) != 0)
		return r;
	r = xf_store_open(&s, c->cfg.data_dir, c->cfg.node_id);
	if (r == 0)
		r = xf_store_role(s, role);
	if (r == XF_ENOTFOUND)
		r = ctl_fail(c, "%s: no log here; run 'xinfangctl init' first", c->cfg.data_dir);
	else if (r == XF_EUNSAFE)
		r = ctl_fail(c, "%s: data dir must belong to this user and be closed to others (chmod 700)",
			     c->cfg.data_dir);
	else if (r == XF_ESCHEMA)
		r = ctl_fail(c, "%s: written by a newer version of xinfang-sync (this one reads schema %d); "
			     "left untouched: upgrade this node", c->cfg.data_dir, XF_SCHEMA_VERSION);
	else if (r < 0)
		r = ctl_fail(c, "%s: %s", c->cfg.data_dir, xf_strerror(r));
	/* A village's log under a township's config would take a township's
	 * acts (enrolling children) that no village may make. */
	else if (role[0] && strcmp(role, c->cfg.role) != 0)
		r = ctl_fail(c, "%s: data dir belongs to a %s node, but %s says role = %s", c->cfg.data_dir, role,
			     c->config_path, c->cfg.role);
	else
		r = 0;
	if (r != 0) {
		xf_store_close(s);
		return r;
	}
	c->store = s;
	return 0;
}

int ctl_open_key(ctl *c)
{
	char path[PATH_MAX];
	int r;

	if (c->key)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", c->cfg.data_dir, XF_KEY_FILE);
	r = xf_key_load(&c->key, path);
	if (r == XF_EUNSAFE)
		return ctl_fail(c, "%s: key file must belong to this user and be mode 0600", path);
	if (r < 0)
		return ctl_fail(c, "%s: %s", path, xf_strerror(r));
	return 0;
}

int ctl_refuse(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return CTL_REFUSED;
}

int ctl_check_date(const ctl *c, const char *date, char out[XF_DATE_LEN + 1], char *why, size_t size)
{
	int32_t days, today = xf_date_today(c->now_ms);

	if (!date) {
		xf_date_format(today, out);
		return 0;
	}
	if (xf_date_parse(date, &days) < 0)
		return ctl_refuse(why, size, "date '%s' is not a real date YYYY-MM-DD", date);
	if (days > today)
		return ctl_refuse(why, size, "date '%s' is in the future", date);
	strcpy(out, date);
	return 0;
}

int ctl_date(ctl *c, const char *date, char out[XF_DATE_LEN + 1])
{
	char why[160];
	int r = ctl_check_date(c, date, out, why, sizeof(why));

	return r == CTL_REFUSED ? ctl_usage(c, "--%s", why) : r;
}

const char *ctl_text_fault(const char *text)
{
	return xf_text_is_utf8(text) ? "holds a control character (only newline and tab are allowed)"
				     : "is not valid UTF-8 text";
}

int ctl_put_text(ctl *c, xf_body *body, const char *key, const char *option, const char *val, size_t max)
{
	int r;

	if (!val)
		return ctl_usage(c, "--%s is required", option);
	if (ctl_blank(val))
		return ctl_usage(c, "--%s must not be empty", option);
	r = xf_body_put_str(body, key, val, max);
	if (r == XF_ETOOBIG)
		return ctl_usage(c, "--%s is longer than %zu bytes", option, max);
	if (r == XF_EUTF8)
		return ctl_usage(c, "--%s %s", option, ctl_text_fault(val));
	if (r < 0)
		return ctl_fail(c, "--%s: %s", option, xf_strerror(r));
	return 0;
}

/* Why an act was refused: what state the entity is in. */
static int state_refusal(ctl *c, const char *type, const char *entity)
{
	xf_entity *e = NULL;
	int r;

	if (xf_entity_load(c->store, entity, &e) < 0)
		return ctl_fail(c, "%s: not allowed in its current state", entity);
	r = ctl_fail(c, "%s is %s: %s is not allowed now", entity, e->status, type);
	xf_entity_free(e);
	return r;
}

/* A write that fails on a nearly full disk may come back as a short
 * write, which LMDB reports as EIO: tell the clerk what to do about it. */
static bool disk_full(const char *dir)
{
	struct statvfs st;

	return statvfs(dir, &st) == 0 && (uint64_t)st.f_bavail * st.f_frsize < 256 * 1024;
}

int ctl_record(ctl *c, const char *type, const char *entity, char new_kind, xf_body *body,
	       char created[XF_ENTITY_ID_MAX + 1])
{
	xf_appended done;
	xf_draft d = { .type = type, .entity = entity, .new_kind = new_kind, .author = c->cfg.author };
	int r;

	if ((r = ctl_open(c)) != 0 || (r = ctl_open_key(c)) != 0)
		return r;
	r = xf_body_bytes(body, &d.body, &d.body_len);
	if (r == 0)
		r = xf_store_append(c->store, c->key, &d, 1, c->now_ms, &done);
	if (r == XF_ENOTFOUND)
		return ctl_fail(c, "no such entity '%s'", entity ? entity : "");
	if (r == XF_EEXIST)
		return ctl_fail(c, "that node is already enrolled");
	if (r == XF_ESTATE)
		return state_refusal(c, type, entity);
	if (r == -ENOSPC || r == -EDQUOT || (r == -EIO && disk_full(c->cfg.data_dir)))
		return ctl_fail(c, "%s: the disk is full; nothing was recorded: free some space and record it again",
				c->cfg.data_dir);
	if (r < 0)
		return ctl_fail(c, "%s", xf_strerror(r));
	if (created)
		strcpy(created, done.entity);
	return EXIT_OK;
}

int ctl_load_entity(ctl *c, const char *id, xf_entity **e)
{
	int r = xf_entity_load(c->store, id, e);

	if (r == XF_ENOTFOUND)
		return ctl_fail(c, "no such entity '%s'", id);
	if (r < 0)
		return ctl_fail(c, "%s: %s", id, xf_strerror(r));
	return 0;
}

int ctl_entity_arg(ctl *c, int argc, char **argv, char kind, const char **id)
{
	if (optind >= argc)
		return ctl_usage(c, "an id is required (see --help)");
	if (optind + 1 < argc)
		return ctl_usage(c, "unexpected argument '%s'", argv[optind + 1]);
	/* "" ends before the kind letter: the '-' after it is not there to read. */
	if (!argv[optind][0] || (kind && argv[optind][0] != kind) || argv[optind][1] != '-' ||
	    strlen(argv[optind]) > XF_ENTITY_ID_MAX)
		return ctl_fail(c, "'%s' is not a %s id", argv[optind],
				kind == 'C' ? "case" : kind == 'R' ? "risk" : kind == 'V' ? "visit" : kind == 'L' ? "letter" : "record");
	*id = argv[optind];
	return 0;
}

json_t *ctl_value_json(const xf_value *v)
{
	json_t *a;
	size_t i;

	switch (v->type) {
	case XF_VALUE_BOOL:
		return json_boolean(v->b);
	case XF_VALUE_INT:
		return json_integer(v->i);
	case XF_VALUE_STR:
		return json_stringn(v->s, v->len);
	case XF_VALUE_ARRAY:
		a = json_array();
		for (i = 0; a && i < v->len; i++)
			json_array_append_new(a, ctl_value_json(&v->items[i]));
		return a;
	default:
		return json_null();
	}
}

int ctl_print_json(ctl *c, json_t *v)
{
	int r;

	if (!v)
		return ctl_fail(c, "out of memory");
	r = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	json_decref(v);
	if (r < 0)
		return ferror(stdout) ? ctl_flush(c, NULL) : ctl_fail(c, "cannot write output");
	putchar('\n');
	return EXIT_OK;
}

/* stdout is buffered: a write that fails (a full disk, a closed pipe)
 * may only show when the buffer goes out, long after the printf. */
int ctl_flush(ctl *c, const char *done)
{
	int err;

	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return EXIT_OK;
	err = errno ? errno : EIO;
	if (done)
		return ctl_fail(c, "%s, but cannot write output: %s", done, strerror(err));
	return ctl_fail(c, "cannot write output: %s", strerror(err));
}

int ctl_lang(ctl *c, const char *lang, bool *chinese)
{
	if (!lang || strcmp(lang, "zh") == 0)
		*chinese = true;
	else if (strcmp(lang, "en") == 0)
		*chinese = false;
	else
		return ctl_usage(c, "--lang must be zh or en");
	return 0;
}

void ctl_put_oneline(const char *text)
{
	for (; *text; text++)
		putchar(*text == '\n' || *text == '\r' || *text == '\t' ? ' ' : *text);
}

void ctl_csv_cell(FILE *f, const char *text, bool last)
{
	csv_fwrite(f, text, strlen(text));
	fputc(last ? '\n' : ',', f);
}

/* Does TEXT, past any leading apostrophes (at least MIN_QUOTES), start
 * like a formula? */
static bool formula_behind_quotes(const char *text, size_t min_quotes)
{
	size_t quotes = strspn(text, "'");

	return quotes >= min_quotes && text[quotes] && strchr("=+-@", text[quotes]);
}

static bool space_at(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n';
}

/* Strip the spaces around S, ASCII and ideographic (U+3000, what a
 * Chinese input method types), and newlines. S is valid UTF-8, so three
 * bytes that spell U+3000 at its end are that character. */
void ctl_trim(char *s)
{
	static const char ideographic[] = "\xe3\x80\x80";
	size_t start = 0, end = strlen(s);

	for (;;) {
		if (start < end && space_at(s[start]))
			start++;
		else if (end - start >= 3 && memcmp(s + start, ideographic, 3) == 0)
			start += 3;
		else
			break;
	}
	for (;;) {
		if (end > start && space_at(s[end - 1]))
			end--;
		else if (end - start >= 3 && memcmp(s + end - 3, ideographic, 3) == 0)
			end -= 3;
		else
			break;
	}
	memmove(s, s + start, end - start);
	s[end - start] = '\0';
}

bool ctl_blank(const char *s)
{
	char *copy = strdup(s);
	bool empty = copy && (ctl_trim(copy), !*copy);

	free(copy);
	return empty;
}

void ctl_csv_text(FILE *f, const char *text, bool last)
{
	const char *p;

	if (!formula_behind_quotes(text, 0)) {
		ctl_csv_cell(f, text, last);
		return;
	}
	/* Quoted as csv_fwrite quotes, the apostrophe inside the quotes. */
	fputs("\"'", f);
	for (p = text; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
	fputc(last ? '\n' : ',', f);
}

void ctl_csv_unguard(char *cell)
{
	if (formula_behind_quotes(cell, 1))
		memmove(cell, cell + 1, strlen(cell));
}

size_t ctl_name_separator_at(const char *s)
{
	static const char *const separators[] = { "、", "，", ",", "；", ";", NULL };
	size_t i;

	for (i = 0; separators[i]; i++)
		if (strncmp(s, separators[i], strlen(separators[i])) == 0)
			return strlen(separators[i]);
	return 0;
}

int ctl_check_village(ctl *c, const char *village)
{
	xf_peer p;
	int r;

	if (!village || strcmp(village, c->cfg.node_id) == 0)
		return 0;
	r = xf_store_peer(c->store, village, &p);
	if (r == 0 && (xf_relation_is_child(p.relation) || p.relation == XF_PEER_DESCENDANT))
		return 0;
	if (r < 0 && r != XF_ENOTFOUND)
		return ctl_fail(c, "%s", xf_strerror(r));
	return ctl_fail(c, "--village %s: no such village is enrolled below this node", village);
}

void ctl_close(ctl *c)
{
	xf_store_close(c->store);
	xf_key_free(c->key);
	c->store = NULL;
	c->key = NULL;
}

int ctl_create(ctl *c, const char *type, char kind, xf_body *body)
{
	char id[XF_ENTITY_ID_MAX + 1], done[XF_ENTITY_ID_MAX + 32];
	int r = ctl_record(c, type, NULL, kind, body, id);

	if (r != EXIT_OK)
		return r;
	/* The record stands even if its id cannot be printed: say which it is. */
	printf("%s\n", id);
	snprintf(done, sizeof(done), "recorded %s", id);
	return ctl_flush(c, done);
}

int ctl_list_open(ctl *c, int argc, char **argv, json_t **array)
{
	int r;

	*array = NULL;
	if ((r = ctl_plain_args(c, argc, argv, 0)) != 0)
		return r;
	if ((r = ctl_open(c)) != 0)
		return r;
	if (c->json && !(*array = json_array()))
		return ctl_fail(c, "out of memory");
	return 0;
}

int ctl_list_close(ctl *c, int r, json_t *array)
{
	if (r < 0) {
		json_decref(array);
		return ctl_fail(c, "%s", xf_strerror(r));
	}
	return array ? ctl_print_json(c, array) : EXIT_OK;
}
