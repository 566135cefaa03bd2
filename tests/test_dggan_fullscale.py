"""DGGAN at full scale (issue 26): reaching the top resolution within max_layers, the presets' size against the
paper's candidate counts, retries of failed candidates, resuming with moved data, IS and SWD, the settings the paper
does not state, the cost of a long search, and the inherited slice's scale. Training is faked by an executor that
returns scores (no nets are trained) except where a metric itself is under test."""
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from gancore import checkpoint as ckpt_io
from gancore.config import ConfigError, load_yaml, papers_dir
from gancore.models import dggan as models
from gancore.models.dggan import Action, ArchSpec, base_spec, build, conv_macs, inherit
from gancore.recipes import dggan
from gancore.recipes.dggan import candidate as cand
from gancore.recipes.dggan.config import SEARCH_FIELDS, candidate_config
from gancore.recipes.dggan.identity import search_identity
from gancore.recipes.dggan.replay import RANKINGS, replay_search
from gancore.recipes.dggan.search import STATE_FILE, Search, gpu_share
from gancore.search.dggan import SearchState, can_reach, coin, step_children


class FakeExecutor:
    """Scores instead of training: ``fid(cid, spec)``; ``fail`` maps keys to an error returned once. Each job leaves
    three checkpoints, as a real candidate with keep_checkpoints=3 does, and the executor notes after every finished
    job how many run folders of that call still hold checkpoints."""

    def __init__(self, fid, *, fail=None):
        self.fid, self.fail = fid, dict(fail or {})
        self.calls, self.resources, self.holding = [], [], []

    def run(self, fn, jobs, *, shared, on_done, resources=None):
        for key, c in jobs:
            self.calls.append(key)
            if resources:
                self.resources.append((key, resources(c)))
            folder = Path(c.out_dir) / "checkpoints"
            folder.mkdir(parents=True, exist_ok=True)
            for n in (1, 2, 3):
                ckpt_io.checkpoint_path(folder, n).write_bytes(b"x")
            spec = ArchSpec.from_dict(c.spec)
            if key in self.fail:
                on_done(key, {"status": "failed", "error": self.fail.pop(key)})
            else:
                on_done(key, {"status": "complete", "fid": self.fid(c.cid, spec), "history": list(spec.history),
                              "params_G": 1, "params_D": 1, "train_seconds": 1.0})
            self.holding.append(sum(bool(ckpt_io.list_checkpoints(Path(j.out_dir) / "checkpoints"))
                                    for k, j in jobs if k.startswith("candidates/") and "+" in k))


def random_fid(cid, spec):
    return 10.0 + 10.0 * coin(seed=0, step=0, parent=cid, action="fid")


def smoke(tmp_path, **kw):
    values = dict(out_dir=str(tmp_path / "run"), baseline_match="stage", progress=False)
    values.update(kw)
    return dggan.load_config(scale="smoke", **values)


def log(cfg):
    return [json.loads(l) for l in (Path(cfg.out_dir) / "log.jsonl").read_text().splitlines()]


# ---- 1. every trained candidate can reach the top resolution ---------------------------------------------------------
def test_a_child_that_cannot_reach_the_top_resolution_is_skipped_and_counted():
    base = base_spec(latent_dim=8, base_resolution=8, max_resolution=32, fmap_base=64, fmap_max=16)
    parent = base.child(Action("G", 3, 8)).child(Action("D", 3, 8))  # 7 convs at 8²: 7 + 8 = 15 to reach 32²
    actions = [Action("G", 3, 8), Action("D", 3, 8), Action("grow")]
    plan = step_children([("p", parent)], actions, p=1.0, seed=0, step=1, force_grow=False, max_layers=15,
                         top_resolution=32)
    assert [c.action for c in plan.children] == ["grow"]  # 8 convs at 8² could never reach 32² within 15
    assert plan.unreachable == 2 and plan.over_cap == 0 and not plan.stall_grow
    assert all(can_reach(c.spec, top_resolution=32, max_layers=15) for c in plan.children)


def test_a_stalled_step_grows_its_best_parent():
    base = base_spec(latent_dim=8, max_resolution=16, fmap_base=64, fmap_max=16)
    parents = [("a", base.child(Action("G", 3, 8))), ("b", base.child(Action("D", 3, 8)))]
    for seed in range(500):  # coins that draw no grow child at p = 0.1
        plan = step_children(parents, [Action("G", 3, 8), Action("grow")], p=0.1, seed=seed, step=1,
                             force_grow=False, max_layers=10, top_resolution=16)
        if plan.stall_grow:
            break
    assert plan.stall_grow and [c.id for c in plan.children] == ["a+grow"]


