#include <errno.h>
#include <stdbool.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xf/config.h"
#include "xf/error.h"

#define KEYS_MAX 32

struct parse_ctx {
	xf_config *cfg;
	char reason[256];
	char seen[KEYS_MAX][48]; /* "section.name" of each key so far */
	size_t n_seen;
};

/* A key given twice (or continued on an indented line) would silently
 * take the last value. */
static bool seen_before(struct parse_ctx *ctx, const char *section, const char *name)
{
	char key[48];
	size_t i;

	snprintf(key, sizeof(key), "%s.%s", section, name);
	for (i = 0; i < ctx->n_seen; i++)
		if (strcmp(ctx->seen[i], key) == 0)
			return true;
	if (ctx->n_seen < KEYS_MAX)
		snprintf(ctx->seen[ctx->n_seen++], sizeof(ctx->seen[0]), "%s", key);
	return false;
}

static bool known_section(const char *section)
{
	return strcmp(section, "node") == 0 || strcmp(section, "upstream") == 0 || strcmp(section, "server") == 0;
}

/* libinih reads a line in pieces of INI_MAX_LINE - 1 bytes, its newline
 * included, and takes each piece for a line of its own: the rest of a long
 * comment would be parsed as a key, and the line numbers after it be off. */
#define LINE_MAX_BYTES (INI_MAX_LINE - 2)

/* Lines inih would misread, first: over its length, and (since it reports
 * sections only through their keys, so that an unknown section with no
 * keys would pass silently) unknown section lines. */
static int check_lines(FILE *f, struct parse_ctx *ctx)
{
	char line[512], name[64];
	int n = 0;

	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");

		n++;
		if (strcspn(line, "\r\n") > LINE_MAX_BYTES) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "line over %d bytes (split a long comment over several lines)", LINE_MAX_BYTES);
			return n;
		}
		if (*p != '[')
			continue;
		if (sscanf(p, "[%63[^]]]", name) != 1 || !known_section(name)) {
			snprintf(ctx->reason, sizeof(ctx->reason), "unknown section %.*s", (int)strcspn(p, "\r\n"), p);
			return n;
		}
	}
	rewind(f);
	return 0;
}

static int set_str(char *dst, size_t size, const char *value, struct parse_ctx *ctx)
{
	if (strlen(value) >= size) {
		snprintf(ctx->reason, sizeof(ctx->reason), "value too long");
		return 0;
	}
	if (!*value) {
		snprintf(ctx->reason, sizeof(ctx->reason), "empty value");
		return 0;
	}
	strcpy(dst, value);
	return 1;
}

/* A whole number from MIN to MAX (or 0, when ZERO_OK), in UNIT. */
static int set_uint(unsigned *dst, const char *name, const char *value, unsigned long min, unsigned long max,
		    bool zero_ok, const char *unit, struct parse_ctx *ctx)
{
	char *end;
	unsigned long v = strtoul(value, &end, 10);

	if (*end || end == value || value[0] == '-' || ((v < min || v > max) && !(zero_ok && v == 0))) {
		snprintf(ctx->reason, sizeof(ctx->reason), "%s must be %s%lu to %lu %s", name,
			 zero_ok ? "0 (none) or " : "", min, max, unit);
		return 0;
	}
	*dst = (unsigned)v;
	return 1;
}

/* A file named in the config: an absolute path, so that it does not
 * depend on where the daemon was started. */
static int set_path(char *dst, size_t size, const char *name, const char *value, struct parse_ctx *ctx)
{
	if (value[0] != '/') {
		snprintf(ctx->reason, sizeof(ctx->reason), "%s must be an absolute path", name);
		return 0;
	}
	return set_str(dst, size, value, ctx);
}

/* "host:port" with a numeric port 1..65535. */
static int listen_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end;
	long port;

	if (!colon || colon == v)
		return 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && colon[1] && port > 0 && port < 65536;
}

