/* `shoal service inspect`: GET /services/REF?insertDefaults=true per argument, printed as
 * docker/cli does (cli/command/service/inspect.go, formatter.go): the services as indented
 * JSON, through a --format template, or --pretty's text, which is docker's own template run
 * over the values its serviceInspectContext computes. */
#include "cli/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

/* serviceInspectPrettyTemplate, verbatim */
static const char pretty_tmpl[] =
	"\n"
	"ID:\t\t{{.ID}}\n"
	"Name:\t\t{{.Name}}\n"
	"{{- if .Labels }}\n"
	"Labels:\n"
	"{{- range $k, $v := .Labels }}\n"
	" {{ $k }}{{if $v }}={{ $v }}{{ end }}\n"
	"{{- end }}{{ end }}\n"
	"Service Mode:\n"
	"{{- if .IsModeGlobal }}\tGlobal\n"
	"{{- else if .IsModeReplicated }}\tReplicated\n"
	"{{- if .ModeReplicatedReplicas }}\n"
	" Replicas:\t{{ .ModeReplicatedReplicas }}\n"
	"{{- end }}{{ end }}\n"
	"{{- if .HasUpdateStatus }}\n"
	"UpdateStatus:\n"
	" State:\t\t{{ .UpdateStatusState }}\n"
	"{{- if .HasUpdateStatusStarted }}\n"
	" Started:\t{{ .UpdateStatusStarted }}\n"
	"{{- end }}\n"
	"{{- if .UpdateIsCompleted }}\n"
	" Completed:\t{{ .UpdateStatusCompleted }}\n"
	"{{- end }}\n"
	" Message:\t{{ .UpdateStatusMessage }}\n"
	"{{- end }}\n"
	"Placement:\n"
	"{{- if .TaskPlacementConstraints }}\n"
	" Constraints:\t{{ .TaskPlacementConstraints }}\n"
	"{{- end }}\n"
	"{{- if .TaskPlacementPreferences }}\n"
	" Preferences:   {{ .TaskPlacementPreferences }}\n"
	"{{- end }}\n"
	"{{- if .MaxReplicas }}\n"
	" Max Replicas Per Node:   {{ .MaxReplicas }}\n"
	"{{- end }}\n"
	"{{- if .HasUpdateConfig }}\n"
	"UpdateConfig:\n"
	" Parallelism:\t{{ .UpdateParallelism }}\n"
	"{{- if .HasUpdateDelay}}\n"
	" Delay:\t\t{{ .UpdateDelay }}\n"
	"{{- end }}\n"
	" On failure:\t{{ .UpdateOnFailure }}\n"
	"{{- if .HasUpdateMonitor}}\n"
	" Monitoring Period: {{ .UpdateMonitor }}\n"
	"{{- end }}\n"
	" Max failure ratio: {{ .UpdateMaxFailureRatio }}\n"
	" Update order:      {{ .UpdateOrder }}\n"
	"{{- end }}\n"
	"{{- if .HasRollbackConfig }}\n"
	"RollbackConfig:\n"
	" Parallelism:\t{{ .RollbackParallelism }}\n"
	"{{- if .HasRollbackDelay}}\n"
	" Delay:\t\t{{ .RollbackDelay }}\n"
	"{{- end }}\n"
	" On failure:\t{{ .RollbackOnFailure }}\n"
	"{{- if .HasRollbackMonitor}}\n"
	" Monitoring Period: {{ .RollbackMonitor }}\n"
	"{{- end }}\n"
	" Max failure ratio: {{ .RollbackMaxFailureRatio }}\n"
	" Rollback order:    {{ .RollbackOrder }}\n"
	"{{- end }}\n"
	"ContainerSpec:\n"
	" Image:\t\t{{ .ContainerImage }}\n"
	"{{- if .ContainerArgs }}\n"
	" Args:\t\t{{ range $arg := .ContainerArgs }}{{ $arg }} {{ end }}\n"
	"{{- end -}}\n"
	"{{- if .ContainerEnv }}\n"
	" Env:\t\t{{ range $env := .ContainerEnv }}{{ $env }} {{ end }}\n"
	"{{- end -}}\n"
	"{{- if .ContainerWorkDir }}\n"
	" Dir:\t\t{{ .ContainerWorkDir }}\n"
	"{{- end -}}\n"
	"{{- if .HasContainerInit }}\n"
	" Init:\t\t{{ .ContainerInit }}\n"
	"{{- end -}}\n"
	"{{- if .ContainerUser }}\n"
	" User: {{ .ContainerUser }}\n"
	"{{- end }}\n"
	"{{- if .HasCapabilities }}\n"
	"Capabilities:\n"
	"{{- if .HasCapabilityAdd }}\n"
	" Add: {{ .CapabilityAdd }}\n"
	"{{- end }}\n"
	"{{- if .HasCapabilityDrop }}\n"
	" Drop: {{ .CapabilityDrop }}\n"
	"{{- end }}\n"
	"{{- end }}\n"
	"{{- if .ContainerSysCtls }}\n"
	"SysCtls:\n"
	"{{- range $k, $v := .ContainerSysCtls }}\n"
	" {{ $k }}{{if $v }}: {{ $v }}{{ end }}\n"
	"{{- end }}{{ end }}\n"
	"{{- if .ContainerUlimits }}\n"
	"Ulimits:\n"
	"{{- range $k, $v := .ContainerUlimits }}\n"
	" {{ $k }}: {{ $v }}\n"
	"{{- end }}{{ end }}\n"
	"{{- if .ContainerMounts }}\n"
	"Mounts:\n"
	"{{- end }}\n"
	"{{- range $mount := .ContainerMounts }}\n"
	" Target:\t{{ $mount.Target }}\n"
	"  Source:\t{{ $mount.Source }}\n"
	"  ReadOnly:\t{{ $mount.ReadOnly }}\n"
	"  Type:\t\t{{ $mount.Type }}\n"
	"{{- end -}}\n"
	"{{- if .Configs}}\n"
	"Configs:\n"
	"{{- range $config := .Configs }}\n"
	" Target:\t{{$config.File.Name}}\n"
	"  Source:\t{{$config.ConfigName}}\n"
	"{{- end }}{{ end }}\n"
	"{{- if .Secrets }}\n"
	"Secrets:\n"
	"{{- range $secret := .Secrets }}\n"
	" Target:\t{{$secret.File.Name}}\n"
	"  Source:\t{{$secret.SecretName}}\n"
	"{{- end }}{{ end }}\n"
	"{{- if .HasLogDriver }}\n"
	"Log Driver:\n"
	"{{- if .HasLogDriverName }}\n"
	" Name:\t\t{{ .LogDriverName }}\n"
	"{{- end }}\n"
	"{{- if .LogOpts }}\n"
	" LogOpts:\n"
	"{{- range $k, $v := .LogOpts }}\n"
	"  {{ $k }}{{if $v }}:       {{ $v }}{{ end }}\n"
	"{{- end }}{{ end }}\n"
	"{{ end }}\n"
	"{{- if .HasResources }}\n"
	"Resources:\n"
	"{{- if .HasResourceReservations }}\n"
	" Reservations:\n"
	"{{- if gt .ResourceReservationNanoCPUs 0.0 }}\n"
	"  CPU:\t\t{{ .ResourceReservationNanoCPUs }}\n"
	"{{- end }}\n"
	"{{- if .ResourceReservationMemory }}\n"
	"  Memory:\t{{ .ResourceReservationMemory }}\n"
	"{{- end }}{{ end }}\n"
	"{{- if .HasResourceLimits }}\n"
	" Limits:\n"
	"{{- if gt .ResourceLimitsNanoCPUs 0.0 }}\n"
	"  CPU:\t\t{{ .ResourceLimitsNanoCPUs }}\n"
	"{{- end }}\n"
	"{{- if .ResourceLimitMemory }}\n"
	"  Memory:\t{{ .ResourceLimitMemory }}\n"
	"{{- end }}{{ end }}{{ end }}\n"
	"{{- if gt .ResourceLimitPids 0 }}\n"
	"  PIDs:\t\t{{ .ResourceLimitPids }}\n"
	"{{- end }}\n"
	"{{- if .Networks }}\n"
	"Networks:\n"
	"{{- range $network := .Networks }} {{ $network }}{{ end }} {{ end }}\n"
	"Endpoint Mode:\t{{ .EndpointMode }}\n"
	"{{- if .Ports }}\n"
	"Ports:\n"
	"{{- range $port := .Ports }}\n"
	" PublishedPort = {{ $port.PublishedPort }}\n"
	"  Protocol = {{ $port.Protocol }}\n"
	"  TargetPort = {{ $port.TargetPort }}\n"
	"  PublishMode = {{ $port.PublishMode }}\n"
	"{{- end }} {{ end -}}\n"
	"{{- if .Healthcheck }}\n"
	" Healthcheck:\n"
	"  Interval = {{ .Healthcheck.Interval }}\n"
	"  Retries = {{ .Healthcheck.Retries }}\n"
	"  StartPeriod =\t{{ .Healthcheck.StartPeriod }}\n"
	"  Timeout =\t{{ .Healthcheck.Timeout }}\n"
	"  {{- if .Healthcheck.Test }}\n"
	"  Tests:\n"
	"\t{{- range $test := .Healthcheck.Test }}\n"
	"\t Test = {{ $test }}\n"
	"  {{- end }} {{ end -}}\n"
	"{{- end }}\n"
	"";

