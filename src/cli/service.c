/* What the `service` subcommands share: the values of their flags parsed and refused as
 * docker/cli's option types do (Go's strconv and time.ParseDuration, go-units sizes,
 * --publish, --mount, --env, --label, --filter), image references made "familiar" as
 * distribution/reference does, the lookups every subcommand starts with, and the ordering
 * helpers of docker's tables. Building a whole spec is create's and update's; printing the
 * convergence progress is service_progress.c's. */
#include "cli/internal.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"

/* Go's strconv ***************************************************************************/

static int num_err(struct shoal_err *err, const char *fn, const char *s, bool range)
{
	return shoal_errorf(err, 400, "strconv.%s: parsing \"%s\": %s", fn, s,
			    range ? "value out of range" : "invalid syntax");
}

/* strconv.ParseUint's digits with base 0 (0x, 0o, 0b and leading-0 prefixes) or 10. */
static int parse_digits(const char *s, int base, uint64_t max, uint64_t *out, bool *range)
{
	uint64_t v = 0;
	bool any = false;

	*range = false;
	if (base == 0) {
		base = 10;
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			base = 16;
			s += 2;
		} else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
			base = 8;
			s += 2;
		} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
			base = 2;
			s += 2;
		} else if (s[0] == '0' && s[1] != '\0') {
			base = 8;
			s++;
			any = true;
		}
	}
	for (; *s != '\0'; s++) {
		int d;

		if (isdigit((unsigned char)*s))
			d = *s - '0';
		else if (isalpha((unsigned char)*s))
			d = tolower((unsigned char)*s) - 'a' + 10;
		else
			return -1;
		if (d >= base)
			return -1;
		any = true;
		if (v > (max - (uint64_t)d) / (uint64_t)base)
			*range = true;
		else
			v = v * (uint64_t)base + (uint64_t)d;
	}
	if (!any)
		return -1;
	*out = v;
	return *range ? -1 : 0;
}

int shoal_cli__go_parse_uint(const char *s, int base, int bits, uint64_t *out,
			     struct shoal_err *err)
{
	uint64_t max = bits >= 64 ? UINT64_MAX : (1ULL << bits) - 1;
	bool range;

	if (parse_digits(s, base, max, out, &range) < 0)
		return num_err(err, "ParseUint", s, range);
	return 0;
}

int shoal_cli__go_parse_int(const char *s, int base, int bits, int64_t *out, struct shoal_err *err)
{
	uint64_t u, lim = 1ULL << (bits - 1);
	bool neg = false, range;
	const char *p = s;

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (parse_digits(p, base, UINT64_MAX, &u, &range) < 0)
		return num_err(err, "ParseInt", s, range);
	if ((!neg && u >= lim) || (neg && u > lim))
		return num_err(err, "ParseInt", s, true);
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

int shoal_cli__go_parse_float(const char *s, int bits, double *out, struct shoal_err *err)
{
	char *end;
	double v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return num_err(err, "ParseFloat", s, false);
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0')
		return num_err(err, "ParseFloat", s, false);
	if (errno == ERANGE || (bits == 32 && !isinf(v) && fabs(v) > FLT_MAX))
		return num_err(err, "ParseFloat", s, true);
	*out = bits == 32 ? (double)(float)v : v;
	return 0;
}

void shoal_cli__go_format_float(struct shoal_buf *b, double v, int bits)
{
	char tmp[64];
	int prec, exp;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (bits == 32 ? (float)strtod(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
			break;
	}
	exp = atoi(strchr(tmp, 'e') + 1);
	/* fmt's %v: %e form below 1e-4 and from 1e+06, two exponent digits as C writes */
	if (v != 0 && (exp < -4 || exp >= 6)) {
		shoal_buf_adds(b, tmp);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
	shoal_buf_adds(b, tmp);
}

/* Go's time.Duration *********************************************************************/

static int dur_err(struct shoal_err *err, const char *what, const char *s)
{
	return shoal_errorf(err, 400, "time: %s \"%s\"", what, s);
}

int shoal_cli__go_parse_duration(const char *orig, int64_t *out, struct shoal_err *err)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 },
		{ "\xce\xbcs", 1000 },
		{ "ms", 1000000 },
		{ "s", 1000000000ULL },
		{ "m", 60000000000ULL },
		{ "h", 3600000000000ULL },
	};
	const uint64_t lim = 1ULL << 63;
	const char *s = orig;
	uint64_t d = 0;
	bool neg = false;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*s == '\0')
		return dur_err(err, "invalid duration", orig);
	while (*s != '\0') {
		uint64_t v = 0, f = 0, unit = 0;
		double scale = 1;
		bool pre = false, post = false, overflow = false;
		size_t i, ulen;

		if (!(*s == '.' || isdigit((unsigned char)*s)))
			return dur_err(err, "invalid duration", orig);
		for (; isdigit((unsigned char)*s); s++) {
			pre = true;
			if (v > (lim - 1) / 10) {
				return dur_err(err, "invalid duration", orig);
			}
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > lim)
				return dur_err(err, "invalid duration", orig);
		}
		if (*s == '.') {
			s++;
			for (; isdigit((unsigned char)*s); s++) {
				post = true;
				if (overflow)
					continue;
				if (f > (lim - 1) / 10) {
					overflow = true;
					continue;
				}
				f = f * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (!pre && !post)
			return dur_err(err, "invalid duration", orig);
		for (ulen = 0;
		     s[ulen] != '\0' && s[ulen] != '.' && !isdigit((unsigned char)s[ulen]); ulen++)
			;
		if (ulen == 0)
			return dur_err(err, "missing unit in duration", orig);
		for (i = 0; i < SHOAL_ARRAY_SIZE(units); i++)
			if (strlen(units[i].name) == ulen && strncmp(units[i].name, s, ulen) == 0)
				unit = units[i].ns;
		if (unit == 0)
			return shoal_errorf(err, 400,
					    "time: unknown unit \"%.*s\" in duration \"%s\"",
					    (int)ulen, s, orig);
		s += ulen;
		if (v > lim / unit)
			return dur_err(err, "invalid duration", orig);
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > lim)
				return dur_err(err, "invalid duration", orig);
		}
		d += v;
		if (d > lim)
			return dur_err(err, "invalid duration", orig);
	}
	if (neg) {
		*out = d == lim ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > lim - 1)
		return dur_err(err, "invalid duration", orig);
	*out = (int64_t)d;
	return 0;
}

