// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The names of an entry's fields, as the writers list them. */
#include <stddef.h>
#include "collect/entry.h"

static const char *const field_names[FIELD_NR_BITS] = {
	"name.path",	     "method",		"responseStatus",
	"encodedBodySize",   "decodedBodySize", "transferSize",
	"domainLookupStart", "domainLookupEnd", "firstInterimResponseStart",
	"responseStart",     "responseEnd",	"nextHopProtocol",
	"requestHeaders",    "responseHeaders", "connectEnd",
	"requestStart",
};

const char *entry_field_name(__u32 bit)
{
	for (unsigned i = 0; i < FIELD_NR_BITS; i++)
		if (bit == 1u << i)
			return field_names[i];
	return NULL;
}
