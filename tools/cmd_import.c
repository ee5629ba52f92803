/* import: a spreadsheet ledger of visits or letters, as township and
 * village offices keep them in WPS or Excel and save them as CSV: one
 * visit.recorded or letter.recorded event per row, checked as visit add
 * and letter add check what a clerk types, all written in one transaction
 * or none, and no row twice however often the file is imported. */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "ctl.h"

/* All of a file goes into one transaction: a bigger ledger is split. */
#define FILE_MAX (64u << 20)
#define ROWS_MAX 100000
/* More cells than a sheet of ours has columns: a longer row is bad anyway,
 * and its cells past these are only counted. */
#define CELLS_MAX 64
#define KEY_BYTES 16
#define KEY_HEX (2 * KEY_BYTES)

enum encoding { ENCODING_AUTO, ENCODING_UTF8, ENCODING_GB18030 };

struct row {
	size_t line;    /* where it starts in the file, from 1 */
	char **cells;   /* trimmed */
	size_t n_cells; /* the first CELLS_MAX are kept */
	size_t cap;
};

/* The rows libcsv hands over, with the line each starts on. The text is
 * fed to libcsv a line at a time (LF, CR LF or CR: libcsv ends a row at
 * each): a row starts on the first line with something on it after the
 * previous row ended. */
struct sheet {
	struct row *rows; /* blank ones left out */
	size_t n_rows, cap;
	struct row cur;
	bool in_row;
	size_t line;
	int error;        /* a failure inside a callback */
};

/* A good row, and its body ready to append. */
struct record {
	const struct row *row;
	xf_body *body;
	uint8_t same[crypto_generichash_BYTES]; /* equal for identical rows */
	char key[KEY_HEX + 1];
	bool present;
};

struct import {
	const char *path;
	const char *type;         /* "visits" or "letters" */
	const char *event;        /* "visit.recorded" or "letter.recorded" */
	char kind;
	const ctl_column *columns;
	int cell_of[CELLS_MAX];   /* per column: its cell in each row, or -1 */
	size_t width;             /* cells in the header */
	struct sheet sheet;
	struct record *records;
	size_t n_records, n_bad, n_present;
	char (*existing)[KEY_HEX + 1]; /* the keys of rows imported before, sorted */
	size_t n_existing, cap_existing;
};


/* The whole of PATH into *out (the caller frees it); XF_ETOOBIG over
 * FILE_MAX. */
static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *grown;
	size_t size = 0, n = 0;
	int r = 0;

	if (!f)
		return -errno;
	/* Reading one byte past FILE_MAX tells a file at the limit from one
	 * over it. */
	while (!feof(f) && n <= FILE_MAX) {
		if (n == size) {
			size = size ? 2 * size : 1u << 16;
			if (size > FILE_MAX + 1)
				size = FILE_MAX + 1;
			if (!(grown = realloc(buf, size))) {
				r = -ENOMEM;
				goto cleanup;
			}
			buf = grown;
		}
		n += fread(buf + n, 1, size - n, f);
		if (ferror(f)) {
			r = -(errno ? errno : EIO);
			goto cleanup;
		}
	}
	if (n > FILE_MAX) {
		r = XF_ETOOBIG;
		goto cleanup;
	}
	*out = buf;
	*len = n;
	buf = NULL;
cleanup:
	free(buf);
	fclose(f);
	return r;
}

/* IN converted from the charset FROM to UTF-8, in *out (the caller frees
 * it). XF_EUTF8 when IN is not text in FROM. glibc's UTF-8 decoder refuses
 * what is not UTF-8, so FROM "UTF-8" checks as it copies. */
static int convert(const char *from, const char *in, size_t len, char **out, size_t *out_len)
{
	size_t size = len + len / 2 + 16, left = size, in_left = len, used;
	char *buf = malloc(size), *dst = buf, *src = (char *)in, *grown;
	iconv_t cd = iconv_open("UTF-8", from);
	int r = 0;

	if (!buf || cd == (iconv_t)-1) {
		r = buf ? -errno : -ENOMEM;
		goto cleanup;
	}
	while (iconv(cd, &src, &in_left, &dst, &left) == (size_t)-1) {
		if (errno != E2BIG) {
			r = XF_EUTF8; /* EILSEQ, or EINVAL: cut off inside a character */
			goto cleanup;
		}
		used = (size_t)(dst - buf);
		if (!(grown = realloc(buf, size * 2))) {
			r = -ENOMEM;
			goto cleanup;
		}
		buf = grown;
		size *= 2;
		dst = buf + used;
		left = size - used;
	}
	*out = buf;
	*out_len = (size_t)(dst - buf);
	buf = NULL;
cleanup:
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	free(buf);
	return r;
}

