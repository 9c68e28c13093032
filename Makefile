# multilink — make help lists the targets.
GO        ?= go
BIN       := bin/multilink
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS      := ./...
IMAGE     ?= multilink:$(VERSION)

.PHONY: help build demo test test-host test-deb test-unit test-vm bench lint clean deps generate check-generate chart-lint docker docs check-docs screenshots deb

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n", $$1, $$2}'

deps: ## install what builds and tests need (Debian/Ubuntu, as root)
	bash .ci/deps

build: ## build the static binary bin/multilink
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/multilink

demo: build ## the whole system on this host (as root): hub and gateway in namespaces, a failover timeline
	$(BIN) demo $(DEMOFLAGS)

DEB_ARCHES ?= amd64 arm64
DIST       ?= dist

# One static binary per architecture (CGO_ENABLED=0 cross builds), each
# packaged by cmd/multilink-deb (nfpm as a library, pinned in go.mod) from
# packaging/nfpm.yaml. The Debian version comes from VERSION (git describe).
deb: ## build the Debian packages dist/multilink_<version>_<arch>.deb for amd64 and arm64 (DIST=, DEB_ARCHES=, VERSION=)
	@for arch in $(DEB_ARCHES); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/$$arch/multilink ./cmd/multilink || exit 1; \
	  $(GO) run ./cmd/multilink-deb --arch $$arch --binary $(DIST)/$$arch/multilink --version '$(VERSION)' --out $(DIST) || exit 1; \
	done

# The eBPF objects are generated with Debian bookworm's clang-14 (pinned by
# name in internal/bpf/gen.go); the multiarch dir holds asm/types.h.
generate: ## regenerate the committed eBPF objects and Go bindings (needs clang-14, llvm-14, libbpf-dev)
	BPF2GO_CFLAGS="-O2 -g -Wall -Werror -I/usr/include/$$(gcc -print-multiarch)" $(GO) generate ./internal/bpf

check-generate: generate ## fail if the committed eBPF objects differ from what make generate produces
	@git diff --exit-code --stat -- internal/bpf/ || { echo "internal/bpf/: committed objects are stale: run make generate and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- internal/bpf/); if [ -n "$$untracked" ]; then echo "internal/bpf/: not committed: $$untracked"; exit 1; fi

# The SVG depends on Graphviz's version and fonts: generated with Debian
# bookworm's graphviz (2.43) and its DejaVu fonts, as .ci/deps installs them.
docs: ## regenerate docs/topology.svg from docs/topology.dot (needs graphviz)
	dot -Tsvg docs/topology.dot -o docs/topology.svg

screenshots: build ## refresh docs/ui-gateway.png and docs/ui-hub.png: the web UI of a real hub and gateway in headless chromium (as root)
	MULTILINK_BIN=$(CURDIR)/$(BIN) MULTILINK_UI_SHOTS=$(CURDIR)/docs $(GO) test -count=1 -run '^TestWebUI$$' ./e2e

check-docs: docs ## fail if the committed docs/topology.svg differs from what make docs produces
	@git diff --exit-code --stat -- docs/topology.svg || { echo "docs/topology.svg is stale: run make docs and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- docs/topology.svg); if [ -n "$$untracked" ]; then echo "docs/: not committed: $$untracked"; exit 1; fi

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test-unit: ## unit tests only, no privileges needed (privileged tests skip)
	$(GO) test -count=1 $(PKGS)

test: lint check-generate build test-host test-deb test-vm ## every test: generated objects, host kernel (unit + privileged, -race), the Debian package, the kernel lab

test-host: ## unit and privileged tests on this host's kernel (as root), with -race; the package test runs in test-deb
	$(GO) test -count=1 -race -timeout 15m -skip '^TestDeb$$' $(PKGS)

# On its own, not beside the e2e tests: it cross-compiles, compresses and
# unpacks a Debian root, a load that stretched the failover engine's dead
# times under an e2e flood test running beside it (a false switch).
test-deb: ## the Debian package: make deb, then install, upgrade, remove and purge in a debootstrap root (as root)
	$(GO) test -count=1 -timeout 15m -run '^TestDeb$$' -v ./deploytest

test-vm: ## kernel lab: kernel tests and the end-to-end scenario on Debian 6.1 and 6.12 under QEMU
	$(GO) run ./cmd/multilink-lab $(LABFLAGS)

bench: ## benchmarks on this host and in the kernel lab (figures in docs/benchmarks.md; about an hour and a half: the probe throughput bench takes 50 minutes of it on the host)
	$(GO) test -v -run '^$$' -bench 'ProbeCost|ProbeThroughput|ProgramRun|TickFloor|Failover|Load|Idle|Footprint' -benchtime 1x -timeout 90m ./internal/probe ./e2e
	$(GO) run ./cmd/multilink-lab --packages ./internal/probe,./e2e --run '^$$' --bench 'ProbeCost|Failover' --timeout 60m $(LABFLAGS)

chart-lint: ## helm lint and template both charts (default and ci/ values) and check the rendered objects
	$(GO) test -count=1 -run 'TestCharts' ./deploytest

docker: ## build the container image (IMAGE=multilink:<version>; needs a Docker engine)
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

clean: ## remove build output
	rm -rf bin dist
