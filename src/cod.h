/*-------------------------------------------------------------------------
 *
 * cod.h
 *	  Cash on delivery: the carrier's payment when a cod order is
 *	  collected (cod.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_COD_H
#define OM_COD_H

extern void om_cod_collected(int64 shop_id, int64 order_id);

#endif							/* OM_COD_H */
