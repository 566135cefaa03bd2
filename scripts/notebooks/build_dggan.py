"""Writes notebooks/dggan.ipynb (run: python scripts/notebooks/build_dggan.py notebooks/dggan.ipynb).

The notebook is generated so that every cell stays short and outputs are never committed; edit this file, rebuild,
and the tests check the result (tests/test_notebooks.py).
"""
import sys

from nbbuild import NotebookBuilder

nb = NotebookBuilder()
md, code = nb.md, nb.code

md(r"""
# DGGAN: Dynamically Grown Generative Adversarial Networks
*Liu, Zhang, Deng, Soatto* (text: `../shared/papers/dggan-dynamically-grown-gan.txt`; facts with section references
and every decision the paper leaves open: `papers/dggan/paper.yaml`)

ProGAN grows G and D together on a fixed schedule. DGGAN **searches** how to grow: at each step it may add a
convolution to G, add one to D, or grow both to twice the resolution, and it keeps the **top K** candidates by FID,
each trained with **weight inheritance** from its parent (Alg. 1). G and D need not stay symmetric.

This notebook runs the whole search with gancore: the initial candidate, the **symmetric ProGAN baseline** at every
resolution (two seeds, the noise band of every claim), the search steps, the final model trained longer, and the
paper's analysis (Fig. 3, Tables 1–3). At the default `scale = "reduced"` it grows 8→32 on the embedded shapes with
a small action set, in minutes on a laptop CPU. On GPU nodes the candidates of a step run in parallel as Ray tasks:

```bash
papermill notebooks/dggan.ipynb runs/dg.ipynb -p scale full -p data_dir /data/cifar10 -p device cuda \
    -p executor ray -p workers 8 -y 'overrides: {inception_weights: /w/pt_inception-2015-12-05.pth}'
papermill notebooks/dggan.ipynb runs/dg-eff.ipynb -p scale full -p preset efficient ...   # K = 8, p = 0.2
papermill notebooks/dggan.ipynb runs/dg-lsun.ipynb -p scale full -p preset lsun -p data_dir /data/bedroom ...
papermill notebooks/dggan.ipynb runs/dg-cluster.ipynb ... -p executor ray -p ray_address 10.0.0.5:6379
```
Re-running with the same `out_dir` resumes the search: finished candidates are never retrained, and a candidate
cut off mid-training continues from its own checkpoint. `papermill --help-notebook notebooks/dggan.ipynb` lists
the parameters; other config fields go in `overrides`.
""")
code('''
scale: str = "reduced"              # smoke | reduced | full
preset: str = ""                    # full: "" (CIFAR-10, K 20, p 0.4), efficient (K 8, p 0.2), lsun (to 256²)
dataset: "Optional[str]" = None     # shapes | cifar10 | folder (None: the preset's; smoke/reduced use shapes)
data_dir: "Optional[str]" = None    # CIFAR-10 folder, or an image folder (LSUN bedroom exported as images)
out_dir: "Optional[str]" = None     # run folder (None: runs/dggan-<scale>[-<preset>])
seed: int = 0                       # seeds the coin flips, every candidate's init and data order, the baseline
device: str = "auto"                # auto (CUDA, MPS, CPU) | cpu | cuda | mps
dry_run: bool = False               # build everything, write config.json + summary.json, train nothing
executor: "Optional[str]" = None    # local (one candidate after another) | ray (a step's candidates in parallel)
ray_address: "Optional[str]" = None # None: a local Ray; or a cluster, e.g. 10.0.0.5:6379 or auto
workers: "Optional[int]" = None     # candidates at once under Ray
top_k: "Optional[int]" = None       # K: parents kept per step
sample_p: "Optional[float]" = None  # p: probability that a (parent, action) pair becomes a child
max_layers: "Optional[int]" = None  # the search stops when no child fits in this many G + D convs
run_claims: bool = True             # fill the claims table (no extra runs: it reads the search and its baseline)
explore: str = "run"                # widget's model: run (this search's final G) | reference (shipped, 25× longer)
overrides: dict = {}                # any other config field, e.g. {"candidate_iterations": 400, "force_grow": False}
''', tags=["parameters"])
code('''
# Parameters are checked here: papermill only warns about unknown names, gancore refuses them.
from IPython.display import display
from gancore import viz, widgets
from gancore.notebook import resolve_notebook_params
from gancore.recipes import dggan
from gancore.recipes.dggan import analysis, claims, figures
from gancore.recipes.dggan.config import DGGANConfig

_PARAMS = ["scale", "preset", "dataset", "data_dir", "out_dir", "seed", "device", "dry_run", "executor",
           "ray_address", "workers", "top_k", "sample_p", "max_layers", "run_claims", "explore", "overrides"]
cfg, nb_opts = resolve_notebook_params(DGGANConfig, paper="dggan", namespace=globals(), declared=_PARAMS,
                                       notebook_only=("explore",))
print(f"scale={cfg.scale} {cfg.base_resolution}²→{cfg.resolution}² K={cfg.top_k} p={cfg.sample_p} "
      f"max_layers={cfg.max_layers} {cfg.candidate_iterations} iterations per candidate; executor={cfg.executor} "
      f"(workers {cfg.workers}); device={cfg.device}\\nrun folder: {cfg.out_dir}")
''')
md(r"""
## 1. Networks that grow, and the actions
The **base** is ProGAN's G and D at d0 × d0 = 8² (equalized LR, pixelnorm in G, minibatch stddev in D). A network
is built from a **spec**: a list of conv layers with stable names, so a child is its parent's spec plus one action
and inherits every layer it shares, by name. G grows **just before its last convolution** (toRGB), D **just after
its first** (fromRGB). The actions: a conv with k ∈ {3, 7} and f ∈ {32, …, 1024} filters for G or for D, or
**grow** both to twice the resolution through ProGAN's fade-in block (25 actions; this preset's set is below).
""")
code('''
actions = [a.name for a in cfg.action_set()]
print(f"{len(actions)} actions:", ", ".join(actions))
base = dggan.initial_spec(cfg)
display(viz.plot_table(analysis.architecture_table(base), title="the initial candidate (G and D convs)", styled=True))
example = base.child(cfg.action_set()[0])
print(f"{cfg.action_set()[0].name}: G convs {base.num_layers()[0]} → {example.num_layers()[0]}, "
      f"new layer {set(l.name for l in example.g) - set(l.name for l in base.g)}")
''')
md(r"""
## 2. The data
The reals at every resolution of the search (the shapes are rendered at the top resolution and area-downsampled;
during a fade-in D sees the same blend of two resolutions as G produces, ProGAN §2).
""")
code('''
data = dggan.build_data(cfg)
if data is not None:
    for res in cfg.resolutions():
        display(viz.show_grid(data.images(res, 16), nrow=16, title=f"reals at {res}²"))
''')
md(r"""
## 3. The search (Alg. 1)
1. The initial candidate is trained and evaluated.
2. The **symmetric baseline**, the base grown by *grow* alone, is trained at every resolution for two seeds. The FID
   of a candidate divided by the baseline's FID at the same resolution is its **normalized FID** (Fig. 3's axis):
   one step's children mix resolutions, and FIDs at two resolutions are not comparable.
3. Each step: every (parent × action) pair becomes a child with probability p, from a **hash coin** of (seed, step,
   parent, action), so the children never depend on which candidate finished first. Each child inherits its
   parent's weights (new layers random; fresh Adam, as ProGAN resets it at each new resolution), trains with
   WGAN-GP on ProGAN's schedule (a grow child fades its new block in), and gets its FID. The top K children by
   normalized FID **replace** the parents.
4. A child that could no longer reach the top resolution within `max_layers` convs (its own plus four per grow it
   still needs) is never trained; the log counts the skipped ones, and a step that draws nothing trainable trains
   its best parent's grow child, so the search always reaches the top resolution. It stops when no child is left
   (or after `max_steps`); the best architecture at the top resolution, and the baseline's, are then trained
   longer, and their FID, IS (Table 1) and SWD (Table 3) are measured.
5. A rerun resumes: a failed candidate it asks for again is retried (`retry_failed`, the reason in the log), and
   the data is recognised by its fingerprint, so a moved data folder still resumes.
""")
code('''
result = dggan.run(cfg, data=data)
trained = result.summary["status"] != "dry_run"
display(viz.summary_table({k: result.summary.get(k) for k in ("status", "steps", "candidates", "failed",
                                                               "skipped_unreachable", "retried", "stop_reason",
                                                               "train_seconds")}, title="this search"))
''')
md(r"""
### How big is the paper's search?
The full presets replayed with synthetic rankings (no training), through the search's own sampling, layer cap and
reachability rule: the candidates each would train, how many reach the top resolution, against the paper's "2k+
CIFAR-10 models" and "1k+ LSUN models" ("Discussion on Efficiency"). `low` is the ranking that per-stage
normalization produced at reduced scale (8² children won every step).
""")
code('''
from gancore.recipes.dggan.replay import replay_table
for preset, paper in (("", "2k+"), ("lsun", "1k+")):
    full = dggan.load_config(scale="full", preset=preset, dry_run=True, data_dir="/unused", extractor="shapes")
    rows = [{k: r[k] for k in ("ranking", "steps", "search", "at_top", "skipped_unreachable", "all_can_reach")}
            for r in replay_table(full)]
    display(viz.plot_table(rows, title=f"full{'-' + preset if preset else ''}: max_layers={full.max_layers}, "
                                       f"paper {paper}", styled=True))
''')
md(r"""
## 4. The symmetric baseline
Its FID per resolution over the seeds: the mean normalizes the candidates, the range is the noise of the claims.
""")
code('''
if trained:
    display(viz.plot_table(analysis.baseline_table(result.summary), title="symmetric ProGAN baseline", styled=True))
''')
md(r"""
## 5. The candidates and the search tree
Every searched candidate with its lineage, FID and normalized FID; the tree shows each child against its parent, the
kept parents filled, and the best candidate's route in red.
""")
code('''
if trained:
    rows = analysis.candidate_rows(result.state)
    best = result.search.best(resolution=cfg.resolution) or result.search.best()
    cols = ["cid", "step", "resolution", "fid", "nfid", "params_G", "params_D", "kept", "status"]
    display(viz.plot_table([{k: r[k] for k in cols} for r in rows], title="candidates", styled=True))
    display(figures.tree_figure(rows, best=best))
''')
md(r"""
## 6. Does G have to match D? (Fig. 3 left)
The G-to-D parameter ratio against normalized FID. The paper finds candidates better than the baseline
(nFID < 1) over ratios from 1/64 to 64: symmetric GANs are not the only good ones.
""")
code('''
if trained:
    display(figures.ratio_figure(rows, best=best))
''')
md(r"""
## 7. How each action affects training (Fig. 3 middle)
Per action: the share of children that improve on their parent and the mean and std of the improvement,
1 − nFID(child)/nFID(parent). The paper finds small kernels better in D, G less sensitive to kernel size, and
more filters not always better.
""")
code('''
if trained:
    stats = analysis.action_stats(rows)
    if stats:
        display(viz.plot_table(stats, title="per action", styled=True))
        display(figures.action_figure(stats))
''')
md(r"""
## 8. Greedy pruning and the efficient setting (Fig. 3 right)
Do good parents (nFID below a threshold) have more good children than sub-optimal ones? If so, pruning loses little.
Then the Efficiency section's **replay**: Alg. 1 re-run on this search's tree with a smaller K′ or p′, ignoring
children the real search never trained. The hash coins make it exact: a pair sampled at p′ ≤ p was sampled here too.
""")
code('''
if trained:
    quality = analysis.parent_quality(rows)
    display(viz.plot_table(quality, title="good children by parent quality", styled=True))
    display(figures.parent_quality_figure(quality))
    display(viz.plot_table(analysis.replay_table(result.state, rows, cfg=cfg), title="replay with K′, p′",
                           styled=True))
''')
md(r"""
## 9. The final architecture
The best candidate at the top resolution, layer by layer (*action* layers were added by the search), and samples of
it and of the symmetric baseline after both were trained longer.
""")
code('''
final_rec = result.records().get("final") if trained else None
if final_rec:
    from gancore.models.dggan import ArchSpec
    display(viz.plot_table(analysis.architecture_table(ArchSpec.from_dict(final_rec["spec"])),
                           title=f"final: {final_rec['cid']}", styled=True))
    G_final = result.load_generator("final")
    display(viz.show_grid(dggan.sample_uint8(G_final, n=32, seed=cfg.seed + 99), nrow=16, title="grown (EMA)"))
    if "baseline/final" in result.records():
        G_base = result.load_generator("baseline/final")
        display(viz.show_grid(dggan.sample_uint8(G_base, n=32, seed=cfg.seed + 99), nrow=16, title="baseline"))
''')
md(r"""
## 10. Grown against the symmetric baseline (Tables 1–3)
Per resolution, the best grown candidate's FID against the baseline's, with the paper's numbers beside them (LSUN's
Table 2, or CIFAR-10's multi-resolution comparison). The paper prints 46% for LSUN 128², where its FIDs give 55%.
Then the final pair's FID, IS (Table 1) and SWD ×10³ (Table 3; 16² and above). With the shipped shapes network the
IS is on its own scale and means nothing beside the paper's Inception IS.
""")
code('''
if trained:
    display(viz.plot_table(analysis.table2(result.summary, dataset=cfg.dataset), title="grown vs baseline",
                           styled=True))
    display(viz.plot_table(analysis.final_metrics(result.summary, dataset=cfg.dataset),
                           title="final pair: FID, IS (Table 1), SWD (Table 3)", styled=True))
''')
md(r"""
## 11. Claims
Each verdict is *holds*, *does not hold*, *within noise* (the effect is no larger than the baseline's seed-to-seed
range, or, for shares, their standard error) or *not tested* (with the reason). The grown-vs-baseline row also gives
the final pair's IS and SWD and how many drawn children the search skipped because they could no longer reach the
top resolution; it says *not tested* only when no candidate reached it.
""")
code('''
table = claims.claims_table(result.summary, rows, resolution=cfg.resolution) if trained and nb_opts["run_claims"] else []
if table:
    display(viz.plot_table(table, title="DGGAN claims at this scale", styled=True))
    dggan.update_summary(cfg.out_dir, claims=table)
''')
md(r"""
## 12. Explore the grown generator
Interpolate between two latents (slerp) of the final G. The static strip is always drawn; in JupyterLab the widget
is live. The reduced search trains its winner for only 480 more iterations, so `-p explore reference` explores the
**reference model** that ships with gancore instead: the winner of the reduced search (the same settings and coins,
on one fixed thread, so its picks may differ from this run's), then trained 12,000 iterations with
ProGAN's EMA of 0.999, beside the symmetric baseline trained alike, by `scripts/train_reference.py dggan`. Its
command, config, grown architecture, log and metrics ship beside the weights, which are checked against their
SHA-256 and loaded with `weights_only=True`. The claims table always comes from this notebook's own search.
""")
code('''
from gancore import references
ex = references.explorable("dggan", explore=nb_opts["explore"], run_G=G_final if final_rec else None, run_cfg=cfg)
if ex is not None:
    print(ex.label)
    strip, explorer = widgets.latent_interpolation_panel(ex.G, dim=ex.latent_dim, seed_a=cfg.seed,
                                                         seed_b=cfg.seed + 1, steps=8)
    display(strip)
    if explorer is not None:
        display(explorer)
''')

if __name__ == "__main__":
    nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/dggan.ipynb")
