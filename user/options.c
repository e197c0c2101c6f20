// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* argp options. Every bad argument is one line on stderr and exit status 2. */
#define _GNU_SOURCE /* memmem */
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "options.h"
#include "common/escape.h"
#include "common/version.h"
#include "export/metrics.h"
#include "probe/procinfo.h"

const char *argp_program_version = "tlstrace " TLSTRACE_VERSION;
const char *argp_program_bug_address = NULL;

static const char doc[] =
	"Trace TLS (and TCP) resource fetches of live processes with eBPF and print one "
	"PerformanceResourceTiming entry per request.\n"
	"\n"
	"USAGE: tlstrace [OPTIONS] [-- COMMAND [ARGS...]]\n"
	"\n"
	"Without -p, -c, --cgroup or a COMMAND, every process on the host is traced.\n"
	"\n"
	"EXAMPLES:\n"
	"  tlstrace -- curl -s https://example.com/  # a command and its children\n"
	"  tlstrace -p 1234 -f json -o t.jsonl       # a process and its descendants\n"
	"  tlstrace -p 1234 --no-follow              # that process alone\n"
	"  tlstrace -c python3 -d 10s                # processes named python3, 10 s\n"
	"  tlstrace --phases -- curl -s URL1 URL2    # each phase's ms, as curl -w\n"
	"  tlstrace --cgroup /system.slice/nginx.service -f json   # a service, a container\n"
	"  tlstrace -f json                          # the whole host\n"
	"  tlstrace --lib /opt/app/bin/app -c app    # OpenSSL built into a program\n"
	"  tlstrace --lib /usr/bin/prometheus -c prometheus  # Go, from its start\n"
	"  tlstrace -f chrome-trace -o t.json -- node app.js   # open it in Perfetto\n"
	"  tlstrace -f har -o t.har -c curl -d 60    # a HAR file for DevTools\n"
	"  tlstrace -d 0 --metrics-addr 127.0.0.1:9464   # a daemon for Prometheus\n"
	"  tlstrace --otlp-endpoint http://localhost:4318 -c app   # OpenTelemetry\n"
	"  tlstrace --timing-only -c nginx           # no per-byte cost, no plaintext\n"
	"  tlstrace --port 443 --host '*.example.com'  # only these servers' entries\n"
	"  tlstrace --wire -- chromium URL           # any TLS stack, from its records\n"
	"\n"
	"OPTIONS:"
	"\v"
	"A fetch still under way when the trace stops (-d, Ctrl-C, SIGTERM), or one whose "
	"events were lost (a full ring buffer: see --ringbuf-size), is written as far as it is "
	"known and marked incomplete, with the fields it cannot vouch for (JSON: "
	"tlstrace.incomplete, tlstrace.unknown): neither a failure nor a success. What was "
	"lost is said at exit, by cause, and counted by --stats. A TLS connection no probed "
	"library "
	"owns (Chromium's, Java's, any unknown TLS stack) is timed from its TLS records on the "
	"socket, in every mode: its entries have no URL path, method or status (JSON: "
	"tlstrace.tls.library \"wire\"). Stopped while COMMAND runs, "
	"tlstrace leaves COMMAND running. The fields' meanings: docs/semantics.md.";

enum {
	OPT_STATS = 1000,
	OPT_LIB,
	OPT_NO_COLOR,
	OPT_BY_PROCESS,
	OPT_PHASES,
	OPT_NO_REDACT,
	OPT_OTLP,
	OPT_OTLP_PROTOCOL,
	OPT_METRICS,
	OPT_METRICS_SERVERS,
	OPT_METRICS_COMMS,
	OPT_RINGBUF,
	OPT_TIMING_ONLY,
	OPT_WIRE,
	OPT_NO_FOLLOW,
	OPT_NO_HOLD,
	OPT_USAGE,
	OPT_HOST,
	OPT_PORT,
	OPT_URL,
	OPT_CGROUP,
};

