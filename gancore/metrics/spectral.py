"""Spectral monitoring of G and D weights: top singular values and collapse warnings (BigGAN §4.1, §4.2, App. F).

BigGAN §4.1 found the top three singular values σ0 ≥ σ1 ≥ σ2 of every weight matrix to be the most informative
statistic for anticipating training collapse: most G layers are well behaved, but G's first layer (the
overcomplete, non-convolutional z → 4×4 linear map) has a σ0 that grows through training and *explodes* at collapse.
§4.2: D's spectra are noisy, grow through training and *jump* at collapse, while D's loss approaches zero (D
memorises the training set) and jumps sharply upward at collapse.

What is measured: the singular values of the *un-normalised* weight (for spectrally normalised layers the
``parametrizations.weight.original`` tensor — after SN every layer would read σ0 ≈ 1, as in the paper's Fig. 3,
which plots the values "before Spectral Normalization"). Convolution weights are read as out × (in·kh·kw) matrices,
embeddings as num_embeddings × dim, linears as out × in; every parameter with ≥ 2 dims is covered.

Log key scheme (flat, JSON-friendly, one float per key; see :func:`sv_key` / :func:`parse_sv_key`):

* ``sv/<net>/<layer>/<i>`` — σ_i (i = 0 … k-1, descending) of weight ``<layer>`` of net ``G`` or ``D``. ``<layer>``
  is the parameter name with torch's parametrization wrapper removed
  (``blocks.0.conv1.parametrizations.weight.original`` → ``blocks.0.conv1.weight``); it never contains ``/``.
  A weight of rank r < k has only r keys.
* ``sv/<net>/max0`` — the largest σ0 over all layers of ``<net>``.
* ``sv/<net>/first0`` — σ0 of ``<net>``'s first layer (the first ≥2-D weight that is not an embedding table; for
  BigGAN's G that is ``linear.weight``, the layer §4.1 singles out).
* ``monitor/d_loss`` — the D loss averaged over the steps since the previous record (only when losses are passed to
  :meth:`SpectralMonitor.update`); this smoothed value is what the D-loss checks test.

Non-finite singular values (NaN/inf weights) are left out of the record, so every value written is a finite float.

This module holds :func:`top_singular_values`, :func:`spectral_record` and :class:`SpectralMonitor`; the weight
matrices and singular-value kernels live in :mod:`gancore.metrics.spectral_matrices`, the log keys in
:mod:`gancore.metrics.spectral_keys`, and every name is importable from here.
"""
from __future__ import annotations

import math
import statistics
import warnings
from collections import defaultdict
from typing import Any, Literal

import torch
from torch import Tensor, nn

from gancore.metrics.spectral_keys import _SV_KEY as _SV_KEY
from gancore.metrics.spectral_keys import parse_sv_key, sv_key
from gancore.metrics.spectral_matrices import _PARAMETRIZED as _PARAMETRIZED
from gancore.metrics.spectral_matrices import (
    METHODS,
    Method,
    _batched_top_k,
    clean_param_name,
    first_layer_name,
    weight_matrices,
)
from gancore.metrics.spectral_matrices import _power_svdvals as _power_svdvals

__all__ = [
    "CollapseWarning",
    "SpectralMonitor",
    "clean_param_name",
    "first_layer_name",
    "parse_sv_key",
    "spectral_record",
    "sv_key",
    "top_singular_values",
    "weight_matrices",
]

# Same-shaped weights are stacked and decomposed in one batched call (fewer kernel launches on GPU); groups are split
# so that one stacked copy stays below this many elements (64 Mi floats = 256 MiB) next to the weights themselves.
_MAX_BATCH_ELEMENTS = 1 << 26