static json_t *jget(json_t *o, const char *path)
{
	char key[64];

	while (o != NULL && *path != '\0') {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		snprintf(key, sizeof(key), "%.*s", (int)len, path);
		o = json_object_get(o, key);
		path += len + (dot ? 1 : 0);
	}
	return o;
}

static const char *jstr(json_t *o, const char *path)
{
	return json_string_value(jget(o, path)) ?: "";
}

static json_int_t jint(json_t *o, const char *path)
{
	json_t *v = jget(o, path);

	return json_is_real(v) ? (json_int_t)json_real_value(v) : json_integer_value(v);
}

static json_t *dur(json_int_t ns)
{
	char s[64];

	return json_string(shoal_cli__go_format_duration(ns, s, sizeof(s)));
}

/* "17 seconds ago" from an RFC 3339 time */
static json_t *ago(const char *when, int64_t now)
{
	char s[64];
	int64_t t;

	if (shoal_cli__parse_time(when, &t) < 0)
		t = now;
	shoal_cli_units_human_duration(now - t, s, sizeof(s));
	return json_sprintf("%s ago", s);
}

static json_t *copy_or(json_t *v, json_t *def)
{
	if (v != NULL && !json_is_null(v)) {
		json_decref(def);
		return json_deep_copy(v);
	}
	return def;
}

