/* The JSON messages of a pull or push stream, byte for byte as dockerd's streamformatter
 * writes them: {"status","progressDetail","progress","id"} in that order, the progress
 * text JSONProgress.String() makes at dockerd's width, sizes as go-units prints them, and
 * Go's HTML-safe escaping of <, > and &. Pure; any thread. */
#include "registry/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"

void shoal_registry__human_size(double size, char *out, size_t n)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
	size_t i = 0;

	while (size >= 1000.0 && i < sizeof(units) / sizeof(units[0]) - 1) {
		size /= 1000.0;
		i++;
	}
	snprintf(out, n, "%.4g%s", size, units[i]);
}

void shoal_registry__progress_bar(int64_t current, int64_t total, char *out, size_t n)
{
	char cur[32], tot[32], bar[64];
	int pct, i;

	out[0] = '\0';
	if (current <= 0 && total <= 0)
		return;
	shoal_registry__human_size((double)current, cur, sizeof(cur));
	if (total <= 0) {
		snprintf(out, n, "%8s", cur);
		return;
	}
	pct = (int)((double)current / (double)total * 100) / 2;
	if (pct > 50)
		pct = 50;
	if (pct < 0)
		pct = 0;
	/* dockerd is not on a terminal: its width is 200, wide enough for the bar */
	for (i = 0; i < pct; i++)
		bar[i] = '=';
	bar[i++] = '>';
	for (int s = 0; s < 50 - pct; s++)
		bar[i++] = ' ';
	bar[i] = '\0';
	shoal_registry__human_size((double)total, tot, sizeof(tot));
	if (current > total)
		snprintf(out, n, "[%s] %8s", bar, cur);
	else
		snprintf(out, n, "[%s] %8s/%s", bar, cur, tot);
}

json_t *shoal_registry__msg_status(const char *id, const char *status)
{
	json_t *m = json_object();

	json_object_set_new(m, "status", json_string(status));
	if (id != NULL && id[0] != '\0')
		json_object_set_new(m, "id", json_string(id));
	return m;
}

json_t *shoal_registry__msg_progress(const char *id, const char *action, int64_t current,
				     int64_t total)
{
	json_t *m = json_object();
	json_t *detail = json_object();
	char text[160];

	if (action != NULL && action[0] != '\0')
		json_object_set_new(m, "status", json_string(action));
	if (current != 0)
		json_object_set_new(detail, "current", json_integer(current));
	if (total != 0)
		json_object_set_new(detail, "total", json_integer(total));
	json_object_set_new(m, "progressDetail", detail);
	shoal_registry__progress_bar(current, total, text, sizeof(text));
	if (text[0] != '\0')
		json_object_set_new(m, "progress", json_string(text));
	if (id != NULL && id[0] != '\0')
		json_object_set_new(m, "id", json_string(id));
	return m;
}

json_t *shoal_registry__msg_error(const char *message)
{
	return json_pack("{s:{s:s}, s:s}", "errorDetail", "message", message, "error", message);
}

char *shoal_registry__msg_line(const json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	struct shoal_buf b;
	const char *p;
	char *line;

	shoal_buf_init(&b);
	for (p = s != NULL ? s : "{}"; *p != '\0'; p++) {
		/* outside strings JSON has none of these: escaping all is escaping strings */
		if (*p == '<')
			shoal_buf_adds(&b, "\\u003c");
		else if (*p == '>')
			shoal_buf_adds(&b, "\\u003e");
		else if (*p == '&')
			shoal_buf_adds(&b, "\\u0026");
		else if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x80 &&
			 ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9)) {
			shoal_buf_addf(&b, "\\u%s", (unsigned char)p[2] == 0xa8 ? "2028" : "2029");
			p += 2;
		} else
			shoal_buf_addc(&b, *p);
	}
	shoal_buf_adds(&b, "\r\n");
	free(s);
	line = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	return line;
}

char *shoal_registry_msg_line(const json_t *msg)
{
	return shoal_registry__msg_line(msg);
}
