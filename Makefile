# order_mgmt: PGXS build.  See README.md for the two commands (demo, tests).

EXTENSION  = order_mgmt
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = order_mgmt
OBJS = \
	src/order_mgmt.o \
	src/context.o \
	src/clock.o \
	src/money.o \
	src/icu.o \
	src/spi_plans.o \
	src/rls.o \
	src/sort_merge.o \
	src/check_cache.o \
	src/machines.o \
	src/events.o \
	src/outbox.o \
	src/lines.o \
	src/order_row.o \
	src/due_action.o \
	src/order_lock.o \
	src/shop.o \
	src/reservation.o \
	src/promo.o \
	src/store_credit.o \
	src/automation.o \
	src/cod.o \
	src/order_guard.o \
	src/order_effects.o \
	src/keep_referenced.o \
	src/citus_lock_step.o \
	src/sweep_batch.o \
	src/sweep_set.o \
	src/sweep.o \
	src/sweeper.o \
	src/inventory.o \
	src/hot_sku.o \
	src/checkout.o \
	src/order_edit.o \
	src/order_api.o \
	src/fulfilment.o \
	src/shipment.o \
	src/customer_cancel.o \
	src/returns.o \
	src/address.o \
	src/erasure.o \
	src/payment.o \
	src/labels.o \
	src/verify.o

# The current version's install script is assembled from the concern-split
# files in src/sql/, so a fresh install does not replay history.  A released
# version's install script is frozen at the top level, committed and never
# edited again; every schema change after it goes into src/sql/ AND into the
# upgrade script order_mgmt--<from>--<to>.sql, and test/t/004_upgrade.pl
# checks that the two give the same schema (STYLE.md, convention 1).
RELEASED = 0.1.0
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(foreach v,$(RELEASED),$(EXTENSION)--$(v).sql) \
	$(wildcard $(EXTENSION)--*--*.sql)
ifneq ($(filter $(EXTVERSION),$(RELEASED)),)
$(error default_version $(EXTVERSION) in $(EXTENSION).control is released: its install script $(EXTENSION)--$(EXTVERSION).sql is frozen and must not be rebuilt from src/sql/; set default_version to the next version)
endif

REGRESS = install clock transitions cross_rules history setup stock checkout promo cancel_reactivate payments deadlines sweep_backoff sweep_shop payment_due fulfilment customer_cancel automation returns icu reports security coherence bulk_update verify verify_checks outbox no_advisory_locks seeds seed_001_packages seed_001_returns seed_001_store_credit seed_003_edit seed_003_address seed_003_promo_scope rls hot_sku lean_keys move_shop
ISOLATION = outbox_skips order_race last_unit single_use_code cancel_vs_payment reactivate_vs_checkout sweepers stock_vs_checkout opposite_skus notify_events idempotency customer_cancel_vs_ship exchange_race automation_vs_refund per_customer_limit outbox_order hot_buckets sweep_batch sweep_set stale_save sweep_starvation bulk_cancel no_advisory_locks package_race store_credit_race edit_race erase_race return_vanishes hot_split hot_merge payment_due_race
ISOLATION_OPTS = --inputdir=test
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = test/output_iso

# -Werror by default: CI and the README's test command build warning-free.
# Set WERROR= to build with a compiler that warns about PostgreSQL's headers.
WERROR ?= -Werror
PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wmissing-prototypes $(WERROR)

ICU_CFLAGS ?= $(shell pkg-config --cflags icu-uc icu-i18n)
ICU_LIBS   ?= $(shell pkg-config --libs icu-uc icu-i18n)
PG_CPPFLAGS += -Isrc $(ICU_CFLAGS)
SHLIB_LINK += $(ICU_LIBS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# after the include: Makefile.global resets it
PROVE_FLAGS = --verbose

ifneq ($(with_icu),yes)
$(error order_mgmt needs a PostgreSQL server built with ICU (configure --with-icu))
endif
ifeq ($(ICU_LIBS),)
$(error ICU not found: install libicu-dev (pkg-config icu-uc icu-i18n))
endif

$(DATA_built): $(SQL_PARTS) $(EXTENSION).control
	cat $(SQL_PARTS) > $@

$(OBJS): $(wildcard src/*.h)

# The benchmark suite (docs/performance.md): as root on a fresh machine;
# about an hour.  "make bench-smoke" runs it in seconds.
.PHONY: bench bench-smoke
bench:
	bash test/bench/bench.sh
bench-smoke:
	bash test/bench/bench.sh --smoke

# Issue 21's decision run (docs/performance.md, "Issue 21: lean writes, the
# decision run"): as root; about 17 minutes.  "make bench-lean-smoke" runs
# it in seconds and checks only consistency.
.PHONY: bench-lean bench-lean-smoke
bench-lean:
	bash test/bench/lean.sh
bench-lean-smoke:
	bash test/bench/lean.sh --smoke

# PGXN (docs/packaging.md): META.json is made from the control file,
# debian/pgversions and CHANGELOG.md by tools/meta_json.sh and committed;
# "make dist" zips the committed tree (git archive) for PGXN, and refuses
# when META.json is not what the sources say.
META.json: $(EXTENSION).control debian/pgversions CHANGELOG.md tools/meta_json.sh
	sh tools/meta_json.sh > $@.tmp && mv $@.tmp $@
	sh tools/check_meta.sh $@

DISTDIR ?= .
.PHONY: dist
dist: META.json
	@git diff --quiet HEAD -- META.json || { echo "META.json is not what is committed: commit it, then make dist" >&2; exit 1; }
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(DISTDIR)/$(EXTENSION)-$(EXTVERSION).zip HEAD

# The regression and isolation suites once under valgrind's memcheck, on a
# throwaway cluster (test/valgrind.sh, docs/testing.md): about half an hour
# on 2 cores, not in CI.  Installs into PG_CONFIG's tree first: point
# PG_CONFIG at a private copy of PostgreSQL on a shared machine.
.PHONY: valgrind
valgrind: install
	PG_CONFIG=$(PG_CONFIG) REGRESS="$(REGRESS)" ISOLATION="$(ISOLATION)" bash test/valgrind.sh
