/*-------------------------------------------------------------------------
 *
 * promo.h
 *	  Promo codes: look up, validate, claim, release (promo.c, SPEC §5).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OM_PROMO_H
#define OM_PROMO_H

#include "utils/numeric.h"
#include "utils/timestamp.h"

typedef struct OmPromo
{
	char	   *code_key;
	char	   *code;
	char	   *kind;			/* percent, amount, free_shipping */
	Numeric		value;
	Numeric		min_subtotal;
	bool		limited;
	int32		usage_limit;
	bool		per_customer;
	int32		per_customer_limit;
	char	   *customer_id;	/* personal code, or NULL */
	char	   *email_key;		/* personal code of a guest's e-mail, or NULL */
	bool		has_start;
	TimestampTz starts_at;
	bool		has_end;
	TimestampTz ends_at;
	bool		active;
	/* scope (NULL/0: none); a scoped code applies to lines of either list */
	char	  **products;		/* product_ids it applies to */
	int			nproducts;
	char	  **skus;			/* SKUs it applies to */
	int			nskus;
} OmPromo;

/* A code limited to products or SKUs (promo_code.scope_products, scope_skus) */
#define OM_PROMO_SCOPED(p)	((p)->nproducts > 0 || (p)->nskus > 0)

/* A line as a promo code's discount sees it (om_promo_discount()). */
typedef struct OmPromoLine
{
	int32		line_no;		/* order_line.line_no; 0 for a line not stored yet */
	const char *sku;
	const char *product_id;		/* NULL when the SKU belongs to no product */
	Numeric		amount;			/* unit price * qty */
	Numeric		discount;		/* out: its share of the order's discount */
} OmPromoLine;

extern bool om_promo_lookup(int64 shop_id, const char *code_key, OmPromo *p);
extern OmPromoLine *om_promo_order_lines(int64 shop_id, int64 order_id, int extra, int *n);
extern char *om_promo_scope_text(const OmPromo *p);
extern Numeric om_promo_discount(const OmPromo *p, OmPromoLine *lines, int n,
								 Numeric shipping_fee, int digits);
extern void om_promo_validate(const OmPromo *p, const char *entered,
							  const char *customer_id, const char *email_key,
							  Numeric subtotal);
extern void om_promo_claim(int64 shop_id, int64 order_id, const OmPromo *p,
						   const char *customer_id, const char *email_key);
extern void om_promo_release(int64 shop_id, int64 order_id, const char *code_key);

#endif							/* OM_PROMO_H */
