/* shoal, the docker-compatible command line. This module owns:
 *  - the command table and its parsing: global flags (-H, -D, -l, -v), one struct shoal_cli_cmd
 *    per command (one file each, cmd_<name>.c), pflag-style options, cobra-style help and
 *    usage errors with Docker's wording and exit statuses;
 *  - the Engine API client (libcurl over a unix socket or TCP): API version negotiation, JSON
 *    requests, streamed bodies, and Docker's error lines ("Error response from daemon: ...",
 *    "Cannot connect to the Docker daemon at ...");
 *  - the output helpers every command shares: a Go text/template subset evaluated over JSON
 *    values (--format), Go's tabwriter (version blocks, `service ls` tables) and go-units' sizes
 *    and durations.
 * A CLI process is single-threaded; nothing here is thread-safe. Pointers returned are borrowed
 * and live as long as the object they came from, unless a prototype says otherwise. */
#ifndef SHOAL_CLI_H
#define SHOAL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

/* The API version Shoal speaks; the client never asks for a newer one. */
#define SHOAL_CLI_API_VERSION  "1.41"
#define SHOAL_CLI_DEFAULT_HOST "unix:///var/run/docker.sock"

struct shoal_cli_client;

/* One CLI invocation: where output goes and what the global flags said. */
struct shoal_cli {
	FILE *out;
	FILE *err;
	char *host;	 /* normalised -H / DOCKER_HOST, "unix:///var/run/docker.sock" */
	bool debug;	 /* -D */
	int exit_status; /* exit status when a command fails: 1 unless the command sets it */
	struct shoal_cli_client *client; /* made on first use by shoal_cli_get_client() */
};

/* Runs a whole command line (argv[0] is the program) with output to stdout/stderr; returns
 * the process exit status. */
int shoal_cli_main(int argc, char **argv);

/* Runs a command line against an initialised cli (tests point out/err at memory). */
int shoal_cli_run(struct shoal_cli *cli, int argc, char **argv);

void shoal_cli_init(struct shoal_cli *cli, FILE *out, FILE *err);
void shoal_cli_fini(struct shoal_cli *cli);

/* Returns the cli's API client, creating it for cli->host on first use. */
struct shoal_cli_client *shoal_cli_get_client(struct shoal_cli *cli,
					      struct shoal_err *err) SHOAL_MUST_CHECK;

/* Normalises a daemon address as docker's -H does: "unix:///path", "tcp://host:port[/path]",
 * bare "host:port" (tcp), "" (the default socket). Returns a new string, or NULL and sets
 * err to Docker's "invalid bind address format: ..." wording. */
char *shoal_cli_host_parse(const char *val, struct shoal_err *err);

/* Options and commands ******************************************************************/

enum shoal_cli_opt_type {
	SHOAL_CLI_OPT_BOOL,
	SHOAL_CLI_OPT_STRING,
	SHOAL_CLI_OPT_LIST, /* repeatable: every value is kept (--filter, --env) */
};

/* One flag of a command; tables end with an entry whose name is NULL. */
struct shoal_cli_opt {
	const char *name; /* long name, without "--" */
	char shorthand;	  /* 0 if none */
	enum shoal_cli_opt_type type;
	const char *arg_name; /* word help shows after the flag; NULL: "string"/"list" by type */
	const char *def;      /* default, used when unset and shown as (default "x"); or NULL */
	const char *help;
};

/* How a flag's values are checked as its pflag.Value.Set does: returns 0, or -1 with
 * err->msg the reason, which parsing reports as pflag does ("invalid argument \"x\" for
 * \"--replicas\" flag: <reason>"). Tables end with an entry whose flag is NULL. */
struct shoal_cli_check {
	const char *flag;
	int (*fn)(const char *val, struct shoal_err *err);
};

struct shoal_cli_flag_val {
	int count;	   /* times given */
	const char *str;   /* last value; "true"/"false" for bools */
	const char **list; /* every value, SHOAL_CLI_OPT_LIST only */
};