/* The length of the UTF-8 character of two to four bytes at P (N bytes
 * left), or 0 when P starts none. */
static size_t utf8_multibyte(const unsigned char *p, size_t n)
{
	size_t want = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : 0;
	size_t i;

	if (p[0] > 0xf4 || want == 0 || want > n)
		return 0;
	for (i = 1; i < want; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return want;
}

/* Is RAW UTF-8 but for a few bytes? GB18030 Chinese read as UTF-8 breaks
 * at almost every character; a UTF-8 ledger with a stray byte (a Latin-1
 * é pasted in) breaks once. Read as GB18030, the latter would be garbled
 * whole, so it is refused instead, naming the line of the first stray
 * byte in *LINE. */
static bool broken_utf8(const char *raw, size_t len, size_t *line)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t i = 0, good = 0, bad = 0, first = SIZE_MAX, n;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
		} else if ((n = utf8_multibyte(p + i, len - i))) {
			good++;
			i += n;
		} else {
			first = first == SIZE_MAX ? i : first;
			bad++;
			i++;
		}
	}
	if (!bad || good < 4 * bad)
		return false;
	*line = 1;
	for (i = 0; i < first; i++)
		*line += p[i] == '\n';
	return true;
}

/* RAW as UTF-8 text without a BOM. Chinese spreadsheet programs save CSV
 * in GB18030 (GBK) unless told otherwise; left to guess, a UTF-8 BOM or
 * valid UTF-8 means UTF-8. XF_EUTF8 when RAW is not text in ENC, with
 * *BAD_LINE set when it is UTF-8 but for a stray byte on that line. */
static int decode(enum encoding enc, const char *raw, size_t len, char **text, size_t *text_len, size_t *bad_line)
{
	static const char bom[] = CTL_CSV_BOM;
	char *out = NULL;
	size_t n = 0;
	int r = XF_EUTF8;

	if (enc == ENCODING_AUTO && len >= 3 && memcmp(raw, bom, 3) == 0)
		enc = ENCODING_UTF8;
	if (enc != ENCODING_GB18030)
		r = convert("UTF-8", raw, len, &out, &n);
	if (r == XF_EUTF8 && enc == ENCODING_AUTO && broken_utf8(raw, len, bad_line))
		return XF_EUTF8;
	if (r == XF_EUTF8 && enc != ENCODING_UTF8)
		r = convert("GB18030", raw, len, &out, &n);
	if (r < 0)
		return r;
	/* A NUL is no text: UTF-16, or a binary file. */
	if (memchr(out, '\0', n)) {
		free(out);
		return XF_EUTF8;
	}
	if (n >= 3 && memcmp(out, bom, 3) == 0) {
		n -= 3;
		memmove(out, out + 3, n);
	}
	*text = out;
	*text_len = n;
	return 0;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n';
}

static void row_dispose(struct row *row)
{
	size_t i;

	for (i = 0; i < row->n_cells && i < CELLS_MAX; i++)
		free(row->cells[i]);
	free(row->cells);
}

/* libcsv: one cell. Its line ends become "\n" (a text field takes no
 * "\r"), and its spaces go. */
static void on_cell(void *data, size_t len, void *ctx)
{
	struct sheet *sh = ctx;
	struct row *row = &sh->cur;
	const char *in = data;
	char *cell, **grown;
	size_t i, n = 0;

	if (sh->error || row->n_cells++ >= CELLS_MAX)
		return;
	if (row->n_cells > row->cap) {
		if (!(grown = realloc(row->cells, (row->cap ? 2 * row->cap : 16) * sizeof(*grown)))) {
			row->n_cells--;
			sh->error = -ENOMEM;
			return;
		}
		row->cells = grown;
		row->cap = row->cap ? 2 * row->cap : 16;
	}
	if (!(cell = malloc(len + 1))) {
		row->n_cells--;
		sh->error = -ENOMEM;
		return;
	}
	for (i = 0; i < len; i++)
		if (in[i] != '\r')
			cell[n++] = in[i];
		else if (i + 1 == len || in[i + 1] != '\n')
			cell[n++] = '\n';
	cell[n] = '\0';
	ctl_trim(cell);
	ctl_csv_unguard(cell);
	row->cells[row->n_cells - 1] = cell;
}

