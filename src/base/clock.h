/* Wall-clock time as Docker shows it. Any thread. */
#ifndef SHOAL_BASE_CLOCK_H
#define SHOAL_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Nanoseconds since the Unix epoch, CLOCK_REALTIME. */
int64_t shoal_time_now_ns(void);

/* RFC 3339 with nanoseconds, UTC, as Go prints time.Time in JSON:
 * "2016-06-07T21:07:31.171892745Z". Returns the length written. */
size_t shoal_time_format_rfc3339nano(int64_t ns, char *out, size_t size);
/* The same as Go's time.RFC3339Nano writes it: trailing zeros of the fraction dropped (and
 * the dot with them), as every time in dockerd's JSON is. */
size_t shoal_time_format_go(int64_t ns, char *out, size_t size);

/* An HTTP Date header value: "Tue, 24 Nov 2026 20:01:26 GMT". */
size_t shoal_time_format_http(int64_t ns, char *out, size_t size);

/* Parses Docker's time arguments (events since/until): a Unix timestamp with optional
 * fraction ("1700000000", "1700000000.123456789") or RFC 3339 ("2026-11-24T20:01:27Z",
 * with optional fraction and offset). Returns 0 and sets *ns, or -1. */
int shoal_time_parse(const char *s, int64_t *ns);

#endif
