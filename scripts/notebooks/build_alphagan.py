"""Writes notebooks/alphagan.ipynb (run: python scripts/notebooks/build_alphagan.py notebooks/alphagan.ipynb).

The notebook is generated so that every cell stays short and outputs are never committed; edit this file, rebuild,
and the tests check the result (tests/test_notebooks.py).
"""
import sys

from nbbuild import NotebookBuilder

nb = NotebookBuilder()
md, code = nb.md, nb.code

md(r"""
# alphaGAN: Fully Differentiable Architecture Search for GANs
*Tian, Shen, Shen, Su, Li, Liu* (text: `../shared/papers/alphagan-tian.txt`; facts with section references and every
decision the paper leaves open: `papers/alphagan/paper.yaml`)

alphaGAN searches a generator's architecture by gradient descent on **the duality gap** of the GAN game, the
distance of (G, D) from a Nash equilibrium, instead of on IS or FID. This notebook runs the whole pipeline with
gancore: the **search** (Alg. 1 with Alg. 2), the **derived genotype**, its **retrain** (App. 9.1), and the claims
checked against random genotypes and an α-frozen control. At the default `scale = "reduced"` everything runs on the
embedded shapes at 32² in minutes on a laptop CPU; the same notebook runs the paper's configurations on a GPU:

```bash
papermill notebooks/alphagan.ipynb runs/ag-s.ipynb -p scale full -p data_dir /data/cifar10 -p device cuda \
    -y 'overrides: {extractor: inception, inception_weights: /w/pt_inception-2015-12-05.pth}'
papermill notebooks/alphagan.ipynb runs/ag-l.ipynb -p scale full -p preset l -p data_dir /data/cifar10
papermill notebooks/alphagan.ipynb runs/ag-stl.ipynb -p scale full -p preset stl10 -p mode retrain \
    -p genotype alphagan_s -p data_dir /data/stl10-images
papermill notebooks/alphagan.ipynb runs/ag-mine.ipynb -p mode retrain -p genotype runs/ag-s/genotype.json
```
Re-running with the same `out_dir` resumes (mid-search too: α, weights, optimizers, epoch and both data streams).
`papermill --help-notebook notebooks/alphagan.ipynb` lists the parameters; other config fields go in `overrides`.
""")
code('''
scale: str = "reduced"              # smoke | reduced | full
preset: str = ""                    # full: "" (alphaGAN(s), CIFAR-10), l (alphaGAN(l)), stl10 (48² retrain), official
mode: str = "search+retrain"        # search+retrain | search | retrain
genotype: str = ""                  # retrain: a genotype.json path, alphagan_s, alphagan_l or random:<seed> ("": searched)
dataset: "Optional[str]" = None     # shapes | cifar10 | folder (None: the preset's; smoke/reduced use shapes)
data_dir: "Optional[str]" = None    # CIFAR-10 folder, or an image folder (STL-10)
out_dir: "Optional[str]" = None     # run folder (None: runs/alphagan-<scale>[-<preset>])
seed: int = 0                       # seeds init, α, the data split and order, latents and Gumbel noise
device: str = "auto"                # auto (CUDA, MPS, CPU) | cpu | cuda | mps
dry_run: bool = False               # build everything, write config.json + summary.json, train nothing
run_claims: "Optional[bool]" = None # the claims' control search and retrains (None: yes; a full-scale run asks first)
explore: str = "run"                # widget's model: run (this notebook's retrained G) | reference (shipped, 20× longer)
overrides: dict = {}                # any other config field, e.g. {"relaxation": "gumbel", "warmup": True, "epochs": 20}
''', tags=["parameters"])
code('''
# Parameters are checked here: papermill only warns about unknown names, gancore refuses them.
from IPython.display import display
from gancore import viz, widgets
from gancore.notebook import resolve_notebook_params
from gancore.recipes import alphagan
from gancore.recipes.alphagan import claims, report
from gancore.recipes.alphagan.config import AlphaGANConfig

_PARAMS = ["scale", "preset", "mode", "genotype", "dataset", "data_dir", "out_dir", "seed", "device", "dry_run",
           "run_claims", "explore", "overrides"]
cfg, nb_opts = resolve_notebook_params(AlphaGANConfig, paper="alphagan", namespace=globals(), declared=_PARAMS,
                                       notebook_only=("explore",))
nb_opts["run_claims"] = claims.decide_run_claims(cfg, nb_opts["run_claims"])  # full scale: claims cost 8-11×, asked
print(f"scale={cfg.scale} mode={cfg.mode} genotype={cfg.genotype or '(searched)'} resolution={cfg.resolution} "
      f"G/D channels {cfg.g_channels}/{cfg.d_channels}; K={cfg.epochs} T={cfg.weight_steps} R={cfg.worst_steps} "
      f"S={cfg.arch_steps}; device={cfg.device}\\nrun folder: {cfg.out_dir}")
''')
md(r"""
## 1. The search space (§4.2, Fig. 2)
G is the SN-GAN/AutoGAN topology: a linear layer from z to a 4×4 map, **three cells** that each double the
resolution, and BN-ReLU-conv3×3-tanh. Inside a cell two **up-sampling edges** leave the input (to nodes 1 and 3),
and three **normal edges** go node 1→2, node 2→4 and node 3→4; node 4 is the output. Node 1 also feeds later
cells through **cross-cell up-sampling edges** (cell 1 → cell 2 ×2, cell 1 → cell 3 ×4, cell 2 → cell 3 ×2).
Normal edges choose among 6 ops (ReLU→conv 1×1, 3×3, 5×5; DARTS sep-conv 3×3, 5×5, 7×7), up-sampling edges among
3 (2×2 transposed conv, nearest, bilinear): 9 × 6 and 9 × 3 choices, the paper's ≈ 2·10¹¹ architectures.
""")
code('''
print("members of the space:", report.space_size_text())
display(viz.plot_table(report.space_table(), title="searchable edges", styled=True))
# The published genotypes (authors' release) rebuilt by gancore at the paper's width (C = 256):
display(viz.plot_table(report.published_table(), title="Tables 2–3: parameters and FLOPs", styled=True))
''')
md(r"""
FLOPs come in two conventions. The **true multiply-accumulates** count a 2×2, stride-2 transposed conv once per
*input* pixel. The paper's numbers (1.32G / 2.78G) follow common counters that treat a transposed conv like a conv,
*per output pixel*: four times the true cost of each deconv. alphaGAN(s) uses many deconvs, so the two differ most.

## 2. The data and its two halves (§5.1)
The search splits the training set at random into two halves: the **training half** trains the weights ω, the
**validation half** estimates the duality gap that trains α. The retrain uses the whole set.
""")
code('''
images = alphagan.build_images(cfg)
if images is not None:
    train_idx, val_idx = alphagan.split_halves(len(images), val_fraction=cfg.val_fraction, seed=cfg.seed)
    print(f"{len(images)} images: {len(train_idx)} for the weights, {len(val_idx)} for α")
    display(viz.show_grid(images.images[train_idx[:16]], nrow=16, title="training half"))
    display(viz.show_grid(images.images[val_idx[:16]], nrow=16, title="validation half"))
''')
md(r"""
## 3. The duality gap and the search (§3, Alg. 1, Alg. 2)
For the game min_G max_D Adv(G, D), with Adv = −(D's loss), the **duality gap** is

V(G, D) = max_D′ Adv(G, D′) − min_G′ Adv(G′, D) ≥ 0,

zero only at a Nash equilibrium (eq. 3). Alg. 2 estimates both optima with **worst-case copies**: D̄ takes R steps
on the validation half from the current D (G fixed), Ḡ takes R steps from the current G (D fixed; by default on
its weights only, Table 4), each with a fresh Adam. Each **epoch** of Alg. 1 then runs

1. T D steps on the training half, with a G step after every `n_critic`-th one (the authors' 5; the reduced
   preset uses 1, see `papers/alphagan/reduced.yaml`),
2. the worst-case copies (their learning rate halves after epoch 30, as in the authors' code),
3. S Adam steps on α that minimise V = Adv(G(α), D̄) − Adv(Ḡ, D) on the validation half (Ḡ holds a *copy* of α,
   so the gradient reaches α through the first term; `gbar_alpha_grad` is the other choice).

Every edge mixes its ops by softmax(α) (eq. 7), or by Gumbel-softmax with `relaxation="gumbel"` (eq. 8, τ = 0.5
as in the authors' code; the worst-case copies draw no Gumbel noise). Under `warmup=True` (Table 9) the first half
of the epochs run step 1 only, which is where warm-up saves search time. One gancore training step is one epoch; a
checkpoint after it holds everything needed to resume bit-exactly.
""")
code('''
result = alphagan.run(cfg, images=images)
trained = result.summary["status"] != "dry_run"
display(viz.summary_table({k: result.summary.get(k) for k in ("status", "mode", "params", "kimg",
                                                               "train_seconds")}, title="this run"))
''')
md(r"""
## 4. The control runs (claims)
The gap also falls when only the weights train, because G and D approach each other anyway. So the claim "the gap
falls" means something only beside a **control**: the same search with **α frozen** (same data, latents and seeds;
only the α updates are skipped), for `claims_seeds` seeds. The retrains of the searched genotype, of random
genotypes of the same space and of the published alphaGAN(s), each with the same budget and several seeds, give
the searched-vs-random comparison and its **seed-to-seed noise**. All are resumable runs under `out_dir/claims/`.
""")
code('''
if trained and nb_opts["run_claims"]:  # what the side runs cost, before they start (priced at this run's times)
    cost = claims.claims_cost(cfg, result.summary)
    print(f"claims: {cost['searches']} α-frozen searches and {cost['retrains']} retrains of "
          f"{cost['retrain_iterations']} iterations, ≈ {cost['seconds'] / 3600:.2f} h ({cost['ratio']}× this run)")
claim_results = claims.claim_experiments(cfg, result) if (trained and nb_opts["run_claims"]) else {}
for c in claim_results.get("controls", []):
    print(f"control seed {c.get('seed')}: gap drop {c.get('gap_drop')}")
''')
md(r"""
## 5. The duality gap over the search (Fig. 4)
The searched run's V per epoch against the α-frozen controls. Fig. 4 shows the gap of alphaGAN(l) with more spikes
than alphaGAN(s), because its S = 20 architecture steps are few next to T = R = 390 weight steps.
""")
code('''
records = report.search_records(result.search.log()) if (trained and result.search) else []
if records:
    display(report.gap_figure(records, claim_results.get("controls", [])))
''')
md(r"""
## 6. α over the search (Fig. 3)
softmax(α) for every edge at the first and the last epoch, and the genotype derived after every epoch (argmax per
edge): how many edges changed since the epoch before and how many still differ from the final genotype.
""")
code('''
if records:
    display(report.alpha_heatmaps(records[0]["alpha_softmax"], title=f"after epoch {records[0]['epoch']}"))
    display(report.alpha_heatmaps(records[-1]["alpha_softmax"], title=f"after epoch {records[-1]['epoch']}"))
    display(viz.plot_table(report.tracking_table(records), title="derived genotype per epoch", styled=True))
''')
md(r"""
## 7. The derived architecture
The genotype this run retrains (`genotype.json` in the run folder for a search; retrain it elsewhere with
`-p mode retrain -p genotype <path>`), its op distribution, and its size at this run's width and at the paper's.
""")
code('''
final_geno = result.retrain.genotype if result.retrain else (result.search.genotype if result.search else None)
if final_geno is not None:
    display(viz.plot_table(report.genotype_table(final_geno), title="one op per edge", styled=True))
    display(report.op_distribution_figure(final_geno))
    paper_cfg = AlphaGANConfig(resolution=cfg.resolution)
    print("this run's width:", alphagan.genotype_summary(cfg, final_geno))
    print("at C = 256 / 128:", alphagan.genotype_summary(paper_cfg, final_geno))
''')
md(r"""
## 8. The retrain (App. 9.1)
The plain G of the genotype with the fixed D: G batch 128, D batch 64, Adam 2e-4 with β = (0, 0.9), 100k G
iterations at full scale (the authors' README uses 50k with 5 D steps: `-p preset official`). As in the authors'
code, convs start Xavier-uniform and BatchNorm weights N(1, 0.02); samples come from G's parameter average with G's
own BatchNorm statistics. FID/IS/KID are measured every 20 passes over the data and at the end, and the best FID is
reported (its G in `retrain/best_G_ema.pt`; `retrain_select: final` reports the last); the reference statistics
cover the whole training set. FID/IS/KID use the shipped shapes network here (Inception from a path at full scale).
Every setting the paper leaves open, with the file of the authors' code it comes from: `papers/alphagan/paper.yaml`.
""")
code('''
if trained and result.retrain is not None:
    rlog = [r for r in result.retrain.log() if r.get("kind") == "train"]
    if rlog:
        display(viz.plot_metric_curves(rlog, x="kimg", metrics=["loss_d", "loss_g"], title="retrain losses"))
    display(viz.show_grid(alphagan.sample_uint8(result.retrain.G_ema, n=32, seed=cfg.seed + 99), nrow=8,
                          title="retrained G (EMA)"))
    init, final = result.summary.get("initial", {}), result.summary.get("final", {})
    if "fid" in final:
        print(f"FID untrained G {init.get('fid', float('nan')):.1f} → retrained {final['fid']:.1f}; "
              f"IS {final['is_mean']:.2f}, KID {final['kid_mean']:.3f}")
''')
md(r"""
## 9. Searched vs random genotypes
Table 2's "Random search" row (FID 15.43 against alphaGAN(s)'s 10.35) asks whether the search finds more than luck.
Each genotype below was retrained with the same budget for several seeds; the spread of one genotype over seeds is
the yardstick for any difference between genotypes.
""")
code('''
retrains = claim_results.get("retrains", [])
if retrains:
    display(viz.plot_table(report.retrain_table(retrains), title="retrains (same budget)", styled=True))
    display(report.retrain_figure(retrains))
''')
md(r"""
## 10. Claims
Each verdict is *holds*, *does not hold*, *within noise* (the effect is no larger than the seed-to-seed spread of
the same measurement) or *not tested* (with the reason). Table 9's rows are tested when their switch is on, e.g.
`-y 'overrides: {relaxation: gumbel}'` or `{warmup: true}`, against a baseline search run beside it.
""")
code('''
table = claims.claims_table(cfg, result.summary, claim_results) if trained else []
if table:
    display(viz.plot_table(table, title="alphaGAN claims at this scale", styled=True))
    alphagan.update_summary(cfg.out_dir, claims=table)
''')
md(r"""
## 11. Explore the retrained generator
Interpolate between two latents (slerp) of the retrained G. The static strip is always drawn; in JupyterLab the
widget is live. A 120-iteration retrain draws noise, so `-p explore reference` explores the **reference model**
that ships with gancore instead: the published alphaGAN(s) genotype retrained with the same reduced nets for 2,400
iterations by `scripts/train_reference.py alphagan` (command, config, log and metrics ship beside the weights,
which are checked against their SHA-256 and loaded with `weights_only=True`). The claims table always comes from
this notebook's own run.
""")
code('''
from gancore import references
run_G = result.retrain.G_ema if trained and result.retrain is not None else None
ex = references.explorable("alphagan", explore=nb_opts["explore"], run_G=run_G, run_cfg=cfg)
if ex is not None:
    print(ex.label)
    strip, explorer = widgets.latent_interpolation_panel(ex.G, dim=ex.latent_dim, seed_a=cfg.seed,
                                                         seed_b=cfg.seed + 1, steps=8)
    display(strip)
    if explorer is not None:
        display(explorer)
''')

if __name__ == "__main__":
    nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/alphagan.ipynb")