/* The update or rollback config's fields under a prefix ("Update", "Rollback"). */
static void add_update_config(json_t *ctx, const char *prefix, json_t *uc)
{
	char key[64];
	struct shoal_buf b;
	json_t *r;

	snprintf(key, sizeof(key), "Has%sConfig", prefix);
	json_object_set_new(ctx, key, json_boolean(uc != NULL && !json_is_null(uc)));
	if (uc == NULL || json_is_null(uc))
		return;
	snprintf(key, sizeof(key), "%sParallelism", prefix);
	json_object_set_new(ctx, key, json_integer(jint(uc, "Parallelism")));
	snprintf(key, sizeof(key), "Has%sDelay", prefix);
	json_object_set_new(ctx, key, json_boolean(jint(uc, "Delay") > 0));
	snprintf(key, sizeof(key), "%sDelay", prefix);
	json_object_set_new(ctx, key, dur(jint(uc, "Delay")));
	snprintf(key, sizeof(key), "%sOnFailure", prefix);
	json_object_set_new(ctx, key, json_string(jstr(uc, "FailureAction")));
	snprintf(key, sizeof(key), "Has%sMonitor", prefix);
	json_object_set_new(ctx, key, json_boolean(jint(uc, "Monitor") > 0));
	snprintf(key, sizeof(key), "%sMonitor", prefix);
	json_object_set_new(ctx, key, dur(jint(uc, "Monitor")));
	snprintf(key, sizeof(key), "%sMaxFailureRatio", prefix);
	shoal_buf_init(&b);
	r = json_object_get(uc, "MaxFailureRatio");
	shoal_cli__go_format_float(&b, json_is_number(r) ? json_number_value(r) : 0, 32);
	json_object_set_new(ctx, key, json_string(b.data));
	shoal_buf_fini(&b);
	snprintf(key, sizeof(key), "%sOrder", prefix);
	json_object_set_new(ctx, key, json_string(jstr(uc, "Order")));
}