/* fmtFrac: v's last prec digits as ".ddd" without trailing zeros, prepended at *w. */
static uint64_t fmt_frac(char *buf, int *w, uint64_t v, int prec)
{
	bool print = false;
	int i;

	for (i = 0; i < prec; i++) {
		int digit = (int)(v % 10);

		print = print || digit != 0;
		if (print)
			buf[--*w] = (char)('0' + digit);
		v /= 10;
	}
	if (print)
		buf[--*w] = '.';
	return v;
}

static void fmt_int(char *buf, int *w, uint64_t v)
{
	if (v == 0) {
		buf[--*w] = '0';
		return;
	}
	while (v > 0) {
		buf[--*w] = (char)('0' + v % 10);
		v /= 10;
	}
}

char *shoal_cli__go_format_duration(int64_t d, char *out, size_t n)
{
	char buf[40];
	int w = (int)sizeof(buf) - 1;
	bool neg = d < 0;
	uint64_t u = neg ? 0 - (uint64_t)d : (uint64_t)d;

	buf[w] = '\0';
	if (u < 1000000000ULL) {
		int prec;

		if (u == 0) {
			snprintf(out, n, "0s");
			return out;
		}
		buf[--w] = 's';
		if (u < 1000) {
			prec = 0;
			buf[--w] = 'n';
		} else if (u < 1000000) {
			prec = 3;
			buf[--w] = '\xb5';
			buf[--w] = '\xc2';
		} else {
			prec = 6;
			buf[--w] = 'm';
		}
		u = fmt_frac(buf, &w, u, prec);
		fmt_int(buf, &w, u);
	} else {
		buf[--w] = 's';
		u = fmt_frac(buf, &w, u, 9);
		fmt_int(buf, &w, u % 60);
		u /= 60;
		if (u > 0) {
			buf[--w] = 'm';
			fmt_int(buf, &w, u % 60);
			u /= 60;
			if (u > 0) {
				buf[--w] = 'h';
				fmt_int(buf, &w, u);
			}
		}
	}
	if (neg)
		buf[--w] = '-';
	snprintf(out, n, "%s", buf + w);
	return out;
}

/* Sizes and CPUs *************************************************************************/

int shoal_cli__go_ram_in_bytes(const char *s, int64_t *out, struct shoal_err *err)
{
	static const char mults[] = "kmgtp";
	const char *sep = NULL, *p, *m;
	char *num, sfx[4];
	size_t len, i, slen;
	double size;
	int rv;

	for (p = s; *p != '\0'; p++)
		if (strchr("0123456789. ", *p) != NULL)
			sep = p;
	if (sep == NULL)
		return shoal_errorf(err, 400, "invalid size: '%s'", s);
	len = (size_t)(sep - s) + (*sep == ' ' ? 0 : 1);
	num = shoal_strndup(s, len);
	rv = shoal_cli__go_parse_float(num, 64, &size, err);
	free(num);
	if (rv < 0)
		return -1;
	if (size < 0)
		return shoal_errorf(err, 400, "invalid size: '%s'", s);
	p = sep + 1;
	slen = strlen(p);
	if (slen == 0) {
		*out = (int64_t)size;
		return 0;
	}
	if (slen > 3)
		return shoal_errorf(err, 400, "invalid suffix: '%s'", p);
	for (i = 0; i < slen; i++)
		sfx[i] = (char)tolower((unsigned char)p[i]);
	sfx[slen] = '\0';
	if (sfx[0] == 'b') {
		if (slen > 1)
			return shoal_errorf(err, 400, "invalid suffix: '%s'", sfx);
		*out = (int64_t)size;
		return 0;
	}
	m = strchr(mults, sfx[0]);
	if (m == NULL || (slen == 2 && sfx[1] != 'b') || (slen == 3 && strcmp(sfx + 1, "ib") != 0))
		return shoal_errorf(err, 400, "invalid suffix: '%s'", sfx);
	for (p = mults; p <= m; p++)
		size *= 1024;
	*out = (int64_t)size;
	return 0;
}

/* opts.ParseCPUs: a big.Rat ("1.5", "3/2", "2e-1") times 1e9, which must be whole. */
int shoal_cli__go_parse_cpus(const char *s, int64_t *out, struct shoal_err *err)
{
	const unsigned __int128 lim = (unsigned __int128)1 << 100;
	const char *p = s, *slash = strchr(s, '/');
	unsigned __int128 num = 0;
	int exp = 0;
	bool neg = false, any = false;
	char *end;

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (slash != NULL) {
		unsigned long long a, b;

		if (!isdigit((unsigned char)*p) || !isdigit((unsigned char)slash[1]))
			goto bad;
		errno = 0;
		a = strtoull(p, &end, 10);
		if (end != slash || errno != 0)
			goto bad;
		b = strtoull(slash + 1, &end, 10);
		if (*end != '\0' || errno != 0 || b == 0)
			goto bad;
		num = (unsigned __int128)a * 1000000000u;
		if (num % b != 0)
			return shoal_errorf(err, 400, "value is too precise");
		*out = (int64_t)(neg ? 0 - (uint64_t)(num / b) : (uint64_t)(num / b));
		return 0;
	}
	for (; isdigit((unsigned char)*p); p++, any = true)
		if (num < lim)
			num = num * 10 + (unsigned)(*p - '0');
		else
			exp++;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, any = true)
			if (num < lim) {
				num = num * 10 + (unsigned)(*p - '0');
				exp--;
			} else if (*p != '0') {
				return shoal_errorf(err, 400, "value is too precise");
			}
	}
	if (!any)
		goto bad;
	if (*p == 'e' || *p == 'E') {
		long e;

		errno = 0;
		e = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end != '\0' || errno != 0 || e > 1000 || e < -1000)
			goto bad;
		exp += (int)e;
		p = end;
	}
	if (*p != '\0')
		goto bad;
	/* nano CPUs = num * 10^(exp + 9) */
	for (exp += 9; exp > 0 && num < lim; exp--)
		num *= 10;
	for (; exp < 0; exp++) {
		if (num % 10 != 0)
			return shoal_errorf(err, 400, "value is too precise");
		num /= 10;
	}
	*out = (int64_t)(neg ? 0 - (uint64_t)num : (uint64_t)num);
	return 0;
bad:
	return shoal_errorf(err, 400, "failed to parse %s as a rational number", s);
}

/* Flag checks (pflag.Value.Set) **********************************************************/

int shoal_cli__check_uint(const char *val, struct shoal_err *err)
{
	uint64_t v;

	return shoal_cli__go_parse_uint(val, 0, 64, &v, err);
}

int shoal_cli__check_int(const char *val, struct shoal_err *err)
{
	int64_t v;

	return shoal_cli__go_parse_int(val, 0, 64, &v, err);
}

int shoal_cli__check_float(const char *val, struct shoal_err *err)
{
	double v;

	return shoal_cli__go_parse_float(val, 32, &v, err);
}

