/*-------------------------------------------------------------------------
 *
 * lines.h
 *	  The lines JSON of checkout, add_lines and returns (lines.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_LINES_H
#define OM_LINES_H

#include "utils/jsonb.h"

typedef struct OmLineQty
{
	char	   *sku;
	int32		qty;
} OmLineQty;

extern OmLineQty *om_parse_lines(Jsonb *jb, int *nlines);

#endif							/* OM_LINES_H */