static json_t *string_map(json_t *o)
{
	return json_is_object(o) ? json_deep_copy(o) : json_object();
}

/* GET /networks/ID?scope=swarm for each attachment: ID to name, the ID when not found. */
static json_t *network_names(struct shoal_cli_client *c, json_t *nets)
{
	json_t *names = json_array(), *n;
	size_t i;

	json_array_foreach(nets, i, n) {
		const char *target = jstr(n, "Target");
		char *esc = shoal_cli_query_escape(target);
		char *path = shoal_asprintf("/networks/%s?scope=swarm", esc);
		json_t *nw = NULL;
		struct shoal_err e;

		if (shoal_cli_client_call(c, "GET", path, NULL, &nw, &e) == 0 &&
		    strcmp(jstr(nw, "Id"), target) == 0)
			json_array_append_new(names, json_string(jstr(nw, "Name")));
		else
			json_array_append_new(names, json_string(target));
		json_decref(nw);
		free(path);
		free(esc);
	}
	return names;
}

/* serviceInspectContext's methods as the values of an object. */
static json_t *pretty_ctx(struct shoal_cli_client *c, json_t *svc, int64_t now)
{
	json_t *ctx = json_object(), *spec = json_object_get(svc, "Spec");
	json_t *tt = json_object_get(spec, "TaskTemplate"),
	       *cs = json_object_get(tt, "ContainerSpec");
	json_t *mode = json_object_get(spec, "Mode"), *us = json_object_get(svc, "UpdateStatus");
	json_t *res = json_object_get(tt, "Resources"), *pl = json_object_get(tt, "Placement");
	json_t *v, *arr, *m, *hc;
	struct shoal_buf b;
	size_t i;

	shoal_buf_init(&b);
	json_object_set_new(ctx, "ID", json_string(jstr(svc, "ID")));
	json_object_set_new(ctx, "Name", json_string(jstr(spec, "Name")));
	json_object_set_new(ctx, "Labels", string_map(json_object_get(spec, "Labels")));
	json_object_set_new(ctx, "IsModeGlobal", json_boolean(json_object_get(mode, "Global")));
	json_object_set_new(ctx, "IsModeReplicated",
			    json_boolean(json_object_get(mode, "Replicated")));
	v = jget(mode, "Replicated.Replicas");
	/* a *uint64: set is true even at 0 */
	if (json_is_integer(v))
		json_object_set_new(ctx, "ModeReplicatedReplicas",
				    json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v)));
	json_object_set_new(ctx, "HasUpdateStatus", json_boolean(*jstr(us, "State") != '\0'));
	json_object_set_new(ctx, "UpdateStatusState", json_string(jstr(us, "State")));
	json_object_set_new(ctx, "HasUpdateStatusStarted",
			    json_boolean(json_is_string(json_object_get(us, "StartedAt"))));
	json_object_set_new(ctx, "UpdateStatusStarted", ago(jstr(us, "StartedAt"), now));
	json_object_set_new(ctx, "UpdateIsCompleted",
			    json_boolean(strcmp(jstr(us, "State"), "completed") == 0 &&
					 json_is_string(json_object_get(us, "CompletedAt"))));
	json_object_set_new(ctx, "UpdateStatusCompleted", ago(jstr(us, "CompletedAt"), now));
	json_object_set_new(ctx, "UpdateStatusMessage", json_string(jstr(us, "Message")));
	json_object_set_new(ctx, "TaskPlacementConstraints",
			    copy_or(json_object_get(pl, "Constraints"), json_array()));
	arr = json_array();
	json_array_foreach(json_object_get(pl, "Preferences"), i, v)
		if (json_object_get(v, "Spread") != NULL)
			json_array_append_new(
				arr, json_sprintf("spread=%s", jstr(v, "Spread.SpreadDescriptor")));
	json_object_set_new(ctx, "TaskPlacementPreferences", arr);
	json_object_set_new(ctx, "MaxReplicas", json_integer(jint(pl, "MaxReplicas")));
	add_update_config(ctx, "Update", json_object_get(spec, "UpdateConfig"));
	add_update_config(ctx, "Rollback", json_object_get(spec, "RollbackConfig"));
	json_object_set_new(ctx, "ContainerImage", json_string(jstr(cs, "Image")));
	json_object_set_new(ctx, "ContainerArgs",
			    copy_or(json_object_get(cs, "Args"), json_array()));
	json_object_set_new(ctx, "ContainerEnv", copy_or(json_object_get(cs, "Env"), json_array()));
	json_object_set_new(ctx, "ContainerWorkDir", json_string(jstr(cs, "Dir")));
	json_object_set_new(ctx, "ContainerUser", json_string(jstr(cs, "User")));
	v = json_object_get(cs, "Init");
	json_object_set_new(ctx, "HasContainerInit", json_boolean(json_is_boolean(v)));
	json_object_set_new(ctx, "ContainerInit", json_boolean(json_is_true(v)));
	arr = json_array();
	json_array_foreach(json_object_get(cs, "Mounts"), i, v)
		json_array_append_new(arr,
				      json_pack("{s:s, s:s, s:b, s:s}", "Target", jstr(v, "Target"),
						"Source", jstr(v, "Source"), "ReadOnly",
						json_is_true(json_object_get(v, "ReadOnly")),
						"Type", jstr(v, "Type")));
	json_object_set_new(ctx, "ContainerMounts", arr);
	json_object_set_new(ctx, "ContainerSysCtls", string_map(json_object_get(cs, "Sysctls")));
	m = json_object();
	json_array_foreach(json_object_get(cs, "Ulimits"), i, v)
		json_object_set_new(m, jstr(v, "Name"),
				    json_sprintf("%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
						 jint(v, "Soft"), jint(v, "Hard")));
	json_object_set_new(ctx, "ContainerUlimits", m);
	v = json_object_get(cs, "CapabilityAdd");
	json_object_set_new(ctx, "HasCapabilityAdd", json_boolean(json_array_size(v) > 0));
	json_object_set_new(
		ctx, "HasCapabilities",
		json_boolean(json_array_size(v) > 0 ||
			     json_array_size(json_object_get(cs, "CapabilityDrop")) > 0));
	json_array_foreach(v, i, m)
		shoal_buf_addf(&b, "%s%s", i ? ", " : "", json_string_value(m) ?: "");
	json_object_set_new(ctx, "CapabilityAdd", json_string(b.data));
	shoal_buf_reset(&b);
	v = json_object_get(cs, "CapabilityDrop");
	json_object_set_new(ctx, "HasCapabilityDrop", json_boolean(json_array_size(v) > 0));
	json_array_foreach(v, i, m)
		shoal_buf_addf(&b, "%s%s", i ? ", " : "", json_string_value(m) ?: "");
	json_object_set_new(ctx, "CapabilityDrop", json_string(b.data));
	shoal_buf_reset(&b);
	json_object_set_new(ctx, "Configs", copy_or(json_object_get(cs, "Configs"), json_array()));
	json_object_set_new(ctx, "Secrets", copy_or(json_object_get(cs, "Secrets"), json_array()));
	v = json_object_get(tt, "LogDriver");
	json_object_set_new(ctx, "HasLogDriver", json_boolean(json_is_object(v)));
	json_object_set_new(ctx, "HasLogDriverName", json_boolean(*jstr(v, "Name") != '\0'));
	json_object_set_new(ctx, "LogDriverName", json_string(jstr(v, "Name")));
	json_object_set_new(ctx, "LogOpts", string_map(json_object_get(v, "Options")));
	json_object_set_new(ctx, "HasResources", json_boolean(json_is_object(res)));
	json_object_set_new(ctx, "HasResourceReservations",
			    json_boolean(jint(res, "Reservations.NanoCPUs") > 0 ||
					 jint(res, "Reservations.MemoryBytes") > 0));
	json_object_set_new(ctx, "ResourceReservationNanoCPUs",
			    json_real((double)jint(res, "Reservations.NanoCPUs") / 1e9));
	if (jint(res, "Reservations.MemoryBytes") != 0) {
		char s[32];

		shoal_cli_units_bytes_size((double)jint(res, "Reservations.MemoryBytes"), s,
					   sizeof(s));
		json_object_set_new(ctx, "ResourceReservationMemory", json_string(s));
	} else {
		json_object_set_new(ctx, "ResourceReservationMemory", json_string(""));
	}
	json_object_set_new(ctx, "HasResourceLimits",
			    json_boolean(jint(res, "Limits.NanoCPUs") > 0 ||
					 jint(res, "Limits.MemoryBytes") > 0 ||
					 jint(res, "Limits.Pids") > 0));
	json_object_set_new(ctx, "ResourceLimitsNanoCPUs",
			    json_real((double)jint(res, "Limits.NanoCPUs") / 1e9));
	if (jint(res, "Limits.MemoryBytes") != 0) {
		char s[32];

		shoal_cli_units_bytes_size((double)jint(res, "Limits.MemoryBytes"), s, sizeof(s));
		json_object_set_new(ctx, "ResourceLimitMemory", json_string(s));
	} else {
		json_object_set_new(ctx, "ResourceLimitMemory", json_string(""));
	}
	json_object_set_new(ctx, "ResourceLimitPids", json_integer(jint(res, "Limits.Pids")));
	json_object_set_new(ctx, "Networks", network_names(c, json_object_get(tt, "Networks")));
	json_object_set_new(ctx, "EndpointMode", json_string(jstr(spec, "EndpointSpec.Mode")));
	arr = json_array();
	json_array_foreach(jget(svc, "Endpoint.Ports"), i, v)
		json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:s}", "PublishedPort",
						     jint(v, "PublishedPort"), "Protocol",
						     jstr(v, "Protocol"), "TargetPort",
						     jint(v, "TargetPort"), "PublishMode",
						     jstr(v, "PublishMode")));
	json_object_set_new(ctx, "Ports", arr);
	hc = json_object_get(cs, "Healthcheck");
	if (json_is_object(hc))
		json_object_set_new(ctx, "Healthcheck",
				    json_pack("{s:o, s:I, s:o, s:o, s:o}", "Interval",
					      dur(jint(hc, "Interval")), "Retries",
					      jint(hc, "Retries"), "StartPeriod",
					      dur(jint(hc, "StartPeriod")), "Timeout",
					      dur(jint(hc, "Timeout")), "Test",
					      copy_or(json_object_get(hc, "Test"), json_array())));
	shoal_buf_fini(&b);
	return ctx;
}

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	const char *format = shoal_cli_flag_str(args, "format");
	bool pretty = shoal_cli_flag_bool(args, "pretty");
	struct shoal_cli_client *c = shoal_cli_get_client(cli, err);
	struct shoal_cli_tmpl *t = NULL;
	struct shoal_buf out, errs, items;
	json_t *all = json_array();
	int64_t now = shoal_cli__now_ns();
	int i, rv = -1;

	shoal_buf_init(&out);
	shoal_buf_init(&errs);
	shoal_buf_init(&items);
	if (pretty && format != NULL && *format != '\0') {
		shoal_errorf(err, 400, "--format is incompatible with human friendly format");
		goto out;
	}
	if (c == NULL)
		goto out;
	if (pretty)
		format = "pretty";
	if (format == NULL || *format == '\0')
		format = "raw";
	if (strncmp(format, "pretty", 6) == 0 && strcmp(format, "pretty") != 0) {
		shoal_errorf(err, 400,
			     "Cannot supply extra formatting options to the pretty template");
		goto out;
	}
	if (strcmp(format, "pretty") == 0) {
		t = shoal_cli_tmpl_parse("", pretty_tmpl, 0, err);
		if (t == NULL)
			goto out;
		for (i = 0; i < args->argc; i++) {
			json_t *svc = NULL, *ctx;
			int r;

			if (shoal_cli__svc_get(c, args->argv[i], true, &svc, err) < 0) {
				if (err->status == 404)
					shoal_errorf(err, 404, "Error: no such service: %s",
						     args->argv[i]);
				goto out;
			}
			ctx = pretty_ctx(c, svc, now);
			r = shoal_cli_tmpl_exec(t, ctx, 0, &out, err);
			json_decref(ctx);
			json_decref(svc);
			if (r < 0) {
				shoal_err_wrap(err, "template parsing error");
				goto out;
			}
			shoal_buf_addc(&out, '\n');
		}
		shoal_cli__print(cli, &out);
		rv = 0;
		goto out;
	}
	if (strncmp(format, "raw", 3) == 0)
		format += 3;
	if (*format != '\0' && strcmp(format, "json") != 0) {
		t = shoal_cli_tmpl_parse("", format, 0, err);
		if (t == NULL) {
			shoal_err_wrap(err, "template parsing error");
			goto out;
		}
	}
	for (i = 0; i < args->argc; i++) {
		json_t *svc = NULL;
		struct shoal_err e;

		shoal_err_clear(&e);
		if (shoal_cli__svc_get(c, args->argv[i], true, &svc, &e) < 0) {
			if (e.status == 404)
				shoal_errorf(&e, 404, "Error: no such service: %s", args->argv[i]);
			shoal_buf_addf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
			continue;
		}
		if (t != NULL) {
			size_t mark = items.len;

			if (shoal_cli_tmpl_exec(t, svc, SHOAL_CLI_TMPL_STRICT, &items, &e) < 0) {
				items.len = mark;
				items.data[mark] = '\0';
				shoal_err_wrap(&e, "template parsing error");
				shoal_buf_addf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
			} else {
				shoal_buf_addc(&items, '\n');
			}
			json_decref(svc);
			continue;
		}
		json_array_append_new(all, svc);
	}
	if (t != NULL) {
		if (items.len == 0)
			shoal_buf_addc(&out, '\n');
		else
			shoal_buf_add(&out, items.data, items.len);
	} else if (json_array_size(all) == 0) {
		shoal_buf_adds(&out, "[]\n");
	} else {
		shoal_cli__go_json(&out, all, *format == '\0');
		shoal_buf_addc(&out, '\n');
	}
	shoal_cli__print(cli, &out);
	if (errs.len > 0) {
		shoal_errorf(err, 404, "%s", errs.data);
		goto out;
	}
	rv = 0;
out:
	shoal_cli_tmpl_free(t);
	json_decref(all);
	shoal_buf_fini(&out);
	shoal_buf_fini(&errs);
	shoal_buf_fini(&items);
	return rv;
}

static const struct shoal_cli_opt opts[] = {
	{ "format", 'f', SHOAL_CLI_OPT_STRING, NULL, NULL, shoal_cli__format_help },
	{ "pretty", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Print the information in a human friendly format" },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_service_inspect = {
	.name = "inspect",
	.use = "inspect [OPTIONS] SERVICE [SERVICE...]",
	.short_help = "Display detailed information on one or more services",
	.opts = opts,
	.min_args = 1,
	.max_args = -1,
	.run = run,
};