/* -f's line in --help: "Output format: " and the writers (set_format_doc) */
static char format_doc[256];

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0,
	  "Trace this process, its threads and its descendants, present and future (repeatable)",
	  0 },
	{ "comm", 'c', "NAME", 0,
	  "Trace processes whose command name is NAME and the children they fork (a child that "
	  "runs a program of another name is no longer traced); repeatable, up to 8 names",
	  0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "Trace only processes in this cgroup v2 or below it (a pod's containers): a directory "
	  "of the cgroup v2 mount (/sys/fs/cgroup/system.slice/app.service), or the path as "
	  "/proc/PID/cgroup shows it (/system.slice/app.service). With -c: the processes of those "
	  "names in it",
	  0 },
	{ "no-follow", OPT_NO_FOLLOW, NULL, 0,
	  "With -p, -c or COMMAND: trace those processes alone, not their children", 0 },
	{ "host", OPT_HOST, "NAME", 0,
	  "Write only entries for this host: a name (the URL's or the TLS server name; "
	  "*.example.com for any name under it) or an IP address (the server's); repeatable",
	  0 },
	{ "port", OPT_PORT, "N", 0,
	  "Write only entries whose server port is N (a client's remote port, a server's "
	  "local one); the data of other connections are not copied at all; repeatable",
	  0 },
	{ "url", OPT_URL, "PREFIX", 0,
	  "Write only entries whose URL starts with PREFIX (https://api.example.com/v1/); "
	  "repeatable, up to 8; not with --timing-only or --wire, which know no path",
	  0 },
	{ "duration", 'd', "TIME", 0,
	  "Stop after TIME: seconds (1.5), or with a unit, ms, s, m or h (500ms, 10s, 2m); 0, "
	  "the default, until Ctrl-C",
	  0 },
	{ "format", 'f', "FORMAT", 0, format_doc, 0 },
	{ "output", 'o', "FILE", 0,
	  "Write entries to FILE, not stdout: a new file (mode 0600) replaces FILE once tracing "
	  "starts; a device or FIFO is written as it is; a link is followed only if root or you "
	  "own it",
	  0 },
	{ "no-color", OPT_NO_COLOR, NULL, 0,
	  "Plain text even on a terminal (also when NO_COLOR is set)", 0 },
	{ "phases", OPT_PHASES, NULL, 0,
	  "Text: a column per phase, in ms (LOOKUP CONNECT TLS WAIT DOWNLOAD, as curl -w's "
	  "timings but each phase on its own; '-' for a phase that did not happen, as on a reused "
	  "connection); under 145 columns they take the bar's place",
	  0 },
	{ "by-process", OPT_BY_PROCESS, NULL, 0,
	  "Summarize per process as well as per host; in HAR, one page per process", 0 },
	{ "no-redact", OPT_NO_REDACT, NULL, 0,
	  "Keep credentials in every output: by default the values of secret query parameters "
	  "(token, password, sig, key...), URL user:password and credential headers "
	  "(Authorization, Cookie, X-Api-Key...) are written as REDACTED",
	  0 },
	{ "otlp-endpoint", OPT_OTLP, "URL", 0,
	  "Also send one OpenTelemetry span per entry to this OTLP/HTTP endpoint "
	  "(http://HOST:4318, or a URL ending in /v1/traces). Without it, "
	  "OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT; OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, "
	  "_CERTIFICATE and _PROTOCOL, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are "
	  "followed too",
	  0 },
	{ "otlp-protocol", OPT_OTLP_PROTOCOL, "PROTO", 0,
	  "How spans are encoded: http/protobuf (the default) or http/json; without it, "
	  "OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL",
	  0 },
	{ "metrics-addr", OPT_METRICS, "HOST:PORT", 0,
	  "Serve Prometheus metrics at http://HOST:PORT/metrics", 0 },
	{ "metrics-max-servers", OPT_METRICS_SERVERS, "N", 0,
	  "Distinct server label values before the rest are counted as \"other\" (default 100)",
	  0 },
	{ "metrics-max-processes", OPT_METRICS_COMMS, "N", 0,
	  "Distinct process label values before the rest are counted as \"other\" (default 50)",
	  0 },
	{ "lib", OPT_LIB, "PATH", 0,
	  "Also attach to this library or executable with a known TLS library's functions "
	  "(OpenSSL, GnuTLS, NSS), or to this Go program (Go's crypto/tls, found by its "
	  "function table), now, before it runs (repeatable)",
	  0 },
	{ "timing-only", OPT_TIMING_ONLY, NULL, 0,
	  "Probe only TLS handshakes; time requests from socket syscalls. No per-byte cost, no "
	  "plaintext: URLs are https://SERVER/, no method, status or body sizes",
	  0 },
	{ "wire", OPT_WIRE, NULL, 0,
	  "Probe no library at all: time every TLS connection from its record framing on the "
	  "socket, whatever its TLS stack. The cheapest trace; what --timing-only leaves unknown "
	  "is unknown, and so are name lookups",
	  0 },
	{ "no-hold", OPT_NO_HOLD, NULL, 0,
	  "Never stop a traced process that loads a TLS library (or, probes being per process, "
	  "a child that a probed process forks) until its probes are in place (as shells show "
	  "a stopped job): its first TLS calls may then be missed",
	  0 },
	{ "ringbuf-size", OPT_RINGBUF, "MIB", 0,
	  "Size of the ring buffer events wait in, in MiB: a power of 2 from 1 to 1024 (default "
	  "16). Larger if drops are reported under heavy traffic",
	  0 },
	{ "stats", OPT_STATS, NULL, 0, "At exit, print probe hits, drops and collector counters",
	  0 },
	{ "verbose", 'v', NULL, 0,
	  "Say what is attached, held and sent as it happens; -vv: libbpf's messages too", 0 },
	{ "help", 'h', NULL, 0, "Give this help, with examples", -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 },
	{ "version", 'V', NULL, 0, "Print the program version", -1 },
	{},
};

