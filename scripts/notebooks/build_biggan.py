"""Writes notebooks/biggan.ipynb (run: python scripts/notebooks/build_biggan.py notebooks/biggan.ipynb).

The notebook is generated so that every cell stays short and outputs are never committed; edit this file, rebuild,
and the tests check the result (tests/test_notebooks.py).
"""
import sys

from nbbuild import NotebookBuilder

nb = NotebookBuilder()
md, code = nb.md, nb.code

md(r"""
# BigGAN: Large Scale GAN Training for High Fidelity Natural Image Synthesis
*Brock, Donahue, Simonyan, ICLR 2019* (text: `../shared/papers/biggan-brock2019.txt`; facts with section
references, including the values the text extraction lost: `papers/biggan/paper.yaml`)

This notebook walks through the paper and trains a **class-conditional BigGAN** with gancore. At the default
`scale = "reduced"` it learns the 8 classes of the embedded *shapes* dataset at 32×32 in a few minutes on a laptop
CPU, then studies the truncation trick, per-class accuracy and the paper's ablation claims. The same notebook runs
the paper's configurations on a GPU node through papermill:

```bash
papermill notebooks/biggan.ipynb runs/biggan-in128.ipynb -p scale full -p data_dir /data/imagenet/train -p device cuda \
    -y 'overrides: {extractor: inception, inception_weights: /w/pt_inception-2015-12-05.pth}'
papermill notebooks/biggan.ipynb runs/biggan-deep.ipynb -p scale full -p preset deep128 -p data_dir /data/imagenet/train
papermill notebooks/biggan.ipynb runs/biggan-row4.ipynb -p scale full -p table1_row 4 -p data_dir /data/imagenet/train
papermill notebooks/biggan.ipynb runs/biggan-cifar.ipynb -p scale full -p preset cifar10 -p data_dir /data/cifar10
```
Re-running with the same `out_dir` resumes from the last good checkpoint.
`papermill --help-notebook notebooks/biggan.ipynb` lists the parameters; any other config field goes in `overrides`.
""")
code('''
scale: str = "reduced"              # smoke | reduced | full
preset: str = ""                    # full: "" (ImageNet 128), imagenet256, imagenet512, deep128, cifar10; reduced: "", classes
dataset: "Optional[str]" = None     # shapes | cifar10 | folder (None: the preset's choice; smoke/reduced use shapes)
data_dir: "Optional[str]" = None    # CIFAR-10 folder, or an image folder with one subfolder per class (ImageNet)
out_dir: "Optional[str]" = None     # run folder (None: runs/biggan-<scale>[-<preset>])
seed: int = 0                       # seeds init, data order, latents and every other random draw
device: str = "auto"                # auto (CUDA, MPS, CPU) | cpu | cuda | mps
dry_run: bool = False               # build everything, write config.json + summary.json, train nothing
table1_row: int = -1                # Table 1 row 0–8: shared/hier/ortho (+ batch, ch at full scale); -1: preset
run_claims: bool = True             # run the short Table 1 column runs that fill the claims table
explore: str = "run"                # widgets' model: run (this notebook's) | reference (shipped, trained 2.3× longer)
pretrained: "Optional[str]" = None  # optional converted BigGAN-deep release file (biggan-deep-128/256/512) for the widgets
overrides: dict = {}                # any other config field, e.g. {"total_kimg": 40, "r1_gamma": 10.0, "arch": "deep"}
''', tags=["parameters"])
code('''
# Parameters are checked here: papermill only warns about unknown names, gancore refuses them.
from IPython.display import display
from gancore import viz
from gancore.notebook import resolve_notebook_params
from gancore.recipes import biggan
from gancore.recipes.biggan.config import BigGANConfig

_PARAMS = ["scale", "preset", "dataset", "data_dir", "out_dir", "seed", "device", "dry_run", "table1_row",
           "run_claims", "explore", "pretrained", "overrides"]
cfg, nb_opts = resolve_notebook_params(BigGANConfig, paper="biggan", namespace=globals(), declared=_PARAMS,
                                       notebook_only=("explore", "pretrained"))
print(f"scale={cfg.scale} preset={cfg.preset!r} arch={cfg.arch} resolution={cfg.resolution} ch={cfg.ch} "
      f"batch={cfg.batch_size} (×{cfg.accumulate} micro-batches) device={cfg.device}\\nrun folder: {cfg.out_dir}")
''')
md(r"""
Before anything trains, a few training steps of this run's own networks are timed at every resolution it visits:
the line below is how long training should take **on this machine** (evaluation adds to it). The presets were
sized on a CPU with bf16 units; on one without, the reduced run takes several times longer, and the progress bars
show the live ETA.
""")
code('''
from gancore import estimate
if estimate.worth_estimating(cfg):
    print(biggan.estimate(cfg, claims=nb_opts["run_claims"]).text)
''')
md(r"""
## 1. Class-conditional data
BigGAN is a *class-conditional* GAN: G(z, y) draws an image of class y, and D judges image–class pairs. At smoke
and reduced scale the classes are the 8 shapes of gancore's procedural dataset (random colour, size, position,
rotation and background, generated from the seed; nothing downloads). At full scale the classes are ImageNet's 1000
folders. One row per class:
""")
code('''
data = biggan.build_data(cfg)
if data is not None:
    display(biggan.class_rows_figure(data, per_class=8))
''')
md(r"""
## 2. Networks (§3, App. B) and Table 1's parameter counts
* **ResNet G and D** from SAGAN/SN-GAN, with **spectral norm in both** (ε = 1e-4) and **orthogonal init** (App. C).
* **Class-conditional BatchNorm** in G: per-sample gains (one-centred) and biases (zero-centred) are linear
  projections of one **shared class embedding** instead of separate embedding tables per layer (§3: −37% steps).
* **Hierarchical z**: z is split into one chunk for the input layer and one per block; each block's chunk is
  concatenated to the class embedding before the projections (§3: a further −18% steps).
* A **projection discriminator** (Miyato & Koyama): D's score adds ⟨embed(y), features(x)⟩.
* **Self-attention** (SAGAN) at one resolution (64×64 at 128²), in G and D.

Table 1's `shared` and `hier` columns are switches (`shared`, `hier`, or a whole `table1_row`). Below, this run's
networks and the parameter counts of Table 1's 128×128 models, built by gancore (on the meta device: no memory).
""")
code('''
display(viz.plot_table(biggan.architecture_table(cfg, num_classes=data.num_classes if data is not None else 1000),
                       title="this run's G and D", styled=True))
display(viz.plot_table(biggan.table1_param_check(), title="Table 1 (128×128, ImageNet) vs gancore", styled=True))
''')
md(r"""
## 3. Training (App. B, App. C)
Hinge loss, **two D steps per G step**, Adam with β1 = 0, β2 = 0.999 and lr 2e-4 (D) / 5e-5 (G); the paper's
batch of 2048 comes from **gradient accumulation** over micro-batches. G's weights are averaged (EMA 0.9999, from
`ema_start_kimg`), and every sample and metric uses that average. **Orthogonal regularization** β‖WᵀW ⊙ (1 − I)‖²_F
(β = 1e-4, §3.1) keeps G's filters decorrelated; `r1_gamma` adds §4.2's zero-centred R1 penalty on D. Under DDP,
G's BatchNorms become SyncBatchNorm (App. C's cross-replica BN). The loop checkpoints atomically and resumes
exactly; the reduced preset's deviations (smaller nets, faster rates) are listed in `papers/biggan/reduced.yaml`.
""")
code('''
result = biggan.run(cfg, data=data)
trained = result.summary["status"] != "dry_run"
display(viz.summary_table({k: result.summary.get(k) for k in ("status", "kimg", "iterations_done",
                                                               "train_seconds", "img_per_s", "params")},
                          title="this run"))
''')
md(r"""
## 4. Losses and the §4.1 spectra
§4.1 tracks the top three singular values σ0, σ1, σ2 of every weight (before spectral normalization). At collapse
G's first-layer σ0 explodes and D's spectra jump; gancore logs them every `sv_every_kimg` and warns
(`CollapseWarning`) on a σ0 explosion or a collapsing D loss.
""")
code('''
if trained:
    log = result.log()
    train_rows = [r for r in log if r.get("kind") == "train"]
    display(viz.plot_metric_curves(train_rows, x="kimg", metrics=["loss_d", "loss_g"], title="hinge losses"))
    display(viz.plot_metric_curves(train_rows, x="kimg", metrics=["d_real", "d_fake"], title="D's mean scores"))
    if any(r.get("kind") == "spectral" for r in log):
        display(viz.plot_singular_values(log, net="G"))
        display(viz.plot_singular_values(log, net="D"))
''')
md(r"""
## 5. Samples with standing statistics (App. C.1)
G's BatchNorm statistics are re-estimated for the EMA weights by running G many times in training mode and
averaging the batch statistics (*standing statistics*; "typically 100" passes). Samples then no longer depend on
the batch they are drawn in. Each column is one class, each row one latent.
""")
code('''
if trained:
    G_sample = result.sampling_G()
    display(biggan.class_grid_figure(G_sample, class_names=data.class_names, per_class=6, seed=cfg.seed + 99))
    init_fid, fid = result.summary["initial"].get("fid"), result.summary["final"].get("fid")
    if init_fid is not None and fid is not None:
        print(f"FID (shapes features): untrained G {init_fid:.2f} → trained {fid:.2f} (ratio {fid / init_fid:.2f})")
''')
md(r"""
## 6. The truncation trick (§3.1, Fig. 2(a), Fig. 16)
G is trained on z ~ N(0, I), but sampled from a **truncated normal**: every element with |z| above a threshold is
*resampled* (not clipped, not scaled) until it falls inside. Lower thresholds move samples towards the mode of G's
output: fidelity (IS) rises and variety falls, so FID first improves a little, then worsens sharply. Each point
below has its own standing statistics; the strip shows one latent per row at decreasing thresholds.
""")
code('''
sweep = result.summary.get("final", {}).get("truncation_sweep", []) if trained else []
if sweep:
    display(viz.plot_table(sweep, title="truncation sweep (None = untruncated)", styled=True))
    display(viz.plot_truncation_curve(sweep))
if trained:
    strip = biggan.render_truncation_strip(G_sample, seed=cfg.seed, label=0, n_per=4,
                                            thresholds=(None, 2.0, 1.0, 0.5, 0.25, 0.04))
    display(viz.show_grid(strip, nrow=6, title=f"{data.class_names[0]}; columns: untruncated, τ = 2, 1, 0.5, 0.25, 0.04"))
''')
md(r"""
## 7. Does G draw the class it is asked for?
The shipped shapes classifier (99.9% accurate on real shapes) labels generated samples of every class. Rows of the
confusion matrix are the conditioned class: off-diagonal mass is **class leakage** (§5.1, Fig. 4(d)); a class whose
samples barely vary is flagged as **collapsed** (App. H).

The 6-minute reduced run stops while accuracy is still climbing fast (measured on the same settings: 32% after 3.1k
iterations, 57% after 4.1k, 80% after 6.1k). `-p preset classes` trains the same model for 8,000 iterations
(13 minutes of training on one CPU thread): it measured 85.4% class-correct, with shapes-FID 4.4.
""")
code('''
acc = result.summary.get("final", {}).get("class_accuracy") if trained else None
if acc:
    display(viz.plot_class_accuracy(acc, class_names=data.class_names))
    flagged = [data.class_names[c] for c in acc.get("flagged") or []]
    print(f"class accuracy {acc['accuracy']:.1%}; flagged classes: {', '.join(flagged) or 'none'}")
''')
md(r"""
## 8. Explore: truncation, class picker, latent and class interpolation
Pick a class and a seed, move the truncation slider, interpolate between two latents (slerp), or keep z fixed and
interpolate the **class embeddings** (App. A, Fig. 9). Static strips are always drawn; in JupyterLab the widget is
live. Pass `-p pretrained /path/biggan-deep-128/pytorch_model.bin` to explore the converted ImageNet BigGAN-deep
release with the same widgets (section 9).

`-p explore reference` explores the **reference model** that ships with gancore instead of this run's: the same
reduced networks trained for 8,000 iterations by `scripts/train_reference.py biggan` (its command, config, log and
metrics ship beside the weights, which are checked against their SHA-256 and loaded with `weights_only=True`). The
claims table below always comes from this notebook's own run.
""")
code('''
from gancore import references
ex = references.explorable("biggan", explore=nb_opts["explore"], run_G=G_sample if trained else None, run_cfg=cfg,
                           class_names=data.class_names if data is not None else None)
if ex is not None:
    print(ex.label)
    # label_b defaults to the next class, which exists for any class-conditional dataset (>= 2 classes)
    panel = biggan.biggan_widget_panel(ex.G, class_names=ex.class_names, seed=cfg.seed, label=1)
    display(panel.truncation, panel.latent_interpolation, panel.class_interpolation)
    if panel.widget is not None:
        display(panel.widget)
''')
md(r"""
## 9. Real ImageNet weights (optional)
gancore's BigGAN-deep loads the state dicts of the widely used converted release (`biggan-deep-128/256/512`,
converted from TF Hub) exactly, including its per-truncation BatchNorm statistics. Nothing downloads: give the file
you have with `-p pretrained PATH`.
""")
code('''
if nb_opts.get("pretrained"):
    from gancore.models.biggan_pretrained import load_converted_biggan_deep
    G_in = load_converted_biggan_deep(nb_opts["pretrained"], truncation=0.4)
    in_panel = biggan.biggan_widget_panel(G_in, class_names=[str(i) for i in range(1000)], label=207,
                                           label_b=1, truncation=0.4)
    display(in_panel.truncation, in_panel.class_interpolation)
    if in_panel.widget is not None:
        display(in_panel.widget)
''')
md(r"""
## 10. Claims: paper vs this run
Short side runs (each a full, resumable run under `out_dir/claims/`) train Table 1's conditioning columns for the
same number of **steps** (as Table 1 compares them, so the comparison means the same on every machine): *plain*
(per-layer class embeddings, one z), *shared + hier*, and *shared + hier + ortho* (the paper's model), each over
`claims_seeds` seeds. A verdict is *holds* or *does not hold* only when the difference exceeds its noise band:
the seed-to-seed spread of the columns, the IS split spread for the truncation trade-off (the main run's sweep), the
binomial 95% band of the class accuracy around the 80% bar. A smaller difference is *within noise*, and a
comparison that could not be made is *not tested*, with the reason.
""")
code('''
claims = []
if trained and nb_opts["run_claims"]:
    claim_results = biggan.claim_experiments(cfg, data=data)
    claims = biggan.claims_table(result.summary, claim_results)
    biggan.update_summary(cfg.out_dir, claims=claims, claim_runs=claim_results)
    display(viz.plot_table(claims, title="BigGAN claims at this scale", styled=True))
''')
md(r"""
## 11. Run summary
`summary.json` in the run folder holds the parameter counts, the final metrics (untruncated FID/IS/KID, the
truncation sweep, per-class accuracy), the untrained-G baseline and the claims table; `config.json` is the fully
resolved config and `log.jsonl` the training log, spectra included.
""")
code('''
summary = biggan.update_summary(cfg.out_dir)
display(viz.summary_table({k: summary.get(k) for k in ("status", "kimg", "params")},
                          title=f"{cfg.out_dir}/summary.json"))
''')
nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/biggan.ipynb")
