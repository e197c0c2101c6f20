/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command-line options. */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>
#include "tlstrace.h"
#include "export/filter.h"
#include "export/otlp.h"
#include "export/output.h"

#define MAX_PIDS 64
#define MAX_LIBS 16

struct options {
	pid_t pids[MAX_PIDS];
	int npids;
	char comms[MAX_COMMS][TASK_COMM_LEN]; /* -c, each */
	int ncomms;
	/* --cgroup: its path as /proc/PID/cgroup gives it, NULL if none; its id and depth */
	const char *cgroup;
	__u64 cgroup_id;
	__u32 cgroup_level;
	long long duration_ms; /* -d: milliseconds, 0 = until stopped */
	enum output_format format;
	const char *output; /* NULL = stdout */
	bool stats;
	int verbose;		   /* -v: 1 our own messages, 2 (-vv) libbpf's too */
	long ringbuf_mib;	   /* --ringbuf-size: the BPF ring buffer, MiB (a power of 2) */
	bool timing_only;	   /* --timing-only: no probe on the read/write path */
	bool wire;		   /* --wire: no probe on any library (timing_only set too) */
	bool no_follow;		   /* --no-follow: not the children of what -p, -c, COMMAND give */
	bool no_hold;		   /* --no-hold: no process stopped at a library's load */
	bool no_color;		   /* --no-color, or NO_COLOR set */
	bool by_process;	   /* summary rows and HAR pages per process */
	bool phases;		   /* --phases: text, a column per phase in ms */
	bool no_redact;		   /* --no-redact: keep credentials in every output */
	const char *otlp_endpoint; /* --otlp-endpoint URL, NULL if none */
	/* ...or OpenTelemetry's variable it came from (its name), used as struct otlp_config says
	 */
	const char *otlp_endpoint_var;
	bool otlp_endpoint_exact;
	enum otlp_protocol
		otlp_protocol;	 /* --otlp-protocol, else OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL */
	bool otlp_protocol_flag; /* ...given by the flag, which wins */
	struct otlp_pair otlp_headers[OTLP_MAX_PAIRS]; /* OTEL_EXPORTER_OTLP_[TRACES_]HEADERS */
	int otlp_nheaders;
	const char *otlp_ca_file;      /* OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE */
	const char *otlp_service_name; /* OTEL_SERVICE_NAME */
	struct otlp_pair otlp_resource[OTLP_MAX_PAIRS]; /* OTEL_RESOURCE_ATTRIBUTES */
	int otlp_nresource;
	const char *metrics_addr;   /* --metrics-addr HOST:PORT, NULL if none */
	int metrics_max_servers;    /* distinct server label values, then "other" */
	int metrics_max_comms;	    /* distinct process label values, then "other" */
	char **command;		    /* after "--", NULL-terminated; NULL if none */
	const char *libs[MAX_LIBS]; /* --lib: more files with TLS functions */
	struct entry_filter filter; /* --host, --port, --url */
	int nlibs;
};

/* parse argv; on a usage error print one line and exit(2) */
void options__parse(struct options *o, int argc, char **argv);

#endif /* OPTIONS_H */