/* one line, whatever the values it quotes hold (escaped: a CR or LF in an argument is no break) */
static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	char msg[1024], line[4 * sizeof(msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tty_escape(line, sizeof(line), msg, strlen(msg));
	fprintf(stderr, "tlstrace: %s (see tlstrace --help)\n", line);
	exit(2);
}

/*
 * The writers' names as a list, "text, json, har or chrome-trace", or with
 * help, "text (a waterfall, the default), ..., or chrome-trace (...)": from
 * output_writers, where each name is written once.
 */
static void format_names(char *buf, size_t cap, bool help)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < FMT_NR && n < cap; i++) {
		const struct output_writer *w = &output_writers[i];
		const char *sep = !i ? "" : i < FMT_NR - 1 ? ", " : help ? ", or " : " or ";

		if (help)
			n += snprintf(buf + n, cap - n, "%s%s (%s)", sep, w->name, w->help);
		else
			n += snprintf(buf + n, cap - n, "%s%s", sep, w->name);
	}
}

static void set_format_doc(void)
{
	int n = snprintf(format_doc, sizeof(format_doc), "Output format: ");

	format_names(format_doc + n, sizeof(format_doc) - n, true);
}

static long parse_num(const char *what, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		usage_error("invalid %s '%s': expected a whole number from %ld to %ld", what, arg,
			    min, max);
	return v;
}

/*
 * -d's TIME in milliseconds: a number of seconds (1.5), or one with a unit
 * (ms, s, m, h); at most a year. A usage error otherwise.
 */
