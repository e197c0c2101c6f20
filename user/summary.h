/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The table printed at exit in text mode: per host (and per process with
 * --by-process), the count, errors, and p50/p95/max of connect, TLS
 * handshake, time to first byte and total.
 */
#ifndef SUMMARY_H
#define SUMMARY_H

#include <stdio.h>
#include "entry.h"

struct summary;

struct summary *summary__new(int by_process);
void summary__entry(struct summary *s, const struct entry *e);
/* the table; color: ANSI colours; width: columns (0: 80) */
void summary__print(struct summary *s, FILE *f, int color, int width);
void summary__free(struct summary *s);

#endif /* SUMMARY_H */