int shoal_cli__check_duration(const char *val, struct shoal_err *err)
{
	int64_t v;

	return shoal_cli__go_parse_duration(val, &v, err);
}

int shoal_cli__check_pos_duration(const char *val, struct shoal_err *err)
{
	int64_t v;

	if (shoal_cli__go_parse_duration(val, &v, err) < 0)
		return -1;
	if (v < 0)
		return shoal_errorf(err, 400, "duration cannot be negative");
	return 0;
}

int shoal_cli__check_bytes(const char *val, struct shoal_err *err)
{
	int64_t v;

	return shoal_cli__go_ram_in_bytes(val, &v, err);
}

int shoal_cli__check_cpus(const char *val, struct shoal_err *err)
{
	int64_t v;

	return shoal_cli__go_parse_cpus(val, &v, err);
}

int shoal_cli__check_env(const char *val, struct shoal_err *err)
{
	if (val[0] == '=' || val[0] == '\0')
		return shoal_errorf(err, 400, "invalid environment variable: %s", val);
	return 0;
}

int shoal_cli__check_label(const char *val, struct shoal_err *err)
{
	const char *eq = strchr(val, '='), *k = val;
	size_t len = eq ? (size_t)(eq - val) : strlen(val), i;

	while (len > 0 && strchr(" \t\n\v\f\r", *k) != NULL) {
		k++;
		len--;
	}
	if (len == 0)
		return shoal_errorf(err, 400, "invalid label '%s': empty name", val);
	for (i = 0; i < len; i++)
		if (strchr(" \t\n\v\f\r", k[i]) != NULL)
			return shoal_errorf(err, 400, "label '%.*s' contains whitespaces", (int)len,
					    k);
	return 0;
}

int shoal_cli__check_filter(const char *val, struct shoal_err *err)
{
	if (val[0] != '\0' && strchr(val, '=') == NULL)
		return shoal_errorf(err, 400, "bad format of filter (expected name=value)");
	return 0;
}

int shoal_cli__check_port(const char *val, struct shoal_err *err)
{
	json_t *ports = json_array();
	int rv = shoal_cli__svc_ports_parse(val, ports, err);

	json_decref(ports);
	return rv;
}

int shoal_cli__check_mount(const char *val, struct shoal_err *err)
{
	json_t *m = shoal_cli__svc_mount_parse(val, err);

	json_decref(m);
	return m ? 0 : -1;
}

int shoal_cli__check_command(const char *val, struct shoal_err *err)
{
	json_t *words = shoal_cli__shlex_split(val, err);

	json_decref(words);
	return words ? 0 : -1;
}

int shoal_cli__check_pref(const char *val, struct shoal_err *err)
{
	const char *eq = strchr(val, '=');

	if (eq == NULL || eq == val)
		return shoal_errorf(
			err, 400,
			"placement preference must be of the format \"<strategy>=<arg>\"");
	if ((size_t)(eq - val) != 6 || strncmp(val, "spread", 6) != 0)
		return shoal_errorf(
			err, 400,
			"unsupported placement preference %.*s (only spread is supported)",
			(int)(eq - val), val);
	return 0;
}

int shoal_cli__check_credspec(const char *val, struct shoal_err *err)
{
	if (val[0] == '\0' || strncmp(val, "config://", 9) == 0 ||
	    strncmp(val, "file://", 7) == 0 || strncmp(val, "registry://", 11) == 0)
		return 0;
	return shoal_errorf(
		err, 400,
		"invalid credential spec: value must be prefixed with \"config://\", \"file://\", or \"registry://\"");
}

/* CSV and shell words ********************************************************************/

json_t *shoal_cli__csv_split(const char *s, struct shoal_err *err)
{
	json_t *fields = json_array();
	struct shoal_buf f;
	const char *p = s;

	shoal_buf_init(&f);
	for (;;) {
		shoal_buf_reset(&f);
		if (*p == '"') {
			/* a quoted field: "" is a quote; it must end at a comma or the end */
			for (p++;; p++) {
				if (*p == '\0') {
					shoal_errorf(
						err, 400,
						"parse error on line 1, column %d: extraneous or missing \" in quoted-field",
						(int)(p - s) + 1);
					goto fail;
				}
				if (*p == '"' && p[1] == '"') {
					shoal_buf_addc(&f, '"');
					p++;
					continue;
				}
				if (*p == '"')
					break;
				shoal_buf_addc(&f, *p);
			}
			p++;
			if (*p != ',' && *p != '\0') {
				shoal_errorf(
					err, 400,
					"parse error on line 1, column %d: extraneous or missing \" in quoted-field",
					(int)(p - s) + 1);
				goto fail;
			}
		} else {
			for (; *p != ',' && *p != '\0'; p++) {
				if (*p == '"') {
					shoal_errorf(
						err, 400,
						"parse error on line 1, column %d: bare \" in non-quoted-field",
						(int)(p - s) + 1);
					goto fail;
				}
				shoal_buf_addc(&f, *p);
			}
		}
		json_array_append_new(fields, json_stringn(f.data, f.len));
		if (*p == '\0')
			break;
		p++;
	}
	shoal_buf_fini(&f);
	return fields;
fail:
	shoal_buf_fini(&f);
	json_decref(fields);
	return NULL;
}

