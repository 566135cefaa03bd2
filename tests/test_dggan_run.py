"""DGGAN's search over run folders: the run folder, inheritance, resume after a crash (mid-step and mid-candidate),
failed candidates, bad input, and the Ray executor against the sequential one."""
import json
import os
from pathlib import Path

import pytest
import torch

from gancore.config import ConfigError
from gancore.recipes import dggan
from gancore.recipes.dggan import candidate as cand
from gancore.recipes.dggan import search as search_module
from gancore.recipes.dggan.config import candidate_config
from gancore.models.dggan import Action, ArchSpec, build
from gancore.search.dggan import SearchState
from gancore.search.executors import LocalExecutor, RayExecutor, check_ray_address


def tiny(tmp_path, name="run", **kw):
    values = dict(out_dir=str(tmp_path / name), candidate_iterations=4, final_iterations=4, fid_num_images=32,
                  final_num_images=32, dataset_size=64, ckpt_every_kimg=0.016, progress=False, num_threads=1)
    values.update(kw)
    return dggan.load_config(scale="smoke", **values)


def fids(state: SearchState) -> dict:
    return {k: r.get("fid") for k, r in state.records.items()}


def test_search_writes_the_run_folder_and_every_candidate_rebuilds_from_its_config(tmp_path):
    cfg = tiny(tmp_path)
    result = dggan.run(cfg, progress=False)
    out = Path(cfg.out_dir)
    for name in ("config.json", "log.jsonl", "search_state.json", "summary.json", "candidates/base", "final",
                 "baseline/seed1/base", "baseline/final"):
        assert (out / name).exists(), name
    state = SearchState.load(out / "search_state.json")
    assert state.steps and state.stop_reason
    for key, rec in state.records.items():
        saved = json.loads((out / key / "config.json").read_text())
        spec = ArchSpec.from_dict(saved["spec"])
        G, D = build(spec)
        assert G(torch.randn(2, spec.latent_dim)).shape == (2, 3, spec.resolution, spec.resolution)
        assert rec["status"] == "complete" and rec["fid"] > 0 and rec["resolution"] == spec.resolution
    summary = result.summary
    assert summary["status"] == "complete" and set(summary["baseline"]) == {8, 16}
    assert all(len(b["fids"]) == 2 for b in summary["baseline"].values())
    events = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert sum(e["kind"] == "candidate" for e in events) == len(state.records)
    assert sum(e["kind"] == "step" for e in events) == state.step
    # Children are their parent's spec plus one action; the top K by normalized FID become the parents.
    for step in state.steps:
        for cid in step["children"]:
            rec = state.records[f"candidates/{cid}"]
            assert cid == f"{rec['parent']}+{rec['action']}"
        assert set(step["kept"]) <= set(step["children"]) and len(step["kept"]) <= cfg.top_k


def test_a_child_inherits_every_shared_tensor_and_the_ema_from_its_parent(tmp_path):
    cfg = tiny(tmp_path)
    data = dggan.build_data(cfg)
    base = dggan.initial_spec(cfg)
    parent_cfg = candidate_config(cfg, cid="base", spec=base.to_dict(), out_dir=str(tmp_path / "p"), iterations=3,
                                  seed=1, fid_num_images=16)
    assert cand.train_candidate(parent_cfg, data)["status"] == "complete"
    ck = cand.parent_checkpoint(tmp_path / "p")
    for action in (Action("G", 3, 8), Action("D", 3, 8), Action("grow")):
        child = base.child(action)
        ccfg = candidate_config(cfg, cid=f"base+{action.name}", parent="base", action=action.name,
                                spec=child.to_dict(), out_dir=str(tmp_path / action.name), seed=2,
                                inherit_from=str(tmp_path / "p"))
        method = cand.CandidateMethod(cfg=ccfg, device=torch.device("cpu"))
        from gancore.engine import RealImages, Trainer
        trainer = Trainer(cfg=ccfg, method=method, data=RealImages(data=data), device=torch.device("cpu"))
        counts = cand.inherit_from_parent(method, trainer, tmp_path / "p")
        assert counts["copied"] > 0 and counts["new"] > 0
        for net, key in ((method.G, "G"), (method.D, "D")):
            for name, t in net.state_dict().items():
                p = ck[key].get(name)
                if p is not None and p.shape == t.shape:
                    assert torch.equal(t, p), (action.name, key, name)
                elif p is not None:  # the widened neighbour keeps the overlapping slice
                    region = tuple(slice(0, min(a, b)) for a, b in zip(p.shape, t.shape))
                    assert torch.equal(t[region], p[region])
        ema = trainer.ema.module.state_dict()
        for name, p in ck["G_ema"].items():
            if name.startswith("module.") and name[7:] in ema and ema[name[7:]].shape == p.shape:
                assert torch.equal(ema[name[7:]], p)
        assert int(trainer.ema.n_averaged) == 1  # it goes on averaging instead of copying the child's G


