/* craft: what no honest node sends, for the hostile-input tests
 * (tests/integration/test_hostile.bats). Writes request bodies and headers
 * to stdout; reads a response and says what it holds.
 *
 *   craft auth DATA_DIR NODE_ID TIME [METHOD [PATH]] < BODY
 *       the Authorization header value for BODY, signed with
 *       DATA_DIR/node.key; TIME is ms, "now", "now+MS" or "now-MS"
 *   craft request [--count N] [--mutate KIND] [--signer DIR] [--with DIR ID]...
 *                 [--act TYPE ENTITY [--hlc N] [--from ID]] DATA_DIR NODE_ID
 *       a sync request (msgpack, not compressed) pushing N new events of
 *       NODE_ID continuing the chain held in DATA_DIR, which is not changed;
 *       KIND: none, sig (a flipped signature byte in the first event),
 *       chain (a wrong prev in the first), gap (the first skips a seq);
 *       --signer signs them with another node's key (a forgery);
 *       --with appends every event DIR holds of ID, as stored;
 *       --act makes the first event an act TYPE on ENTITY instead of a
 *       new visit, at clock N if given, with body {text, title, from: [ID]}
 *       (an act honestly signed by its node, on whatever it names)
 *   craft junk KIND
 *       a body that is not a good sync message: truncated, trailing,
 *       array, version, nocur, pushstr, garbage, toomany, deep, huge
 *   craft deflate < IN       zlib-wrapped deflate of IN
 *   craft bomb MIB           the deflate of MIB MiB of zeros
 *   craft response < BODY    one line: the fields of a sync response
 *                            (inflated first when it is deflated)
 *   craft evidence DATA_DIR NODE_ID
 *                            "quarantined=N forks=N" of that store
 *   craft rollback DATA_DIR NODE_ID
 *                            the node's last own event deleted and its head
 *                            moved back, past the store (a restored backup)
 *   craft schema DATA_DIR N  the log marked as written by schema version N
 *                            (a data dir from a newer version)
 *
 * Errors: one line on stderr, exit 1. */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xf/xf.h"

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("craft: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int usage(void)
{
	return fail("usage: craft auth|request|junk|deflate|bomb|response|evidence|rollback|schema ... (see tests/tools/craft.c)");
}

/* ---- small helpers ---- */

static int read_all(FILE *f, xf_buf *out)
{
	size_t cap = 1 << 16, n;
	uint8_t *p;

	out->len = 0;
	out->data = malloc(cap);
	if (!out->data)
		return -ENOMEM;
	while ((n = fread(out->data + out->len, 1, cap - out->len, f)) > 0) {
		out->len += n;
		if (out->len == cap) {
			p = realloc(out->data, cap * 2);
			if (!p)
				return -ENOMEM;
			out->data = p;
			cap *= 2;
		}
	}
	return ferror(f) ? -EIO : 0;
}

static int write_all(const void *data, size_t len)
{
	if (len && fwrite(data, 1, len, stdout) != len)
		return fail("write: %s", strerror(errno));
	return fflush(stdout) == 0 ? 0 : fail("write: %s", strerror(errno));
}

static int load_key(const char *dir, xf_key **key)
{
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, XF_KEY_FILE);
	r = xf_key_load(key, path);
	return r < 0 ? fail("%s: %s", path, xf_strerror(r)) : 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && end != s && !*end && *s != '-';
}

/* "now", "now+MS", "now-MS" or a number of ms. */
static bool parse_time(const char *s, uint64_t *out)
{
	uint64_t now = xf_wall_ms(), d;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return true;
	}
	if (strncmp(s, "now", 3) == 0 && (s[3] == '+' || s[3] == '-') && parse_u64(s + 4, &d)) {
		*out = s[3] == '+' ? now + d : now - d;
		return true;
	}
	return parse_u64(s, out);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* ---- auth ---- */