# ---------------------------------------------------------------------------------------------------------------------
# Singular values
# ---------------------------------------------------------------------------------------------------------------------
def top_singular_values(module: nn.Module, *, k: int = 3, method: Method = "svd", power_iters: int = 8,
                        oversample: int = 7, seed: int = 0) -> dict[str, Tensor]:
    """Top-``k`` singular values of every ≥2-D weight of ``module`` (BigGAN §4.1), keyed by clean parameter name.

    Each value is a float32 tensor of min(k, rank bound) values in descending order, on the weight's device, computed
    without autograd. A weight with NaN/inf entries gives NaNs (LAPACK would fail on it).

    Args:
        module: any network; spectrally normalised layers are read before normalisation.
        k: number of singular values per weight (3 in the paper).
        method: ``"svd"`` — ``torch.linalg.svdvals`` (exact, LAPACK/cuSOLVER); ``"power"`` — block power (subspace)
            iteration with Rayleigh–Ritz, an iterative estimate in the spirit of the paper's Arnoldi iteration:
            about 4× cheaper on CPU, approximate when the top singular values are close together.
        power_iters: subspace iterations of ``"power"``.
        oversample: extra subspace vectors of ``"power"`` (k + oversample in all), which speed its convergence.
        seed: start vectors of ``"power"`` (fixed so repeated calls on the same weights agree).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    if power_iters < 1 or oversample < 0:
        raise ValueError(f"power_iters must be >= 1 and oversample >= 0, got {power_iters} and {oversample}")
    matrices = weight_matrices(module)
    groups: dict[tuple, list[str]] = defaultdict(list)
    for name, matrix in matrices.items():
        groups[(tuple(matrix.shape), matrix.device)].append(name)

    out: dict[str, Tensor] = {}
    with torch.no_grad():
        for (shape, _), names in groups.items():
            per_batch = max(1, _MAX_BATCH_ELEMENTS // (shape[0] * shape[1]))
            for start in range(0, len(names), per_batch):
                chunk = names[start:start + per_batch]
                stack = torch.stack([matrices[n] for n in chunk]) if len(chunk) > 1 else matrices[chunk[0]][None]
                values = _batched_top_k(stack, k=k, method=method, power_iters=power_iters, oversample=oversample,
                                        seed=seed)
                out.update(zip(chunk, values.unbind(0)))
    return {name: out[name] for name in matrices}  # registration order, which plots and "first layer" rely on



# ---------------------------------------------------------------------------------------------------------------------
# Log records
# ---------------------------------------------------------------------------------------------------------------------
def spectral_record(G: nn.Module | None, D: nn.Module | None, *, k: int = 3, method: Method = "svd",
                    **method_kwargs: Any) -> dict[str, float]:
    """Flat log record of the top-``k`` singular values of every G and D weight (BigGAN §4.1, §4.2, App. F).

    Keys follow the module docstring: ``sv/<net>/<layer>/<i>`` per weight plus ``sv/<net>/max0`` and
    ``sv/<net>/first0`` summaries. A net passed as None is skipped. Non-finite values are left out.
    ``method`` and ``method_kwargs`` go to :func:`top_singular_values`.
    """
    record: dict[str, float] = {}
    for net_name, net in (("G", G), ("D", D)):
        if net is None:
            continue
        values = top_singular_values(net, k=k, method=method, **method_kwargs)
        if not values:
            continue
        # One device→host copy for the whole net rather than one sync per layer.
        host = torch.cat(list(values.values())).cpu().tolist()
        sigma0: dict[str, float] = {}
        offset = 0
        for layer, tensor in values.items():
            for i, value in enumerate(host[offset:offset + tensor.numel()]):
                if math.isfinite(value):
                    record[sv_key(net_name, layer, i)] = value
                    if i == 0:
                        sigma0[layer] = value
            offset += tensor.numel()
        if sigma0:
            record[f"sv/{net_name}/max0"] = max(sigma0.values())
        first = first_layer_name(net)
        if first in sigma0:
            record[f"sv/{net_name}/first0"] = sigma0[first]
    return record


# ---------------------------------------------------------------------------------------------------------------------
# Monitor
# ---------------------------------------------------------------------------------------------------------------------
class CollapseWarning(UserWarning):
    """A symptom of GAN training collapse from BigGAN §4.1/§4.2: σ0 explosion, or a collapsing/jumping D loss."""


class SpectralMonitor:
    """Every ``every_steps`` steps: log the top singular values of G and D and warn on collapse symptoms (BigGAN §4.1,
    §4.2).

    Checks, each compared with a robust running reference — the median of the last ``window`` records, which a single
    noisy record (D's spectra are noisy, §4.2) cannot move much, and which follows the slow growth "throughout
    training" that §4.1/§4.2 describe as normal:

    * σ0 explosion (§4.1: G's first-layer σ0 "explodes at collapse"; §4.2: D's singular values "jump at collapse"):
      a watched layer's σ0 exceeds ``explode_factor`` × its reference.
    * D loss near zero (§4.2: "D's loss approaches zero during training" — D memorises the training set, the
      regime in which collapse happens): the smoothed D loss falls below ``d_loss_floor``.
    * D loss drop (off by default): the smoothed D loss falls below its reference / ``d_loss_drop_factor``. The
      paper reports no sudden drop — D's loss approaches zero gradually — and the fast fall of the loss just after
      initialisation trips this test (measured on a tiny BigGAN: mean hinge loss 68 → 10.6 → 3.2 → 2.3 over the
      first 75 steps), so the floor is the default D-loss-collapse criterion.
    * D loss jump (§4.2: D's loss "undergoes a sharp upward jump at collapse"): the smoothed D loss exceeds
      ``d_loss_jump_factor`` × its reference.
    * Non-finite singular values (NaN/inf weights) in a watched layer.

    The smoothed D loss is the mean of every loss passed to :meth:`update` since the previous record, so single noisy
    minibatches do not trigger. The D-loss ratio tests assume a non-negative loss (hinge, non-saturating); they are
    skipped while the reference is ≤ 0 (e.g. a WGAN critic loss) and a ratio test also needs an absolute change of at
    least ``d_loss_min_change`` so that noise around a near-zero loss does not count as a jump or drop.

    Each warning is a :class:`CollapseWarning` naming the layer (or loss), step and values. It is raised once when a
    condition starts and re-armed only after the condition has cleared at a later record, so a persisting symptom
    does not warn at every record. Warnings are also kept in :attr:`events`.

    Args:
        every_steps: record (and check) once per this many steps; also call :meth:`update` on the other steps when
            passing the D loss, so the smoothed loss covers them.
        k: singular values per weight (3, §4.1).
        method: see :func:`top_singular_values` (``"svd"`` exact, or the cheaper approximate ``"power"``).
        explode_factor: σ0 / reference ratio above which a layer has exploded; None disables.
        window: number of past records whose median is the reference.
        min_history: past records needed before a ratio check runs.
        warmup_steps: no warnings before this step (σ0 grows fastest just after initialisation); records still feed
            the references.
        watch: ``"all"`` layers of G and D, or only each net's ``"first"`` layer (G's is the one §4.1 singles out).
        d_loss_floor: smoothed D loss below which D counts as collapsed to zero; None disables.
        d_loss_drop_factor: reference / smoothed loss ratio of a sudden drop (e.g. 4.0); None (default) disables.
        d_loss_jump_factor: smoothed loss / reference ratio of an upward jump at collapse; None disables.
        d_loss_min_change: absolute change the two ratio tests also require.
    """

    def __init__(self, *, every_steps: int = 500, k: int = 3, method: Method = "svd",
                 explode_factor: float | None = 3.0, window: int = 10, min_history: int = 3, warmup_steps: int = 0,
                 watch: Literal["all", "first"] = "all", d_loss_floor: float | None = 0.05,
                 d_loss_drop_factor: float | None = None, d_loss_jump_factor: float | None = 3.0,
                 d_loss_min_change: float = 0.1) -> None:
        if every_steps < 1 or k < 1:
            raise ValueError(f"every_steps and k must be >= 1, got every_steps={every_steps}, k={k}")
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
        if window < 1 or not 1 <= min_history <= window:
            raise ValueError(f"need window >= 1 and 1 <= min_history <= window, got window={window}, "
                             f"min_history={min_history}")
        if watch not in ("all", "first"):
            raise ValueError(f"watch must be 'all' or 'first', got {watch!r}")
        for name, factor in (("explode_factor", explode_factor), ("d_loss_drop_factor", d_loss_drop_factor),
                             ("d_loss_jump_factor", d_loss_jump_factor)):
            if factor is not None and factor <= 1:
                raise ValueError(f"{name} must be > 1 (or None to disable), got {factor}")
        self.every_steps = every_steps
        self.k = k
        self.method = method
        self.explode_factor = explode_factor
        self.window = window
        self.min_history = min_history
        self.warmup_steps = warmup_steps
        self.watch = watch
        self.d_loss_floor = d_loss_floor
        self.d_loss_drop_factor = d_loss_drop_factor
        self.d_loss_jump_factor = d_loss_jump_factor
        self.d_loss_min_change = d_loss_min_change
        self._reset()

    def _reset(self) -> None:
        self.last_step: int | None = None
        self.sigma0_history: dict[str, list[float]] = {}  # "<net>/<layer>" → σ0 of the last `window` records
        self.d_loss_history: list[float] = []  # smoothed D loss of the last `window` records
        self.events: list[dict[str, Any]] = []  # every warning raised, as plain data
        self._active: set[str] = set()  # conditions currently on, so each warns once per occurrence
        self._d_loss_sum: Tensor | float = 0.0  # kept on the loss's device: no host sync on every step
        self._d_loss_count = 0

    # ---------------------------------------------------------------- stepping
    def due(self, step: int) -> bool:
        """Whether :meth:`update` at ``step`` records: first call, then once per ``every_steps`` bucket."""
        return self.last_step is None or step // self.every_steps > self.last_step // self.every_steps

    def update(self, step: int, G: nn.Module | None, D: nn.Module | None,
               d_loss: float | Tensor | None = None) -> dict[str, float]:
        """Accumulate ``d_loss``; when due, return the record to log (else ``{}``) and warn on collapse symptoms."""
        if d_loss is not None:
            self._accumulate(d_loss)
        if not self.due(step):
            return {}
        record = spectral_record(G, D, k=self.k, method=self.method)
        d_mean = self._pop_d_loss()
        nets = {"G": G, "D": D}
        watched = self._watched(record, nets)
        if step >= self.warmup_steps:
            self._check_nonfinite(step, nets, record)
            self._check_sigma0(step, watched, first={f"{n}/{first_layer_name(m)}" for n, m in nets.items() if m})
            if d_mean is not None:
                self._check_d_loss(step, d_mean)
        for key, value in watched.items():
            self.sigma0_history[key] = (self.sigma0_history.get(key, []) + [value])[-self.window:]
        if d_mean is not None and math.isfinite(d_mean):
            record["monitor/d_loss"] = d_mean
            self.d_loss_history = (self.d_loss_history + [d_mean])[-self.window:]
        self.last_step = step
        return record

    def _accumulate(self, d_loss: float | Tensor) -> None:
        if isinstance(d_loss, Tensor):
            d_loss = d_loss.detach().float().mean()
        self._d_loss_sum = self._d_loss_sum + d_loss
        self._d_loss_count += 1

    def _pop_d_loss(self) -> float | None:
        if self._d_loss_count == 0:
            return None
        mean = float(self._d_loss_sum) / self._d_loss_count
        self._d_loss_sum, self._d_loss_count = 0.0, 0
        return mean

    def _watched(self, record: dict[str, float], nets: dict[str, nn.Module | None]) -> dict[str, float]:
        """σ0 of the watched layers, keyed "<net>/<layer>"."""
        sigma0 = {f"{p[0]}/{p[1]}": v for key, v in record.items() if (p := parse_sv_key(key)) and p[2] == 0}
        if self.watch == "all":
            return sigma0
        firsts = {f"{n}/{first_layer_name(m)}" for n, m in nets.items() if m is not None}
        return {key: value for key, value in sigma0.items() if key in firsts}

    # ---------------------------------------------------------------- checks
    def _check_nonfinite(self, step: int, nets: dict[str, nn.Module | None], record: dict[str, float]) -> None:
        for net_name, net in nets.items():
            if net is None:
                continue
            for layer in weight_matrices(net):
                bad = sv_key(net_name, layer, 0) not in record
                self._set(f"nonfinite:{net_name}/{layer}", bad, step=step, kind="nonfinite", net=net_name,
                          layer=layer, value=math.nan, reference=math.nan,
                          message=f"non-finite weights in {net_name} layer '{layer}' at step {step}: its singular "
                                  "values are undefined (training has diverged)")

    def _check_sigma0(self, step: int, watched: dict[str, float], *, first: set[str]) -> None:
        if self.explode_factor is None:
            return
        for key, value in watched.items():
            history = self.sigma0_history.get(key, [])
            if len(history) < self.min_history:
                continue
            reference = statistics.median(history)
            exploded = reference > 0 and value > self.explode_factor * reference
            net_name, layer = key.split("/", 1)
            role = f" (the first layer of {net_name}, which BigGAN §4.1 singles out)" if key in first else ""
            self._set(f"explode:{key}", exploded, step=step, kind="sigma0_explosion", net=net_name, layer=layer,
                      value=value, reference=reference,
                      message=f"σ0 explosion in {net_name} layer '{layer}'{role} at step {step}: σ0 = {value:.4g} is "
                              f"{value / max(reference, 1e-30):.1f}× its median {reference:.4g} over the last "
                              f"{len(history)} records (threshold {self.explode_factor}×); BigGAN §4.1/§4.2 see this "
                              "at training collapse")

    def _check_d_loss(self, step: int, d_mean: float) -> None:
        if not math.isfinite(d_mean):
            return  # the training loop's NaN guard reports non-finite losses
        common = dict(step=step, net="D", layer="", value=d_mean)
        if self.d_loss_floor is not None:
            self._set("d_loss_floor", d_mean < self.d_loss_floor, kind="d_loss_floor", reference=self.d_loss_floor,
                      message=f"D loss collapsed towards zero at step {step}: mean {d_mean:.4g} since the previous "
                              f"record is below the floor {self.d_loss_floor:g}; BigGAN §4.2: D is memorising the "
                              "training set, the regime in which training collapses", **common)
        if len(self.d_loss_history) < self.min_history:
            return
        reference = statistics.median(self.d_loss_history)
        if reference <= 0:
            return
        change = f"its median {reference:.4g} over the last {len(self.d_loss_history)} records"
        if self.d_loss_drop_factor is not None:
            dropped = (d_mean * self.d_loss_drop_factor < reference
                       and reference - d_mean >= self.d_loss_min_change)
            self._set("d_loss_drop", dropped, kind="d_loss_drop", reference=reference,
                      message=f"D loss dropped sharply at step {step}: mean {d_mean:.4g} is below 1/"
                              f"{self.d_loss_drop_factor:g} of {change}", **common)
        if self.d_loss_jump_factor is not None:
            jumped = (d_mean > self.d_loss_jump_factor * reference
                      and d_mean - reference >= self.d_loss_min_change)
            self._set("d_loss_jump", jumped, kind="d_loss_jump", reference=reference,
                      message=f"D loss jumped at step {step}: mean {d_mean:.4g} is {d_mean / reference:.1f}× "
                              f"{change} (threshold {self.d_loss_jump_factor:g}×); BigGAN §4.2 sees this sharp "
                              "upward jump at training collapse", **common)

    def _set(self, condition: str, on: bool, *, message: str, **event: Any) -> None:
        """Turn ``condition`` on or off; warn only on the off → on edge (once per occurrence)."""
        if not on:
            self._active.discard(condition)
            return
        if condition in self._active:
            return
        self._active.add(condition)
        self.events.append({**event, "condition": condition, "message": message})
        warnings.warn(message, CollapseWarning, stacklevel=4)  # _set ← _check_* ← update ← caller

    # ---------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        """Plain-Python state (ints, floats, strings, lists, dicts) that ``torch.load(weights_only=True)`` accepts."""
        return {
            "version": 1,
            "last_step": -1 if self.last_step is None else int(self.last_step),
            "sigma0_history": {key: [float(v) for v in values] for key, values in self.sigma0_history.items()},
            "d_loss_history": [float(v) for v in self.d_loss_history],
            "d_loss_sum": float(self._d_loss_sum),
            "d_loss_count": int(self._d_loss_count),
            "active": sorted(self._active),
            "events": [dict(event) for event in self.events],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (the constructor arguments are not part of the state)."""
        if state.get("version") != 1:
            raise ValueError(f"unsupported SpectralMonitor state version {state.get('version')!r}; expected 1")
        self._reset()
        last = int(state["last_step"])
        self.last_step = None if last < 0 else last
        self.sigma0_history = {str(k): [float(v) for v in vs][-self.window:]
                               for k, vs in state["sigma0_history"].items()}
        self.d_loss_history = [float(v) for v in state["d_loss_history"]][-self.window:]
        self._d_loss_sum = float(state["d_loss_sum"])
        self._d_loss_count = int(state["d_loss_count"])
        self._active = set(state["active"])
        self.events = [dict(event) for event in state["events"]]