def test_the_search_trains_only_children_that_can_reach_the_top_and_logs_the_skipped_ones(tmp_path):
    # 8² conv children win every step (nFID 0.1), the ranking that kept a reduced search at 8² before.
    def fid(cid, spec):
        return 1.0 if spec.resolution == 8 and cid != "base" else 10.0

    cfg = smoke(tmp_path, max_layers=10, sample_p=1.0, max_steps=3, force_grow=False)
    search = Search(cfg=cfg, data=None, executor=FakeExecutor(fid))
    state = search.run()
    steps = [e for e in log(cfg) if e["kind"] == "step"]
    assert steps[0]["skipped_unreachable"] == 0 and steps[0]["children"] == 3
    # step 2: two 8² parents with 6 convs; their conv children (7 + 4 > 10) are skipped, their grows trained
    assert steps[1]["skipped_unreachable"] == 4 and steps[1]["children"] == 2
    assert state.steps[1]["skipped_unreachable"] == 4
    for rec in state.records.values():
        assert can_reach(ArchSpec.from_dict(rec["spec"]), top_resolution=16, max_layers=10)
    assert search.best(resolution=16) is not None  # the top resolution was reached
    summary = dggan.search_summary(search)
    assert summary["skipped_unreachable"] == sum(s["skipped_unreachable"] for s in steps)


@pytest.mark.parametrize("ranking", RANKINGS)
@pytest.mark.parametrize("preset,paper_count", [("", 2000), ("lsun", 1000)])
def test_replayed_full_presets_reach_the_top_and_match_the_papers_candidate_counts(preset, paper_count, ranking):
    cfg = dggan.load_config(scale="full", preset=preset, dry_run=True, data_dir="/nowhere", extractor="shapes")
    got = replay_search(cfg, ranking=ranking)
    assert got["all_can_reach"] and got["at_top"] >= 1, got
    assert got["stop_reason"].startswith("no child")
    if ranking in ("random", "low"):  # no preference, and the measured preference for low resolutions
        assert 0.5 * paper_count <= got["search"] <= 1.5 * paper_count, got
    else:  # high resolutions always winning trains the most: bounded, not the paper's number
        assert got["search"] <= 2.0 * paper_count, got


# ---- 2. the LSUN preset's size -------------------------------------------------------------------------------------------
def test_the_lsun_preset_is_sized_to_the_papers_1k_models_and_its_cap_fits_the_symmetric_top():
    cfg = dggan.load_config(scale="full", preset="lsun", dry_run=True, data_dir="/nowhere", extractor="shapes")
    assert cfg.max_layers == 31 and cfg.batch_size == 16 and cfg.resolution == 256
    assert replay_search(cfg, ranking="random")["search"] in range(900, 1200)
    with pytest.raises(ConfigError, match="symmetric ProGAN at 256"):
        dggan.load_config(scale="full", preset="lsun", dry_run=True, data_dir="/x", extractor="shapes",
                          max_layers=24)


# ---- 3. failed candidates are retried on a rerun ----------------------------------------------------------------------
def test_a_failed_base_is_retried_on_a_rerun_with_the_reason_in_the_log(tmp_path):
    cfg = smoke(tmp_path)
    oom = "RuntimeError: CUDA out of memory"
    with pytest.raises(RuntimeError, match="initial candidate failed"):
        Search(cfg=cfg, data=None, executor=FakeExecutor(random_fid, fail={"candidates/base": oom})).run()
    state = Search(cfg=cfg, data=None, executor=FakeExecutor(random_fid)).run()
    assert state.records["candidates/base"]["status"] == "complete"
    assert state.records["candidates/base"]["attempts"] == 2
    retry = [e for e in log(cfg) if e["kind"] == "retry"]
    assert len(retry) == 1 and retry[0]["key"] == "candidates/base" and "out of memory" in retry[0]["reason"]


def test_retries_stop_at_the_limit_and_restart_clears_them(tmp_path):
    cfg = smoke(tmp_path, retry_failed=0)
    fail = {"candidates/base": "worker died"}
    with pytest.raises(RuntimeError):
        Search(cfg=cfg, data=None, executor=FakeExecutor(random_fid, fail=fail)).run()
    ex = FakeExecutor(random_fid)
    with pytest.raises(RuntimeError):  # retry_failed=0: the failure stays final
        Search(cfg=cfg, data=None, executor=ex).run()
    assert "candidates/base" not in ex.calls
    state = Search(cfg=smoke(tmp_path, retry_failed=0, restart=True), data=None, executor=FakeExecutor(random_fid)).run()
    assert state.records["candidates/base"]["status"] == "complete"
    assert "restart=True" in [e for e in log(cfg) if e["kind"] == "retry"][-1]["reason"]


