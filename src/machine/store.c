/* The storage root: one directory per machine with its config.json and pid file, and the
 * lock that serialises the commands changing machines. What runs is read from /proc. */
#include "machine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/mem.h"

char *shoal_machine__dir(const char *root, const char *name)
{
	return shoal_asprintf("%s/%s", root, name);
}

static int mkdir_p(const char *path, mode_t mode, struct shoal_err *err)
{
	char *p = shoal_strdup(path), *s = p;
	int rv = 0;
	char c;

	do {
		s++;
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			rv = shoal_errorf_sys(err, 500, errno, "cannot create %s: %s", p,
					      strerror(errno));
		*s = c;
	} while (rv == 0 && *s != '\0');
	free(p);
	return rv;
}

int shoal_machine__lock(const char *root, struct shoal_err *err)
{
	char *path = NULL;
	int fd = -1;

	if (mkdir_p(root, 0700, err) < 0)
		return -1;
	path = shoal_asprintf("%s/.lock", root);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		shoal_errorf_sys(err, 500, errno, "cannot lock %s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
		goto out;
	}
out:
	free(path);
	return fd;
}

void shoal_machine__unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int copy_str(json_t *root, const char *key, char *out, size_t size)
{
	const char *s = json_string_value(json_object_get(root, key));

	if (s == NULL || strlen(s) >= size)
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int shoal_machine__config_load(const char *root, const char *name, struct shoal_machine *m,
			       struct shoal_err *err)
{
	char *path = shoal_asprintf("%s/%s/config.json", root, name);
	json_error_t jerr;
	json_t *cfg = NULL;
	uint32_t net;
	int prefix, rv = -1;

	snprintf(m->name, sizeof(m->name), "%s", name);
	cfg = json_load_file(path, 0, &jerr);
	if (cfg == NULL) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			shoal_errorf(err, 404, "Host does not exist: \"%s\"", name);
		else
			shoal_errorf(err, 500, "cannot read %s: %s", path, jerr.text);
		goto out;
	}
	if (copy_str(cfg, "IPAddress", m->ip, sizeof(m->ip)) < 0 ||
	    copy_str(cfg, "Subnet", m->subnet, sizeof(m->subnet)) < 0 ||
	    copy_str(cfg, "Gateway", m->gateway, sizeof(m->gateway)) < 0 ||
	    copy_str(cfg, "Bridge", m->bridge, sizeof(m->bridge)) < 0 ||
	    copy_str(cfg, "Veth", m->veth, sizeof(m->veth)) < 0 ||
	    shoal_machine__subnet_parse(m->subnet, &net, &prefix) < 0) {
		shoal_errorf(err, 500, "%s: missing or malformed fields", path);
		goto out;
	}
	{
		/* optional, as docker-machine's HostOptions.EngineOptions */
		json_t *eo = json_object_get(cfg, "EngineOptions");
		const char *v;

		v = json_string_value(json_array_get(json_object_get(eo, "RegistryMirror"), 0));
		snprintf(m->engine_mirror, sizeof(m->engine_mirror), "%s", v != NULL ? v : "");
		v = json_string_value(json_array_get(json_object_get(eo, "InsecureRegistry"), 0));
		snprintf(m->engine_insecure, sizeof(m->engine_insecure), "%s", v != NULL ? v : "");
	}
	rv = 0;
out:
	json_decref(cfg);
	free(path);
	return rv;
}

/* Writes path through a temporary file and a rename, so a reader sees the old or the new
 * content, never half. */
static int write_file(const char *path, const char *data, struct shoal_err *err)
{
	char *tmp = shoal_asprintf("%s.tmp", path);
	size_t len = strlen(data);
	int fd, rv = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, data, len) != (ssize_t)len) {
		shoal_errorf_sys(err, 500, errno, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rv = 0;
out:
	free(tmp);
	return rv;
}

int shoal_machine__config_save(const char *root, const struct shoal_machine *m,
			       struct shoal_err *err)
{
	char *path = shoal_asprintf("%s/%s/config.json", root, m->name);
	char *text = NULL;
	json_t *cfg;
	int rv = -1;

	cfg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "Name", m->name, "DriverName",
			SHOAL_MACHINE_DRIVER, "IPAddress", m->ip, "Subnet", m->subnet, "Gateway",
			m->gateway, "Bridge", m->bridge, "Veth", m->veth, "DockerPort",
			SHOAL_MACHINE_DOCKER_PORT);
	if (m->engine_mirror[0] != '\0' || m->engine_insecure[0] != '\0') {
		json_t *eo = json_object();

		if (m->engine_mirror[0] != '\0')
			json_object_set_new(eo, "RegistryMirror",
					    json_pack("[s]", m->engine_mirror));
		if (m->engine_insecure[0] != '\0')
			json_object_set_new(eo, "InsecureRegistry",
					    json_pack("[s]", m->engine_insecure));
		json_object_set_new(cfg, "EngineOptions", eo);
	}
	text = json_dumps(cfg, JSON_INDENT(4));
	if (text == NULL) {
		shoal_errorf(err, 500, "cannot encode %s", path);
		goto out;
	}
	rv = write_file(path, text, err);
out:
	free(text);
	json_decref(cfg);
	free(path);
	return rv;
}

unsigned long long shoal_machine__starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: fields start after the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return 0;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0;
	for (field = 3; field < 22 && p != NULL; field++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL || sscanf(p, "%llu", &start) != 1)
		return 0;
	return start;
}

pid_t shoal_machine__pid_load(const char *root, const char *name)
{
	char *path = shoal_asprintf("%s/%s/pid", root, name);
	unsigned long long start = 0;
	FILE *f = fopen(path, "re");
	int pid = 0;

	free(path);
	if (f == NULL)
		return 0;
	if (fscanf(f, "%d %llu", &pid, &start) != 2 || pid <= 0)
		pid = 0;
	fclose(f);
	if (pid > 0 && (start == 0 || shoal_machine__starttime(pid) != start))
		pid = 0;
	return pid;
}

int shoal_machine__pid_save(const char *root, const char *name, pid_t pid, struct shoal_err *err)
{
	char *path = shoal_asprintf("%s/%s/pid", root, name);
	char *text = shoal_asprintf("%d %llu\n", (int)pid, shoal_machine__starttime(pid));
	int rv = write_file(path, text, err);

	free(text);
	free(path);
	return rv;
}

void shoal_machine__pid_remove(const char *root, const char *name)
{
	char *path = shoal_asprintf("%s/%s/pid", root, name);

	unlink(path);
	free(path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int shoal_machine__rmtree(const char *path)
{
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}