/* A parsed command line of one command. Strings are borrowed from argv. */
struct shoal_cli_args {
	const struct shoal_cli_opt *opts;
	size_t nopts;
	struct shoal_cli_flag_val *vals; /* one per opt */
	int argc;			 /* positional arguments */
	char **argv;
	bool help; /* -h/--help was given */
	const struct shoal_cli_check *checks;
	const struct shoal_cli_cmd *cmd;
	char *path; /* command path for messages: "shoal system info" */
};

/* Parses argv (without the command name) as pflag does: "--name=v", "--name v", "-n v",
 * "-nv", "-abc" for bools, "--" ends the flags. Unless interspersed, parsing stops at the
 * first positional. On error err->msg holds pflag's text ("unknown flag: --x"). */
int shoal_cli_args_parse(struct shoal_cli_args *a, const struct shoal_cli_opt *opts, int argc,
			 char **argv, bool interspersed, struct shoal_err *err) SHOAL_MUST_CHECK;
/* The same, checking values as checks (NULL for none) says, in command-line order. */
int shoal_cli_args_parse_checked(struct shoal_cli_args *a, const struct shoal_cli_opt *opts,
				 const struct shoal_cli_check *checks, int argc, char **argv,
				 bool interspersed, struct shoal_err *err) SHOAL_MUST_CHECK;
void shoal_cli_args_fini(struct shoal_cli_args *a);

bool shoal_cli_flag_changed(const struct shoal_cli_args *a, const char *name);
bool shoal_cli_flag_bool(const struct shoal_cli_args *a, const char *name);
/* The last value given, else the option's default (may be NULL). */
const char *shoal_cli_flag_str(const struct shoal_cli_args *a, const char *name);
/* Every value of a list option; returns the count. */
size_t shoal_cli_flag_list(const struct shoal_cli_args *a, const char *name,
			   const char *const **vals);

/* Where the root help lists a command. */
enum shoal_cli_cmd_group {
	SHOAL_CLI_GROUP_COMMON,	    /* "Common Commands:" */
	SHOAL_CLI_GROUP_MANAGEMENT, /* "Management Commands:" (has subcommands) */
	SHOAL_CLI_GROUP_SWARM,	    /* "Swarm Commands:" */
	SHOAL_CLI_GROUP_OTHER,	    /* "Commands:" */
};

/* One command: each cmd_<name>.c exports one, the root and management commands list them. */
struct shoal_cli_cmd {
	const char *name;
	const char *const *alt_names; /* other names ("list" for "ls"), NULL-terminated, or NULL */
	const char *use;	      /* "version [OPTIONS]" */
	const char *short_help;	      /* one line for lists and help */
	const char *aliases;	      /* help's Aliases line, "shoal system info, shoal info" */
	enum shoal_cli_cmd_group group;
	const struct shoal_cli_opt *opts;     /* NULL-name terminated, or NULL */
	const struct shoal_cli_check *checks; /* value checks of some opts, or NULL */
	int min_args;
	int max_args;	      /* -1: no limit */
	bool no_interspersed; /* options end at the first positional (run, exec) */
	const struct shoal_cli_cmd *const *subcmds; /* NULL-terminated for management commands */
	/* Returns 0, or -1 with err set; main prints err->msg (if any) on stderr and exits
	 * with cli->exit_status. */
	int (*run)(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err);
};

/* Docker's usage error: "<msg>\n\nUsage:  <use line>\n\nRun '<path> --help' for more
 * information", exit status 125. Returns -1. */
int shoal_cli_usage_errorf(struct shoal_cli *cli, const struct shoal_cli_args *a,
			   struct shoal_err *err, const char *fmt, ...) SHOAL_PRINTF(4, 5);

/* Engine API client *********************************************************************/

/* err->status after a client call: the daemon's HTTP status, or this when no answer came
 * (socket missing, connection refused): err->msg is then Docker's "Cannot connect ..." line. */
#define SHOAL_CLI_STATUS_NO_CONN 0

/* Streams a response body: called for each chunk of a 2xx answer; returns 0, or -1 to stop
 * (the call then fails with the error the callback set). */
typedef int (*shoal_cli_data_cb)(const char *data, size_t len, void *arg, struct shoal_err *err);