static bool row_blank(const struct row *row)
{
	size_t i;

	for (i = 0; i < row->n_cells && i < CELLS_MAX; i++)
		if (row->cells[i][0])
			return false;
	return true;
}

/* libcsv: the end of a row. Rows of empty cells (",,,," is how a
 * spreadsheet saves a blank line) are left out. */
static void on_row(int terminator, void *ctx)
{
	struct sheet *sh = ctx;
	struct row row = sh->cur, *grown;

	(void)terminator;
	memset(&sh->cur, 0, sizeof(sh->cur));
	sh->in_row = false;
	if (sh->error || row_blank(&row))
		goto drop;
	if (sh->n_rows > ROWS_MAX) { /* the header and ROWS_MAX rows */
		sh->error = XF_ETOOBIG;
		goto drop;
	}
	if (sh->n_rows == sh->cap) {
		if (!(grown = realloc(sh->rows, (sh->cap ? 2 * sh->cap : 64) * sizeof(*grown)))) {
			sh->error = -ENOMEM;
			goto drop;
		}
		sh->rows = grown;
		sh->cap = sh->cap ? 2 * sh->cap : 64;
	}
	sh->rows[sh->n_rows++] = row;
	return;
drop:
	row_dispose(&row);
}

/* Spaces and line ends only: libcsv starts no row on it. */
static bool line_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_space(s[i]) && s[i] != '\r')
			return false;
	return true;
}

/* Where the line at AT ends: past its LF, CR LF or lone CR. */
static size_t line_end(const char *text, size_t at, size_t len)
{
	while (at < len && text[at] != '\n' && text[at] != '\r')
		at++;
	if (at < len && text[at] == '\r' && at + 1 < len && text[at + 1] == '\n')
		at++;
	return at < len ? at + 1 : len;
}

/* Parse TEXT into SH. XF_EPROTO when it is not CSV, with the line in
 * *bad_line and what is wrong in *why; XF_ETOOBIG over ROWS_MAX rows. */
static int parse_sheet(const char *text, size_t len, struct sheet *sh, size_t *bad_line, const char **why)
{
	struct csv_parser p;
	size_t at, end;
	int r = 0;

	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return -ENOMEM;
	sh->line = 1;
	for (at = 0; at < len && r == 0; at = end, sh->line++) {
		end = line_end(text, at, len);
		if (!sh->in_row && !line_blank(text + at, end - at)) {
			sh->in_row = true;
			sh->cur.line = sh->line;
		}
		if (csv_parse(&p, text + at, end - at, on_cell, on_row, sh) != end - at) {
			r = csv_error(&p) == CSV_EPARSE ? XF_EPROTO : -ENOMEM;
			*bad_line = sh->line;
			*why = "a '\"' inside a cell that does not start with one, or text after a closing '\"'";
		}
		if (r == 0)
			r = sh->error;
	}
	if (r == 0 && csv_fini(&p, on_cell, on_row, sh) != 0) {
		r = csv_error(&p) == CSV_EPARSE ? XF_EPROTO : -ENOMEM;
		*bad_line = sh->cur.line;
		*why = "a quoted cell is still open at the end of the file";
	}
	if (r == 0)
		r = sh->error;
	row_dispose(&sh->cur);
	csv_free(&p);
	return r;
}

/* Match the header to the type's columns: by English key (any case) or
 * Chinese header. Columns that export writes and import does not read
 * (id, village, status, conflicts) are passed over. Prints why not. */
static int read_header(ctl *c, struct import *im)
{
	static const char *const required[] = { "date", "category", "summary", "people", NULL };
	const struct row *h = &im->sheet.rows[0];
	size_t i, k;

	for (k = 0; im->columns[k].key; k++)
		im->cell_of[k] = -1;
	if (h->n_cells > CELLS_MAX || k > CELLS_MAX)
		return ctl_fail(c, "%s:%zu: more than %d columns", im->path, h->line, CELLS_MAX);
	for (i = 0; i < h->n_cells; i++) {
		for (k = 0; im->columns[k].key; k++)
			if (strcasecmp(h->cells[i], im->columns[k].key) == 0 || strcmp(h->cells[i], im->columns[k].zh) == 0)
				break;
		if (!im->columns[k].key)
			return ctl_fail(c, "%s:%zu: unknown column '%s'", im->path, h->line, h->cells[i]);
		if (im->cell_of[k] >= 0)
			return ctl_fail(c, "%s:%zu: column '%s' appears twice", im->path, h->line, h->cells[i]);
		im->cell_of[k] = (int)i;
	}
	for (k = 0; im->columns[k].key; k++)
		for (i = 0; required[i]; i++)
			if (strcmp(im->columns[k].key, required[i]) == 0 && im->cell_of[k] < 0)
				return ctl_fail(c, "%s:%zu: missing column '%s' (%s)", im->path, h->line, im->columns[k].key,
						im->columns[k].zh);
	im->width = h->n_cells;
	return 0;
}