/* inih handler: returns 1 to go on, 0 to stop with this line as the error. */
static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	xf_config *c = ctx->cfg;

	/* inih goes on after an error and reports the first one's line:
	 * keep the first one's reason with it. */
	if (ctx->reason[0])
		return 1;

	if (!name) {
		if (!known_section(section)) {
			snprintf(ctx->reason, sizeof(ctx->reason), "unknown section [%s]", section);
			return 0;
		}
		return 1;
	}
	c->server_keys |= strcmp(section, "server") == 0;
	if (seen_before(ctx, section, name)) {
		snprintf(ctx->reason, sizeof(ctx->reason), "%s is given twice (or continued on an indented line)", name);
		return 0;
	}
	/* inih ends a value at ';' only: "张三 # 村文书" would be the author. */
	if (strstr(value, " #") || strstr(value, "\t#")) {
		snprintf(ctx->reason, sizeof(ctx->reason), "a comment after a value starts with ';', not '#'");
		return 0;
	}
	if (strcmp(section, "node") == 0) {
		if (strcmp(name, "id") == 0) {
			if (xf_node_id_check(value) < 0) {
				snprintf(ctx->reason, sizeof(ctx->reason),
					 "node id must be 1 to %d letters, digits or '-'", XF_NODE_ID_MAX);
				return 0;
			}
			return set_str(c->node_id, sizeof(c->node_id), value, ctx);
		}
		if (strcmp(name, "role") == 0) {
			if (strcmp(value, "village") && strcmp(value, "township")) {
				snprintf(ctx->reason, sizeof(ctx->reason), "role must be village or township");
				return 0;
			}
			return set_str(c->role, sizeof(c->role), value, ctx);
		}
		if (strcmp(name, "data_dir") == 0)
			return set_path(c->data_dir, sizeof(c->data_dir), name, value, ctx);
		if (strcmp(name, "author") == 0) {
			if (xf_text_check(value, sizeof(c->author) - 1) < 0) {
				snprintf(ctx->reason, sizeof(ctx->reason), "author must be UTF-8 text under 64 bytes");
				return 0;
			}
			return set_str(c->author, sizeof(c->author), value, ctx);
		}
	} else if (strcmp(section, "upstream") == 0 && strcmp(name, "url") == 0) {
		const char *host = value + (strncmp(value, "https://", 8) == 0 ? 8 : 7);

		/* A host, and nothing a URL may not hold as it stands. */
		if ((strncmp(value, "http://", 7) && strncmp(value, "https://", 8)) || !*host || *host == '/' ||
		    *host == ':' || strpbrk(value, " \t\"<>\\^`{|}")) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "url must be http:// or https:// and a host, without spaces");
			return 0;
		}
		return set_str(c->upstream_url, sizeof(c->upstream_url), value, ctx);
	} else if (strcmp(section, "upstream") == 0 && strcmp(name, "interval") == 0) {
		return set_uint(&c->sync_interval_s, name, value, 1, 86400, false, "seconds", ctx);
	} else if (strcmp(section, "upstream") == 0 && strcmp(name, "upload_limit") == 0) {
		return set_uint(&c->upload_limit_kib, name, value, XF_UPLOAD_LIMIT_MIN, 1048576, true, "KiB/s", ctx);
	} else if (strcmp(section, "server") == 0 && strcmp(name, "listen") == 0) {
		if (!listen_ok(value)) {
			snprintf(ctx->reason, sizeof(ctx->reason), "listen must be HOST:PORT");
			return 0;
		}
		return set_str(c->listen, sizeof(c->listen), value, ctx);
	} else if (strcmp(section, "upstream") == 0 && strcmp(name, "ca_file") == 0) {
		return set_path(c->ca_file, sizeof(c->ca_file), name, value, ctx);
	} else if (strcmp(section, "upstream") == 0 && strcmp(name, "pinned_key") == 0) {
		if (strncmp(value, "sha256//", 8) != 0 || strlen(value) < 8 + 44) {
			snprintf(ctx->reason, sizeof(ctx->reason), "pinned_key must be sha256//BASE64 of the key's DER");
			return 0;
		}
		return set_str(c->pinned_key, sizeof(c->pinned_key), value, ctx);
	} else if (strcmp(section, "server") == 0 && strcmp(name, "tls_cert") == 0) {
		return set_path(c->tls_cert, sizeof(c->tls_cert), name, value, ctx);
	} else if (strcmp(section, "server") == 0 && strcmp(name, "tls_key") == 0) {
		return set_path(c->tls_key, sizeof(c->tls_key), name, value, ctx);
	} else if (strcmp(section, "server") == 0 && strcmp(name, "admin_token_file") == 0) {
		return set_path(c->admin_token_file, sizeof(c->admin_token_file), name, value, ctx);
	} else if (strcmp(section, "server") == 0 && strcmp(name, "rate_limit") == 0) {
		return set_uint(&c->rate_limit, name, value, 1, 10000, false, "requests a second", ctx);
	} else if (strcmp(section, "server") == 0 && strcmp(name, "stale_after") == 0) {
		return set_uint(&c->stale_after_s, name, value, 60, 31536000, false, "seconds", ctx);
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key '%s' in [%s]", name, section);
	return 0;
}

int xf_config_load(const char *path, xf_config *out, char *err, size_t err_size)
{
	struct parse_ctx ctx = { 0 };
	xf_config cfg = { 0 };
	struct stat st;
	FILE *f;
	int line = 0, r = 0;
	const char *missing = NULL;

	ctx.cfg = &cfg;
	cfg.sync_interval_s = XF_SYNC_INTERVAL_DEFAULT;
	cfg.stale_after_s = XF_STALE_AFTER_DEFAULT;
	cfg.rate_limit = XF_RATE_LIMIT_DEFAULT;
	f = fopen(path, "re");
	/* A directory opens, and a failed read ends like the file does: both
	 * would be refused for a missing [node] id instead of for what they are. */
	if (!f || fstat(fileno(f), &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	if (r == 0 && (line = check_lines(f, &ctx)) == 0)
		line = ini_parse_file(f, on_entry, &ctx);
	if (r == 0 && ferror(f))
		r = -EIO;
	if (f)
		fclose(f);
	if (r < 0) {
		snprintf(err, err_size, "%s: %s", path, strerror(-r));
		return r;
	}
	if (line != 0) {
		snprintf(err, err_size, "%s:%d: %s", path, line, ctx.reason[0] ? ctx.reason : "syntax error");
		return XF_ECONFIG;
	}
	if (!cfg.node_id[0])
		missing = "id";
	else if (!cfg.role[0])
		missing = "role";
	else if (!cfg.data_dir[0])
		missing = "data_dir";
	if (missing) {
		snprintf(err, err_size, "%s: [node] %s is required", path, missing);
		return XF_ECONFIG;
	}
	if (!cfg.tls_cert[0] != !cfg.tls_key[0]) {
		snprintf(err, err_size, "%s: [server] tls_cert and tls_key go together", path);
		return XF_ECONFIG;
	}
	/* Over plain HTTP they would check nothing, while the config reads as
	 * if the link were protected. */
	if ((cfg.ca_file[0] || cfg.pinned_key[0]) && strncmp(cfg.upstream_url, "https://", 8) != 0) {
		snprintf(err, err_size, "%s: [upstream] %s needs an https:// url", path,
			 cfg.ca_file[0] ? "ca_file" : "pinned_key");
		return XF_ECONFIG;
	}
	*out = cfg;
	return 0;
}
