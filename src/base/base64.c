/* Base64 (RFC 4648, standard alphabet, padded): bytes that must ride in JSON strings. */
#include "base/buf.h"

#include <stdint.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void shoal_buf_add_base64(struct shoal_buf *b, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		shoal_buf_addc(b, alphabet[v >> 18 & 63]);
		shoal_buf_addc(b, alphabet[v >> 12 & 63]);
		shoal_buf_addc(b, alphabet[v >> 6 & 63]);
		shoal_buf_addc(b, alphabet[v & 63]);
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);

		shoal_buf_addc(b, alphabet[v >> 18 & 63]);
		shoal_buf_addc(b, alphabet[v >> 12 & 63]);
		shoal_buf_addc(b, i + 1 < len ? alphabet[v >> 6 & 63] : '=');
		shoal_buf_addc(b, '=');
	}
}

static int value_of(char c)
{
	const char *p = c != '\0' ? strchr(alphabet, c) : NULL;

	return p != NULL ? (int)(p - alphabet) : -1;
}

int shoal_buf_add_unbase64(struct shoal_buf *b, const char *s, size_t len)
{
	uint32_t v = 0;
	size_t i, n = 0, pad = 0;

	for (i = 0; i < len; i++) {
		int x;

		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (x = value_of(s[i])) < 0)
			return -1;
		v = v << 6 | (uint32_t)x;
		if (++n % 4 == 0) {
			shoal_buf_addc(b, (char)(v >> 16));
			shoal_buf_addc(b, (char)(v >> 8));
			shoal_buf_addc(b, (char)v);
			v = 0;
		}
	}
	switch (n % 4) {
	case 0:
		break;
	case 2:
		shoal_buf_addc(b, (char)(v >> 4));
		break;
	case 3:
		shoal_buf_addc(b, (char)(v >> 10));
		shoal_buf_addc(b, (char)(v >> 2));
		break;
	default:
		return -1;
	}
	return (n + pad) % 4 == 0 ? 0 : -1;
}