# ---- 4. the data is identified by its fingerprint, not its path -------------------------------------------------------
def _folder(path: Path, n=4, *, size=8):
    from PIL import Image

    path.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (size, size), (10 * i, 0, 0)).save(path / f"{i}.png")
    return path


def test_a_search_resumes_after_its_data_and_weights_move_and_refuses_changed_data(tmp_path):
    assert "data_dir" not in SEARCH_FIELDS and "inception_weights" not in SEARCH_FIELDS
    a = _folder(tmp_path / "mount-a" / "imgs")
    (tmp_path / "w-a.pth").write_bytes(b"weights")
    b = tmp_path / "mount-b" / "imgs"
    shutil.copytree(a, b)  # copy2: mtimes kept, as mv and rsync -a keep them
    (tmp_path / "w-b.pth").write_bytes(b"weights")
    kw = dict(dataset="folder", resolution=16, extractor="inception")
    cfg_a = smoke(tmp_path, data_dir=str(a), inception_weights=str(tmp_path / "w-a.pth"), **kw)
    cfg_b = smoke(tmp_path, data_dir=str(b), inception_weights=str(tmp_path / "w-b.pth"), **kw)
    saved = search_identity(cfg_a)
    assert saved["data_fingerprint"] == search_identity(cfg_b)["data_fingerprint"]
    Path(cfg_a.out_dir).mkdir(parents=True)
    SearchState(config=saved).save(Path(cfg_a.out_dir) / STATE_FILE)
    dggan.check_inputs(cfg_b)  # moved: resumes
    assert not dggan.RECIPE.stale(cfg_b)
    (b / "0.png").write_bytes((b / "1.png").read_bytes() + b"edited")
    with pytest.raises(ConfigError, match="data_fingerprint"):
        dggan.check_inputs(cfg_b)
    (tmp_path / "w-b.pth").write_bytes(b"other weights")
    with pytest.raises(ConfigError, match="inception_fingerprint"):
        dggan.check_inputs(smoke(tmp_path, data_dir=str(a), inception_weights=str(tmp_path / "w-b.pth"), **kw))


# ---- 5. IS (Table 1) and SWD (Table 3) ---------------------------------------------------------------------------------
def test_a_candidate_records_is_and_the_final_pair_also_swd(tmp_path):
    cfg = smoke(tmp_path, dataset_size=64)
    data = dggan.build_data(cfg)
    spec = dggan.initial_spec(cfg).child(Action("grow"))
    G, _ = build(spec)
    ccfg = candidate_config(cfg, cid="x", spec=spec.to_dict(), out_dir=str(tmp_path / "x"), seed=1,
                            fid_num_images=32)
    scores = cand.candidate_scores(ccfg, G.eval(), data, device=torch.device("cpu"))
    assert scores["fid"] > 0 and scores["is_mean"] >= 1.0 and "swd_avg" not in scores
    scores = cand.candidate_scores(candidate_config(cfg, cid="x", spec=spec.to_dict(), out_dir=str(tmp_path / "x"),
                                                    seed=1, fid_num_images=32, swd_num_images=32),
                                   G.eval(), data, device=torch.device("cpu"))
    assert scores["swd_avg"] > 0 and "swd16" in scores and math.isfinite(scores["is_std"])


def test_the_final_pair_is_asked_for_swd_and_candidates_are_not(tmp_path):
    cfg = smoke(tmp_path)
    search = Search(cfg=cfg, data=None, executor=FakeExecutor(random_fid))
    search.run()
    seen = []
    search.executor.run = lambda fn, jobs, **kw: seen.extend(jobs)
    search.train_final()
    assert {k for k, _ in seen} == {"final", "baseline/final"}
    assert all(c.swd_num_images == min(cfg.final_num_images, 16384) for _, c in seen)


