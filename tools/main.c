/* xinfangctl: the clerk's and administrator's command line. */
#include <stdio.h>
#include <string.h>

#include "../daemon/log.h"
#include "ctl.h"

static const ctl_verb verbs[] = {
	{ "init", "", "create the data dir and node key; print the public key", cmd_init },
	{ "key", "", "print this node's public key", cmd_key },
	{ "enroll", "NODE_ID PUBKEY [--upstream | --child | --township]", "admit a peer node by its public key", cmd_enroll },
	{ "visit add", "--people N --category TEXT --summary TEXT [--date D] [--name NAME]... [--phone TEXT] [--escalated]",
	  "record a visit (5 or more people is a collective visit)", cmd_visit_add },
	{ "visit show", "ID [--json]", "show a visit", cmd_entity_show },
	{ "visit list", "[--json]", "list visits", cmd_entity_list },
	{ "letter add", "--category TEXT --summary TEXT [--date D] [--name NAME]...", "record a letter", cmd_letter_add },
	{ "letter show", "ID [--json]", "show a letter", cmd_entity_show },
	{ "letter list", "[--json]", "list letters", cmd_entity_list },
	{ "case open", "--title TEXT --from ID [--from ID]... [--date D]", "open a case from visits or letters", cmd_case_open },
	{ "case assign", "ID --leader NAME [--date D]", "put a leader in charge", cmd_case_act },
	{ "case dispatch", "ID --members TEXT [--date D]", "send a work group", cmd_case_act },
	{ "case note", "ID --text TEXT [--date D]", "add a note", cmd_case_act },
	{ "case reply", "ID --text TEXT --due YYYY-MM-DD [--date D]", "answer the petitioner, with a deadline", cmd_case_act },
	{ "case close", "ID --outcome TEXT [--date D]", "close a case", cmd_case_act },
	{ "case reopen", "ID --reason TEXT [--date D]", "reopen a closed case", cmd_case_act },
	{ "case extend", "ID --reason TEXT [--date D]", "extend the 60-day deadline once, by 30 days", cmd_case_act },
	{ "case resolve", "ID --keep EVENT_ID", "settle a conflict: the values of EVENT_ID stand", cmd_resolve },
	{ "case show", "ID [--json]", "show a case", cmd_entity_show },
	{ "case list", "[--json]", "list cases", cmd_entity_list },
	{ "risk report", "--level general|major|severe --summary TEXT [--date D]", "report a hidden risk", cmd_risk_report },
	{ "risk resolve", "ID --outcome TEXT [--date D]", "resolve a risk", cmd_case_act },
	{ "risk show", "ID [--json]", "show a risk", cmd_entity_show },
	{ "risk list", "[--json]", "list risks", cmd_entity_list },
	/* Before "conflicts": the first verb that matches runs. */
	{ "conflicts resolve", "ID --keep EVENT_ID", "settle a conflict on any record (a risk, ...)", cmd_resolve },
	{ "conflicts", "[--json]", "list the entities in conflict and their competing values", cmd_conflicts },
	{ "log", "[--json]", "print every event in the log", cmd_log },
	{ "verify", "", "check every signature and chain link, and the upstream's receipts", cmd_verify },
	{ "receipts", "[--json]", "the upstream's signed receipts for this log, each checked", cmd_receipts },
	{ "rebuild", "", "re-derive every projection from the log; say what differed", cmd_rebuild },
	{ "sync", "", "sync with the upstream once, now (no daemon needed)", cmd_sync },
	{ "status", "[--json]", "sync status of this node and, on a township, of each child", cmd_status },
	{ "report", "--from D --to D [--village ID] [--json|--csv] [--lang zh|en] | "
		    "--overdue [--as-of D] [--village ID] [--json] | "
		    "--weekly [--week YYYY-Www] [--as-of D] [--village ID] [--json]",
	  "figures for a period, overdue cases, the weekly dispatch sheet", cmd_report },
	{ "export", "--type visits|letters|cases|risks [--from D] [--to D] --format csv|json [--village ID] [--lang zh|en]",
	  "one row per record, its current state (CSV for WPS and Excel)", cmd_export },
	{ "import", "--type visits|letters FILE.csv [--skip-bad] [--encoding utf-8|gb18030] [--json]",
	  "record a spreadsheet ledger's rows, once", cmd_import },
	{ "bundle export", "[--for VILLAGE] FILE", "write what the upstream lacks (or what VILLAGE may see) to FILE, for a USB stick",
	  cmd_bundle_export },
	{ "bundle import", "FILE", "take in a bundle made by a village (or by the township for this village)", cmd_bundle_import },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: xinfangctl [-c FILE] VERB [OPTIONS]\n\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-18s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f, "\nEvery verb takes -c FILE (default %s) and --help.\n", XF_CONFIG_DEFAULT);
}

