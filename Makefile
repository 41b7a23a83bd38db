# iox2go — make targets. `make demo` and `make test` are all a new machine needs.
GO      ?= go
IDL     := $(wildcard examples/idl/*.idl)

.PHONY: all build demo test test-short stress generate regenerate check-generated bench fuzz vet clean-shm tools clib conformance

all: build

build:
	CGO_ENABLED=0 $(GO) build ./...

# Generate code from the example IDL, then run each pattern's example in
# separate processes: in Go, in C next to Go, and across two domains joined
# by their gateways over a NATS server.
demo: generate
	$(GO) run ./examples/demo

# The tag of this run: every shared-memory file the tests make carries it
# (internal/testrun), and shm-guard.sh checks this run's files only.
ifeq ($(origin IOX2GO_TEST_RUN),undefined)
IOX2GO_TEST_RUN := r$(shell od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
endif
export IOX2GO_TEST_RUN

# The whole test suite: unit, golden, cross-language, multi-process, crash,
# and the conformance suite of the Go and the C implementation
# (conformance/: its tests build the C library and peers themselves, once
# more with -fsanitize=address,undefined, and fuzz the C static-config
# parser).
test: tools clib
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -count=1 -race -timeout 10m ./runtime/ring/... ./runtime/shm/...
	$(GO) test -count=1 -race -timeout 10m -run 'InProcess|Concurrent|Publish|Overflow' ./runtime/
	@sh .ci/fuzz.sh
	@sh .ci/shm-guard.sh

test-short:
	$(GO) test -short ./...

# The long forms of the stress tests (IOX2GO_STRESS=1), e.g. 2,000 senders
# killed right after their last send with every core busy.
stress:
	IOX2GO_STRESS=1 $(GO) test -count=1 -timeout 30m -run 'Stress' ./runtime/

# The C library (lang/c/build/libiox2go.a), with -Wall -Wextra -Werror.
# Without a C compiler it says so and the C tests skip.
clib:
	@if command -v $${CC:-gcc} >/dev/null 2>&1 && command -v make >/dev/null 2>&1; then \
		$(MAKE) -C lang/c; \
	else \
		echo "clib: no C compiler ($${CC:-gcc}) or make: the C library is not built, its tests skip"; \
	fi

# The conformance suite alone: every scenario with every pairing of the Go
# and the C implementation, the sanitized run and the parser's fuzzing.
# It prints the verdict of every scenario and pairing.
conformance: tools
	@log=$$(mktemp "$${TMPDIR:-/tmp}/iox2go-conformance.XXXXXX"); \
	$(GO) test -count=1 -v -timeout 10m ./conformance/ >"$$log" 2>&1; status=$$?; \
	grep -E '^ *--- |^(ok|FAIL)|_test.go:' "$$log"; rm -f "$$log"; exit $$status

# Report what the cross-language tests need, and install it where we can.
tools:
	@sh .ci/tools.sh

# go generate runs iox2gen over the example IDL (see examples/gen/*/doc.go).
generate:
	$(GO) generate ./examples/gen/...

regenerate: generate
	$(GO) test ./idl/... ./templates/... ./cmd/iox2gen/... -update

# Fails when the committed generated code differs from what iox2gen produces now.
check-generated:
	$(GO) test -count=1 -run 'TestGeneratedUpToDate' ./examples/gen/...

bench:
	$(GO) run ./bench -out docs/bench

# Every fuzz target for FUZZTIME (default 3s; make test runs this too).
fuzz:
	@sh .ci/fuzz.sh