# ---- 6. the settings the paper does not state ---------------------------------------------------------------------------
def test_paper_yaml_lists_every_unstated_setting_with_its_source_and_the_value_the_run_uses():
    facts = load_yaml(papers_dir() / "dggan" / "paper.yaml")
    unstated = facts["unstated_settings"]
    for key in ("batch_size", "optimizer", "n_critic", "drift", "ema_decay", "fid_of", "gp_lambda", "max_layers",
                "fade_fraction", "fid_num_images", "swd_num_images", "retry_failed"):
        assert unstated[key]["value"] and unstated[key]["source"], key
    cifar = dggan.load_config(scale="full", dry_run=True, data_dir="/x", extractor="shapes")
    lsun = dggan.load_config(scale="full", preset="lsun", dry_run=True, data_dir="/x", extractor="shapes")
    assert f"{cifar.batch_size} (CIFAR-10)" in unstated["batch_size"]["value"]
    assert f"{lsun.batch_size} (LSUN" in unstated["batch_size"]["value"]
    assert (cifar.lr, cifar.beta1, cifar.beta2) == (0.001, 0.0, 0.99) and "betas (0, 0.99)" in unstated["optimizer"]["value"]
    assert cifar.n_critic == 1 and cifar.drift == 0.001 and cifar.ema_decay == 0.999
    assert str(cifar.ema_decay) in str(unstated["ema_decay"]["value"])
    assert f"{cifar.max_layers} CIFAR-10, {lsun.max_layers} LSUN" == unstated["max_layers"]["value"]
    assert str(cifar.retry_failed) == str(unstated["retry_failed"]["value"])


# ---- 7. the cost of a long search ---------------------------------------------------------------------------------------
def test_finished_candidates_keep_one_checkpoint_and_only_the_best_k_keep_theirs_during_a_step(tmp_path):
    cfg = smoke(tmp_path, sample_p=1.0, top_k=2, max_layers=13, max_steps=3, force_grow=False)
    ex = FakeExecutor(random_fid)
    search = Search(cfg=cfg, data=None, executor=ex)
    state = search.run()
    big = [s for s in state.steps if len(s["children"]) > cfg.top_k + 2]
    assert big  # a step with more children than K + the best at the top resolution
    assert max(ex.holding) <= cfg.top_k + 2
    for key in state.records:
        assert len(ckpt_io.list_checkpoints(Path(cfg.out_dir) / key / "checkpoints")) <= 1, key


def test_a_steps_children_start_longest_first_and_gpu_shares_follow_size(tmp_path):
    cfg = smoke(tmp_path, sample_p=1.0, max_steps=1, kernels=[3, 7], filters=[8, 16], gpus_follow_size=True,
                gpus_per_candidate=0.5)
    ex = FakeExecutor(random_fid)
    Search(cfg=cfg, data=None, executor=ex).run()
    state = SearchState.load(Path(cfg.out_dir) / STATE_FILE)
    after_baseline = max(i for i, k in enumerate(ex.calls) if k.startswith("baseline/")) + 1
    step = [k for k in ex.calls[after_baseline:] if k.removeprefix("candidates/") in state.steps[0]["children"]]
    assert len(step) == len(state.steps[0]["children"]) - 1  # base+grow was trained as the baseline's 16² stage
    costs = [conv_macs(ArchSpec.from_dict(state.records[k]["spec"])) for k in step]
    assert costs == sorted(costs, reverse=True) and len(set(costs)) > 1
    shares = dict(ex.resources)
    assert all(0.125 <= s["num_gpus"] <= 1.0 and (s["num_gpus"] * 8).is_integer() for s in shares.values())
    top = dggan.initial_spec(cfg).child(Action("grow"))
    assert gpu_share(cfg, top) == 0.5 and gpu_share(cfg, dggan.initial_spec(cfg)) < 0.5
    assert gpu_share(smoke(tmp_path), top) == 1.0  # off: every candidate gets gpus_per_candidate


# ---- 8. the widened neighbour's slice under equalized LR ------------------------------------------------------------------
def test_a_widened_neighbours_slice_is_rescaled_by_the_fan_in_ratio_as_the_docstring_says():
    base = base_spec(latent_dim=8, max_resolution=16, fmap_base=64, fmap_max=16)
    f_old = base.g[-1].filters
    child = base.child(Action("G", 3, 4 * f_old))
    G0, _ = build(base)
    G1, _ = build(child)
    report = inherit(G1, G0)
    assert report["to_rgb.8.weight"] == "sliced"
    old, new = G0.to_rgb["8"].scaled_weight(), G1.to_rgb["8"].scaled_weight()
    torch.testing.assert_close(new[:, :f_old], old * math.sqrt(f_old / (4 * f_old)))
    doc = models.__doc__
    assert "keeps the scale" not in doc and "√(old fan-in / new fan-in)" in doc