json_t *shoal_cli__shlex_split(const char *s, struct shoal_err *err)
{
	json_t *words = json_array();
	struct shoal_buf w;
	const char *p = s;
	bool in_word = false;

	shoal_buf_init(&w);
	while (*p != '\0') {
		char c = *p;

		if (strchr(" \t\r\n", c) != NULL) {
			if (in_word)
				json_array_append_new(words, json_stringn(w.data, w.len));
			shoal_buf_reset(&w);
			in_word = false;
			p++;
			continue;
		}
		if (c == '#' && !in_word) {
			/* a comment runs to the end of the line */
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		in_word = true;
		if (c == '\\') {
			if (p[1] == '\0') {
				shoal_errorf(err, 400, "EOF found after escape character");
				goto fail;
			}
			shoal_buf_addc(&w, p[1]);
			p += 2;
			continue;
		}
		if (c == '\'') {
			for (p++; *p != '\'' && *p != '\0'; p++)
				shoal_buf_addc(&w, *p);
			if (*p == '\0') {
				shoal_errorf(err, 400, "EOF found when expecting closing quote");
				goto fail;
			}
			p++;
			continue;
		}
		if (c == '"') {
			for (p++; *p != '"' && *p != '\0'; p++) {
				if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`\n", p[1]) != NULL)
					p++;
				shoal_buf_addc(&w, *p);
			}
			if (*p == '\0') {
				shoal_errorf(err, 400, "EOF found when expecting closing quote");
				goto fail;
			}
			p++;
			continue;
		}
		shoal_buf_addc(&w, c);
		p++;
	}
	if (in_word)
		json_array_append_new(words, json_stringn(w.data, w.len));
	shoal_buf_fini(&w);
	return words;
fail:
	shoal_buf_fini(&w);
	json_decref(words);
	return NULL;
}

/* Ports **********************************************************************************/

static json_t *port_config(const char *proto, uint64_t target, uint64_t published, const char *mode)
{
	json_t *p = json_object();

	if (*proto != '\0')
		json_object_set_new(p, "Protocol", json_string(proto));
	if (target != 0)
		json_object_set_new(p, "TargetPort", json_integer((json_int_t)target));
	if (published != 0)
		json_object_set_new(p, "PublishedPort", json_integer((json_int_t)published));
	if (*mode != '\0')
		json_object_set_new(p, "PublishMode", json_string(mode));
	return p;
}

/* nat.ParsePortRange */
static int port_range(const char *s, uint64_t *start, uint64_t *end)
{
	const char *dash = strchr(s, '-');
	struct shoal_err e;
	char *a;
	int rv;

	if (*s == '\0')
		return -1;
	if (dash == NULL) {
		if (shoal_cli__go_parse_uint(s, 10, 16, start, &e) < 0)
			return -1;
		*end = *start;
		return 0;
	}
	a = shoal_strndup(s, (size_t)(dash - s));
	rv = shoal_cli__go_parse_uint(a, 10, 16, start, &e);
	free(a);
	if (rv < 0)
		return -1;
	/* Go splits on every '-' and reads the second part only */
	a = strchr(dash + 1, '-') ?
		    shoal_strndup(dash + 1, (size_t)(strchr(dash + 1, '-') - dash - 1)) :
		    shoal_strdup(dash + 1);
	rv = shoal_cli__go_parse_uint(a, 10, 16, end, &e);
	free(a);
	if (rv < 0 || *end < *start)
		return -1;
	return 0;
}

/* The long syntax: mode=host,target=80,published=8080,protocol=udp. */
static int ports_long(const char *val, json_t *ports, struct shoal_err *err)
{
	json_t *fields = shoal_cli__csv_split(val, err), *f;
	char proto[16] = "", mode[16] = "";
	uint64_t target = 0, published = 0;
	size_t i;
	int rv = -1;

	if (fields == NULL)
		return -1;
	json_array_foreach(fields, i, f) {
		char *field = shoal_strdup(json_string_value(f)), *eq, *k;
		const char *v;
		struct shoal_err e;

		for (k = field; *k != '\0'; k++)
			*k = (char)tolower((unsigned char)*k);
		eq = strchr(field, '=');
		if (eq == NULL || eq == field) {
			shoal_errorf(err, 400, "invalid field: %s", json_string_value(f));
			free(field);
			goto out;
		}
		*eq = '\0';
		v = eq + 1;
		if (strcmp(field, "protocol") == 0) {
			if (strcmp(v, "tcp") != 0 && strcmp(v, "udp") != 0 &&
			    strcmp(v, "sctp") != 0) {
				shoal_errorf(err, 400, "invalid protocol value '%s'", v);
				free(field);
				goto out;
			}
			snprintf(proto, sizeof(proto), "%s", v);
		} else if (strcmp(field, "mode") == 0) {
			if (strcmp(v, "ingress") != 0 && strcmp(v, "host") != 0) {
				shoal_errorf(
					err, 400,
					"invalid publish mode value (%s): must be either 'ingress' or 'host'",
					v);
				free(field);
				goto out;
			}
			snprintf(mode, sizeof(mode), "%s", v);
		} else if (strcmp(field, "target") == 0 || strcmp(field, "published") == 0) {
			bool tgt = field[0] == 't';
			uint64_t n;

			if (shoal_cli__go_parse_uint(v, 10, 16, &n, &e) < 0) {
				shoal_errorf(err, 400,
					     "invalid %s port (%s): value must be an integer: %s",
					     tgt ? "target" : "published", v,
					     strstr(e.msg, "range") ? "value out of range" :
								      "invalid syntax");
				free(field);
				goto out;
			}
			if (tgt)
				target = n;
			else
				published = n;
		} else {
			shoal_errorf(err, 400, "invalid field key: %s", field);
			free(field);
			goto out;
		}
		free(field);
	}
	if (target == 0) {
		shoal_errorf(err, 400, "missing mandatory field 'target'");
		goto out;
	}
	json_array_append_new(ports, port_config(*proto ? proto : "tcp", target, published,
						 *mode ? mode : "ingress"));
	rv = 0;
out:
	json_decref(fields);
	return rv;
}

/* The short syntax of nat.ParsePortSpec: [[ip:]published:]target[/proto], ranges allowed. */
static int ports_short(const char *val, json_t *ports, struct shoal_err *err)
{
	char *copy = shoal_strdup(val), *ip = NULL, *host = NULL, *cport, *slash, *last, *prev;
	const char *proto = "tcp";
	uint64_t start, end, hstart = 0, hend = 0, i, j;
	int rv = -1;

	last = strrchr(copy, ':');
	if (last == NULL) {
		cport = copy;
	} else {
		*last = '\0';
		cport = last + 1;
		prev = strrchr(copy, ':');
		if (prev == NULL) {
			host = copy;
		} else {
			*prev = '\0';
			host = prev + 1;
			ip = copy;
		}
	}
	slash = strchr(cport, '/');
	if (slash != NULL) {
		*slash = '\0';
		proto = slash + 1;
		if (*proto == '\0')
			proto = "tcp";
	}
	if (ip != NULL && *ip != '\0') {
		size_t len = strlen(ip);

		if (ip[0] == '[' && ip[len - 1] == ']') {
			ip[len - 1] = '\0';
			ip++;
		}
		/* the IP itself is checked by the daemon's rules only as far as docker does:
		 * any host IP is refused for services */
	}
	if (*cport == '\0') {
		shoal_errorf(err, 400, "no port specified: %s<empty>", val);
		goto out;
	}
	if (port_range(cport, &start, &end) < 0) {
		shoal_errorf(err, 400, "invalid containerPort: %s", cport);
		goto out;
	}
	if (host != NULL && *host != '\0' && port_range(host, &hstart, &hend) < 0) {
		shoal_errorf(err, 400, "invalid hostPort: %s", host);
		goto out;
	}
	if (host != NULL && *host != '\0' && end - start != hend - hstart && end != start) {
		shoal_errorf(err, 400,
			     "invalid ranges specified for container and host Ports: %s and %s",
			     cport, host);
		goto out;
	}
	{
		char lower[16];
		size_t k;

		for (k = 0; proto[k] != '\0' && k + 1 < sizeof(lower); k++)
			lower[k] = (char)tolower((unsigned char)proto[k]);
		lower[k] = '\0';
		if (strcmp(lower, "tcp") != 0 && strcmp(lower, "udp") != 0 &&
		    strcmp(lower, "sctp") != 0) {
			shoal_errorf(err, 400, "invalid proto: %s", proto);
			goto out;
		}
		if (ip != NULL && *ip != '\0') {
			shoal_errorf(err, 400, "hostip is not supported");
			goto out;
		}
		for (i = 0; i <= end - start; i++) {
			if (host == NULL || *host == '\0') {
				json_array_append_new(ports,
						      port_config(lower, start + i, 0, "ingress"));
			} else if (start == end) {
				/* one target, a range of published ports */
				for (j = hstart; j <= hend; j++)
					json_array_append_new(
						ports, port_config(lower, start, j, "ingress"));
			} else {
				json_array_append_new(ports, port_config(lower, start + i,
									 hstart + i, "ingress"));
			}
		}
	}
	rv = 0;
out:
	free(copy);
	return rv;
}

/* swarmopts.PortOpt.Set: the long syntax when the value looks like key=value pairs. */
int shoal_cli__svc_ports_parse(const char *val, json_t *ports, struct shoal_err *err)
{
	const char *p;

	/* regexp `\w+=\w+(,\w+=\w+)*` matches anywhere: a word character each side of '=' */
	for (p = strchr(val, '='); p != NULL; p = strchr(p + 1, '=')) {
		if (p > val && (isalnum((unsigned char)p[-1]) || p[-1] == '_') &&
		    (isalnum((unsigned char)p[1]) || p[1] == '_'))
			return ports_long(val, ports, err);
	}
	return ports_short(val, ports, err);
}

/* Mounts *********************************************************************************/

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	size_t i;

	for (i = 0; i < SHOAL_ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static json_t *sub(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL) {
		v = json_object();
		json_object_set_new(o, key, v);
	}
	return v;
}

static void set_kv(json_t *map, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *k = eq ? shoal_strndup(kv, (size_t)(eq - kv)) : shoal_strdup(kv);

	if (*k != '\0')
		json_object_set_new(map, k, json_string(eq ? eq + 1 : ""));
	free(k);
}

/* opts.MountOpt.Set; returns the mount.Mount as JSON (keys in Go's order), or NULL. */
json_t *shoal_cli__svc_mount_parse(const char *val, struct shoal_err *err)
{
	json_t *fields = shoal_cli__csv_split(val, err), *f, *m = NULL;
	char *type = shoal_strdup("volume"), *source = NULL, *target = NULL, *consistency = NULL;
	json_t *bind = NULL, *vol = NULL, *img = NULL, *tmpfs = NULL;
	bool ro = false, rnr = false, rfr = false;
	size_t i;

	if (fields == NULL)
		goto out;
	json_array_foreach(fields, i, f) {
		const char *field = json_string_value(f), *eq = strchr(field, '='), *v;
		char *key = eq ? shoal_strndup(field, (size_t)(eq - field)) : shoal_strdup(field);
		char *k;
		bool b;

		for (k = key; *k != '\0'; k++)
			*k = (char)tolower((unsigned char)*k);
		v = eq ? eq + 1 : NULL;
		if (v == NULL) {
			if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
				ro = true;
			} else if (strcmp(key, "volume-nocopy") == 0) {
				if (vol == NULL)
					vol = json_object();
				json_object_set_new(vol, "NoCopy", json_true());
			} else if (strcmp(key, "bind-nonrecursive") == 0) {
				if (bind == NULL)
					bind = json_object();
				json_object_set_new(bind, "NonRecursive", json_true());
			} else {
				shoal_errorf(err, 400,
					     "invalid field '%s' must be a key=value pair", field);
				free(key);
				goto fail;
			}
			free(key);
			continue;
		}
		if (strcmp(key, "type") == 0) {
			free(type);
			type = shoal_strdup(v);
			for (k = type; *k != '\0'; k++)
				*k = (char)tolower((unsigned char)*k);
		} else if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
			free(source);
			if (v[0] == '.') {
				char cwd[4096];

				if (getcwd(cwd, sizeof(cwd)) != NULL)
					source = shoal_asprintf("%s/%s", cwd, v);
				else
					source = shoal_strdup(v);
			} else {
				source = shoal_strdup(v);
			}
		} else if (strcmp(key, "target") == 0 || strcmp(key, "dst") == 0 ||
			   strcmp(key, "destination") == 0) {
			free(target);
			target = shoal_strdup(v);
		} else if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
			if (parse_bool(v, &ro) < 0) {
				shoal_errorf(err, 400, "invalid value for %s: %s", key, v);
				free(key);
				goto fail;
			}
		} else if (strcmp(key, "consistency") == 0) {
			free(consistency);
			consistency = shoal_strdup(v);
			for (k = consistency; *k != '\0'; k++)
				*k = (char)tolower((unsigned char)*k);
		} else if (strcmp(key, "bind-propagation") == 0) {
			char *prop = shoal_strdup(v);

			for (k = prop; *k != '\0'; k++)
				*k = (char)tolower((unsigned char)*k);
			if (bind == NULL)
				bind = json_object();
			json_object_set_new(bind, "Propagation", json_string(prop));
			free(prop);
		} else if (strcmp(key, "bind-nonrecursive") == 0) {
			if (parse_bool(v, &b) < 0) {
				shoal_errorf(err, 400, "invalid value for %s: %s", key, v);
				free(key);
				goto fail;
			}
			if (bind == NULL)
				bind = json_object();
			json_object_set_new(bind, "NonRecursive", json_boolean(b));
		} else if (strcmp(key, "bind-recursive") == 0) {
			if (bind == NULL)
				bind = json_object();
			if (strcmp(v, "enabled") == 0) {
			} else if (strcmp(v, "disabled") == 0) {
				json_object_set_new(bind, "NonRecursive", json_true());
			} else if (strcmp(v, "writable") == 0) {
				json_object_set_new(bind, "ReadOnlyNonRecursive", json_true());
				rnr = true;
			} else if (strcmp(v, "readonly") == 0) {
				json_object_set_new(bind, "ReadOnlyForceRecursive", json_true());
				rfr = true;
			} else {
				shoal_errorf(
					err, 400,
					"invalid value for %s: %s (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")",
					key, v);
				free(key);
				goto fail;
			}
		} else if (strcmp(key, "volume-subpath") == 0 ||
			   strcmp(key, "volume-nocopy") == 0 || strcmp(key, "volume-label") == 0 ||
			   strcmp(key, "volume-driver") == 0 || strcmp(key, "volume-opt") == 0) {
			if (vol == NULL)
				vol = json_object();
			if (strcmp(key, "volume-subpath") == 0) {
				json_object_set_new(vol, "Subpath", json_string(v));
			} else if (strcmp(key, "volume-nocopy") == 0) {
				if (parse_bool(v, &b) < 0) {
					shoal_errorf(err, 400,
						     "invalid value for volume-nocopy: %s", v);
					free(key);
					goto fail;
				}
				json_object_set_new(vol, "NoCopy", json_boolean(b));
			} else if (strcmp(key, "volume-label") == 0) {
				set_kv(sub(vol, "Labels"), v);
			} else if (strcmp(key, "volume-driver") == 0) {
				json_object_set_new(sub(vol, "DriverConfig"), "Name",
						    json_string(v));
			} else {
				set_kv(sub(sub(vol, "DriverConfig"), "Options"), v);
			}
		} else if (strcmp(key, "image-subpath") == 0) {
			if (img == NULL)
				img = json_object();
			json_object_set_new(img, "Subpath", json_string(v));
		} else if (strcmp(key, "tmpfs-size") == 0) {
			int64_t size;
			struct shoal_err e;

			if (shoal_cli__go_ram_in_bytes(v, &size, &e) < 0) {
				shoal_errorf(err, 400, "invalid value for %s: %s", key, v);
				free(key);
				goto fail;
			}
			if (tmpfs == NULL)
				tmpfs = json_object();
			json_object_set_new(tmpfs, "SizeBytes", json_integer(size));
		} else if (strcmp(key, "tmpfs-mode") == 0) {
			uint64_t mode;
			struct shoal_err e;

			if (shoal_cli__go_parse_uint(v, 8, 32, &mode, &e) < 0) {
				shoal_errorf(err, 400, "invalid value for %s: %s", key, v);
				free(key);
				goto fail;
			}
			if (tmpfs == NULL)
				tmpfs = json_object();
			json_object_set_new(tmpfs, "Mode", json_integer((json_int_t)mode));
		} else {
			shoal_errorf(err, 400, "unexpected key '%s' in '%s'", key, field);
			free(key);
			goto fail;
		}
		free(key);
	}
	if (*type == '\0') {
		shoal_errorf(err, 400, "type is required");
		goto fail;
	}
	if (target == NULL || *target == '\0') {
		shoal_errorf(err, 400, "target is required");
		goto fail;
	}
	if ((vol && strcmp(type, "volume") != 0) || (img && strcmp(type, "image") != 0) ||
	    (bind && strcmp(type, "bind") != 0) || (tmpfs && strcmp(type, "tmpfs") != 0)) {
		shoal_errorf(err, 400, "cannot mix '%s-*' options with mount type '%s'",
			     vol && strcmp(type, "volume") != 0 ? "volume" :
			     img && strcmp(type, "image") != 0	? "image" :
			     bind && strcmp(type, "bind") != 0	? "bind" :
								  "tmpfs",
			     type);
		goto fail;
	}
	if ((rnr || rfr) && !ro) {
		shoal_errorf(
			err, 400,
			"option 'bind-recursive=%s' requires 'readonly' to be specified in conjunction",
			rnr ? "writable" : "readonly");
		goto fail;
	}
	if (rfr && strcmp(json_string_value(json_object_get(bind, "Propagation")) ?: "",
			  "rprivate") != 0) {
		shoal_errorf(
			err, 400,
			"option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
		goto fail;
	}
	m = json_object();
	json_object_set_new(m, "Type", json_string(type));
	if (source != NULL && *source != '\0')
		json_object_set_new(m, "Source", json_string(source));
	json_object_set_new(m, "Target", json_string(target));
	if (ro)
		json_object_set_new(m, "ReadOnly", json_true());
	if (consistency != NULL && *consistency != '\0')
		json_object_set_new(m, "Consistency", json_string(consistency));
	if (bind != NULL)
		json_object_set(m, "BindOptions", bind);
	if (vol != NULL) {
		/* Go's volumeOptions() always makes Labels and DriverConfig */
		sub(vol, "Labels");
		sub(vol, "DriverConfig");
		json_object_set(m, "VolumeOptions", vol);
	}
	if (img != NULL)
		json_object_set(m, "ImageOptions", img);
	if (tmpfs != NULL)
		json_object_set(m, "TmpfsOptions", tmpfs);
	goto out;
fail:
	json_decref(m);
	m = NULL;
out:
	json_decref(fields);
	json_decref(bind);
	json_decref(vol);
	json_decref(img);
	json_decref(tmpfs);
	free(type);
	free(source);
	free(target);
	free(consistency);
	return m;
}

/* Image references (distribution/reference) **********************************************/

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ separated by '.', '_', "__" or dashes. */
static bool valid_component(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	while (i < len) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || (s[i] == '_' && !(i + 1 < len && s[i + 1] == '_'))) {
			i++;
		} else if (s[i] == '_') {
			i += 2;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= len || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

static bool valid_tag(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

struct ref {
	char *domain, *path, *tag, *digest;
};

static void ref_fini(struct ref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
}

/* reference.ParseNormalizedNamed: fills r, or returns -1. */
static int ref_parse(const char *s, struct ref *r)
{
	const char *at = strchr(s, '@'), *slash, *colon, *p, *name_end;
	char *name = NULL;
	size_t i, len;

	memset(r, 0, sizeof(*r));
	len = strlen(s);
	if (len == 64) {
		for (i = 0;
		     i < 64 && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')); i++)
			;
		if (i == 64)
			return -1;
	}
	name_end = at ? at : s + len;
	if (at != NULL) {
		const char *alg_end = strchr(at + 1, ':');

		if (alg_end == NULL || alg_end == at + 1 || alg_end[1] == '\0')
			return -1;
		r->digest = shoal_strdup(at + 1);
	}
	/* a tag is after the last ':' that follows the last '/' */
	slash = NULL;
	for (p = s; p < name_end; p++)
		if (*p == '/')
			slash = p;
	colon = NULL;
	for (p = slash ? slash : s; p < name_end; p++)
		if (*p == ':')
			colon = p;
	if (colon != NULL) {
		r->tag = shoal_strndup(colon + 1, (size_t)(name_end - colon - 1));
		if (!valid_tag(r->tag))
			goto fail;
		name_end = colon;
	}
	name = shoal_strndup(s, (size_t)(name_end - s));
	slash = strchr(name, '/');
	if (slash != NULL) {
		bool lower = true;

		for (p = name; p < slash; p++)
			if (isupper((unsigned char)*p))
				lower = false;
		if (memchr(name, '.', (size_t)(slash - name)) != NULL ||
		    memchr(name, ':', (size_t)(slash - name)) != NULL ||
		    (slash - name == 9 && strncmp(name, "localhost", 9) == 0) || !lower) {
			r->domain = shoal_strndup(name, (size_t)(slash - name));
			r->path = shoal_strdup(slash + 1);
		}
	}
	if (r->domain == NULL) {
		r->domain = shoal_strdup("docker.io");
		r->path = shoal_strdup(name);
	}
	if (strcmp(r->domain, "index.docker.io") == 0) {
		free(r->domain);
		r->domain = shoal_strdup("docker.io");
	}
	if (strcmp(r->domain, "docker.io") == 0 && strchr(r->path, '/') == NULL) {
		char *lib = shoal_asprintf("library/%s", r->path);

		free(r->path);
		r->path = lib;
	}
	/* the domain: host[:port], letters, digits, dots and dashes */
	for (p = r->domain; *p != '\0'; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == ':' ||
		      *p == '[' || *p == ']'))
			goto fail;
	for (p = r->path;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (!valid_component(p, n))
			goto fail;
		if (e == NULL)
			break;
		p = e + 1;
	}
	free(name);
	return 0;
fail:
	free(name);
	ref_fini(r);
	return -1;
}

/* reference.FamiliarName */
static void familiar_name(struct shoal_buf *b, const struct ref *r)
{
	if (strcmp(r->domain, "docker.io") == 0) {
		const char *p = r->path;

		if (strncmp(p, "library/", 8) == 0 && strchr(p + 8, '/') == NULL)
			p += 8;
		shoal_buf_adds(b, p);
		return;
	}
	shoal_buf_addf(b, "%s/%s", r->domain, r->path);
}

char *shoal_cli__image_tagged(const char *image)
{
	struct shoal_buf b;
	struct ref r;
	char *res;

	if (ref_parse(image, &r) < 0)
		return NULL;
	shoal_buf_init(&b);
	familiar_name(&b, &r);
	if (r.tag != NULL)
		shoal_buf_addf(&b, ":%s", r.tag);
	else if (r.digest == NULL)
		shoal_buf_adds(&b, ":latest");
	if (r.digest != NULL)
		shoal_buf_addf(&b, "@%s", r.digest);
	res = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	ref_fini(&r);
	return res;
}

char *shoal_cli__image_with_digest(const char *image, const char *digest)
{
	struct shoal_buf b;
	struct ref r;
	char *res;

	if (ref_parse(image, &r) < 0)
		return shoal_strdup(image);
	if (r.digest != NULL) {
		ref_fini(&r);
		return shoal_strdup(image);
	}
	shoal_buf_init(&b);
	familiar_name(&b, &r);
	if (r.tag != NULL)
		shoal_buf_addf(&b, ":%s", r.tag);
	shoal_buf_addf(&b, "@%s", digest);
	res = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	ref_fini(&r);
	return res;
}

char *shoal_cli__image_display(const char *image)
{
	struct shoal_buf b;
	struct ref r;
	char *res;

	if (ref_parse(image, &r) < 0)
		return shoal_strdup(image);
	if (r.tag == NULL) {
		ref_fini(&r);
		return shoal_strdup(image);
	}
	shoal_buf_init(&b);
	familiar_name(&b, &r);
	shoal_buf_addf(&b, ":%s", r.tag);
	res = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	ref_fini(&r);
	return res;
}

/* Requests *******************************************************************************/

json_t *shoal_cli__filters_new(const char *const *vals, size_t n)
{
	json_t *f = json_object();
	size_t i;

	for (i = 0; i < n; i++) {
		const char *eq = strchr(vals[i], '='), *k, *v, *kend, *vend;
		char *key, *val, *p;

		if (vals[i][0] == '\0' || eq == NULL)
			continue;
		/* FilterOpt: the name trimmed and lower-cased, the value trimmed */
		for (k = vals[i]; k < eq && isspace((unsigned char)*k); k++)
			;
		for (kend = eq; kend > k && isspace((unsigned char)kend[-1]); kend--)
			;
		for (v = eq + 1; *v != '\0' && isspace((unsigned char)*v); v++)
			;
		for (vend = v + strlen(v); vend > v && isspace((unsigned char)vend[-1]); vend--)
			;
		key = shoal_strndup(k, (size_t)(kend - k));
		for (p = key; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		val = shoal_strndup(v, (size_t)(vend - v));
		shoal_cli__filters_add(f, key, val);
		free(key);
		free(val);
	}
	return f;
}

void shoal_cli__filters_add(json_t *f, const char *key, const char *val)
{
	json_object_set_new(sub(f, key), val, json_true());
}

char *shoal_cli__filters_query(json_t *f)
{
	char *s, *esc;

	if (json_object_size(f) == 0)
		return NULL;
	/* filters.ToJSON marshals maps: Go sorts their keys */
	s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	esc = shoal_cli_query_escape(s);
	free(s);
	return esc;
}

int shoal_cli__svc_get(struct shoal_cli_client *c, const char *ref, bool defaults, json_t **svc,
		       struct shoal_err *err)
{
	char *esc, *path;
	int rv;

	if (ref[0] == '\0')
		return shoal_errorf(err, 400, "invalid service name or ID: value is empty");
	esc = shoal_cli_query_escape(ref);
	path = shoal_asprintf("/services/%s?insertDefaults=%s", esc, defaults ? "true" : "false");
	rv = shoal_cli_client_call(c, "GET", path, NULL, svc, err);
	free(path);
	free(esc);
	return rv;
}

int shoal_cli__svc_update(struct shoal_cli *cli, struct shoal_cli_client *c, json_t *svc,
			  const char *query, const char *warning, struct shoal_err *err)
{
	json_t *spec = json_object_get(svc, "Spec"), *resp = NULL, *w;
	json_int_t version =
		json_integer_value(json_object_get(json_object_get(svc, "Version"), "Index"));
	const char *id = json_string_value(json_object_get(svc, "ID")) ?: "";
	char *esc = shoal_cli_query_escape(id);
	char *path = shoal_asprintf("/services/%s/update?%s%sversion=%" JSON_INTEGER_FORMAT, esc,
				    query ? query : "", query ? "&" : "", version);
	size_t i;
	int rv;

	rv = shoal_cli_client_call(c, "POST", path, spec, &resp, err);
	if (rv == 0) {
		json_array_foreach(json_object_get(resp, "Warnings"), i, w)
			fprintf(cli->err, "%s\n", json_string_value(w) ?: "");
		if (warning != NULL)
			fprintf(cli->err, "%s\n", warning);
	}
	fflush(cli->err);
	json_decref(resp);
	free(path);
	free(esc);
	return rv;
}

/* Ordering *******************************************************************************/

bool shoal_cli__natural_less(const char *a, const char *b)
{
	size_t i = 0, j = 0, la = strlen(a), lb = strlen(b);

	while (i < la && j < lb) {
		bool da = isdigit((unsigned char)a[i]), db = isdigit((unsigned char)b[j]);

		if (da != db)
			return da;
		if (!da) {
			if (a[i] != b[j])
				return (unsigned char)a[i] < (unsigned char)b[j];
			i++;
			j++;
			continue;
		}
		{
			size_t nz1, nz2, l1, l2;
			int c;

			while (i < la && a[i] == '0')
				i++;
			while (j < lb && b[j] == '0')
				j++;
			nz1 = i;
			nz2 = j;
			while (i < la && isdigit((unsigned char)a[i]))
				i++;
			while (j < lb && isdigit((unsigned char)b[j]))
				j++;
			l1 = i - nz1;
			l2 = j - nz2;
			if (l1 != l2)
				return l1 < l2;
			c = strncmp(a + nz1, b + nz2, l1);
			if (c != 0)
				return c < 0;
			if (nz1 != nz2)
				return nz1 < nz2;
		}
	}
	return la - i < lb - j;
}

int shoal_cli__parse_time(const char *s, int64_t *ns)
{
	struct tm tm;
	const char *p;
	int64_t frac = 0, scale = 1000000000, off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
		}
	}
	if (*p == '+' || *p == '-') {
		int h = 0, m = 0;

		if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2)
			return -1;
		off = (int64_t)(h * 3600 + m * 60) * (*p == '-' ? -1 : 1);
	} else if (*p != 'Z') {
		return -1;
	}
	t = timegm(&tm);
	*ns = ((int64_t)t - off) * 1000000000LL + frac;
	return 0;
}

int64_t shoal_cli__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Go's encoding/json output *************************************************************/

static void go_json_string(struct shoal_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	shoal_buf_addc(b, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			shoal_buf_addc(b, '\\');
			shoal_buf_addc(b, (char)c);
		} else if (c == '\n') {
			shoal_buf_adds(b, "\\n");
		} else if (c == '\r') {
			shoal_buf_adds(b, "\\r");
		} else if (c == '\t') {
			shoal_buf_adds(b, "\\t");
		} else if (c == '\b') {
			shoal_buf_adds(b, "\\b");
		} else if (c == '\f') {
			shoal_buf_adds(b, "\\f");
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			shoal_buf_adds(b, "\\u00");
			shoal_buf_addc(b, hex[c >> 4]);
			shoal_buf_addc(b, hex[c & 0xf]);
		} else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
			   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			shoal_buf_addf(b, "\\u202%c", (unsigned char)s[i + 2] == 0xa8 ? '8' : '9');
			i += 2;
		} else {
			shoal_buf_addc(b, (char)c);
		}
	}
	shoal_buf_addc(b, '"');
}

/* Go's float encoding: the shortest digits, %e form below 1e-6 and from 1e21 ("1e-07"). */
static void go_json_real(struct shoal_buf *b, double v, int bits)
{
	char tmp[64];
	double a = fabs(v);
	int prec;

	if (a != 0 && (a < 1e-6 || a >= 1e21)) {
		char *e;

		for (prec = 1; prec <= 17; prec++) {
			snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
			if (bits == 32 ? (float)strtod(tmp, NULL) == (float)v :
					 strtod(tmp, NULL) == v)
				break;
		}
		/* e-07 becomes e-7 */
		e = strchr(tmp, 'e');
		if (e != NULL && e[1] == '-' && e[2] == '0')
			memmove(e + 2, e + 3, strlen(e + 3) + 1);
		else if (e != NULL && e[1] == '+' && e[2] == '0')
			memmove(e + 2, e + 3, strlen(e + 3) + 1);
		shoal_buf_adds(b, tmp);
		return;
	}
	for (prec = 0; prec <= 40; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*f", prec, v);
		if (bits == 32 ? (float)strtod(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
			break;
	}
	shoal_buf_adds(b, tmp);
}

static void go_json(struct shoal_buf *b, json_t *v, const char *key, bool indent, int depth)
{
	size_t i, n;
	const char *k;
	json_t *x;
	int d;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (json_object_size(v) == 0) {
			shoal_buf_adds(b, "{}");
			break;
		}
		shoal_buf_addc(b, '{');
		n = 0;
		json_object_foreach(v, k, x) {
			if (n++ > 0)
				shoal_buf_addc(b, ',');
			if (indent) {
				shoal_buf_addc(b, '\n');
				for (d = 0; d <= depth; d++)
					shoal_buf_adds(b, "    ");
			}
			go_json_string(b, k, strlen(k));
			shoal_buf_adds(b, indent ? ": " : ":");
			go_json(b, x, k, indent, depth + 1);
		}
		if (indent) {
			shoal_buf_addc(b, '\n');
			for (d = 0; d < depth; d++)
				shoal_buf_adds(b, "    ");
		}
		shoal_buf_addc(b, '}');
		break;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			shoal_buf_adds(b, "[]");
			break;
		}
		shoal_buf_addc(b, '[');
		json_array_foreach(v, i, x) {
			if (i > 0)
				shoal_buf_addc(b, ',');
			if (indent) {
				shoal_buf_addc(b, '\n');
				for (d = 0; d <= depth; d++)
					shoal_buf_adds(b, "    ");
			}
			go_json(b, x, key, indent, depth + 1);
		}
		if (indent) {
			shoal_buf_addc(b, '\n');
			for (d = 0; d < depth; d++)
				shoal_buf_adds(b, "    ");
		}
		shoal_buf_addc(b, ']');
		break;
	case JSON_STRING:
		go_json_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		shoal_buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		/* the one float32 of the swarm types */
		go_json_real(b, json_real_value(v),
			     key != NULL && strcmp(key, "MaxFailureRatio") == 0 ? 32 : 64);
		break;
	case JSON_TRUE:
		shoal_buf_adds(b, "true");
		break;
	case JSON_FALSE:
		shoal_buf_adds(b, "false");
		break;
	case JSON_NULL:
		shoal_buf_adds(b, "null");
		break;
	}
}

void shoal_cli__go_json(struct shoal_buf *b, json_t *v, bool indent)
{
	go_json(b, v, NULL, indent, 0);
}
