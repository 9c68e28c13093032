# multilink — make help lists the targets.
GO        ?= go
BIN       := bin/multilink
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PKGS      := ./...

.PHONY: help build test test-host test-unit test-vm bench lint clean deps

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n", $$1, $$2}'

deps: ## install what builds and tests need (Debian/Ubuntu, as root)
	bash .ci/deps

build: ## build the static binary bin/multilink
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/multilink

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test-unit: ## unit tests only, no privileges needed (privileged tests skip)
	$(GO) test -count=1 $(PKGS)

test: lint build test-host test-vm ## every test: host kernel (unit + privileged, -race) and the kernel lab

test-host: ## unit and privileged tests on this host's kernel (as root), with -race
	$(GO) test -count=1 -race -timeout 15m $(PKGS)

test-vm: ## kernel lab: kernel tests and the end-to-end scenario on Debian 6.1 and 6.12 under QEMU
	$(GO) run ./cmd/multilink-lab $(LABFLAGS)

bench: ## benchmarks in the kernel lab (figures in docs/benchmarks.md)
	$(GO) run ./cmd/multilink-lab --packages ./e2e --run '^$$' --bench 'Blackout' $(LABFLAGS)

clean: ## remove build output
	rm -rf bin
