/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Writers: one finished entry in, one record out. */
#ifndef OUTPUT_H
#define OUTPUT_H

#include <stdio.h>
#include "collect/entry.h"

struct json_object;

/* in the order --help lists them (output_writers[]) */
enum output_format {
	FMT_TEXT,
	FMT_JSON,
	FMT_HAR,    /* HAR 1.2: one JSON document, written at close */
	FMT_CHROME, /* Trace Event JSON, for Perfetto and chrome://tracing */
	FMT_NR,
};

struct output {
	FILE *f;
	enum output_format format;
	__s64 epoch_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	int header_done;
	int color;	/* text: ANSI colours (a terminal, and colour not turned off) */
	int width;	/* text: columns to fit, 0 = not a terminal (80 assumed) */
	int by_process; /* HAR: a page per process */
	int phases;	/* text: a column per phase, in ms (--phases) */
	void *priv;	/* the writer's own state */
};

/* milliseconds from the entry's origin; 0 stays 0 (did not happen) */
double entry_ms(const struct entry *e, __u64 ts);

/*
 * A JSON string of len bytes a traced process sent: invalid UTF-8 (and NUL)
 * becomes U+FFFD, so the output stays valid. NULL if out of memory.
 */
struct json_object *json__text(const char *str, size_t len);

/*
 * The names of the fields in unknown (enum entry_field bits), in bit order,
 * as a JSON array: what JSON's tlstrace.unknown and HAR's _unknown list.
 * NULL if out of memory.
 */
struct json_object *json__unknown(__u32 unknown);

/*
 * The process's executable and container into o, each key prefix + its
 * name (JSON's tlstrace object: prefix "", HAR's entry: "_"): exe, cgroup
 * (the path), cgroupId, containerId, containerRuntime, podUid, each only
 * when known (docs/semantics.md, section 5). Strings escaped as json__text.
 */
void json__process(struct json_object *o, const struct entry *e, const char *prefix);

/* the JSON Lines record for an entry, without the newline; free() it */
char *json__entry(const struct entry *e, __s64 epoch_offset);

/*
 * A writer, as -f names it. entry() writes one entry to o->f: 0, or -errno
 * (-ENOMEM, or -EIO once o->f has an error); close() ends the document
 * (NULL if it has no end) and frees what the writer keeps in o->priv.
 * Neither flushes: output__entry and output__close do.
 */
struct output_writer {
	const char *name; /* -f's argument */
	const char *help; /* what it is, for --help */
	int (*entry)(struct output *o, const struct entry *e);
	void (*close)(struct output *o);
};

/* every writer, indexed by enum output_format (output.c) */
extern const struct output_writer output_writers[FMT_NR];

/* the format called name (as -f gives it): 0, or -EINVAL if there is none */
int output__format(const char *name, enum output_format *fmt);

/*
 * Write e in o->format to o->f and flush it: 0, or -errno if the writer
 * failed (-ENOMEM) or o->f has an error (-EIO). The record's fate on the
 * file (whole or lost) is outfile__end_record's to say.
 */
int output__entry(struct output *o, const struct entry *e);

/* finish the output (a JSON array's closing bracket), free the writer's state, flush */
void output__close(struct output *o);

/* JSON Lines: the record of json__entry and a newline */
int json__write(struct output *o, const struct entry *e);

int chrome__entry(struct output *o, const struct entry *e);
void chrome__close(struct output *o);

int har__entry(struct output *o, const struct entry *e);
void har__close(struct output *o);

#endif /* OUTPUT_H */
