/*-------------------------------------------------------------------------
 *
 * lines.c
 *	  The lines JSON that checkout(), add_lines() and request_return()
 *	  take: parsed, checked and summed per SKU in one place (SPEC §16:
 *	  malformed lines are 22023 with the line's index).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "icu.h"
#include "lines.h"
#include "money.h"
#include "om_args.h"
#include "sort_merge.h"

/* An order or a return has at most this many lines. */
#define OM_MAX_LINES 1000

static int
CompareSku(const void *a, const void *b)
{
	return strcmp(((const OmLineQty *) a)->sku, ((const OmLineQty *) b)->sku);
}

/*
 * Add line *from to *into, a line of the same SKU; raises 22023 when the
 * SKU's units pass OM_MAX_QTY.
 */
static void
SumLines(void *into, const void *from)
{
	OmLineQty  *sum = into;
	const OmLineQty *line = from;

	sum->qty += line->qty;
	if (sum->qty > OM_MAX_QTY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many units of sku \"%s\"", line->sku),
				 errdetail("Its lines add up to %d units; at most %d are allowed.",
						   sum->qty, OM_MAX_QTY)));
}

static void
BadLine(int index, const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("lines[%d]: %s", index, what),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("lines is a JSON array of objects such as {\"sku\": \"A\", \"qty\": 2}.")));
}

/* A JSON number that is a whole number in 1 .. OM_MAX_QTY. */
static int32
LineQty(int index, JsonbValue *v)
{
	Numeric		n;

	if (v->type != jbvNumeric)
		BadLine(index, "qty must be a number", NULL);
	n = v->val.numeric;
	if (!OM_NUMERIC_IS_FINITE(n) ||
		om_num_cmp(n, DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(n),
														  Int32GetDatum(0)))) != 0 ||
		om_num_cmp(n, om_num_int(1)) < 0 || om_num_cmp(n, om_num_int(OM_MAX_QTY)) > 0)
		BadLine(index, psprintf("qty must be a whole number from 1 to %d", OM_MAX_QTY),
				psprintf("Got %s.", om_num_text(n)));
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(n)));
}

/*
 * Parse and check the lines JSON ([{"sku": "A", "qty": 2}, ...]) of
 * checkout, add_lines and returns; repeated SKUs are summed.  Returns the
 * lines sorted by SKU with strcmp (the lock order).
 */
OmLineQty *
om_parse_lines(Jsonb *jb, int *nlines)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	OmLineQty	   *lines;
	int			n = 0;

	if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_ARRAY(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lines must be a JSON array"),
				 errhint("lines is a JSON array of objects such as {\"sku\": \"A\", \"qty\": 2}.")));
	if (JB_ROOT_COUNT(jb) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lines must not be empty"),
				 errhint("An order needs at least one line such as {\"sku\": \"A\", \"qty\": 2}.")));
	if (JB_ROOT_COUNT(jb) > OM_MAX_LINES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many lines"),
				 errdetail("Got %u lines; an order has at most %d.", JB_ROOT_COUNT(jb), OM_MAX_LINES)));

	lines = palloc0(sizeof(OmLineQty) * JB_ROOT_COUNT(jb));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbIterator *lit;
		JsonbValue	lv;
		JsonbIteratorToken ltok;
		char	   *key = NULL;
		bool		has_qty = false;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			BadLine(n, "each line must be a JSON object", NULL);

		lit = JsonbIteratorInit(v.val.binary.data);
		while ((ltok = JsonbIteratorNext(&lit, &lv, true)) != WJB_DONE)
		{
			if (ltok == WJB_KEY)
				key = pnstrdup(lv.val.string.val, lv.val.string.len);
			else if (ltok == WJB_VALUE && strcmp(key, "sku") == 0)
			{
				if (lv.type != jbvString)
					BadLine(n, "sku must be a string", NULL);
				lines[n].sku = pnstrdup(lv.val.string.val, lv.val.string.len);
				om_check_identifier(psprintf("lines[%d].sku", n), lines[n].sku);
			}
			else if (ltok == WJB_VALUE && strcmp(key, "qty") == 0)
			{
				lines[n].qty = LineQty(n, &lv);
				has_qty = true;
			}
			else if (ltok == WJB_VALUE)
				BadLine(n, psprintf("unknown key \"%s\"", key),
						"A line has the keys sku and qty; prices come from order_mgmt.sku.");
		}
		if (lines[n].sku == NULL)
			BadLine(n, "sku is missing", NULL);
		if (!has_qty)
			BadLine(n, "qty is missing", NULL);
		n++;
	}

	*nlines = (int) om_sort_merge(lines, n, sizeof(OmLineQty), CompareSku, SumLines);
	return lines;
}