/* The cell of ROW under the column KEY; NULL when the sheet has none. */
static char *cell(const struct import *im, const struct row *row, const char *key)
{
	size_t k;

	for (k = 0; im->columns[k].key; k++)
		if (im->columns[k].imported && strcmp(im->columns[k].key, key) == 0)
			return im->cell_of[k] < 0 ? NULL : row->cells[im->cell_of[k]];
	return NULL;
}

/* Spreadsheets write 2026/5/12 or 2026-5-12 for 2026-05-12. The date as
 * YYYY-MM-DD in OUT; S itself when it has no such shape, for the check
 * to refuse in the words it was written in. */
static const char *normalise_date(const char *s, char out[XF_DATE_LEN + 1])
{
	static const char digits[] = "0123456789";
	size_t m, d;

	if (strspn(s, digits) != 4 || (s[4] != '-' && s[4] != '/'))
		return s;
	m = strspn(s + 5, digits);
	if (m < 1 || m > 2 || s[5 + m] != s[4])
		return s;
	d = strspn(s + 6 + m, digits);
	if (d < 1 || d > 2 || s[6 + m + d])
		return s;
	snprintf(out, XF_DATE_LEN + 1, "%.4s-%02d-%02d", s, atoi(s + 5), atoi(s + 6 + m));
	return out;
}

