/* Task states: the names the Engine API gives swarmkit's TaskState values. */
#include "store/store.h"

#include <string.h>

#include "base/mem.h"

static const struct {
	enum shoal_task_state st;
	const char *name;
} states[] = {
	{ SHOAL_TASK_NEW, "new" },
	{ SHOAL_TASK_PENDING, "pending" },
	{ SHOAL_TASK_ASSIGNED, "assigned" },
	{ SHOAL_TASK_ACCEPTED, "accepted" },
	{ SHOAL_TASK_PREPARING, "preparing" },
	{ SHOAL_TASK_READY, "ready" },
	{ SHOAL_TASK_STARTING, "starting" },
	{ SHOAL_TASK_RUNNING, "running" },
	{ SHOAL_TASK_COMPLETE, "complete" },
	{ SHOAL_TASK_SHUTDOWN, "shutdown" },
	{ SHOAL_TASK_FAILED, "failed" },
	{ SHOAL_TASK_REJECTED, "rejected" },
	{ SHOAL_TASK_REMOVE, "remove" },
	{ SHOAL_TASK_ORPHANED, "orphaned" },
};

int shoal_task_state_parse(const char *name, enum shoal_task_state *out)
{
	size_t i;

	for (i = 0; name != NULL && i < SHOAL_ARRAY_SIZE(states); i++) {
		if (strcmp(name, states[i].name) == 0) {
			*out = states[i].st;
			return 0;
		}
	}
	return -1;
}

const char *shoal_task_state_name(enum shoal_task_state st)
{
	size_t i;

	for (i = 0; i < SHOAL_ARRAY_SIZE(states); i++)
		if (states[i].st == st)
			return states[i].name;
	return NULL;
}
