/*-------------------------------------------------------------------------
 *
 * sort_merge.h
 *	  Sort an array and fold its equal elements together (sort_merge.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_SORT_MERGE_H
#define OM_SORT_MERGE_H

extern size_t om_sort_merge(void *base, size_t n, size_t size,
							int (*cmp) (const void *, const void *),
							void (*merge) (void *into, const void *from));

#endif							/* OM_SORT_MERGE_H */
