"""Writes notebooks/progan.ipynb (run: python scripts/notebooks/build_progan.py notebooks/progan.ipynb).

The notebook is generated so that every cell stays short and outputs are never committed; edit this file, rebuild,
and the tests check the result (tests/test_notebooks.py).
"""
import sys

from nbbuild import NotebookBuilder

nb = NotebookBuilder()
md, code = nb.md, nb.code

md(r"""
# ProGAN: Progressive Growing of GANs for Improved Quality, Stability, and Variation
*Karras, Aila, Laine, Lehtinen, ICLR 2018* (text: `../shared/papers/progan-karras2018.txt`; facts with section
references: `papers/progan/paper.yaml`)

This notebook walks through the paper section by section and trains it with **gancore**. At the default
`scale = "reduced"` it grows a generator from 4×4 to 32×32 on the embedded procedural *shapes* dataset in a few
minutes on a laptop CPU. The same notebook runs the paper's full configurations on a GPU node through papermill:

```bash
papermill notebooks/progan.ipynb runs/progan-celebahq.ipynb -p scale full -p data_dir /data/celebahq1024 -p device cuda
papermill notebooks/progan.ipynb runs/progan-cifar.ipynb -p scale full -p preset cifar10-gamma750 -p data_dir /data/cifar10
papermill notebooks/progan.ipynb runs/progan-row-a.ipynb -p ablation a     # Table 1 row (a) at reduced scale
```
Re-running with the same `out_dir` resumes from the last good checkpoint.
`papermill --help-notebook notebooks/progan.ipynb` lists the parameters; any other config field goes in `overrides`.
""")
code('''
scale: str = "reduced"            # smoke | reduced | full
preset: str = ""                  # variant of the scale; full: "" (CelebA-HQ 1024), "lsun256", "cifar10", "cifar10-gamma750"
dataset: "Optional[str]" = None   # shapes | cifar10 | folder (None: the preset's choice; smoke/reduced use shapes)
data_dir: "Optional[str]" = None  # folder holding CIFAR-10 or images (for cifar10/folder)
out_dir: "Optional[str]" = None   # run folder (None: runs/progan-<scale>[-<preset>][-row-<ablation>])
seed: int = 0                     # seeds init, data order, latents and every other random draw
device: str = "auto"              # auto (CUDA, MPS, CPU) | cpu | cuda | mps
dry_run: bool = False             # build everything, write config.json + summary.json, train nothing
ablation: str = ""                # Table 1 row: "" (the paper's final method) | a | b | c | d | e* | e | f | g | h
run_claims: bool = True           # run the short comparison runs that fill the claims table
explore: str = "run"              # model of the widgets: run (this notebook's) | reference (shipped, trained 4× longer)
overrides: dict = {}              # any other config field, e.g. {"total_kimg": 20, "inception_weights": "/w/pt_inception.pth"}
''', tags=["parameters"])
code('''
# Parameters are checked here: papermill only warns about unknown names, gancore refuses them.
from IPython.display import display
from gancore import viz, widgets
from gancore.notebook import resolve_notebook_params
from gancore.recipes import progan
from gancore.recipes.progan.config import ProGANConfig

_PARAMS = ["scale", "preset", "dataset", "data_dir", "out_dir", "seed", "device", "dry_run", "ablation",
           "run_claims", "explore", "overrides"]
cfg, nb_opts = resolve_notebook_params(ProGANConfig, paper="progan", namespace=globals(), declared=_PARAMS,
                                       notebook_only=("explore",))
print(f"scale={cfg.scale} preset={cfg.preset!r} ablation={cfg.ablation!r} dataset={cfg.dataset} "
      f"resolution={cfg.resolution} device={cfg.device}\\nrun folder: {cfg.out_dir}")
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
    print(progan.estimate(cfg, claims=nb_opts["run_claims"]).text)
''')
md(r"""
## 1. Data, at every resolution
The smoke and reduced scales use gancore's procedural **shapes** dataset: one anti-aliased shape per image (its
class), with random colour, size, position, rotation and background, generated from the seed (nothing downloads).
Progressive growing needs the real images at every resolution from 4×4 up, so gancore keeps a **uint8
multi-resolution cache** made by 2×2 average pooling, the same downsampling that D uses (App. A.1).
""")
code('''
data = progan.build_data(cfg)
if data is not None:
    display(progan.pyramid_figure(data, n=8))
''')
md(r"""
## 2. Progressive growing (§2, Fig. 1–2, App. A.1)
G and D start at 4×4 and grow in synchrony. Each new resolution is **faded in**: its block acts like a residual
branch whose weight α rises linearly from 0 to 1, while the old path is upsampled (G) or downsampled (D). During the
fade, the real images are blended between the two resolutions in the same way, so D never sees sharper reals than
G can produce. Phases are measured in real images shown to D (kimg): 600k each at 1024², 800k below (App. A.2);
our reduced run uses a few kimg per phase. The minibatch size is set per resolution (16 up to 128², then 14, 6, 3).
""")
code('''
schedule = progan.build_schedule(cfg)
display(viz.plot_table(schedule.to_list(), title="growth schedule (phases as data)", styled=True))
display(viz.plot_metric_curves(progan.schedule_curve(schedule), x="kimg", metrics=["alpha"],
                               vlines=schedule.growth_points_kimg(), title="planned fade-in α"))
''')
md(r"""
## 3. Networks (§3, §4, App. A.1, Table 2)
* **Equalized learning rate (§4.1)**: weights start as N(0, 1) and are scaled at run time by He's constant, so
  Adam's update size is the same for every layer.
* **Pixelwise normalization (§4.2)** after every 3×3 conv of G: each pixel's feature vector has unit mean square.
* **Minibatch standard deviation (§3)** at 4×4 near the end of D: one extra feature map carrying the average
  std-dev over groups of 4 samples, which lets D see variation and pushes G towards it.
* Nearest-neighbour upsampling and 2×2 average pooling; latents on the hypersphere (PixelNorm on z).

Below, the parameters per resolution of this run's networks, then the 1024² networks of Table 2 (23.1M each).
""")
code('''
G, D = progan.build_networks(cfg)
display(viz.plot_table(progan.architecture_table(G, D).to_dict("records"), title="this run's G and D", styled=True))
display(viz.plot_table(progan.table2_check(), title="Table 2 (1024², CelebA-HQ) vs gancore", styled=True))
del G, D
''')
md(r"""
## 4. Training (App. A.1)
WGAN-GP (λ = 10) with the drift term ε_drift·E[D(x)²], ε_drift = 0.001, one D step per G step, Adam(lr = 0.001,
β1 = 0, β2 = 0.99, ε = 1e-8), and an exponential moving average of G's weights (0.999) used for every sample and
metric. The loop checkpoints atomically, logs to `log.jsonl`, stops with a clear error on NaN/Inf, and resumes
exactly (weights, optimizers, EMA, data position, RNG, growth stage and α) when re-run on the same folder.
""")
code('''
result = progan.run(cfg, data=data)
trained = result.summary["status"] != "dry_run"
display(viz.summary_table({k: result.summary.get(k) for k in ("status", "kimg", "train_seconds", "img_per_s",
                                                               "params")}, title="this run"))
''')
md(r"""
## 5. Growth in pictures
The EMA generator on fixed latents at the end of every phase: blobs of colour at 4×4, then finer structure as the
resolution doubles. `fade` phases end with the new block fully faded in. (At reduced scale the shapes stay soft blobs
after 36 kimg; the critic probe in §8 shows why. The paper trains 800k images per phase. Ten times this budget,
`-y 'overrides: {batch_size: 32, stabilize_kimg: 60, fade_kimg: 40}'`, 360 kimg in about 13 minutes of training on a
2-core CPU, gives flat shapes with sharp edges, some of them rings, triangles and squares.)
""")
code('''
if trained:
    display(progan.growth_figure(result.out_dir))
''')
md(r"""
## 6. The α schedule as it ran
α from the training log, with the growth points (dashed): it rises linearly during each fade and stays at 1 while
the networks stabilize.
""")
code('''
if trained:
    log = result.log()
    train_rows = [r for r in log if r.get("kind") == "train"]
    display(viz.plot_metric_curves(train_rows, x="kimg", metrics=["alpha"], vlines=schedule.growth_points_kimg(),
                                   title="fade-in α over training"))
    display(viz.plot_metric_curves(train_rows, x="kimg", metrics=["loss_d", "loss_g"], title="WGAN-GP losses"))
''')
md(r"""
## 7. Sliced Wasserstein distance per pyramid level (§5) and MS-SSIM
SWD compares 7×7×3 patches (128 per image per level, normalized per colour channel) of generated and real images
on every level of a Laplacian pyramid from 16×16 up, using 512 random projections. Low levels measure large-scale
structure, the finest level edges and noise. Like Fig. 4(b), each level's curve should settle as its resolution is
reached. Values are ×10³ as in Table 1. MS-SSIM among generated pairs measures variation only (§6.1).
""")
code('''
if trained:
    metric_rows = [r for r in log if r.get("kind") == "metric"]
    swd_keys = sorted({k for r in metric_rows for k in r if k.startswith("swd") and k != "swd_avg"},
                      key=lambda k: int(k[3:]))
    if metric_rows:
        display(viz.plot_metric_curves(metric_rows, x="kimg", metrics=swd_keys, var_name="level",
                                       vlines=schedule.growth_points_kimg(), title="SWD ×10³ per level"))
    final = result.summary["final"]
    display(viz.summary_table(final, title="final metrics of the EMA generator"))
''')
md(r"""
## 8. Final samples and FID against the untrained generator
FID/IS/KID use the shipped shapes classifier as the feature network at reduced scale (pass `inception_weights` for
Inception on real data). The untrained G is the yardstick: training must at least halve its FID.
""")
code('''
if trained:
    samples = progan.generate_uint8(result.G_ema, n=64, latent_dim=cfg.latent_dim, resolution=cfg.resolution,
                                    seed=cfg.seed + 99, device=result.method.device)
    display(viz.show_grid(samples, nrow=16, title=f"EMA generator, {result.summary['kimg']:.1f} kimg"))
    init_fid, fid = result.summary["initial"].get("fid"), result.summary["final"].get("fid")
    if init_fid is not None and fid is not None:
        print(f"FID (shapes features): untrained G {init_fid:.2f} → trained {fid:.2f} "
              f"(ratio {fid / init_fid:.2f}; the reduced-scale bar is ≤ 0.5)")
''')
md(r"""
### What the critic has learned
G only learns what D can tell apart. The trained critic scores the reals, three degradations of them and G's
samples; `gap to reals` is each mean score minus the reals' mean (WGAN scores have no fixed scale, so compare gaps
within this table). A gap near zero for the blurred reals next to a clearly negative gap for the samples means D
separates fakes by colour and layout but not yet by edges, so nothing pushes G towards sharp shapes. Short runs end
there; the paper trains 800k images per phase.
""")
code('''
if trained:
    probe = progan.critic_probe(result)
    display(viz.plot_table(probe, title="critic scores at the final resolution (higher = judged more real)",
                           styled=True))
''')
md(r"""
## 9. Latent space: interpolation and the video's latent walk
Latents live on the hypersphere, so interpolation is spherical (slerp). The paper's video draws i.i.d. latents per
frame, blurs them over time with a Gaussian (σ = 45 frames at 60 Hz) and re-normalizes them to the hypersphere
(§6.2). The static strips below are always drawn; in JupyterLab the widget lets you pick seeds and scrub t.

A few CPU minutes draw blobs, which makes dull interpolations. `-p explore reference` explores the **reference
model** that ships with gancore instead: the same reduced networks trained 4× longer by
`scripts/train_reference.py progan` (its command, config, log and metrics ship beside the weights, which are
checked against their SHA-256 and loaded with `weights_only=True`). The claims table below always comes from this
notebook's own run.
""")
code('''
from gancore import references
ex = references.explorable("progan", explore=nb_opts["explore"], run_G=result.G_ema if trained else None, run_cfg=cfg)
if ex is not None:
    print(ex.label)
    gen_kwargs = {"resolution": ex.resolution}
    fig, widget = widgets.latent_interpolation_panel(ex.G, dim=ex.latent_dim, gen_kwargs=gen_kwargs,
                                                     seed_a=cfg.seed, seed_b=cfg.seed + 1, steps=10)
    display(fig)
    walk = widgets.render_latent_walk(ex.G, num_frames=240, dim=ex.latent_dim, sigma_frames=45.0,
                                      seed=cfg.seed, every=24, gen_kwargs=gen_kwargs)
    display(viz.show_strip(walk, title="Gaussian-smoothed latent walk, every 24th of 240 frames"))
    if widget is not None:
        display(widget)
''')
md(r"""
## 10. Claims: paper vs this run
Short side runs (each a full, resumable run under `out_dir/claims/`) test the paper's main claims at this scale:
progressive vs non-progressive training at **equal wall-clock time** (Fig. 4), and Table 1's rows (d)→(e)→(f)→(g),
which enable minibatch stddev, equalized learning rate and pixelwise normalization one by one.

The equal-time budget means the same on every machine: the progressive run trains first, a fixed number of images
that grows it to the compared resolution and stabilizes it there; the fixed-resolution run then gets the seconds
that took *on this machine*. The pair and row (g) repeat over `claims_seeds` seeds, and a verdict is *holds* or
*does not hold* only when the difference exceeds their seed-to-seed spread (*within noise* otherwise); a comparison
that could not be made says *not tested* and why. At reduced scale these runs are minutes long, so a claim that
does not hold here is reported as such, not hidden.
""")
code('''
claims = []
if trained and nb_opts["run_claims"]:
    claim_results = progan.claim_experiments(cfg)
    claims = progan.claims_table(claim_results)
    progan.update_summary(cfg.out_dir, claims=claims, claim_runs=claim_results)
    display(viz.plot_table(claims, title="ProGAN claims at this scale", styled=True))
''')
md(r"""
## 11. Run summary
`summary.json` in the run folder holds the parameter counts, the final metrics, the untrained-G baseline and the
claims table; `config.json` is the fully resolved config, `log.jsonl` the training log.
""")
code('''
summary = progan.update_summary(cfg.out_dir)
display(viz.summary_table({k: summary.get(k) for k in ("status", "kimg", "params", "final")},
                          title=f"{cfg.out_dir}/summary.json"))
''')
nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/progan.ipynb")
