#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xf/error.h"
#include "xf/text.h"

int xf_node_id_check(const char *id)
{
	size_t n;

	if (!id || !*id || *id == '-')
		return -EINVAL;
	n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
	if (id[n] != '\0' || n > XF_NODE_ID_MAX)
		return -EINVAL;
	return 0;
}

/* Length of the UTF-8 sequence at S (1..4), or 0 if it is not a valid,
 * shortest-form encoding of a scalar value. */
static size_t utf8_seq(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* 0 if S is valid UTF-8 and, unless CONTROLS_OK, holds no control
 * character but newline and tab; XF_EUTF8 otherwise. */
static int text_scan(const char *s, bool controls_ok)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq(p);

		if (n == 0)
			return XF_EUTF8;
		if (!controls_ok && n == 1 && ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f))
			return XF_EUTF8;
		/* C1 controls, U+0080..U+009F: CSI among them acts on terminals. */
		if (!controls_ok && n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			return XF_EUTF8;
		p += n;
	}
	return 0;
}

int xf_text_check(const char *s, size_t max)
{
	if (strlen(s) > max)
		return XF_ETOOBIG;
	return text_scan(s, false);
}

bool xf_text_is_utf8(const char *s)
{
	return text_scan(s, true) == 0;
}

/* Days from 1970-01-01 to Y-M-D in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

static void civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)yoe + era * 400 + (*m <= 2);
}

int xf_date_parse(const char *s, int32_t *days_out)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y;
	unsigned m, d, dim;
	size_t i;

	if (!s || strlen(s) != XF_DATE_LEN || s[4] != '-' || s[7] != '-')
		return XF_EDATE;
	for (i = 0; i < XF_DATE_LEN; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return XF_EDATE;
	y = atoi(s);
	m = (unsigned)atoi(s + 5);
	d = (unsigned)atoi(s + 8);
	if (y < 1900 || m < 1 || m > 12)
		return XF_EDATE;
	dim = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	if (d < 1 || d > dim)
		return XF_EDATE;
	*days_out = days_from_civil(y, m, d);
	return 0;
}

void xf_date_format(int32_t days, char out[XF_DATE_LEN + 1])
{
	int y;
	unsigned m, d;

	char buf[32];

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, sizeof(buf), "%04d-%02u-%02u", y, m, d);
	memcpy(out, buf, XF_DATE_LEN);
	out[XF_DATE_LEN] = '\0';
}

int32_t xf_date_today(uint64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	return days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
}

int xf_event_id_parse(const char *id, char origin[XF_NODE_ID_MAX + 1], uint64_t *seq)
{
	const char *colon = strrchr(id, ':');
	size_t n;
	char *end;
	unsigned long long v;

	if (!colon)
		return -EINVAL;
	n = (size_t)(colon - id);
	if (n == 0 || n > XF_NODE_ID_MAX || colon[1] < '1' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(colon + 1, &end, 10);
	if (errno || *end)
		return -EINVAL;
	memcpy(origin, id, n);
	origin[n] = '\0';
	if (xf_node_id_check(origin) < 0)
		return -EINVAL;
	*seq = v;
	return 0;
}

int xf_entity_id_parse(const char *id, char origin[XF_NODE_ID_MAX + 1], uint64_t *seq)
{
	const char *dash = strrchr(id, '-');
	unsigned long long v;
	size_t n;
	char *end;

	if (id[0] == '\0' || id[1] != '-' || !dash || dash <= id + 2)
		return -EINVAL;
	n = (size_t)(dash - id - 2);
	if (n > XF_NODE_ID_MAX)
		return -EINVAL;
	if (seq) {
		errno = 0;
		v = strtoull(dash + 1, &end, 10);
		if (errno || *end || dash[1] < '0' || dash[1] > '9')
			return -EINVAL;
		*seq = v;
	}
	memcpy(origin, id + 2, n);
	origin[n] = '\0';
	return 0;
}
