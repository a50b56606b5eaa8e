#!/usr/bin/python3
"""Fuzz every order_mgmt function (issue 19).

Reads the functions of schema order_mgmt from pg_proc (every one that is
not a trigger, with its argument names and types), so a new function is
fuzzed without touching this file, and calls them FUZZ_CALLS times with
generated arguments: NULLs, empty and 1 MB strings, deep and malformed
JSON, numbers at and past every bound, odd Unicode, invalid UTF-8, wrong
shops and orders, in any order, interleaved with valid values (real shops,
SKUs, orders, returns, shipments, codes) so that the deep code runs too.
Each call is its own transaction, some of them as order_mgmt_app,
order_mgmt_admin or order_mgmt_report; the test clock moves forward now
and then so that deadlines fall due.

Oracles (each failure is a violation, printed with the seed and the call
number that reproduce it):
  - no backend crash: the connection survives every call, and the server
    log (FUZZ_SERVER_LOG) has no "terminated by signal" or PANIC;
  - every error's SQLSTATE is one of src/om_errcodes.h (SPEC §16) or of
    class 22, 23, 40, 42, 55 or P0: never XX000 or another internal error;
  - order_mgmt.verify() returns no rows, every FUZZ_VERIFY_EVERY calls and
    at the end.

Environment: FUZZ_SEED (default 19), FUZZ_CALLS (default 3000),
FUZZ_VERIFY_EVERY (500), FUZZ_SERVER_LOG, the PG* connection variables.
Prints the functions reached and the SQLSTATEs seen, then
"fuzz: N calls, F functions, S SQLSTATEs, V violations".
"""
import json
import os
import random
import re
import sys
import time

import psycopg2
import psycopg2.extensions

# Dates, times and intervals come back as text: Python's datetime cannot
# hold BC years or PostgreSQL's infinities, which the functions may return.
psycopg2.extensions.register_type(psycopg2.extensions.new_type(
	(1082, 1083, 1114, 1184, 1186, 1266), 'OM_FUZZ_TEXT', lambda value, cur: value))
psycopg2.extensions.register_type(psycopg2.extensions.new_array_type(
	(1182, 1183, 1115, 1185, 1187, 1270), 'OM_FUZZ_TEXT[]', psycopg2.STRING))

SEED = int(os.environ.get('FUZZ_SEED', '19'))
CALLS = int(os.environ.get('FUZZ_CALLS', '3000'))
VERIFY_EVERY = int(os.environ.get('FUZZ_VERIFY_EVERY', '500'))
SERVER_LOG = os.environ.get('FUZZ_SERVER_LOG', '')
HERE = os.path.dirname(os.path.abspath(__file__))

ALLOWED_CLASSES = ('22', '23', '40', '42', '55', 'P0')
MB = 1024 * 1024


def om_sqlstates():
	"""The OM SQLSTATEs, read from om_errcodes.h (SPEC §16)."""
	path = os.path.join(HERE, '..', '..', 'src', 'om_errcodes.h')
	codes = set()
	with open(path) as f:
		for m in re.finditer(r"MAKE_SQLSTATE\('(.)','(.)','(.)','(.)','(.)'\)", f.read()):
			codes.add(''.join(m.groups()))
	return codes


OM_CODES = om_sqlstates()

# ---------------------------------------------------------------------------
# Values.  A value is (SQL fragment, parameters); the fragment casts to the
# argument's declared type.
# ---------------------------------------------------------------------------

INT4 = ['0', '1', '-1', '2', '7', '64', '65', '100', '1000', '10000', '1000001', '2147483647',
		'-2147483648', '2147483648', '-2147483649', '99999999999']
INT8 = ['0', '1', '-1', '9223372036854775807', '-9223372036854775808', '9223372036854775808',
		'2147483648', '4294967296', '281474976710656', '999999']
NUMERIC = ['0', '-0', '1', '-1', '0.001', '0.5', '12.345', '1e-20', '99.995', 'NaN', 'Infinity',
		   '-Infinity', '1e15', '999999999999999.99', '1e16', '-1e15', '1e300', '9' * 1000,
		   '0.' + '0' * 500 + '1', '1000', '1001', '100']
INTERVALS = ['0', '1 microsecond', '-1 day', '1 second', '30 minutes', '1 hour', '2 days',
			 '14 days', '1 mon', '1 year', '178000000 years', '-178000000 years',
			 '1000000 days', '2147483647 days', '1 day -25 hours', 'infinity', 'P1D', '']