def test_final_lr_and_ema_apply_to_the_final_pair_only(tmp_path):
    # The search's candidates keep lr and ema_decay (their FIDs steer the search); the final model and the baseline
    # trained alike get final_lr and final_ema_decay. At EMA 0 the average is the last G itself: it took effect.
    cfg = tiny(tmp_path, max_steps=1, final_lr=0.0021, final_ema_decay=0.0)
    dggan.run(cfg, progress=False)
    out = Path(cfg.out_dir)
    saved = {key: json.loads((out / key / "config.json").read_text())
             for key in SearchState.load(out / "search_state.json").records}
    for key in ("final", "baseline/final"):
        assert (saved[key]["lr"], saved[key]["ema_decay"]) == (0.0021, 0.0), key
    others = {(c["lr"], c["ema_decay"]) for k, c in saved.items() if not k.endswith("final")}
    assert others == {(cfg.lr, cfg.ema_decay)} and cfg.ema_decay > 0 and cfg.lr != 0.0021
    ck = cand.parent_checkpoint(out / "final")
    for name, p in ck["G"].items():
        assert torch.equal(ck["G_ema"][f"module.{name}"], p), name
    # Unset, the final pair trains as the search's candidates do.
    assert tiny(tmp_path, name="plain").final_training() == {}


class Crash(BaseException):
    pass


def test_search_resumes_after_a_crash_between_candidates_and_retrains_nothing_finished(tmp_path, monkeypatch):
    reference = dggan.run(tiny(tmp_path, "ref"), progress=False).state
    calls = []
    real_train = search_module.train_candidate

    def crashing(ccfg, data):
        if len(calls) == 5:
            raise Crash("killed")
        calls.append(ccfg.cid)
        return real_train(ccfg, data)

    monkeypatch.setattr(search_module, "train_candidate", crashing)
    cfg = tiny(tmp_path, "crash")
    with pytest.raises(Crash):
        dggan.run(cfg, progress=False)
    saved = SearchState.load(Path(cfg.out_dir) / "search_state.json")
    assert len(saved.records) == 5
    again = []
    monkeypatch.setattr(search_module, "train_candidate", lambda c, d: again.append(c.out_dir) or real_train(c, d))
    state = dggan.run(cfg, progress=False).state
    assert len(again) == len(reference.records) - 5  # no finished candidate was trained again
    assert fids(state) == fids(reference) and state.steps == reference.steps


def test_a_candidate_cut_off_mid_training_resumes_from_its_own_checkpoint(tmp_path, monkeypatch):
    reference = dggan.run(tiny(tmp_path, "ref", candidate_iterations=8), progress=False).state
    cfg = tiny(tmp_path, "cut", candidate_iterations=8)
    real_step = cand.CandidateMethod.train_step
    seen = {"n": 0}

    def step(self, *a, **k):
        if self.cfg.cid == "base+grow" and "baseline" not in self.cfg.out_dir:
            seen["n"] += 1
            if seen["n"] == 6:
                raise KeyboardInterrupt  # the Trainer writes a checkpoint and re-raises
        return real_step(self, *a, **k)

    monkeypatch.setattr(cand.CandidateMethod, "train_step", step)
    with pytest.raises(KeyboardInterrupt):
        dggan.run(cfg, progress=False)
    folder = Path(cfg.out_dir) / "candidates" / "base+grow"
    assert list((folder / "checkpoints").glob("*.pt")) and not (folder / "summary.json").exists()
    monkeypatch.setattr(cand.CandidateMethod, "train_step", real_step)
    state = dggan.run(cfg, progress=False).state
    assert fids(state) == fids(reference)  # bit-exact resume inside the candidate