/* 是/否 and the words an English sheet uses; an empty cell is no. */
static int parse_escalated(const char *s, bool *out, char *why, size_t size)
{
	static const char *const yes[] = { "是", "yes", "true", "1", NULL };
	static const char *const no[] = { "否", "no", "false", "0", "", NULL };
	size_t i;

	for (i = 0; yes[i]; i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
	for (i = 0; no[i]; i++)
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	return ctl_refuse(why, size, "escalated must be 是, 否, yes, no, true, false, 1 or 0");
}

/* The names in a 姓名 cell, split where a clerk separates them, in place. */
static int split_names(char *s, ctl_petition *p, char *why, size_t size)
{
	char *name;
	size_t n;
	bool last;

	do {
		for (name = s, n = 0; *s && !(n = ctl_name_separator_at(s)); s++)
			;
		last = !*s;
		*s = '\0';
		s += n;
		ctl_trim(name);
		if (!*name)
			continue;
		if (p->n_names == LIMIT_NAMES)
			return ctl_refuse(why, size, "more than %d names", LIMIT_NAMES);
		p->names[p->n_names++] = name;
	} while (!last);
	return 0;
}

/* ROW as a petition, checked, into BODY. CTL_REFUSED with WHY for a bad
 * row. */
static int read_record(const ctl *c, const struct import *im, const struct row *row, xf_body *body, char *why,
		       size_t size)
{
	ctl_petition p = { 0 };
	char date[XF_DATE_LEN + 1];
	char *names, *phone, *escalated;
	int r;

	if (row->n_cells != im->width)
		return ctl_refuse(why, size, "%zu cells where the header has %zu", row->n_cells, im->width);
	p.date = normalise_date(cell(im, row, "date"), date);
	p.category = cell(im, row, "category");
	p.summary = cell(im, row, "summary");
	names = cell(im, row, "names");
	if (names && (r = split_names(names, &p, why, size)) != 0)
		return r;
	if (im->kind == 'V') {
		p.people = cell(im, row, "people");
		phone = cell(im, row, "phone");
		p.phone = phone && *phone ? phone : NULL;
		escalated = cell(im, row, "escalated");
		if (escalated && (r = parse_escalated(escalated, &p.escalated, why, size)) != 0)
			return r;
	}
	return ctl_petition_body(c, &p, im->kind == 'V', body, why, size);
}

/* Feed LEN bytes as a netstring, "LEN:BYTES,": no two lists of values
 * run together alike. */
static void hash_netstring(crypto_generichash_state *h, const void *data, size_t len)
{
	char prefix[24];
	int n = snprintf(prefix, sizeof(prefix), "%zu:", len);

	crypto_generichash_update(h, (const unsigned char *)prefix, (size_t)n);
	crypto_generichash_update(h, data, len);
	crypto_generichash_update(h, (const unsigned char *)",", 1);
}

/* The identity of a record: BLAKE2b over its event type, its body as
 * ctl_petition_body() encodes it (the normalised values in a fixed order)
 * and which one it is, from 1, of the identical rows in its file: two
 * people may well bring the same matter on the same day, and a ledger then
 * holds the row twice. OCCURRENCE 0 gives what identical rows share. */
static int record_digest(const char *type, xf_body *body, size_t occurrence, uint8_t *out, size_t out_len)
{
	crypto_generichash_state h;
	const uint8_t *bytes;
	char number[24];
	size_t len;
	int r;

	if ((r = xf_body_bytes(body, &bytes, &len)) < 0)
		return r;
	snprintf(number, sizeof(number), "%zu", occurrence);
	crypto_generichash_init(&h, NULL, 0, out_len);
	hash_netstring(&h, type, strlen(type));
	hash_netstring(&h, bytes, len);
	hash_netstring(&h, number, strlen(number));
	crypto_generichash_final(&h, out, out_len);
	return 0;
}

/* Identical records together, each group in file order. */
static int by_identity(const void *pa, const void *pb)
{
	const struct record *a = *(const struct record *const *)pa, *b = *(const struct record *const *)pb;
	int d = memcmp(a->same, b->same, sizeof(a->same));

	return d ? d : (a > b) - (a < b);
}

/* Give each record its key and put it in its body, as "import". */
static int key_records(struct import *im)
{
	struct record **order = calloc(im->n_records ? im->n_records : 1, sizeof(*order));
	uint8_t key[KEY_BYTES];
	size_t i, occurrence = 0;
	int r = 0;

	if (!order)
		return -ENOMEM;
	for (i = 0; i < im->n_records; i++)
		order[i] = &im->records[i];
	qsort(order, im->n_records, sizeof(*order), by_identity);
	for (i = 0; i < im->n_records && r == 0; i++) {
		if (i > 0 && memcmp(order[i]->same, order[i - 1]->same, sizeof(order[i]->same)) == 0)
			occurrence++;
		else
			occurrence = 1;
		r = record_digest(im->event, order[i]->body, occurrence, key, sizeof(key));
		if (r == 0) {
			sodium_bin2hex(order[i]->key, sizeof(order[i]->key), key, sizeof(key));
			r = xf_body_put_str(order[i]->body, "import", order[i]->key, KEY_HEX);
		}
	}
	free(order);
	return r;
}

/* Check every data row; print each bad one. */
static int read_records(ctl *c, struct import *im)
{
	struct record *rec;
	char why[256];
	size_t i;
	int r = 0;

	if (!(im->records = calloc(im->sheet.n_rows, sizeof(*im->records))))
		return ctl_fail(c, "out of memory");
	for (i = 1; i < im->sheet.n_rows && r >= 0; i++) {
		rec = &im->records[im->n_records];
		rec->row = &im->sheet.rows[i];
		if ((r = xf_body_new(&rec->body)) < 0)
			break;
		r = read_record(c, im, rec->row, rec->body, why, sizeof(why));
		if (r == 0)
			r = record_digest(im->event, rec->body, 0, rec->same, sizeof(rec->same));
		if (r == 0) {
			im->n_records++;
			continue;
		}
		xf_body_free(rec->body);
		rec->body = NULL;
		if (r == CTL_REFUSED) {
			ctl_fail(c, "%s:%zu: %s", im->path, rec->row->line, why);
			im->n_bad++;
		}
	}
	if (r >= 0)
		r = key_records(im);
	return r < 0 ? ctl_fail(c, "%s", xf_strerror(r)) : 0;
}

static int compare_keys(const void *a, const void *b)
{
	return memcmp(a, b, KEY_HEX);
}

static int collect_key(const xf_entity *e, const xf_record_meta *m, void *ctx)
{
	struct import *im = ctx;
	const xf_attr *key = xf_entity_attr(e, "import");
	char (*grown)[KEY_HEX + 1];

	(void)m;
	if (!key || key->type != XF_VALUE_STR || strlen(key->str) != KEY_HEX)
		return 0;
	if (im->n_existing == im->cap_existing) {
		grown = realloc(im->existing, (im->cap_existing ? 2 * im->cap_existing : 64) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		im->existing = grown;
		im->cap_existing = im->cap_existing ? 2 * im->cap_existing : 64;
	}
	memcpy(im->existing[im->n_existing++], key->str, KEY_HEX + 1);
	return 0;
}

/* The id cell of ROW, which an exported sheet carries; NULL if none. */
static const char *exported_id(const struct import *im, const struct row *row)
{
	size_t k;

	for (k = 0; im->columns[k].key; k++)
		if (strcmp(im->columns[k].key, "id") == 0 && im->cell_of[k] >= 0 && *row->cells[im->cell_of[k]])
			return row->cells[im->cell_of[k]];
	return NULL;
}

/* A and B as import reads a cell: the spaces and newlines around them go
 * (visit add keeps them, and export writes them). */
static bool same_text(const xf_value *a, const xf_value *b)
{
	char *ta = strndup(a->s, a->len), *tb = strndup(b->s, b->len);
	bool same = ta && tb;

	if (same) {
		ctl_trim(ta);
		ctl_trim(tb);
		same = strcmp(ta, tb) == 0;
	}
	free(ta);
	free(tb);
	return same;
}

static bool same_value(const xf_value *a, const xf_value *b)
{
	size_t i;

	if (a->type != b->type)
		return false;
	switch (a->type) {
	case XF_VALUE_BOOL: return a->b == b->b;
	case XF_VALUE_INT: return a->i == b->i;
	case XF_VALUE_STR: return same_text(a, b);
	case XF_VALUE_ARRAY:
		for (i = 0; a->len == b->len && i < a->len; i++)
			if (!same_value(&a->items[i], &b->items[i]))
				return false;
		return a->len == b->len;
	default: return false;
	}
}

/* Does every field of A but its import key have its like in B? */
static bool fields_within(const xf_fields *a, const xf_fields *b)
{
	char key[XF_ATTR_NAME_MAX + 1];
	const xf_value *other;
	size_t i, len;
	const char *k;

	for (i = 0; i < xf_fields_count(a); i++) {
		k = xf_fields_key(a, i, &len);
		if (len >= sizeof(key))
			return false;
		memcpy(key, k, len);
		key[len] = '\0';
		if (strcmp(key, "import") == 0)
			continue;
		other = xf_fields_get(b, key);
		if (!other || !same_value(xf_fields_value(a, i), other))
			return false;
	}
	return true;
}

struct held {
	const char *event; /* the type of the act that records it */
	const uint8_t *row; /* the row's body */
	size_t row_len;
	bool found, same;
};

static int compare_recorded(const xf_event *ev, void *ctx)
{
	struct held *h = ctx;
	xf_fields *held = NULL, *row = NULL;
	int r;

	if (h->found || strcmp(ev->type, h->event) != 0)
		return 0;
	h->found = true;
	if ((r = xf_fields_parse(ev->body, ev->body_len, &held)) == 0 &&
	    (r = xf_fields_parse(h->row, h->row_len, &row)) == 0)
		h->same = fields_within(row, held) && fields_within(held, row);
	xf_fields_free(held);
	xf_fields_free(row);
	return r;
}

/* Does this node hold the record an exported row names (*HELD)? Then
 * importing the row back here would make it twice. Held with other values
 * (*SAME false), the row was edited since: it is a record of its own, and
 * importing it under that id would lose it. */
static int holds_exported(ctl *c, const struct import *im, const struct record *rec, bool *held, bool *same)
{
	const char *id = exported_id(im, rec->row);
	struct held h = { .event = im->event };
	int r;

	*held = *same = false;
	if (!id || id[0] != im->kind || strlen(id) > XF_ENTITY_ID_MAX)
		return 0;
	if ((r = xf_body_bytes(rec->body, &h.row, &h.row_len)) < 0)
		return r;
	r = xf_store_entity_scan(c->store, id, compare_recorded, &h);
	if (r == XF_ENOTFOUND || r == -EINVAL)
		return 0;
	*held = h.found;
	*same = h.same;
	return r;
}

/* Mark the records an earlier import of the same rows already wrote, on
 * this node or on any whose records this one holds, and the rows of an
 * export whose records this node holds. An exported row that names a
 * record held here with other values is a bad row: it is printed, and
 * leaves the records. */
static int find_present(ctl *c, struct import *im)
{
	struct record *rec;
	bool held, same;
	size_t i, kept = 0;
	int r = xf_store_projections(c->store, im->kind, NULL, collect_key, im);

	if (r < 0)
		return ctl_fail(c, "%s", xf_strerror(r));
	if (im->n_existing)
		qsort(im->existing, im->n_existing, sizeof(*im->existing), compare_keys);
	for (i = 0; i < im->n_records; i++) {
		rec = &im->records[i];
		held = same = true;
		if (!(im->n_existing &&
		      bsearch(rec->key, im->existing, im->n_existing, sizeof(*im->existing), compare_keys)) &&
		    (r = holds_exported(c, im, rec, &held, &same)) < 0)
			return ctl_fail(c, "%s", xf_strerror(r));
		if (held && !same) {
			ctl_fail(c, "%s:%zu: %s is recorded here with other values: empty its id cell to record the row as new",
				 im->path, rec->row->line, exported_id(im, rec->row));
			xf_body_free(rec->body);
			im->n_bad++;
			continue;
		}
		rec->present = held;
		im->n_present += held;
		im->records[kept++] = *rec;
	}
	im->n_records = kept;
	return 0;
}

/* The records not present, in file order, in one xf_store_append(): a
 * ledger lands whole or not at all. Their ids go into IDS. */
static int append_records(ctl *c, struct import *im, json_t *ids)
{
	size_t n = im->n_records - im->n_present, i, k = 0;
	xf_draft *drafts = calloc(n ? n : 1, sizeof(*drafts));
	xf_appended *done = calloc(n ? n : 1, sizeof(*done));
	int r = 0;

	if (!drafts || !done) {
		r = ctl_fail(c, "out of memory");
		goto cleanup;
	}
	for (i = 0; i < im->n_records && r == 0; i++) {
		if (im->records[i].present)
			continue;
		drafts[k] = (xf_draft){ .type = im->event, .new_kind = im->kind, .author = c->cfg.author };
		r = xf_body_bytes(im->records[i].body, &drafts[k].body, &drafts[k].body_len);
		k++;
	}
	if (r == 0 && n > 0)
		r = xf_store_append(c->store, c->key, drafts, n, c->now_ms, done);
	if (r < 0) {
		r = ctl_fail(c, "%s", xf_strerror(r));
		goto cleanup;
	}
	for (i = 0; i < n; i++)
		if (json_array_append_new(ids, json_string(done[i].entity)) < 0) {
			r = ctl_fail(c, "out of memory");
			goto cleanup;
		}
cleanup:
	free(drafts);
	free(done);
	return r;
}

/* Read, decode and parse the file, and match its header. Prints why not. */
static int load_sheet(ctl *c, struct import *im, enum encoding enc)
{
	static const char *const not_text[] = {
		[ENCODING_AUTO] = "neither UTF-8 nor GB18030 text",
		[ENCODING_UTF8] = "not UTF-8 text",
		[ENCODING_GB18030] = "not GB18030 text",
	};
	char *raw = NULL, *text = NULL;
	size_t raw_len = 0, len = 0, bad_line = 0;
	const char *why = "";
	int r;

	r = read_file(im->path, &raw, &raw_len);
	if (r == XF_ETOOBIG) {
		r = ctl_fail(c, "%s: larger than %u MiB: split the ledger", im->path, FILE_MAX >> 20);
		goto cleanup;
	}
	if (r < 0) {
		r = ctl_fail(c, "%s: %s", im->path, strerror(-r));
		goto cleanup;
	}
	r = raw_len ? decode(enc, raw, raw_len, &text, &len, &bad_line) : 0;
	if (r == XF_EUTF8 && bad_line) {
		r = ctl_fail(c, "%s:%zu: a byte that is not UTF-8, in a file that otherwise is: save it again as UTF-8 "
			     "(or give --encoding gb18030)", im->path, bad_line);
		goto cleanup;
	}
	if (r == XF_EUTF8) {
		r = ctl_fail(c, "%s: %s", im->path, not_text[enc]);
		goto cleanup;
	}
	if (r == 0)
		r = parse_sheet(text, len, &im->sheet, &bad_line, &why);
	if (r == XF_EPROTO)
		r = ctl_fail(c, "%s:%zu: not CSV: %s", im->path, bad_line, why);
	else if (r == XF_ETOOBIG)
		r = ctl_fail(c, "%s: more than %d rows: split the ledger", im->path, ROWS_MAX);
	else if (r < 0)
		r = ctl_fail(c, "%s: %s", im->path, xf_strerror(r));
	else if (im->sheet.n_rows == 0)
		r = ctl_fail(c, "%s: empty file", im->path);
	else if ((r = read_header(c, im)) == 0 && im->sheet.n_rows == 1)
		r = ctl_fail(c, "%s: no rows", im->path);
cleanup:
	free(raw);
	free(text);
	return r;
}

static void import_dispose(struct import *im)
{
	size_t i;

	for (i = 0; i < im->sheet.n_rows; i++)
		row_dispose(&im->sheet.rows[i]);
	free(im->sheet.rows);
	for (i = 0; i < im->n_records; i++)
		xf_body_free(im->records[i].body);
	free(im->records);
	free(im->existing);
}

static int print_summary(ctl *c, const struct import *im, json_t *ids)
{
	size_t imported = im->n_records - im->n_present;

	if (c->json)
		return ctl_print_json(c, json_pack("{s:I, s:I, s:I, s:O}", "imported", (json_int_t)imported, "present",
						   (json_int_t)im->n_present, "bad", (json_int_t)im->n_bad, "ids", ids));
	printf("imported %zu %s%s, %zu already present, %zu bad row%s\n", imported,
	       im->kind == 'V' ? "visit" : "letter", imported == 1 ? "" : "s", im->n_present, im->n_bad,
	       im->n_bad == 1 ? "" : "s");
	return EXIT_OK;
}

/* Without --skip-bad, one bad row and nothing is imported. */
static int stop_at_bad_rows(ctl *c, const struct import *im, bool skip_bad)
{
	if (!im->n_bad || skip_bad)
		return 0;
	return ctl_fail(c, "nothing imported: %zu bad row%s of %zu", im->n_bad, im->n_bad == 1 ? "" : "s",
			im->sheet.n_rows - 1);
}

/* Imports on one node take turns, from reading what is present to
 * writing what is not: two at once of the same ledger would each find its
 * rows absent and write them twice. *LOCK is the held file's descriptor. */
static int lock_imports(ctl *c, int *lock)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/import.lock", c->cfg.data_dir);
	*lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*lock < 0 || flock(*lock, LOCK_EX) < 0)
		return ctl_fail(c, "%s: %s", path, strerror(errno));
	return 0;
}