DATES = ['2026-01-01', '2025-12-31', '2027-06-30', 'infinity', '-infinity', '4713-01-01 BC',
		 '5874897-12-31', '2026-02-30', 'epoch', '']
TIMESTAMPS = ['2026-01-01 00:00+00', '2025-01-01 00:00+00', '2030-01-01 00:00+00', 'infinity',
			  '-infinity', 'epoch', '294276-12-31 23:59:59+00', '4713-01-01 00:00:00+00 BC', 'now']
ODD_TEXT = [
	'', ' ', '\t', '\n', 'A', 'a', 'ａ', 'Ａ１', 'e\u0301' * 50, '\u0301', '\u202eabc\u202c',
	'\u200f\u05e9\u05dc\u05d5\u05dd', '\u200d', '\U0001F468\u200d\U0001F469\u200d\U0001F467',
	'\ufeffBOM', '\u200b', 'İı', 'ß', 'ﬁ', '\u0e01\u0e38\u0e4d', '中文', '\x01\x7f', 'line\nbreak',
	"'; DROP TABLE order_mgmt.orders; --", '%s%n%x', '\\', '"', '{}', '[]', 'null', 'NULL',
	'x' * 300, 'y' * 10000, '\U0010FFFF', '\ufffd', 'A' * 64 + '\u0301',
]
BAD_UTF8 = ["convert_from('\\xc328'::bytea, 'UTF8')", "convert_from('\\xff'::bytea, 'UTF8')",
			"convert_from('\\xeda080'::bytea, 'UTF8')", "E'\\uD800'", "U&'\\D800'",
			"E'\\u0000'", "convert_from('\\xf4908080'::bytea, 'UTF8')"]
BAD_JSON = ['', '{', '[', '[{"sku":}]', '{"a":1,}', "{'a':1}", 'NaN', '"\\ud800"', '"\\u0000"',
			'"\\udc00\\ud800"', '[1,2', '01', '-', '1e99999', '{"a":1}{"b":2}', 'tru', '\ufeff[]']
ODD_JSON = ['{}', '[]', 'null', '0', '""', '"x"', 'true', '[{}]', '[null]', '[[]]', '{"":null}',
			'[1]', '-1', '1e400', '[{"sku":null,"qty":1}]', '{"sku":"A","sku":"B","qty":1}',
			'"\\u202e\\u200d\\ud83d\\ude00"', '{"\\u0301":"\\u0301"}', '[{"op":null}]']


def lit(v, t):
	return ('%s::' + t, [v])


def null(t):
	return ('NULL::' + t, [])


def deep_json(rng):
	depth = rng.choice([10, 100, 1000, 3000])
	if rng.random() < 0.5:
		return '[' * depth + ']' * depth
	return '{"a":' * depth + '1' + '}' * depth


def big_json_expr(rng):
	"""1 MB strings and many lines inside JSON, built by the server."""
	return rng.choice([
		"jsonb_build_array(jsonb_build_object('sku', repeat('x', %d), 'qty', 1))" % MB,
		"jsonb_build_object(repeat('k', %d), 1)" % MB,
		"(SELECT jsonb_agg(jsonb_build_object('sku', 'S' || i, 'qty', 1)) FROM generate_series(1, 20000) i)",
		"(SELECT jsonb_agg(jsonb_build_object('sku', 'A', 'qty', 1)) FROM generate_series(1, 5000) i)",
		"to_jsonb(repeat('z', %d))" % MB,
	])