static int cmd_auth(int argc, char **argv)
{
	const char *method = argc > 4 ? argv[4] : "POST", *path = argc > 5 ? argv[5] : XF_SYNC_PATH;
	char header[XF_AUTH_HEADER_MAX];
	xf_buf body = { 0 };
	xf_key *key = NULL;
	uint64_t t;
	int r;

	if (argc < 4 || argc > 6)
		return usage();
	if (!parse_time(argv[3], &t))
		return fail("TIME must be ms, now, now+MS or now-MS: '%s'", argv[3]);
	if (load_key(argv[1], &key) != 0)
		return 1;
	if ((r = read_all(stdin, &body)) < 0) {
		xf_key_free(key);
		return fail("stdin: %s", xf_strerror(r));
	}
	r = xf_auth_make(key, argv[2], method, path, t, body.data, body.len, header);
	xf_key_free(key);
	xf_buf_dispose(&body);
	if (r < 0)
		return fail("auth: %s", xf_strerror(r));
	printf("%s\n", header);
	return 0;
}

/* ---- request ---- */

#define WITH_MAX 8

struct request_opts {
	unsigned count;
	const char *mutate;
	const char *signer;
	const char *act_type, *act_entity, *act_from;
	uint64_t act_hlc;
	const char *dir, *node;
	size_t n_with;
	const char *with_dir[WITH_MAX], *with_node[WITH_MAX];
};

/* The hlc of an origin's event at SEQ, to continue its clock. */
static int grab_hlc(const xf_event *ev, void *ctx)
{
	*(uint64_t *)ctx = ev->hlc;
	return 1;
}

/* A plausible visit body, so that nothing but the mutation is wrong. */
static int visit_body(uint64_t seq, xf_body **out)
{
	char date[XF_DATE_LEN + 1], summary[64];
	xf_body *b;
	int r;

	if ((r = xf_body_new(&b)) < 0)
		return r;
	xf_date_format(xf_date_today(xf_wall_ms()), date);
	snprintf(summary, sizeof(summary), "crafted visit %" PRIu64, seq);
	if ((r = xf_body_put_str(b, "date", date, XF_DATE_LEN)) < 0 ||
	    (r = xf_body_put_str(b, "category", "测试", 64)) < 0 ||
	    (r = xf_body_put_str(b, "summary", summary, 64)) < 0 || (r = xf_body_put_strv(b, "names", NULL, 0, 64)) < 0 ||
	    (r = xf_body_put_int(b, "people", 1)) < 0 || (r = xf_body_put_bool(b, "escalated", false)) < 0) {
		xf_body_free(b);
		return r;
	}
	*out = b;
	return 0;
}

/* The body of an --act event: enough for any act on a case. */
static int act_body(const struct request_opts *o, xf_body **out)
{
	const char *from[1] = { o->act_from };
	xf_body *b;
	int r;

	if ((r = xf_body_new(&b)) < 0)
		return r;
	if ((r = xf_body_put_str(b, "text", "crafted act", 64)) < 0 ||
	    (r = xf_body_put_str(b, "title", "crafted act", 64)) < 0 ||
	    (o->act_from && (r = xf_body_put_strv(b, "from", from, 1, 64)) < 0)) {
		xf_body_free(b);
		return r;
	}
	*out = b;
	return 0;
}