int cmd_import(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "type", required_argument, NULL, 'T' },
		{ "skip-bad", no_argument, NULL, 'S' },
		{ "encoding", required_argument, NULL, 'E' },
		{ 0 },
	};
	struct import im = { 0 };
	enum encoding enc = ENCODING_AUTO;
	const char *encoding = NULL;
	bool skip_bad = false;
	json_t *ids = NULL;
	int opt, r, lock = -1;

	while ((opt = ctl_getopt(c, argc, argv, "", options)) != -1) {
		switch (opt) {
		case 'T': im.type = optarg; break;
		case 'S': skip_bad = true; break;
		case 'E': encoding = optarg; break;
		case 'h': return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!im.type || (strcmp(im.type, "visits") && strcmp(im.type, "letters")))
		return ctl_usage(c, "--type must be visits or letters");
	if (encoding && (strcasecmp(encoding, "utf-8") == 0 || strcasecmp(encoding, "utf8") == 0))
		enc = ENCODING_UTF8;
	else if (encoding && strcasecmp(encoding, "gb18030") == 0)
		enc = ENCODING_GB18030;
	else if (encoding)
		return ctl_usage(c, "--encoding must be utf-8 or gb18030");
	if (optind >= argc)
		return ctl_usage(c, "expects %s (see --help)", c->usage);
	if (optind + 1 < argc)
		return ctl_usage(c, "unexpected argument '%s'", argv[optind + 1]);
	im.path = argv[optind];
	im.columns = ctl_columns(im.type, &im.kind);
	im.event = im.kind == 'V' ? "visit.recorded" : "letter.recorded";
	if (sodium_init() < 0)
		return ctl_fail(c, "libsodium cannot start");

	if ((r = load_sheet(c, &im, enc)) != 0 || (r = read_records(c, &im)) != 0)
		goto cleanup;
	if ((r = stop_at_bad_rows(c, &im, skip_bad)) != 0)
		goto cleanup;
	if (!(ids = json_array())) {
		r = ctl_fail(c, "out of memory");
		goto cleanup;
	}
	if ((r = ctl_open(c)) != 0 || (r = lock_imports(c, &lock)) != 0 || (r = find_present(c, &im)) != 0 ||
	    (r = stop_at_bad_rows(c, &im, skip_bad)) != 0 ||
	    (im.n_present < im.n_records && (r = ctl_open_key(c)) != 0) ||
	    (r = append_records(c, &im, ids)) != 0)
		goto cleanup;
	r = print_summary(c, &im, ids);
cleanup:
	if (lock >= 0)
		close(lock);
	json_decref(ids);
	import_dispose(&im);
	return r;
}
