// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: Go's function table (gopclntab) read from any bytes, in
 * a heap copy of exactly their size: opened, every function read, one
 * looked up by name. An entry read must lie before its end, a name inside
 * the table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "probe/gopclntab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy = malloc(size ? size : 1);
	struct go_pclntab t;
	__u64 entry, end;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (!go_pclntab__open(&t, copy, size)) {
		for (__u64 i = 0; i < t.nfunc && i < 4096; i++) {
			const char *name;

			if (go_pclntab__func(&t, i, &entry, &end, &name))
				break;
			if (end <= entry)
				abort();
			if (name &&
			    (name < (const char *)copy || name >= (const char *)copy + size))
				abort();
		}
		go_pclntab__find(&t, "main.main", &entry, &end);
	}
	free(copy);
	return 0;
}
