/* Time formatting and parsing for API fields, headers and query arguments. */
#include "base/clock.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t shoal_time_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

size_t shoal_time_format_rfc3339nano(int64_t ns, char *out, size_t size)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	long frac = (long)(ns % 1000000000LL);
	struct tm tm;
	char date[32];
	int n;

	if (frac < 0) {
		frac += 1000000000L;
		sec -= 1;
	}
	gmtime_r(&sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(out, size, "%s.%09ldZ", date, frac);
	return n < 0 ? 0 : (size_t)n;
}

size_t shoal_time_format_go(int64_t ns, char *out, size_t size)
{
	size_t n = shoal_time_format_rfc3339nano(ns, out, size);

	/* "…:05.120000000Z" -> "…:05.12Z", "…:05.000000000Z" -> "…:05Z" */
	if (n < 12 || out[n - 1] != 'Z')
		return n;
	while (out[n - 2] == '0')
		n--;
	if (out[n - 2] == '.')
		n--;
	out[n - 1] = 'Z';
	out[n] = '\0';
	return n;
}

size_t shoal_time_format_http(int64_t ns, char *out, size_t size)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	struct tm tm;

	gmtime_r(&sec, &tm);
	return strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int parse_frac(const char **p, int64_t *frac_ns)
{
	int64_t scale = 100000000LL;
	int digits = 0;

	*frac_ns = 0;
	if (**p != '.')
		return 0;
	(*p)++;
	while (isdigit((unsigned char)**p)) {
		if (digits < 9)
			*frac_ns += (**p - '0') * scale;
		scale /= 10;
		digits++;
		(*p)++;
	}
	return digits > 0 ? 0 : -1;
}

int shoal_time_parse(const char *s, int64_t *ns)
{
	const char *p = s;
	int64_t frac = 0;
	struct tm tm;
	long long secs;
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	if (strchr(s, '-') == NULL || s[0] == '-') {
		/* Unix seconds, maybe with a fraction */
		secs = strtoll(s, &end, 10);
		if (end == s)
			return -1;
		p = end;
		if (parse_frac(&p, &frac) < 0 || *p != '\0')
			return -1;
		*ns = (int64_t)secs * 1000000000LL + (secs < 0 ? -frac : frac);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL) {
		memset(&tm, 0, sizeof(tm));
		p = strptime(s, "%Y-%m-%d", &tm);
		if (p == NULL || *p != '\0')
			return -1;
		*ns = (int64_t)timegm(&tm) * 1000000000LL;
		return 0;
	}
	if (parse_frac(&p, &frac) < 0)
		return -1;
	secs = (long long)timegm(&tm);
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int hh, mm;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		secs -= sign * (hh * 3600 + mm * 60);
		p += 6;
	}
	if (*p != '\0')
		return -1;
	*ns = (int64_t)secs * 1000000000LL + frac;
	return 0;
}