/* Pack O->count new events of O->node continuing its chain in S. */
static int pack_crafted(msgpack_packer *pk, xf_store *s, const xf_key *key, const struct request_opts *o)
{
	uint8_t prev[XF_HASH_BYTES], *bytes;
	uint64_t head, hlc = 0;
	xf_event ev;
	xf_body *body;
	size_t len;
	unsigned i;
	int r;

	if ((r = xf_store_head(s, o->node, &head, prev)) < 0)
		return fail("%s: head of %s: %s", o->dir, o->node, xf_strerror(r));
	if (head && (r = xf_store_scan(s, o->node, head, grab_hlc, &hlc)) < 0)
		return fail("%s: %s", o->dir, xf_strerror(r));
	if (strcmp(o->mutate, "gap") == 0)
		head++;
	for (i = 0; i < o->count; i++) {
		body = NULL;
		memset(&ev, 0, sizeof(ev));
		snprintf(ev.origin, sizeof(ev.origin), "%s", o->node);
		ev.seq = head + 1 + i;
		ev.hlc = hlc = xf_hlc_next(hlc, xf_wall_ms());
		memcpy(ev.prev, prev, XF_HASH_BYTES);
		if (i == 0 && strcmp(o->mutate, "chain") == 0)
			ev.prev[0] ^= 0x01;
		snprintf(ev.type, sizeof(ev.type), "visit.recorded");
		snprintf(ev.entity, sizeof(ev.entity), "V-%s-%" PRIu64, o->node, ev.seq);
		snprintf(ev.author, sizeof(ev.author), "craft");
		if (i == 0 && o->act_type) {
			snprintf(ev.type, sizeof(ev.type), "%s", o->act_type);
			snprintf(ev.entity, sizeof(ev.entity), "%s", o->act_entity);
			if (o->act_hlc)
				ev.hlc = o->act_hlc;
		}
		if ((r = i == 0 && o->act_type ? act_body(o, &body) : visit_body(ev.seq, &body)) < 0 ||
		    (r = xf_body_bytes(body, &ev.body, &ev.body_len)) < 0 ||
		    (r = xf_event_encode(&ev, key, &bytes, &len)) < 0) {
			xf_body_free(body);
			return fail("encode: %s", xf_strerror(r));
		}
		xf_body_free(body);
		/* The next event links to the bytes as signed, before any damage. */
		xf_event_hash(bytes, len, prev);
		if (i == 0 && strcmp(o->mutate, "sig") == 0)
			bytes[len - XF_SIG_BYTES / 2] ^= 0x01;
		msgpack_pack_bin(pk, len);
		msgpack_pack_bin_body(pk, bytes, len);
		free(bytes);
	}
	return 0;
}

struct stored_ctx {
	msgpack_sbuffer *sb;
	size_t n;
};

static int collect_event(const xf_event *ev, void *vctx)
{
	struct stored_ctx *c = vctx;
	msgpack_packer pk;

	msgpack_packer_init(&pk, c->sb, msgpack_sbuffer_write);
	msgpack_pack_bin(&pk, ev->len);
	msgpack_pack_bin_body(&pk, ev->bytes, ev->len);
	c->n++;
	return 0;
}

/* Every event of NODE held in DIR, as bins into SB. */
static int collect_stored(const char *dir, const char *node, msgpack_sbuffer *sb, size_t *n)
{
	struct stored_ctx c = { sb, 0 };
	xf_store *s;
	int r;

	if ((r = xf_store_open(&s, dir, node)) < 0)
		return fail("%s: %s", dir, xf_strerror(r));
	r = xf_store_scan(s, node, 1, collect_event, &c);
	xf_store_close(s);
	if (r < 0)
		return fail("%s: %s", dir, xf_strerror(r));
	*n += c.n;
	return 0;
}

static int parse_request_opts(int argc, char **argv, struct request_opts *o)
{
	uint64_t n;
	int i;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	o->mutate = "none";
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &n) || n > XF_SYNC_BATCH_EVENTS)
				return fail("--count must be 0..%u", XF_SYNC_BATCH_EVENTS);
			o->count = (unsigned)n;
		} else if (strcmp(argv[i], "--mutate") == 0 && i + 1 < argc) {
			o->mutate = argv[++i];
			if (strcmp(o->mutate, "none") != 0 && strcmp(o->mutate, "sig") != 0 &&
			    strcmp(o->mutate, "chain") != 0 && strcmp(o->mutate, "gap") != 0)
				return fail("--mutate must be none, sig, chain or gap");
		} else if (strcmp(argv[i], "--signer") == 0 && i + 1 < argc) {
			o->signer = argv[++i];
		} else if (strcmp(argv[i], "--act") == 0 && i + 2 < argc) {
			o->act_type = argv[++i];
			o->act_entity = argv[++i];
		} else if (strcmp(argv[i], "--hlc") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &o->act_hlc))
				return fail("--hlc must be a number");
		} else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
			o->act_from = argv[++i];
		} else if (strcmp(argv[i], "--with") == 0 && i + 2 < argc) {
			if (o->n_with == WITH_MAX)
				return fail("at most %d --with", WITH_MAX);
			o->with_dir[o->n_with] = argv[++i];
			o->with_node[o->n_with++] = argv[++i];
		} else if (argv[i][0] == '-') {
			return fail("unknown or incomplete option '%s'", argv[i]);
		} else if (!o->dir) {
			o->dir = argv[i];
		} else if (!o->node) {
			o->node = argv[i];
		} else {
			return fail("unexpected argument '%s'", argv[i]);
		}
	}
	return o->dir && o->node ? 0 : usage();
}

