/*-------------------------------------------------------------------------
 *
 * sort_merge.c
 *	  Sort an array and fold its equal elements together.
 *
 * Lines of one SKU, held units of one stock bucket, the counter changes of
 * one row: several places collect rows, sort them into lock order and sum
 * the quantities of the rows that name the same thing.  The caller says
 * what "the same" is (its compare function, also the sort order) and how
 * two are summed (its merge function, which may raise an error).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "sort_merge.h"

/*
 * Sort the n elements of size bytes at base with cmp, then fold every
 * element that cmp finds equal to the one kept before it into that one
 * with merge(into, from), in sorted order.  The kept elements move to the
 * front, in sorted order; returns how many are kept.
 */
size_t
om_sort_merge(void *base, size_t n, size_t size,
			  int (*cmp) (const void *, const void *),
			  void (*merge) (void *into, const void *from))
{
	char	   *elems = base;
	size_t		kept = 0;
	size_t		i;

	qsort(base, n, size, cmp);
	for (i = 0; i < n; i++)
	{
		char	   *elem = elems + i * size;

		if (kept > 0 && cmp(elems + (kept - 1) * size, elem) == 0)
			merge(elems + (kept - 1) * size, elem);
		else
		{
			if (kept != i)
				memcpy(elems + kept * size, elem, size);
			kept++;
		}
	}
	return kept;
}