class Gen:
	"""Generates arguments; knows the shops, SKUs, orders and so on made so far."""

	def __init__(self, rng, enums):
		self.rng = rng
		self.enums = enums			# 'order_mgmt.x' -> labels
		self.shops = {}				# shop -> {'skus': [...], 'customers': [...], ...}
		self.shop = None			# the shop of the call being built
		self.order = None
		self.serial = 0

	def pool(self, key, shop=None):
		s = self.shops.get(self.shop if shop is None else shop)
		return s[key] if s else []

	def pick(self, xs):
		return self.rng.choice(xs) if xs else None

	def uniq(self, prefix):
		self.serial += 1
		return '%s-%d-%d' % (prefix, SEED, self.serial)

	# -- adversarial values of a type ---------------------------------------

	def odd(self, t):
		r = self.rng
		if r.random() < 0.12:
			return null(t)
		if t == 'bigint':
			return lit(r.choice(INT8 + [str(r.randint(-10, 10**6))]), t)
		if t == 'integer':
			return lit(r.choice(INT4 + [str(r.randint(-10, 200))]), t)
		if t == 'numeric':
			return lit(r.choice(NUMERIC + [str(round(r.uniform(-100, 10**6), r.randint(0, 4)))]), t)
		if t == 'boolean':
			return lit(r.choice(['true', 'false']), t)
		if t == 'interval':
			return lit(r.choice(INTERVALS), t)
		if t == 'date':
			return lit(r.choice(DATES), t)
		if t == 'timestamp with time zone':
			return lit(r.choice(TIMESTAMPS), t)
		if t == 'text':
			x = r.random()
			if x < 0.05:
				return ("repeat('x', %d)::text" % MB, [])
			if x < 0.08:		# 1 MB that does not compress
				return ("(SELECT string_agg(md5(i::text), '') FROM generate_series(1, %d) i)" % (MB // 32), [])
			if x < 0.14:
				return (r.choice(BAD_UTF8) + '::text', [])
			if x < 0.25:
				return lit(self.valid_text(r.choice(['sku', 'customer_id', 'code', 'email'])) + r.choice(ODD_TEXT), t)
			return lit(r.choice(ODD_TEXT), t)
		if t == 'jsonb':
			x = r.random()
			if x < 0.1:
				return ('(' + big_json_expr(r) + ')::jsonb', [])
			if x < 0.2:
				return lit(deep_json(r), t)
			if x < 0.4:
				return lit(r.choice(BAD_JSON), t)
			if x < 0.6:
				return lit(json.dumps(self.odd_lines()), t)
			return lit(r.choice(ODD_JSON), t)
		if t == 'text[]':
			return lit(r.choice(['{}', '{NULL}', '{""}', '{A,A}', '{%s}' % ','.join(['x'] * 2000),
								 '{"%s"}' % ('q' * 5000), '{a,b}', '{{a},{b}}']), t)
		if t in self.enums:
			labels = self.enums[t]
			if r.random() < 0.8:
				return lit(r.choice(labels), t)
			return lit(r.choice(['nope', '', 'PENDING', labels[0] + ' ']), t)
		if t.endswith('[]') and t[:-2] in self.enums:
			labels = self.enums[t[:-2]]
			pick = r.sample(labels, r.randint(0, len(labels)))
			return lit(r.choice(['{%s}' % ','.join(pick), '{NULL}', '{%s,%s}' % (labels[0], labels[0]),
								 '{nope}', '{}']), t)
		if t == 'anyenum':
			et = r.choice(sorted(self.enums))
			return lit(r.choice(self.enums[et]), et)
		return null(t)

	def odd_lines(self):
		r = self.rng
		skus = self.pool('skus') or ['A']
		line = {}
		if r.random() < 0.9:
			line['sku'] = r.choice(skus + [None, '', 'NOPE', 1, ['A'], skus[0].lower(), skus[0] + '\u0301'])
		if r.random() < 0.9:
			line['qty'] = r.choice([0, -1, 1, 2, 1.5, '1', None, 2147483647, 2147483648, 10**20,
									1000000, 1000001, True, [1], {}])
		if r.random() < 0.2:
			line[r.choice(['extra', 'SKU', 'price', 'line', 'op'])] = r.choice([1, 'x', None])
		lines = [line] * r.randint(0, 3)
		if r.random() < 0.2:
			lines.append(r.choice([None, 1, 'x', [], {}]))
		return lines

	# -- valid values, by argument name ---------------------------------------

	def valid_text(self, name):
		r = self.rng
		if name in ('sku', 'from_sku', 'to_sku'):
			return self.pick(self.pool('skus')) or 'A'
		if name == 'customer_id':
			return self.pick(self.pool('customers')) or 'c1'
		if name in ('code', 'promo_code'):
			code = self.pick(self.pool('codes'))
			if code and r.random() < 0.3:
				code = r.choice([code.lower(), code.upper(), ' ' + code + ' ',
								 code.translate({ord(c): ord(c) + 0xFEE0 for c in 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'})])
			return code or self.uniq('CODE')
		if name == 'email':
			c = self.pick(self.pool('customers')) or 'c1'
			return r.choice(['%s@example.com' % c, '%s@EXAMPLE.com' % c.upper(), 'guest@example.com',
							 'a+b@ｅxample.com', 'no-at-sign', 'a@b', 'x' * 300 + '@example.com'])
		if name == 'currency':
			return r.choice(['TWD', 'USD', 'JPY', 'EUR', 'BHD', 'THB', 'XXX', 'usd', 'TW'])
		if name == 'locale':
			return r.choice(['zh-TW', 'en', 'en-US', 'th-TH', 'fi', 'zh-Hant', 'zh-Hans', 'root', 'und',
							 'xx-@@', 'th-TH-u-nu-thai', 'C'])
		if name == 'timezone':
			return r.choice(['Asia/Taipei', 'UTC', 'Europe/Helsinki', 'Asia/Bangkok', 'Mars/Olympus',
							 '+08', 'EST5EDT'])
		if name == 'provider_ref':
			return self.uniq('ref') if r.random() < 0.8 else 'ref-fixed'
		if name == 'consumer':
			return r.choice(['c1', 'c2', 'fuzz'])
		if name in ('order_no', 'idempotency_key'):
			return self.uniq(name) if r.random() < 0.8 else 'dup'
		if name == 'kind':
			return r.choice(['shipping', 'billing', 'other'])
		if name in ('method', 'payment_method'):
			return r.choice(['credit_card', 'cod', 'bank_transfer', 'line_pay'])
		if name == 'product_id':
			return self.pick(self.pool('products')) or 'P1'
		if name in ('carrier',):
			return r.choice(['black_cat', 'post', 'dhl'])
		if name == 'tracking_no':
			return self.uniq('T')
		return r.choice(['fuzz note', 'ok', 'customer asked', 'a reason'])

	def valid_lines(self):
		skus = self.pool('skus') or ['A']
		return json.dumps([{'sku': self.rng.choice(skus), 'qty': self.rng.randint(1, 3)}
						   for _ in range(self.rng.randint(1, 3))])

	def valid_jsonb(self, name, fname):
		r = self.rng
		if name == 'lines' and fname in ('request_return', 'ship_package'):
			ls = self.order_lines()
			if ls:
				return json.dumps([{'sku': s, 'qty': r.randint(1, max(1, q))} for s, q in r.sample(ls, r.randint(1, len(ls)))])
		if name == 'lines':
			return self.valid_lines()
		if name == 'settings':
			keys = {
				'payment_timeout': r.choice(['30 minutes', '1 hour', '0', '-1 hour']),
				'payment_timeouts': r.choice([{'cod': None}, {'bank_transfer': '3 days'}, {'x': 1}]),
				'cod_paid_on_collect': r.choice([True, False]),
				'app_sets_prices': r.choice([True, False]),
				'auto_cancel_failed': r.choice([True, False]),
				'auto_cancel_delay': r.choice(['0', '1 hour']),
				'allow_customer_cancel': r.choice([True, False]),
				'auto_archive_after': r.choice([None, '7 days']),
				'reward_rate': r.choice([0, 0.05, 1, 1000, 1001, -1]),
				'reward_unit': r.choice(['points', 'store_credit', 'gold']),
				'high_value_threshold': r.choice([None, 1000, -1]),
				'followup_window': r.choice(['3 days', '1 day']),
				'stock_buckets': r.choice([1, 4, 64, 65, 0]),
				'admission_queue': r.choice([True, False]),
				'return_window': r.choice([None, '14 days']),
				'notify_channel': None,
				'unknown_setting': 1,
			}
			pick = r.sample(sorted(keys), r.randint(1, 3))
			return json.dumps({k: keys[k] for k in pick})
		if name == 'changes':
			ls = self.order_lines()
			n = len(ls) or 1
			ops = []
			for _ in range(r.randint(1, 3)):
				op = r.choice(['set_qty', 'swap', 'add', 'set_price', 'promo'])
				if op == 'set_qty':
					ops.append({'op': op, 'line': r.randint(1, n), 'qty': r.randint(0, 3)})
				elif op == 'swap':
					ops.append({'op': op, 'line': r.randint(1, n), 'sku': self.valid_text('sku')})
				elif op == 'add':
					ops.append({'op': op, 'sku': self.valid_text('sku'), 'qty': r.randint(1, 2)})
				elif op == 'set_price':
					ops.append({'op': op, 'line': r.randint(1, n), 'unit_price': r.choice([0, 1, 50, 99.5])})
				else:
					ops.append({'op': op, 'code': r.choice([None, self.valid_text('code')])})
			return json.dumps(ops)
		if name in ('address', 'shipping_address', 'billing_address'):
			a = {'line1': '1 Fuzz Rd', 'country': r.choice(['TW', 'TH', 'FI', 'tw', 'XX'])}
			if r.random() < 0.5:
				a.update(name='Fuzz', city='Taipei', postal_code='100', phone='+886 2 1234')
			return json.dumps(a)
		if name == 'attrs':
			return json.dumps({'size': r.choice(['S', 'M', 'L']), 'color': r.choice(['red', 'blue'])})
		return '{}'

	def order_lines(self):
		return self.shops.get(self.shop, {}).get('lines', {}).get(self.order, [])

	def valid(self, name, t, fname):
		"""A value that makes sense for this argument, or None to use odd()."""
		r = self.rng
		if name in ('shop_id', 'p_shop'):
			return lit(str(self.shop), t) if self.shop is not None else None
		if name == 'order_id':
			return lit(str(self.order), t) if self.order is not None else None
		if name in ('return_id', 'shipment_id'):
			v = self.pick(self.pool(name.replace('_id', 's')))
			return lit(str(v), t) if v is not None else None
		if t == 'text':
			return lit(self.valid_text(name), t)
		if t == 'jsonb':
			return lit(self.valid_jsonb(name, fname), t)
		if t == 'numeric':
			if name == 'amount' and self.order is not None:
				return lit(self.money.get(fname, '1'), t)
			if name in ('price', 'value', 'amount', 'delta', 'min_subtotal', 'shipping_fee', 'store_credit'):
				return lit(str(r.choice([0, 1, 5, 10, 50, 99.99, 100, 250])), t)
			return None
		if t == 'integer':
			if name in ('qty', 'stock_buckets', 'restock_qty', 'score'):
				return lit(str(r.randint(1, 5)), t)
			if name in ('on_hand', 'delta'):
				return lit(str(r.randint(-5, 50)), t)
			if name in ('usage_limit', 'per_customer_limit'):
				return lit(str(r.randint(1, 3)), t)
			if name in ('max', 'max_actions'):
				return lit(str(r.randint(1, 100)), t)
			return None
		if t == 'bigint':
			if name == 'expected_version' and self.order is not None:
				return lit(str(self.money.get('version', 0)), t)
			if name == 'after_event_id':
				return lit(str(r.randint(0, 100)), t)
			return None
		if t == 'interval':
			return lit(r.choice(['30 minutes', '1 hour', '2 days', '14 days']), t)
		if t == 'date':
			return lit(r.choice(['2025-12-01', '2026-01-01', '2026-03-01']), t)
		if t == 'timestamp with time zone':
			return lit(r.choice(['2025-12-01 00:00+00', '2027-01-01 00:00+00']), t)
		if t == 'text[]':
			src = self.pool('skus') if name == 'skus' else self.pool('products')
			return lit('{%s}' % ','.join(r.sample(src, min(len(src), r.randint(1, 2)))) if src else '{}', t)
		if t in self.enums or t == 'anyenum' or t == 'boolean':
			return self.odd(t) if t != 'boolean' else lit(r.choice(['true', 'false']), t)
		if t.endswith('[]'):
			return self.odd(t)
		return None


# ---------------------------------------------------------------------------
# The run.
# ---------------------------------------------------------------------------

FUNCS_SQL = """
SELECT p.proname, p.proretset,
	   (SELECT coalesce(array_agg(format_type(t, NULL) ORDER BY o), '{}')
		  FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o)) AS types,
	   coalesce(p.proargnames, '{}') AS names, coalesce(p.proargmodes::text[], '{}') AS modes,
	   p.pronargdefaults
  FROM pg_proc p
 WHERE p.pronamespace = 'order_mgmt'::regnamespace
   AND p.prorettype <> 'trigger'::regtype AND p.prokind = 'f'
 ORDER BY p.proname, p.oid"""

ENUMS_SQL = """
SELECT format_type(t.oid, NULL), array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
  FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
 WHERE t.typnamespace = 'order_mgmt'::regnamespace GROUP BY 1"""

# How often each function is picked (default 1): the ones that make the
# objects the others work on a little more often.
WEIGHT = {'checkout': 8, 'payment_succeeded': 3, 'ship': 2, 'ship_package': 2,
		  'set_delivery_status': 3, 'request_return': 2, 'approve_return': 2, 'receive_return': 2,
		  'mark_paid': 2, 'cancel': 2, 'edit_order': 2, 'run_due': 2,
		  'distribute': 0.2, 'claim_id_range': 0.2, 'rebase_events': 0.2, 'erase_customer': 0.3,
		  'erase_guest': 0.3}
ROLES = ['order_mgmt_app', 'order_mgmt_admin', 'order_mgmt_report']
SHOPS = [(1, 'TWD', 'zh-TW', 'Asia/Taipei'), (2, 'USD', 'en-US', 'UTC'),
		 (3, 'BHD', 'th-TH', 'Asia/Bangkok'), (4, 'JPY', 'fi', 'Europe/Helsinki')]


class Fuzzer:
	def __init__(self):
		self.rng = random.Random(SEED)
		self.violations = 0
		self.sqlstates = {}
		self.reached = {}			# function -> calls that got into it (not 42883/42501/22P02 on args)
		self.ok = {}
		self.calls = 0
		self.seen_verify = set()
		self.last = (None, None)
		self.clock = 1767225600.0		# 2026-01-01 00:00 UTC
		self.connect()
		cur = self.conn.cursor()
		cur.execute(FUNCS_SQL)
		self.funcs = []
		for name, retset, types, names, modes, ndef in cur.fetchall():
			innames = [n for n, m in zip(names, modes or ['i'] * len(names)) if m in ('i', 'b', 'v')] if modes else list(names)
			innames += ['arg%d' % i for i in range(len(innames), len(types))]
			self.funcs.append((name, retset, list(types), innames, ndef))
		cur.execute(ENUMS_SQL)
		self.gen = Gen(self.rng, dict(cur.fetchall()))
		self.gen.money = {}
		self.conn.commit()
		print('fuzz: seed %d, %d calls, %d functions: %s' % (
			SEED, CALLS, len(self.funcs), ' '.join(sorted({f[0] for f in self.funcs}))), flush=True)
		print('fuzz: server log %s' % (SERVER_LOG or '(none: crashes are seen only as lost connections)'), flush=True)

	def connect(self):
		for _ in range(60):
			try:
				self.conn = psycopg2.connect('')
				break
			except psycopg2.OperationalError:
				time.sleep(1)
		cur = self.conn.cursor()
		cur.execute("SET statement_timeout = '60s'")
		cur.execute("SET lock_timeout = '10s'")
		cur.execute("SET client_min_messages = warning")
		self.set_clock(cur)
		self.conn.commit()

	def set_clock(self, cur):
		cur.execute("SELECT set_config('order_mgmt.clock', to_timestamp(%s)::text, false)", [self.clock])

	def violation(self, what, sql=None, params=None):
		self.violations += 1
		print('VIOLATION at call %d: %s' % (self.calls, what), flush=True)
		if sql:
			shown = [p if not isinstance(p, str) or len(p) < 200 else p[:200] + '...(%d chars)' % len(p)
					 for p in (params or [])]
			print('   %s  %r' % (sql[:500], shown), flush=True)
		print('   reproduce: FUZZ_SEED=%d FUZZ_CALLS=%d' % (SEED, self.calls), flush=True)

	# -- one call ---------------------------------------------------------------

	def call(self, fname, sql, params, role=None, reached_hint=True):
		"""Runs one statement in its own transaction; returns rows or None."""
		self.calls += 1
		self.last = (sql, params)
		cur = self.conn.cursor()
		try:
			if role:
				cur.execute('SET LOCAL ROLE ' + role)
			cur.execute(sql, params)
			rows = cur.fetchall() if cur.description else []
			self.conn.commit()
			self.ok[fname] = self.ok.get(fname, 0) + 1
			self.reached[fname] = self.reached.get(fname, 0) + 1
			self.sqlstates['00000'] = self.sqlstates.get('00000', 0) + 1
			return rows
		except psycopg2.Error as e:
			code = e.pgcode
			if code is None or self.conn.closed:
				self.violation('connection lost (backend crash?): %s' % str(e).strip(), sql, params)
				self.reconnect()
				return None
			self.conn.rollback()
			self.sqlstates[code] = self.sqlstates.get(code, 0) + 1
			if code not in ('42883', '42501', '42725') and not code.startswith('22P0'):
				self.reached[fname] = self.reached.get(fname, 0) + 1
			if not (code in OM_CODES or code[:2] in ALLOWED_CLASSES):
				self.violation('SQLSTATE %s: %s' % (code, str(e).strip().replace('\n', ' | ')[:400]), sql, params)
			return None

	def reconnect(self):
		try:
			self.conn.close()
		except Exception:
			pass
		time.sleep(2)
		self.connect()

	def fuzz_call(self):
		g, r = self.gen, self.rng
		name, retset, types, names, ndef = r.choices(self.funcs, [WEIGHT.get(f[0], 1) for f in self.funcs])[0]
		# the shop and order of this call: mostly real ones, sometimes another shop's
		shops = sorted(g.shops)
		g.shop = r.choice(shops) if shops else None
		g.order = None
		orders = g.pool('orders')
		if orders:
			g.order = r.choice(orders[-30:]) if r.random() < 0.7 else r.choice(orders)
		if r.random() < 0.1 and len(shops) > 1:
			g.shop = r.choice([s for s in shops if s != g.shop])	# the order of another shop
		g.money = {}
		if g.order is not None and ('amount' in names or 'expected_version' in names or 'lines' in names or 'changes' in names):
			self.load_order(g.shop, g.order)
		# how sane the arguments are: all (only the required ones, so that
		# the deep code runs), mostly, partly, or hardly
		sane = r.choice([1.0, 1.0, 0.97, 0.9, 0.7, 0.4])
		nargs = len(types)
		if sane == 1.0:
			nargs -= ndef if r.random() < 0.7 else r.randint(0, ndef)
		elif ndef and r.random() < 0.4:
			nargs -= r.randint(0, ndef)
		frags, params = [], []
		named = r.random() < 0.3
		for i in range(nargs):
			t, n = types[i], names[i]
			v = g.valid(n, t, name) if r.random() < sane else None
			frag, ps = v if v is not None else g.odd(t)
			frags.append(('%s => %s' % (n, frag)) if named and not n.startswith('arg') else frag)
			params.extend(ps)
		call = 'order_mgmt.%s(%s)' % (name, ', '.join(frags))
		sql = 'SELECT * FROM %s LIMIT 100' % call
		role = r.choice(ROLES) if r.random() < 0.12 else None
		rows = self.call(name, sql, params, role)
		if rows:
			self.learn(name, rows)

	def load_order(self, shop, order):
		cur = self.conn.cursor()
		cur.execute("""SELECT greatest(total - credit_applied - paid_amount + refunded_amount, 0)::text,
							  (paid_amount - refunded_amount)::text, lock_version
						 FROM order_mgmt.orders WHERE shop_id = %s AND order_id = %s""", [shop, order])
		row = cur.fetchone()
		if row:
			due, net, version = row
			self.gen.money = {'payment_succeeded': due, 'refund': net if self.rng.random() < 0.5 else '1',
							  'version': version}
			cur.execute("""SELECT sku, qty FROM order_mgmt.order_line
							WHERE shop_id = %s AND order_id = %s AND qty > 0 ORDER BY line_no""", [shop, order])
			self.gen.shops[shop].setdefault('lines', {})[order] = cur.fetchall()
		self.conn.commit()

	def learn(self, name, rows):
		g = self.gen
		v = rows[0][0]
		s = g.shops.get(g.shop)
		if s is None or not isinstance(v, int):
			return
		if name == 'checkout':
			s['orders'].append(v)
		elif name in ('ship', 'ship_package', 'ship_exchange'):
			s['shipments'].append(v)
		elif name in ('request_return', 'request_exchange'):
			s['returns'].append(v)

	# -- set-up: real shops to work on -----------------------------------------

	def setup(self):
		g = self.gen
		for shop, cur_, loc, tz in SHOPS:
			self.call('create_shop', 'SELECT order_mgmt.create_shop(%s, %s, %s, %s, %s)',
					  [shop, 'Fuzz shop %d' % shop, cur_, loc, tz])
			s = g.shops[shop] = {'skus': [], 'customers': [], 'codes': [], 'orders': [], 'products': [],
								 'shipments': [], 'returns': [], 'lines': {}}
			if shop == 2:
				self.call('update_shop', 'SELECT order_mgmt.update_shop(%s, %s)',
						  [shop, '{"auto_cancel_failed": true, "reward_rate": 1, "reward_unit": "store_credit", "return_window": "14 days"}'])
			for i, (sku, price, extra) in enumerate([
					('A', '100', {}), ('B', '250.5', {'product_id': 'P1'}), ('B2', '250.5', {'product_id': 'P1'}),
					('HOT', '10', {'stock_buckets': 4}), ('BACK', '30', {'allow_backorder': True}),
					('DIG', '5', {'digital': True}), ('Q', '20', {'admission_queue': True})]):
				cols = ', '.join('%s => %%s' % k for k in extra)
				self.call('upsert_sku', 'SELECT order_mgmt.upsert_sku(%%s, %%s, %%s%s)' % (', ' + cols if cols else ''),
						  [shop, sku, price] + list(extra.values()))
				self.call('set_stock', 'SELECT order_mgmt.set_stock(%s, %s, %s)', [shop, sku, 1000 if sku != 'HOT' else 50])
				s['skus'].append(sku)
			s['products'] = ['P1']
			for c in ('c1', 'c2', 'c3'):
				self.call('upsert_customer', 'SELECT order_mgmt.upsert_customer(%s, %s, %s)', [shop, c, c + '@example.com'])
				s['customers'].append(c)
			self.call('grant_store_credit', 'SELECT order_mgmt.grant_store_credit(%s, %s, %s, %s)', [shop, 'c1', '500', 'fuzz'])
			for code, kind, value, lim in (('SAVE10', 'percent', '10', None), ('ONCE', 'fixed', '20', 1),
											('SHIPFREE', 'free_shipping', '0', None)):
				rows = self.call('create_promo', 'SELECT order_mgmt.create_promo(%s, %s, %s, %s, usage_limit => %s)',
								 [shop, code, kind, value, lim])
				s['codes'].append(code)
			self.call('register_consumer', 'SELECT order_mgmt.register_consumer(%s, %s)', [shop, 'c1'])
		print('fuzz: set-up done (%d shops), %d calls, %d violations' % (len(g.shops), self.calls, self.violations), flush=True)

	def check_verify(self):
		cur = self.conn.cursor()
		cur.execute('SELECT check_name, shop_id, detail FROM order_mgmt.verify()')
		rows = cur.fetchall()
		self.conn.commit()
		new = [row for row in rows if row not in self.seen_verify]
		for row in new:
			self.seen_verify.add(row)
			self.violation('verify(): %s shop %s: %s' % row, *self.last)
		return len(rows)

	def tick_clock(self):
		self.clock += self.rng.choice([60, 600, 1800, 3600, 86400, 3 * 86400, 15 * 86400])
		cur = self.conn.cursor()
		self.set_clock(cur)
		self.conn.commit()

	def run(self):
		started = time.time()
		self.setup()
		while self.calls < CALLS:
			if self.rng.random() < 0.01:
				self.tick_clock()
			self.fuzz_call()
			if self.calls % VERIFY_EVERY == 0:
				self.check_verify()
			if self.calls % 10000 == 0:
				print('fuzz: %d calls, %.0f s, %d violations' % (self.calls, time.time() - started, self.violations), flush=True)
		left = self.check_verify()
		elapsed = time.time() - started
		self.scan_log()
		untouched = sorted({f[0] for f in self.funcs} - set(self.reached))
		print('functions reached (calls that got past argument parsing / succeeded):')
		for f in sorted({f[0] for f in self.funcs}):
			print('   %-24s %6d %6d' % (f, self.reached.get(f, 0), self.ok.get(f, 0)))
		print('SQLSTATEs: ' + ' '.join('%s:%d' % kv for kv in sorted(self.sqlstates.items())))
		if untouched:
			print('never reached: ' + ' '.join(untouched))
		print('verify(): %d rows at the end' % left)
		print('fuzz: %d calls, %d functions, %d SQLSTATEs, %d violations, %.0f s (seed %d)' % (
			self.calls, len(self.reached), len(self.sqlstates), self.violations, elapsed, SEED), flush=True)
		return self.violations == 0

	def scan_log(self):
		if not SERVER_LOG:
			return
		try:
			with open(SERVER_LOG, errors='replace') as f:
				for line in f:
					if re.search(r'terminated by signal|PANIC:|was terminated by exception|TRAP:', line):
						self.violation('server log: ' + line.strip())
		except OSError as e:
			print('fuzz: cannot read the server log %s: %s' % (SERVER_LOG, e))


if __name__ == '__main__':
	sys.exit(0 if Fuzzer().run() else 1)