static int cmd_request(int argc, char **argv)
{
	struct request_opts o;
	msgpack_sbuffer events, sb;
	msgpack_packer pk, epk;
	xf_store *s = NULL;
	xf_key *key = NULL;
	uint8_t hash[XF_HASH_BYTES];
	uint64_t head = 0;
	size_t n = 0, i;
	int r = 1;

	if (parse_request_opts(argc, argv, &o) != 0)
		return 1;
	msgpack_sbuffer_init(&events);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&epk, &events, msgpack_sbuffer_write);
	if (load_key(o.signer ? o.signer : o.dir, &key) != 0)
		goto cleanup;
	if ((r = xf_store_open(&s, o.dir, o.node)) < 0) {
		r = fail("%s: %s", o.dir, xf_strerror(r));
		goto cleanup;
	}
	if ((r = pack_crafted(&epk, s, key, &o)) != 0)
		goto cleanup;
	xf_store_head(s, o.node, &head, hash);
	/* The store is only read: close it before opening the others. */
	xf_store_close(s);
	s = NULL;
	n = o.count;
	for (i = 0; i < o.n_with; i++)
		if ((r = collect_stored(o.with_dir[i], o.with_node[i], &events, &n)) != 0)
			goto cleanup;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n ? 5 : 4);
	pack_str(&pk, "v");
	msgpack_pack_uint8(&pk, XF_SYNC_VERSION);
	pack_str(&pk, "cur");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
	pack_str(&pk, "head");
	msgpack_pack_uint64(&pk, head);
	pack_str(&pk, "sw");
	pack_str(&pk, "craft");
	if (n) {
		pack_str(&pk, "push");
		msgpack_pack_array(&pk, n);
		msgpack_sbuffer_write(&sb, events.data, events.size);
	}
	r = write_all(sb.data, sb.size);
cleanup:
	xf_store_close(s);
	xf_key_free(key);
	msgpack_sbuffer_destroy(&events);
	msgpack_sbuffer_destroy(&sb);
	return r ? 1 : 0;
}

/* ---- junk ---- */

/* The start of an honest idle request: v and cur, and N more entries to come. */
static void pack_idle(msgpack_packer *pk, size_t more)
{
	msgpack_pack_map(pk, 2 + more);
	pack_str(pk, "v");
	msgpack_pack_uint8(pk, XF_SYNC_VERSION);
	pack_str(pk, "cur");
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, 0);
	msgpack_pack_uint64(pk, 0);
}

static int cmd_junk(int argc, char **argv)
{
	const char *kind = argc == 2 ? argv[1] : "";
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t i, cut = 0;
	int r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (strcmp(kind, "truncated") == 0) {
		/* an honest idle request, its last 3 bytes missing */
		pack_idle(&pk, 0);
		cut = 3;
	} else if (strcmp(kind, "trailing") == 0) {
		pack_idle(&pk, 0);
		msgpack_pack_nil(&pk);
	} else if (strcmp(kind, "array") == 0) {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, XF_SYNC_VERSION);
		msgpack_pack_nil(&pk);
	} else if (strcmp(kind, "version") == 0) {
		msgpack_pack_map(&pk, 2);
		pack_str(&pk, "v");
		msgpack_pack_uint8(&pk, 99);
		pack_str(&pk, "cur");
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, 0);
		msgpack_pack_uint64(&pk, 0);
	} else if (strcmp(kind, "nocur") == 0) {
		msgpack_pack_map(&pk, 1);
		pack_str(&pk, "v");
		msgpack_pack_uint8(&pk, XF_SYNC_VERSION);
	} else if (strcmp(kind, "pushstr") == 0) {
		/* push holds a str where a bin event belongs */
		pack_idle(&pk, 1);
		pack_str(&pk, "push");
		msgpack_pack_array(&pk, 1);
		pack_str(&pk, "not an event");
	} else if (strcmp(kind, "garbage") == 0) {
		/* push holds bins that do not decode as events */
		pack_idle(&pk, 1);
		pack_str(&pk, "push");
		msgpack_pack_array(&pk, 2);
		msgpack_pack_bin(&pk, 12);
		msgpack_pack_bin_body(&pk, "not an event", 12);
		msgpack_pack_bin(&pk, 0);
	} else if (strcmp(kind, "toomany") == 0) {
		/* one event more than a push may carry */
		pack_idle(&pk, 1);
		pack_str(&pk, "push");
		msgpack_pack_array(&pk, XF_SYNC_BATCH_EVENTS + 1);
		for (i = 0; i <= XF_SYNC_BATCH_EVENTS; i++)
			msgpack_pack_bin(&pk, 0);
	} else if (strcmp(kind, "deep") == 0) {
		/* an array nested 100000 deep */
		pack_idle(&pk, 1);
		pack_str(&pk, "sw");
		for (i = 0; i < 100000; i++)
			msgpack_pack_array(&pk, 1);
		msgpack_pack_nil(&pk);
	} else if (strcmp(kind, "huge") == 0) {
		/* containers that claim 4 billion items each and hold none */
		pack_idle(&pk, 1);
		pack_str(&pk, "push");
		for (i = 0; i < 16; i++)
			msgpack_pack_array(&pk, UINT32_MAX);
	} else {
		msgpack_sbuffer_destroy(&sb);
		return fail("junk KIND: truncated, trailing, array, version, nocur, pushstr, garbage, toomany, deep, huge");
	}
	r = write_all(sb.data, sb.size - cut);
	msgpack_sbuffer_destroy(&sb);
	return r;
}

