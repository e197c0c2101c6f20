// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The writers behind -f, in one table: the option's parsing and --help read
 * their names from it, and output__entry/output__close dispatch through it.
 * A new format is one line here (and its enum value in output.h).
 */
#include <errno.h>
#include <string.h>
#include "export/output.h"
#include "export/text.h"

const struct output_writer output_writers[FMT_NR] = {
	[FMT_TEXT] = { "text", "a waterfall, the default", text__entry, text__close },
	[FMT_JSON] = { "json", "JSON Lines", json__write, NULL },
	[FMT_HAR] = { "har", "HAR 1.2", har__entry, har__close },
	[FMT_CHROME] = { "chrome-trace", "Trace Event JSON for Perfetto", chrome__entry,
			 chrome__close },
};

int output__format(const char *name, enum output_format *fmt)
{
	for (int i = 0; i < FMT_NR; i++) {
		if (!strcmp(name, output_writers[i].name)) {
			*fmt = i;
			return 0;
		}
	}
	return -EINVAL;
}

int output__entry(struct output *o, const struct entry *e)
{
	int err = output_writers[o->format].entry(o, e);

	fflush(o->f);
	if (err)
		return err;
	return ferror(o->f) ? -EIO : 0;
}

void output__close(struct output *o)
{
	const struct output_writer *w = &output_writers[o->format];

	if (w->close)
		w->close(o);
	fflush(o->f);
}