/* The verbs whose first word is WORD ("case": case open, case assign ...),
 * one line each on F; how many there are. */
static size_t group_usage(FILE *f, const char *word)
{
	size_t i, n = 0, len = strlen(word);

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strncmp(verbs[i].name, word, len) == 0 && verbs[i].name[len] == ' ') {
			if (f)
				fprintf(f, "  %-18s %s\n", verbs[i].name, verbs[i].help);
			n++;
		}
	return n;
}

/* Does the verb NAME ("case assign") match the words at ARGV? Returns how
 * many words it takes, 0 if none. */
static int verb_match(const char *name, int argc, char **argv)
{
	const char *space = strchr(name, ' ');

	if (!space)
		return argc >= 1 && strcmp(argv[0], name) == 0;
	return argc >= 2 && strncmp(argv[0], name, (size_t)(space - name)) == 0 &&
		       argv[0][space - name] == '\0' && strcmp(argv[1], space + 1) == 0
		       ? 2
		       : 0;
}

/* -c FILE, -cFILE, --config FILE or --config=FILE at ARGV[*I], the forms
 * a verb's own options take, into C; *I moves past it. Returns 1 when
 * one was taken, 0 when ARGV[*I] is none, -1 when it has no FILE, -2
 * when one was taken already. */
static int config_option(ctl *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *file;
	int words = 1;

	if (strncmp(a, "--config=", 9) == 0) {
		file = a + 9;
	} else if (strncmp(a, "-c", 2) == 0 && a[2]) {
		file = a + 2;
	} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
		file = *i + 1 < argc ? argv[*i + 1] : "";
		words = 2;
	} else {
		return 0;
	}
	if (!*file)
		return -1;
	if (c->config_before_verb)
		return -2;
	c->config_path = file;
	c->config_before_verb = true;
	*i += words;
	return 1;
}

int main(int argc, char **argv)
{
	ctl c = { .config_path = XF_CONFIG_DEFAULT };
	int first = 1, words = 0, r;
	size_t i;

	if ((r = log_hold_std_fds()) < 0) {
		fprintf(stderr, "xinfangctl: /dev/null: %s\n", strerror(-r));
		return EXIT_FAIL;
	}
	/* -c FILE may come before the verb as well as among its options. */
	while (first < argc && (r = config_option(&c, argc, argv, &first)) > 0)
		;
	if (first < argc && r == -2)
		return ctl_usage(&c, "--config is given twice");
	if (first < argc && r < 0)
		return ctl_usage(&c, "option '%s' needs a value", argv[first]);
	if (first >= argc) {
		fprintf(stderr, "xinfangctl: no verb given (see xinfangctl --help)\n");
		return EXIT_USAGE;
	}
	if (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "help") == 0) {
		usage(stdout);
		return ctl_flush(&c, NULL);
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		words = verb_match(verbs[i].name, argc - first, argv + first);
		if (words)
			break;
	}
	/* "case --help": what "case" can be followed by. */
	if (!words && first + 1 < argc && (strcmp(argv[first + 1], "--help") == 0 || strcmp(argv[first + 1], "-h") == 0) &&
	    group_usage(NULL, argv[first])) {
		printf("usage: xinfangctl [-c FILE] %s VERB [OPTIONS]\n\n", argv[first]);
		group_usage(stdout, argv[first]);
		return ctl_flush(&c, NULL);
	}
	if (!words && group_usage(NULL, argv[first]) && first + 1 < argc && argv[first + 1][0] != '-')
		return ctl_usage(&c, "unknown verb '%s %s' (see xinfangctl %s --help)", argv[first], argv[first + 1],
				 argv[first]);
	if (!words && group_usage(NULL, argv[first]))
		return ctl_usage(&c, "'%s' takes a verb after it (see xinfangctl %s --help)", argv[first], argv[first]);
	if (!words)
		return ctl_usage(&c, "unknown verb '%s' (see xinfangctl --help)", argv[first]);
	c.verb = verbs[i].name;
	c.usage = verbs[i].usage;
	c.now_ms = xf_wall_ms();
	/* The verb sees its last word as argv[0], as getopt expects. */
	r = verbs[i].run(&c, argc - first - words + 1, argv + first + words - 1);
	/* A verb that failed has said why in its one line already. */
	if (r == EXIT_OK)
		r = ctl_flush(&c, NULL);
	ctl_close(&c);
	return r;
}
