/* Event bodies: a msgpack map of named values, built and read without the
 * caller seeing msgpack. Values are strings (valid UTF-8), integers,
 * booleans, and arrays of strings. */
#ifndef XF_BODY_H
#define XF_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct xf_body xf_body;

/* A new, empty body; the caller frees it with xf_body_free(). */
int xf_body_new(xf_body **out);
void xf_body_free(xf_body *b);

/* Add one field. Strings are checked: XF_EUTF8 for invalid UTF-8 or control
 * characters, XF_ETOOBIG over MAX bytes. Duplicate keys are the caller's
 * mistake and return -EINVAL. */
int xf_body_put_str(xf_body *b, const char *key, const char *val, size_t max);
int xf_body_put_int(xf_body *b, const char *key, int64_t val);
int xf_body_put_bool(xf_body *b, const char *key, bool val);
int xf_body_put_strv(xf_body *b, const char *key, const char *const *vals, size_t n, size_t max);

/* The encoded map, borrowed until the next change to B or its free. */
int xf_body_bytes(xf_body *b, const uint8_t **data, size_t *len);

typedef enum xf_value_type {
	XF_VALUE_NIL,
	XF_VALUE_BOOL,
	XF_VALUE_INT,
	XF_VALUE_STR,
	XF_VALUE_ARRAY,
	XF_VALUE_OTHER, /* a kind of value this version does not read */
} xf_value_type;

typedef struct xf_value {
	xf_value_type type;
	bool b;
	int64_t i;
	const char *s;            /* XF_VALUE_STR: not NUL-terminated */
	size_t len;               /* string length, or number of items */
	const struct xf_value *items; /* XF_VALUE_ARRAY */
} xf_value;

typedef struct xf_fields xf_fields;

/* Parse an encoded body. *out borrows BODY and must be freed with
 * xf_fields_free() before BODY goes away. XF_EPROTO if it is not a map
 * with string keys. */
int xf_fields_parse(const uint8_t *body, size_t len, xf_fields **out);
void xf_fields_free(xf_fields *f);

size_t xf_fields_count(const xf_fields *f);
/* The I-th key (not NUL-terminated, length in *len) and value. */
const char *xf_fields_key(const xf_fields *f, size_t i, size_t *len);
const xf_value *xf_fields_value(const xf_fields *f, size_t i);
/* The value under KEY, or NULL. */
const xf_value *xf_fields_get(const xf_fields *f, const char *key);

/* A string value copied into BUF (truncated to SIZE-1); "" if V is not a
 * string. Returns BUF. */
char *xf_value_str(const xf_value *v, char *buf, size_t size);

#endif
