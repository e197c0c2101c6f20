/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tlstrace's version, written once: --version prints "tlstrace VERSION"
 * (argp_program_version in options.c), and the writers that name their
 * producer (HAR creator.version, the OTLP scope and telemetry.sdk.version,
 * the tlstrace_build_info metric) take it from here, so it is there in the
 * unit tests too, which do not link options.c.
 */
#ifndef VERSION_H
#define VERSION_H

#define TLSTRACE_VERSION "0.1"

#endif /* VERSION_H */
