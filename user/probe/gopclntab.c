// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's function table (see gopclntab.h). The header, in each format (all
 * fields after the first 8 bytes are pointer-sized):
 *
 *   magic u32, pad u8, pad u8, minLC u8, ptrSize u8,
 *   nfunc, nfiles, [textStart: 1.18 on], funcnameOffset, cuOffset,
 *   filetabOffset, pctabOffset, pclnOffset
 *
 * At pclnOffset, the functab: nfunc + 1 pairs (the last gives the end of
 * the last function), each the function's entry and the offset of its
 * _func from pclnOffset. 1.16-1.17: two pointer-sized words, the entry an
 * absolute PC; 1.18 on: two u32, the entry relative to textStart. A _func
 * begins with its entry (pointer-sized, or u32 from 1.18) and nameOff, an
 * i32 into the table of names at funcnameOffset.
 */
#include <errno.h>
#include <string.h>
#include "probe/gopclntab.h"

#define MAGIC_116 0xfffffffau
#define MAGIC_118 0xfffffff0u
#define MAGIC_120 0xfffffff1u
#define PTR 8 /* 64-bit programs only */

static __u32 get32(const unsigned char *p)
{
	return (__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24;
}

static __u64 get64(const unsigned char *p)
{
	return (__u64)get32(p) | (__u64)get32(p + 4) << 32;
}

/* the pointer-sized header field n (0: nfunc) */
static __u64 header_word(const unsigned char *d, int n)
{
	return get64(d + 8 + (size_t)n * PTR);
}

int go_pclntab__open(struct go_pclntab *t, const void *data, size_t size)
{
	const unsigned char *d = data;
	__u64 funcnames, pcln, tab_size;
	int off; /* header words before funcnameOffset */

	memset(t, 0, sizeof(*t));
	if (size < 8 + 8 * PTR || d[4] || d[5] || d[7] != PTR)
		return -EINVAL;
	switch (get32(d)) {
	case MAGIC_116:
		t->format = GO_PCLN_116;
		off = 2;
		break;
	case MAGIC_118:
		t->format = GO_PCLN_118;
		off = 3;
		break;
	case MAGIC_120:
		t->format = GO_PCLN_120;
		off = 3;
		break;
	default:
		return -EINVAL;
	}
	t->nfunc = header_word(d, 0);
	t->text_start = off == 3 ? header_word(d, 2) : 0;
	funcnames = header_word(d, off);
	pcln = header_word(d, off + 4);
	/* the functab, nfunc + 1 pairs, must fit from pclnOffset */
	tab_size = t->format == GO_PCLN_116 ? 2 * PTR : 8;
	if (funcnames >= size || pcln >= size || t->nfunc == 0 ||
	    t->nfunc >= (size - pcln) / tab_size)
		return -EINVAL;
	t->data = d;
	t->size = size;
	t->funcnames = funcnames;
	t->pcln = pcln;
	return 0;
}

/* functab pair i: the function's entry, and its _func's offset from t->pcln */
static void functab(const struct go_pclntab *t, __u64 i, __u64 *entry, __u64 *funcoff)
{
	const unsigned char *p = t->data + t->pcln;

	if (t->format == GO_PCLN_116) {
		*entry = get64(p + i * 2 * PTR);
		*funcoff = get64(p + i * 2 * PTR + PTR);
	} else {
		*entry = t->text_start + get32(p + i * 8);
		*funcoff = get32(p + i * 8 + 4);
	}
}

int go_pclntab__func(const struct go_pclntab *t, __u64 i, __u64 *entry, __u64 *end,
		     const char **name)
{
	__u64 funcoff, next_off, fn, nameoff_at, name_at;
	__s32 nameoff;

	if (i >= t->nfunc)
		return -EINVAL;
	functab(t, i, entry, &funcoff);
	functab(t, i + 1, end, &next_off);
	if (*end <= *entry)
		return -EINVAL;
	/* the _func: its entry, then nameOff */
	fn = t->pcln + funcoff;
	nameoff_at = fn + (t->format == GO_PCLN_116 ? PTR : 4);
	if (funcoff >= t->size || fn >= t->size || nameoff_at > t->size - 4)
		return -EINVAL;
	nameoff = (__s32)get32(t->data + nameoff_at);
	name_at = t->funcnames + (__u64)(__s64)nameoff;
	*name = NULL;
	if (nameoff >= 0 && name_at < t->size && memchr(t->data + name_at, '\0', t->size - name_at))
		*name = (const char *)t->data + name_at;
	return 0;
}

int go_pclntab__find(const struct go_pclntab *t, const char *name, __u64 *entry, __u64 *end)
{
	for (__u64 i = 0; i < t->nfunc; i++) {
		const char *n;
		int err = go_pclntab__func(t, i, entry, end, &n);

		if (err)
			return err;
		if (n && !strcmp(n, name))
			return 0;
	}
	return -ENOENT;
}