/* ---- deflate, bomb ---- */

static int deflate_out(const uint8_t *data, size_t len)
{
	xf_buf out = { 0 };
	int r = xf_deflate(data, len, &out);

	if (r < 0)
		return fail("deflate: %s", xf_strerror(r));
	r = write_all(out.data, out.len);
	xf_buf_dispose(&out);
	return r;
}

static int cmd_deflate(int argc, char **argv)
{
	xf_buf in = { 0 };
	int r;

	(void)argv;
	if (argc != 1)
		return usage();
	if ((r = read_all(stdin, &in)) < 0) {
		xf_buf_dispose(&in);
		return fail("stdin: %s", xf_strerror(r));
	}
	r = deflate_out(in.data, in.len);
	xf_buf_dispose(&in);
	return r;
}

static int cmd_bomb(int argc, char **argv)
{
	uint64_t mib;
	uint8_t *zeros;
	int r;

	if (argc != 2 || !parse_u64(argv[1], &mib) || mib == 0 || mib > 1024)
		return fail("bomb MIB: 1..1024");
	zeros = calloc(mib, 1u << 20);
	if (!zeros)
		return fail("out of memory");
	r = deflate_out(zeros, mib << 20);
	free(zeros);
	return r;
}

/* ---- response ---- */

static const char *const error_names[] = {
	[XF_ENOTFOUND - XF_EFIRST] = "ENOTFOUND", [XF_EEXIST - XF_EFIRST] = "EEXIST",
	[XF_ECORRUPT - XF_EFIRST] = "ECORRUPT",   [XF_EPROTO - XF_EFIRST] = "EPROTO",
	[XF_ETOOBIG - XF_EFIRST] = "ETOOBIG",     [XF_EFORK - XF_EFIRST] = "EFORK",
	[XF_EBADSIG - XF_EFIRST] = "EBADSIG",     [XF_ECHAIN - XF_EFIRST] = "ECHAIN",
	[XF_ESEQ - XF_EFIRST] = "ESEQ",           [XF_EUNKNOWNNODE - XF_EFIRST] = "EUNKNOWNNODE",
	[XF_EUNSAFE - XF_EFIRST] = "EUNSAFE",     [XF_ESCHEMA - XF_EFIRST] = "ESCHEMA",
	[XF_EUTF8 - XF_EFIRST] = "EUTF8",         [XF_EDATE - XF_EFIRST] = "EDATE",
	[XF_ECONFIG - XF_EFIRST] = "ECONFIG",     [XF_ESTATE - XF_EFIRST] = "ESTATE",
	[XF_ENODE - XF_EFIRST] = "ENODE",         [XF_ESTORE - XF_EFIRST] = "ESTORE",
	[XF_ESKEW - XF_EFIRST] = "ESKEW",        [XF_ESCOPE - XF_EFIRST] = "ESCOPE",
};