struct shoal_cli_req {
	const char *method;	    /* "GET", "POST", "DELETE", "HEAD" */
	const char *path;	    /* "/info" or "/services?filters=..." (escape the query) */
	json_t *body;		    /* sent as application/json; borrowed; or NULL */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
	bool unversioned;	    /* no "/vX.Y" prefix (/_ping) */
	FILE *upload;		    /* POST this file's bytes (from its position) as the body */
	long long upload_len;	    /* how many, with upload */
	shoal_cli_data_cb on_data;  /* stream a 2xx body here instead of into resp->body */
	void *arg;
};

struct shoal_cli_resp {
	int status;
	char reason[64];	  /* the status line's text, "Not Found" */
	struct shoal_buf body;	  /* the whole body, unless streamed */
	struct shoal_buf headers; /* the final response's header lines, "Name: value\n" */
};

void shoal_cli_resp_init(struct shoal_cli_resp *r);
void shoal_cli_resp_fini(struct shoal_cli_resp *r);
/* Copies header name's value (case-insensitive name) into out; returns its length or -1. */
int shoal_cli_resp_header(const struct shoal_cli_resp *r, const char *name, char *out, size_t size);

/* Returns a new client for a normalised host (see shoal_cli_host_parse), or NULL. Honours
 * DOCKER_API_VERSION as docker does (pins the version, no negotiation). */
struct shoal_cli_client *shoal_cli_client_new(const char *host, struct shoal_err *err);
void shoal_cli_client_free(struct shoal_cli_client *c);
const char *shoal_cli_client_host(const struct shoal_cli_client *c);
/* The version requests use: SHOAL_CLI_API_VERSION until negotiation picks an older one. */
const char *shoal_cli_client_api_version(const struct shoal_cli_client *c);

/* Pings /_ping once and uses min(SHOAL_CLI_API_VERSION, the Api-Version header) from then
 * on, as the docker CLI does ("1.24" if the header is missing). Later calls do nothing.
 * Fails only when the daemon cannot be reached. */