def test_a_diverged_candidate_is_recorded_as_failed_and_the_search_goes_on(tmp_path, monkeypatch):
    real_step = cand.CandidateMethod.train_step

    def step(self, *a, **k):
        out, n = real_step(self, *a, **k)
        if self.cfg.action == "d_k3_f8":
            out["loss_d"] = out["loss_d"] * float("nan")
        return out, n

    monkeypatch.setattr(cand.CandidateMethod, "train_step", step)
    result = dggan.run(tiny(tmp_path), progress=False)
    failed = [r for r in result.state.records.values() if r["status"] == "failed"]
    assert failed and all(r["action"] == "d_k3_f8" and "non-finite" in r["error"] for r in failed)
    assert all(f"candidates/{cid}" not in {f"candidates/{r['cid']}" for r in failed}
               for s in result.state.steps for cid in s["kept"])
    assert result.summary["status"] == "complete" and result.summary["failed"] == len(failed)


def test_a_corrupt_search_state_is_a_clear_error_and_nothing_is_overwritten(tmp_path):
    cfg = tiny(tmp_path)
    Path(cfg.out_dir).mkdir(parents=True)
    path = Path(cfg.out_dir) / "search_state.json"
    path.write_text('{"format": "gancore-dggan-search/1", "records": {')
    with pytest.raises(ConfigError, match="search_state.json"):
        dggan.run(cfg, progress=False)
    assert path.read_text() == '{"format": "gancore-dggan-search/1", "records": {'


def test_a_changed_search_config_is_refused_and_restart_moves_the_old_search_aside(tmp_path):
    cfg = tiny(tmp_path)
    dggan.run(cfg, progress=False)
    with pytest.raises(ConfigError, match="top_k: 2 → 1"):
        dggan.run(tiny(tmp_path, top_k=1), progress=False)
    with pytest.warns(UserWarning, match="moved"):
        dggan.run(tiny(tmp_path, top_k=1, restart=True), progress=False)
    assert list(Path(cfg.out_dir).glob("previous-*/search_state.json"))


@pytest.mark.parametrize("override, match", [
    ({"actions": ["g_k5_f8"]}, "outside the action set"),
    ({"actions": ["h_k3_f8"]}, "unknown action"),
    ({"top_k": 0}, "top_k"),
    ({"sample_p": 1.5}, "sample_p"),
    ({"sample_p": 0.0}, "sample_p"),
    ({"max_layers": 3}, "max_layers"),
    ({"kernels": [4]}, "odd"),
    ({"stop_resolution": 64}, "stop_resolution"),
    ({"workers": 2}, "executor='ray'"),
    ({"extractor": "inception"}, "inception_weights"),  # FID is the search's feedback: no weights, no search
    ({"base_resolution": 12}, "power of two"),
    ({"final_ema_decay": 1.0}, "final_ema_decay"),
    ({"final_lr": 0.0}, "final_lr"),
])
def test_bad_search_settings_are_clear_errors(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        tiny(tmp_path, **override)


def test_an_unreachable_ray_address_fails_before_training_and_says_how_to_run_locally(tmp_path):
    from gancore import preflight

    cfg = tiny(tmp_path, executor="ray", ray_address="127.0.0.1:1")
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1:1.*(executor='local'|ray_address unset)"):
        preflight.check(cfg)
    assert not Path(cfg.out_dir).exists()
    with pytest.raises(ConfigError, match="host:port"):
        check_ray_address("nonsense")


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_a_local_ray_search_with_two_workers_equals_the_sequential_search(tmp_path, local_ray):
    seq = dggan.run(tiny(tmp_path, "seq"), progress=False).state
    par = dggan.run(tiny(tmp_path, "ray", executor="ray", workers=2), progress=False).state
    assert fids(par) == fids(seq) and par.steps == seq.steps and par.parents == seq.parents


def _die_first_time(marker, shared):
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)  # the worker process dies
    return {"status": "complete", "fid": 1.0}


def _always_die(marker, shared):
    os._exit(1)


def test_a_dead_worker_is_retried_once_then_recorded_as_failed(tmp_path, local_ray):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(__import__(__name__))
    ex = RayExecutor(address=None, workers=2, gpus_per_candidate=1, use_gpu=False)
    got = {}
    ex.run(_die_first_time, [("a", str(tmp_path / "marker"))], shared=None, on_done=got.__setitem__)
    assert got["a"]["status"] == "complete"
    ex.run(_always_die, [("b", "")], shared=None, on_done=got.__setitem__)
    assert got["b"]["status"] == "failed" and got["b"]["worker_died"]


def test_the_local_executor_reports_in_job_order():
    got = []
    LocalExecutor().run(lambda a, s: {"v": a * s}, [("x", 1), ("y", 2)], shared=3,
                        on_done=lambda k, r: got.append((k, r["v"])))
    assert got == [("x", 3), ("y", 6)]