static long long parse_duration(const char *arg)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = { { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	static const char digits[] = "0123456789";
	size_t n = strspn(arg, digits);

	/* digits, then maybe a point and more digits: no sign, exponent, hex or blanks */
	if (n && arg[n] == '.')
		n += 1 + strspn(arg + n + 1, digits);
	for (size_t i = 0; n && i < sizeof(units) / sizeof(units[0]); i++) {
		double ms = strtod(arg, NULL) * units[i].ms;

		if (strcmp(arg + n, units[i].unit) || ms > 365.0 * 86400000)
			continue;
		/* 0 is "until stopped": a time too short to wait is not that */
		if (ms > 0 && ms < 1)
			usage_error("invalid duration '%s': at least 1 ms, or 0 for no limit", arg);
		return (long long)(ms + 0.5);
	}
	usage_error("invalid duration '%s': expected seconds (1.5) or a time with a unit, ms, s, "
		    "m or h (500ms, 10s, 2m), at most a year",
		    arg);
}

/* OTLP/HTTP's name of an encoding (OTEL_EXPORTER_OTLP_PROTOCOL's values); 0, or -1 */
static int otlp_protocol(const char *name, enum otlp_protocol *p)
{
	if (!strcmp(name, "http/protobuf"))
		*p = OTLP_HTTP_PROTOBUF;
	else if (!strcmp(name, "http/json"))
		*p = OTLP_HTTP_JSON;
	else
		return -1;
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct options *o = state->input;
	char why[160], *url;
	int err;

	switch (key) {
	case 'p':
		if (o->npids == MAX_PIDS)
			usage_error("at most %d -p options", MAX_PIDS);
		o->pids[o->npids++] = (pid_t)parse_num("pid", arg, 1, INT_MAX);
		break;
	case 'c':
		if (!*arg || strlen(arg) >= sizeof(o->comms[0]))
			usage_error("invalid command name '%s': 1 to %zu characters", arg,
				    sizeof(o->comms[0]) - 1);
		for (int i = 0; i < o->ncomms; i++)
			if (!strcmp(o->comms[i], arg))
				return 0; /* said twice */
		if (o->ncomms == MAX_COMMS)
			usage_error("at most %d -c options", MAX_COMMS);
		strcpy(o->comms[o->ncomms++], arg);
		break;
	case OPT_CGROUP: {
		static char path[CGROUP_PATH_MAX];

		if (o->cgroup)
			usage_error("--cgroup given twice");
		if (procinfo_cgroup_target(arg, &o->cgroup_id, &o->cgroup_level, path, sizeof(path),
					   why, sizeof(why)))
			usage_error("--cgroup %s: %s", arg, why);
		o->cgroup = path;
		break;
	}
	case 'd':
		o->duration_ms = parse_duration(arg);
		break;
	case 'f':
		if (output__format(arg, &o->format)) {
			char names[128];

			format_names(names, sizeof(names), false);
			usage_error("unknown format '%s': use %s", arg, names);
		}
		break;
	case 'o':
		o->output = arg;
		break;
	case OPT_NO_FOLLOW:
		o->no_follow = true;
		break;
	case OPT_HOST:
		err = entry_filter__add_host(&o->filter, arg, why, sizeof(why));
		if (err == -E2BIG)
			usage_error("at most %d --host options", FILTER_MAX_HOSTS);
		if (err)
			usage_error("invalid --host '%s': %s", arg, why);
		break;
	case OPT_PORT:
		err = entry_filter__add_port(&o->filter, arg);
		if (err == -E2BIG)
			usage_error("at most %d --port options", MAX_FILTER_PORTS);
		if (err)
			usage_error("invalid --port '%s': expected a number from 1 to 65535", arg);
		break;
	case OPT_URL:
		err = entry_filter__add_url(&o->filter, arg);
		if (err == -E2BIG)
			usage_error("at most %d --url options", FILTER_MAX_URLS);
		if (err)
			usage_error(
				"invalid --url '%s': expected an http:// or https:// URL prefix",
				arg);
		break;
	case OPT_LIB:
		if (o->nlibs == MAX_LIBS)
			usage_error("at most %d --lib options", MAX_LIBS);
		if (access(arg, R_OK))
			usage_error("cannot read --lib %s: %s", arg, strerror(errno));
		o->libs[o->nlibs++] = arg;
		break;
	case OPT_STATS:
		o->stats = true;
		break;
	case OPT_TIMING_ONLY:
		o->timing_only = true;
		break;
	case OPT_WIRE:
		o->wire = true;
		o->timing_only = true; /* timed as --timing-only times what the wire stands for */
		o->no_hold = true;     /* no probe to wait for */
		break;
	case OPT_NO_HOLD:
		o->no_hold = true;
		break;
	case OPT_RINGBUF:
		o->ringbuf_mib = parse_num("--ringbuf-size", arg, 1, 1024);
		if (o->ringbuf_mib & (o->ringbuf_mib - 1))
			usage_error("invalid --ringbuf-size '%s': must be a power of 2 (1, 2, 4 "
				    "... 1024)",
				    arg);
		break;
	case OPT_NO_COLOR:
		o->no_color = true;
		break;
	case OPT_BY_PROCESS:
		o->by_process = true;
		break;
	case OPT_PHASES:
		o->phases = true;
		break;
	case OPT_NO_REDACT:
		o->no_redact = true;
		break;
	case OPT_OTLP:
		/* the URL the spans go to, as the exporter will make it */
		if (!(url = otlp__traces_url(arg, why, sizeof(why))))
			usage_error("invalid --otlp-endpoint '%s': %s", arg, why);
		free(url);
		o->otlp_endpoint = arg;
		break;
	case OPT_OTLP_PROTOCOL:
		o->otlp_protocol_flag = true;
		if (otlp_protocol(arg, &o->otlp_protocol))
			usage_error("invalid --otlp-protocol '%s': expected http/protobuf or "
				    "http/json",
				    arg);
		break;
	case OPT_METRICS:
		if (metrics__check_addr(arg, why, sizeof(why)))
			usage_error("invalid --metrics-addr '%s': %s", arg, why);
		o->metrics_addr = arg;
		break;
	case OPT_METRICS_SERVERS:
		o->metrics_max_servers = (int)parse_num("--metrics-max-servers", arg, 1, 100000);
		break;
	case OPT_METRICS_COMMS:
		o->metrics_max_comms = (int)parse_num("--metrics-max-processes", arg, 1, 100000);
		break;
	case 'v':
		o->verbose++;
		break;
	case 'h': /* (-h alone is answered before parsing; here in a group, -vh) */
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case OPT_USAGE:
		argp_state_help(state, stdout, ARGP_HELP_USAGE | ARGP_HELP_EXIT_OK);
		break;
	case 'V':
		printf("%s\n", argp_program_version);
		exit(0);
	case ARGP_KEY_ARG:
		usage_error("unexpected argument '%s': put the command to trace after --", arg);
	case ARGP_KEY_ERROR:
		usage_error("invalid option '%s'",
			    state->argv[state->next > 1 ? state->next - 1 : 0]);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/*
 * OpenTelemetry's exporter variable for traces (OTEL_EXPORTER_OTLP_TRACES_X),
 * else the general one (OTEL_EXPORTER_OTLP_X): its value if set and not
 * empty, else NULL; *which names the one it is (one of the two given)
 */
static const char *otel_env(const char *traces, const char *general, const char **which)
{
	const char *v = getenv(traces);

	*which = traces;
	if (v && *v)
		return v;
	v = getenv(general);
	*which = general;
	return v && *v ? v : NULL;
}

/* headers each request carries already, which a user's would contradict */
static const char *const own_headers[] = { "host",	   "content-length",
					   "content-type", "transfer-encoding",
					   "connection",   "expect",
					   "te",	   "upgrade" };

/* whether the file at path holds a PEM certificate (a CA file): 0, or a reason in why */
static int pem_file(const char *path, char *why, size_t cap)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	FILE *f;
	int found;

	if (stat(path, &st)) {
		snprintf(why, cap, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
		snprintf(why, cap, "%s",
			 S_ISREG(st.st_mode) ? "over 16 MiB" : "not a regular file");
		return -1;
	}
	f = fopen(path, "re");
	if (f) {
		buf = malloc((size_t)st.st_size + 1);
		if (buf)
			n = fread(buf, 1, (size_t)st.st_size, f);
		fclose(f);
	}
	if (!f || !buf) {
		snprintf(why, cap, "%s", strerror(errno ? errno : ENOMEM));
		free(buf);
		return -1;
	}
	found = memmem(buf, n, begin, sizeof(begin) - 1) != NULL;
	free(buf);
	if (!found)
		snprintf(why, cap, "no PEM certificate in it");
	return found ? 0 : -1;
}

/*
 * OpenTelemetry's environment variables for an OTLP exporter
 * (opentelemetry.io/docs/specs/otel/protocol/exporter/): an endpoint, when
 * --otlp-endpoint gives none, and what goes with it. One line and exit 2
 * for a value that cannot be used.
 */
static void otel_environment(struct options *o)
{
	const char *v, *which;
	char why[128];
	int n;

	if (!o->otlp_endpoint) {
		static const char traces[] = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

		v = otel_env(traces, "OTEL_EXPORTER_OTLP_ENDPOINT", &which);
		if (v) {
			char *url = which == traces ? otlp__exact_url(v, why, sizeof(why))
						    : otlp__traces_url(v, why, sizeof(why));

			if (!url)
				usage_error("invalid %s '%s': %s", which, v, why);
			free(url);
			o->otlp_endpoint = v;
			o->otlp_endpoint_var = which;
			/* a traces endpoint is the URL itself; the general one gets /v1/traces */
			o->otlp_endpoint_exact = which == traces;
		}
	}
	if (!o->otlp_endpoint) {
		if (o->otlp_protocol_flag)
			usage_error("--otlp-protocol without an endpoint: give --otlp-endpoint "
				    "or OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT");
		return; /* nothing is sent: the rest says how */
	}
	v = otel_env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &which);
	if (v && !o->otlp_protocol_flag && otlp_protocol(v, &o->otlp_protocol))
		usage_error("%s=%s is not supported: spans are sent as http/protobuf or "
			    "http/json (OTLP/HTTP, an OpenTelemetry Collector's port 4318)",
			    which, v);
	v = otel_env("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &which);
	if (v) {
		n = otlp__parse_pairs(v, o->otlp_headers, OTLP_MAX_PAIRS, why, sizeof(why));
		if (n < 0)
			usage_error("invalid %s: %s", which, n == -ENOMEM ? "out of memory" : why);
		o->otlp_nheaders = n;
		for (int i = 0; i < n; i++)
			for (size_t h = 0; h < sizeof(own_headers) / sizeof(own_headers[0]); h++)
				if (!strcasecmp(o->otlp_headers[i].key, own_headers[h]))
					usage_error("invalid %s: tlstrace sets %s itself", which,
						    o->otlp_headers[i].key);
	}
	v = otel_env("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE",
		     &which);
	if (v) {
		errno = 0;
		if (pem_file(v, why, sizeof(why)))
			usage_error("cannot use %s %s: %s", which, v, why);
		o->otlp_ca_file = v;
	}
	v = getenv("OTEL_SERVICE_NAME");
	if (v && *v)
		o->otlp_service_name = v;
	v = getenv("OTEL_RESOURCE_ATTRIBUTES");
	if (v && *v) {
		n = otlp__parse_pairs(v, o->otlp_resource, OTLP_MAX_PAIRS, why, sizeof(why));
		if (n < 0)
			usage_error("invalid OTEL_RESOURCE_ATTRIBUTES: %s",
				    n == -ENOMEM ? "out of memory" : why);
		/* a key given twice: its last value, as a map of them would hold */
		o->otlp_nresource = 0;
		for (int i = 0; i < n; i++) {
			bool later = false;

			for (int j = i + 1; j < n && !later; j++)
				later = !strcmp(o->otlp_resource[i].key, o->otlp_resource[j].key);
			if (later)
				otlp__free_pairs(&o->otlp_resource[i], 1);
			else
				o->otlp_resource[o->otlp_nresource++] = o->otlp_resource[i];
		}
	}
}

void options__parse(struct options *o, int argc, char **argv)
{
	static const struct argp argp = { opts, parse_arg, NULL, doc, NULL, NULL, NULL };
	static const char *const help[] = { "--help", "-h", "-?" };
	int n = argc, err;

	memset(o, 0, sizeof(*o));
	set_format_doc();
	o->ringbuf_mib = 16;
	o->metrics_max_servers = 100;
	o->metrics_max_comms = 50;
	/* https://no-color.org: set and not empty */
	if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
		o->no_color = true;
	/* everything after the first "--" is the command, untouched by argp */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			n = i;
			break;
		}
	}
	if (n < argc) {
		if (n + 1 == argc)
			usage_error("no command after --");
		o->command = argv + n + 1;
	}
	/*
	 * ARGP_NO_ERRS keeps argp's errors to our one-line form, but it also
	 * silences argp's --help, --usage and --version: answer them here.
	 */
	for (int i = 1; i < n; i++) {
		for (size_t h = 0; h < sizeof(help) / sizeof(help[0]); h++) {
			if (!strcmp(argv[i], help[h])) {
				argp_help(&argp, stdout, ARGP_HELP_STD_HELP, "tlstrace");
				exit(0);
			}
		}
		if (!strcmp(argv[i], "--usage")) {
			argp_help(&argp, stdout, ARGP_HELP_USAGE, "tlstrace");
			exit(0);
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("%s\n", argp_program_version);
			exit(0);
		}
	}
	err = argp_parse(&argp, n, argv, ARGP_NO_ERRS | ARGP_NO_HELP, NULL, o);
	if (err)
		usage_error("invalid option '%s'", argv[1]);
	if (o->command && (o->npids || o->ncomms))
		usage_error("a command cannot be combined with -p or -c");
	if (o->npids && o->ncomms)
		usage_error("-p and -c cannot be combined");
	if (o->cgroup && (o->npids || o->command))
		usage_error(
			"--cgroup chooses processes itself: it combines with -c only, not -p or a "
			"command");
	if (o->no_follow && !o->command && !o->npids && !o->ncomms)
		usage_error(
			o->cgroup
				? "--no-follow needs -p, -c or a command: --cgroup traces every "
				  "process of its cgroup, children too"
				: "--no-follow needs -p, -c or a command: every process is traced");
	if (o->wire && o->nlibs)
		usage_error("--lib probes a library, and --wire probes none");
	if (o->filter.nurls && o->timing_only)
		usage_error(
			"--url needs the plaintext, which --timing-only and --wire do not read");
	if (o->phases && o->format != FMT_TEXT)
		usage_error("--phases is for -f text: -f %s has every phase's fields already",
			    output_writers[o->format].name);
	otel_environment(o);
}
