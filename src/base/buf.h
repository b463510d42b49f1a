/* A growable byte buffer, always NUL-terminated (git's strbuf). Embedded by its owner:
 * shoal_buf_init, then shoal_buf_fini frees the bytes. Any thread. */
#ifndef SHOAL_BASE_BUF_H
#define SHOAL_BASE_BUF_H

#include <stddef.h>

#include "base/err.h"

struct shoal_buf {
	char *data; /* NUL-terminated; never NULL after init */
	size_t len;
	size_t cap;
};

void shoal_buf_init(struct shoal_buf *b);
void shoal_buf_fini(struct shoal_buf *b);
void shoal_buf_reset(struct shoal_buf *b);
void shoal_buf_grow(struct shoal_buf *b, size_t extra);
void shoal_buf_add(struct shoal_buf *b, const void *data, size_t len);
void shoal_buf_adds(struct shoal_buf *b, const char *s);
void shoal_buf_addc(struct shoal_buf *b, char c);
void shoal_buf_addf(struct shoal_buf *b, const char *fmt, ...) SHOAL_PRINTF(2, 3);
/* Appends data in base64 (standard alphabet, padded; base64.c). */
void shoal_buf_add_base64(struct shoal_buf *b, const void *data, size_t len);
/* Appends the bytes base64 text s (len bytes) stands for; -1 (b partly written) when s is not
 * padded base64. */
int shoal_buf_add_unbase64(struct shoal_buf *b, const char *s, size_t len);
/* Drops the first n bytes, keeping the rest. */
void shoal_buf_consume(struct shoal_buf *b, size_t n);
/* Hands the bytes to the caller (free them) and leaves b empty, still initialised. */
char *shoal_buf_detach(struct shoal_buf *b, size_t *len);

#endif