int shoal_cli_client_negotiate(struct shoal_cli_client *c, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Sends one request (negotiating first unless req->unversioned) and reads the answer into
 * resp, whatever its status. Fails when no answer came or a stream callback stopped it. */
int shoal_cli_client_do(struct shoal_cli_client *c, const struct shoal_cli_req *req,
			struct shoal_cli_resp *resp, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Sets err from a non-2xx answer as docker's client words it ("Error response from daemon:
 * <message>"), with err->status the HTTP status. Returns -1. */
int shoal_cli_client_resp_err(const struct shoal_cli_client *c, const struct shoal_cli_req *req,
			      const struct shoal_cli_resp *resp, struct shoal_err *err);

/* The usual call: sends method path with an optional JSON body, fails on non-2xx with
 * Docker's error, and parses a JSON answer into *out (a new reference; NULL for an empty
 * body) when out is not NULL. */
int shoal_cli_client_call(struct shoal_cli_client *c, const char *method, const char *path,
			  json_t *body, json_t **out, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Returns a new string: s percent-escaped for a URL query value. */
char *shoal_cli_query_escape(const char *s);

/* Go templates (--format) ***************************************************************/

/* A subset of Go's text/template evaluated over JSON: text, {{.A.B}}, {{$}}, {{$x := ...}},
 * pipelines with |, (sub pipelines), string/number/bool/nil literals, {{if}}/{{else if}}/
 * {{else}}/{{range}}/{{with}}/{{end}}, {{- trim -}} markers, comments, and the functions
 * docker's templates offer: json, join, split, lower, upper, title, pad, truncate, plus Go's
 * index, len, eq, ne, lt, le, gt, ge, not, and, or, print, printf, println.
 * Field names match JSON keys exactly, else case-insensitively, so Go struct names work on
 * the API's JSON ({{.APIVersion}} reads "ApiVersion"). A missing key is Go's "<no value>". */
struct shoal_cli_tmpl;

enum {
	/* Turn the two characters \t and \n into tab and newline first, as docker does for
	 * list formats (`service ls --format 'table {{.ID}}\t{{.Name}}'`). */
	SHOAL_CLI_TMPL_ESCAPES = 1 << 0,
};

enum {
	/* A missing key is an error, as a missing struct field is in Go. */
	SHOAL_CLI_TMPL_STRICT = 1 << 0,
	/* Render a table header: json, lower, upper, title, split, join and truncate return
	 * their argument unchanged (docker's HeaderFunctions). */
	SHOAL_CLI_TMPL_HEADER = 1 << 1,
};

/* Returns a new template, or NULL with err->msg as Go words it ("template: name:1: unclosed
 * action"). name appears in messages only. */
struct shoal_cli_tmpl *shoal_cli_tmpl_parse(const char *name, const char *text, unsigned flags,
					    struct shoal_err *err);
void shoal_cli_tmpl_free(struct shoal_cli_tmpl *t);
/* Appends the output for data (borrowed) to out; on error out keeps what was written. */
int shoal_cli_tmpl_exec(const struct shoal_cli_tmpl *t, json_t *data, unsigned flags,
			struct shoal_buf *out, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Renders items (a JSON array) as docker's formatter does for list commands: "" or "table"
 * uses def_table ("table {{.ID}}\t{{.Name}}"); "table TEMPLATE" prints a header row (the
 * template run over header, which maps each field to its title) and one row per item through
 * a tabwriter (min width 10, padding 3); "json" prints {{json .}} per item; any other text is
 * a template run per item, each followed by a newline. */
int shoal_cli_format_list(const char *format, const char *def_table, json_t *header, json_t *items,
			  struct shoal_buf *out, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Tabwriter *****************************************************************************/

/* Go's text/tabwriter (as docker forks it, with rune widths): cells end at '\t'; a column is
 * a run of consecutive lines that have a cell in it, padded to its widest cell + padding, at
 * least minwidth. A line without tabs ends the run. Output is appended to *out on flush. */
struct shoal_cli_tw_cell {
	size_t size; /* bytes in text */
	int width;   /* runes */
	bool htab;   /* ended by '\t' */
};

struct shoal_cli_tw_line {
	struct shoal_cli_tw_cell *cells;
	size_t n, cap;
};

struct shoal_cli_tabwriter {
	struct shoal_buf *out;
	int minwidth, tabwidth, padding;
	char padchar;
	struct shoal_buf text;	       /* cell text, tabs and newlines removed */
	struct shoal_cli_tw_cell cell; /* the cell being filled */
	struct shoal_cli_tw_line *lines;
	size_t nlines, cap_lines;
	int *widths;
	size_t nwidths, cap_widths;
};

/* docker's table settings (formatter.Context, `service ls`): tabwriter.NewWriter(out, 10, 1,
 * 3, ' ', 0). */
#define SHOAL_CLI_TABLE_MINWIDTH 10
#define SHOAL_CLI_TABLE_PADDING	 3

void shoal_cli_tabwriter_init(struct shoal_cli_tabwriter *tw, struct shoal_buf *out, int minwidth,
			      int tabwidth, int padding, char padchar);
void shoal_cli_tabwriter_write(struct shoal_cli_tabwriter *tw, const char *s, size_t len);
void shoal_cli_tabwriter_writes(struct shoal_cli_tabwriter *tw, const char *s);
void shoal_cli_tabwriter_printf(struct shoal_cli_tabwriter *tw, const char *fmt, ...)
	SHOAL_PRINTF(2, 3);
/* Formats and appends everything written so far; the writer stays usable. */
void shoal_cli_tabwriter_flush(struct shoal_cli_tabwriter *tw);
void shoal_cli_tabwriter_fini(struct shoal_cli_tabwriter *tw);

/* Units (go-units) **********************************************************************/

/* 1024-based with 4 significant digits: "23.54GiB" (units.BytesSize). Returns out. */
char *shoal_cli_units_bytes_size(double size, char *out, size_t n);
/* 1000-based with prec significant digits: "1.5MB" (units.HumanSizeWithPrecision). */
char *shoal_cli_units_human_size(double size, int prec, char *out, size_t n);
/* "Less than a second", "About a minute", "13 minutes", "3 months" (units.HumanDuration). */
char *shoal_cli_units_human_duration(int64_t ns, char *out, size_t n);
/* Parses "512m", "1.5g", "1024" as docker's --memory (units.RAMInBytes, 1024-based).
 * Returns 0, or -1 for text docker rejects. */
int shoal_cli_units_ram_in_bytes(const char *s, int64_t *bytes);

#endif