static void print_error_name(int64_t e)
{
	if (e >= XF_EFIRST && e < XF_ELAST && error_names[e - XF_EFIRST])
		printf("%s", error_names[e - XF_EFIRST]);
	else
		printf("%" PRId64, e);
}

/* KEY=VALUE for one field of a response; arrays and maps by their size,
 * "ack" as origin:seq,... and "pull" by its count of events. */
static void print_field(const msgpack_object_kv *kv)
{
	const msgpack_object *k = &kv->key, *v = &kv->val;
	uint32_t i;

	if (k->type != MSGPACK_OBJECT_STR)
		return;
	printf(" %.*s=", (int)k->via.str.size, k->via.str.ptr);
	switch (v->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		printf("%" PRIu64, v->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		if (k->via.str.size == 3 && memcmp(k->via.str.ptr, "err", 3) == 0)
			print_error_name(v->via.i64);
		else
			printf("%" PRId64, v->via.i64);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		printf("%s", v->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_STR:
		printf("%.*s", (int)v->via.str.size, v->via.str.ptr);
		break;
	case MSGPACK_OBJECT_BIN:
		printf("bin%" PRIu32, v->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		if (k->via.str.size == 3 && memcmp(k->via.str.ptr, "cur", 3) == 0 && v->via.array.size == 2)
			printf("%" PRIu64 ",%" PRIu64, v->via.array.ptr[0].via.u64, v->via.array.ptr[1].via.u64);
		else
			printf("%" PRIu32, v->via.array.size);
		break;
	case MSGPACK_OBJECT_MAP:
		for (i = 0; i < v->via.map.size; i++) {
			const msgpack_object_kv *e = &v->via.map.ptr[i];

			if (e->key.type == MSGPACK_OBJECT_STR && e->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				printf("%s%.*s:%" PRIu64, i ? "," : "", (int)e->key.via.str.size, e->key.via.str.ptr,
				       e->val.via.u64);
		}
		break;
	default:
		printf("?");
	}
}

static int cmd_response(int argc, char **argv)
{
	xf_buf in = { 0 }, inflated = { 0 };
	const xf_buf *body = &in;
	msgpack_zone zone;
	msgpack_object root;
	size_t off = 0;
	uint32_t i;
	int r;

	(void)argv;
	if (argc != 1)
		return usage();
	if ((r = read_all(stdin, &in)) < 0) {
		xf_buf_dispose(&in);
		return fail("stdin: %s", xf_strerror(r));
	}
	/* A zlib stream starts 0x78; a msgpack map never does. */
	if (in.len && in.data[0] == 0x78) {
		if ((r = xf_inflate(in.data, in.len, XF_SYNC_BODY_MAX, true, &inflated)) < 0) {
			xf_buf_dispose(&in);
			return fail("response does not inflate: %s", xf_strerror(r));
		}
		body = &inflated;
	}
	if (!msgpack_zone_init(&zone, 4096))
		return fail("out of memory");
	if (msgpack_unpack((const char *)body->data, body->len, &off, &zone, &root) != MSGPACK_UNPACK_SUCCESS ||
	    off != body->len || root.type != MSGPACK_OBJECT_MAP) {
		r = fail("response is not a msgpack map (%zu bytes)", body->len);
	} else {
		printf("response");
		for (i = 0; i < root.via.map.size; i++)
			print_field(&root.via.map.ptr[i]);
		printf("\n");
		r = 0;
	}
	msgpack_zone_destroy(&zone);
	xf_buf_dispose(&in);
	xf_buf_dispose(&inflated);
	return r;
}

/* ---- evidence ---- */

static int cmd_evidence(int argc, char **argv)
{
	size_t quarantined, forks;
	xf_store *s;
	int r;

	if (argc != 3)
		return usage();
	if ((r = xf_store_open(&s, argv[1], argv[2])) < 0)
		return fail("%s: %s", argv[1], xf_strerror(r));
	r = xf_store_evidence(s, &quarantined, &forks);
	xf_store_close(s);
	if (r < 0)
		return fail("%s: %s", argv[1], xf_strerror(r));
	printf("quarantined=%zu forks=%zu\n", quarantined, forks);
	return 0;
}

/* ---- rollback and schema: raw changes behind the store's back ---- */

/* A write transaction on the log in DIR, as no store would make it. */
static int raw_begin(const char *dir, MDB_env **env, MDB_txn **txn)
{
	int rc;

	*txn = NULL;
	if ((rc = mdb_env_create(env)))
		return rc;
	if ((rc = mdb_env_set_maxdbs(*env, 16)) || (rc = mdb_env_open(*env, dir, 0, 0600)))
		return rc;
	return mdb_txn_begin(*env, NULL, 0, txn);
}

/* Commit when RC is 0, else abort; close; say why on failure. */
static int raw_end(const char *dir, MDB_env *env, MDB_txn *txn, int rc)
{
	if (txn)
		rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc ? fail("%s: %s", dir, mdb_strerror(rc)) : 0;
}

/* What restoring an old backup does to a log. */

static size_t event_key(uint8_t *buf, const char *origin, uint64_t seq)
{
	size_t n = strlen(origin) + 1;

	memcpy(buf, origin, n);
	for (int i = 7; i >= 0; i--, seq >>= 8)
		buf[n + (size_t)i] = (uint8_t)seq;
	return n + 8;
}

static int cmd_rollback(int argc, char **argv)
{
	uint8_t kbuf[XF_NODE_ID_MAX + 9], head[8 + XF_HASH_BYTES + 1];
	const char *node;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi events, heads;
	MDB_val k, v;
	uint64_t seq = 0;
	int rc;

	if (argc != 3)
		return usage();
	node = argv[2];
	if ((rc = raw_begin(argv[1], &env, &txn)) || (rc = mdb_dbi_open(txn, "events", 0, &events)) ||
	    (rc = mdb_dbi_open(txn, "heads", 0, &heads)))
		goto done;
	k = (MDB_val){ strlen(node), (void *)node };
	if ((rc = mdb_get(txn, heads, &k, &v)) || v.mv_size != sizeof(head))
		goto done;
	memcpy(head, v.mv_data, sizeof(head));
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | head[i];
	if (seq < 2) {
		rc = MDB_NOTFOUND;
		goto done;
	}
	k = (MDB_val){ event_key(kbuf, node, seq), kbuf };
	if ((rc = mdb_del(txn, events, &k, NULL)))
		goto done;
	k = (MDB_val){ event_key(kbuf, node, seq - 1), kbuf };
	if ((rc = mdb_get(txn, events, &k, &v)))
		goto done;
	xf_event_hash(v.mv_data, v.mv_size, head + 8);
	for (int i = 7; i >= 0; i--)
		head[i] = (uint8_t)((seq - 1) >> (8 * (7 - i)));
	k = (MDB_val){ strlen(node), (void *)node };
	v = (MDB_val){ sizeof(head), head };
	rc = mdb_put(txn, heads, &k, &v, 0);
done:
	if (raw_end(argv[1], env, txn, rc))
		return 1;
	printf("%s now ends at seq %llu\n", node, (unsigned long long)(seq - 1));
	return 0;
}

/* A data dir as a newer version leaves it. */
static int cmd_schema(int argc, char **argv)
{
	uint8_t bytes[8];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	MDB_val k = { 6, "schema" }, v = { sizeof(bytes), bytes };
	uint64_t version;
	int rc;

	if (argc != 3)
		return usage();
	version = strtoull(argv[2], NULL, 10);
	for (int i = 7; i >= 0; i--, version >>= 8)
		bytes[i] = (uint8_t)version;
	if ((rc = raw_begin(argv[1], &env, &txn)) == 0 && (rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0)
		rc = mdb_put(txn, meta, &k, &v, 0);
	return raw_end(argv[1], env, txn, rc);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "auth", cmd_auth },
		{ "request", cmd_request },
		{ "junk", cmd_junk },
		{ "deflate", cmd_deflate },
		{ "bomb", cmd_bomb },
		{ "response", cmd_response },
		{ "evidence", cmd_evidence },
		{ "rollback", cmd_rollback },
		{ "schema", cmd_schema },
	};
	size_t i;

	if (argc < 2)
		return usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	return usage();
}
