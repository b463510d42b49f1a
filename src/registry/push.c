/* placeholder, replaced below */
#include "registry/internal.h"

struct shoal_registry_op *
shoal_registry_push(struct shoal_registry *r, const char *name, const char *tag,
		    const struct shoal_registry_auth *auth, shoal_registry_progress_cb progress,
		    shoal_registry_done_cb done, void *ctx, struct shoal_err *err)
{
	(void)r;
	(void)name;
	(void)tag;
	(void)auth;
	(void)progress;
	(void)done;
	(void)ctx;
	shoal_errorf(err, 501, "push is not there yet");
	return NULL;
}
