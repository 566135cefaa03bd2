"""The four notebooks in a real browser (issue 27): JupyterLab from this environment, headless Chromium driven by
Playwright. Each notebook runs at smoke scale with Run All; then every widget control is moved as a user would
(typing into a slider's readout, picking from a menu, clicking a checkbox, a tab, play) and the image it drives must
change, with its captions in the page. A comm error or a callback that no longer redraws fails here, though the
headless papermill runs (tests/test_notebooks.py) pass.

Needs Chromium (``make browser`` installs Debian's: Playwright's own download is not reachable here) and Playwright
(the dev extra). Without them the test skips and says why. Select it with ``-m browser``, leave it out with
``-m "not browser"``.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("GANCORE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one lab, one browser
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (make setup installs it)")
if not CHROMIUM:
    pytest.skip("no Chromium: `make browser` installs Debian's (it needs root and apt-get)", allow_module_level=True)

STEP_MS = 60_000  # any one wait: a control's redraw, a page load (a redraw takes about a second here)
RUN_ALL_S = 240  # one notebook's Run All at smoke scale (about 40 s each on the 2-core CI machine)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 (free port, a token) over smoke-scale copies of the notebooks; always stopped."""
    import papermill as pm

    root = tmp_path_factory.mktemp("lab")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        pm.execute_notebook(str(nb), str(root / nb.name), prepare_only=True, progress_bar=False,
                            parameters=dict(scale="smoke", out_dir=str(root / f"run-{nb.stem}")))
    app_settings = root / "app-settings"  # the overrides `make lab` installs: no news prompt, no update check
    app_settings.mkdir()
    shutil.copy(ROOT / "scripts" / "jupyterlab" / "overrides.json", app_settings / "overrides.json")
    # Render every cell (JupyterLab otherwise detaches cells scrolled out of view, and their widgets with them).
    tracker = root / "user-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"), "PYTHONPATH": str(ROOT)}
    env.pop("GANCORE_SCALE", None)
    env.pop("GANCORE_OUT_DIR", None)
    log = (root / "lab.log").open("w")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.app_settings_dir={app_settings}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield dict(url=f"http://127.0.0.1:{port}", token=token, root=root)
    finally:
        # The server and its kernels share a process group: stop them all, however the tests ended.
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"],
                              timeout=STEP_MS)
        try:
            yield b
        finally:
            b.close()


# The notebook's state from JupyterLab's own model (cells out of view have no prompt in the page).
_STATE_JS = """(path) => {
  const app = window.jupyterapp;
  const w = app && [...app.shell.widgets('main')].find(x => x.context && x.context.path === path);
  if (!w || !w.content || !w.content.model || !w.sessionContext) return null;
  const code = [...w.content.model.cells].filter(c => c.type === 'code');
  const errors = [];
  for (const c of code) for (const o of c.outputs.toJSON()) {
    if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    const text = Array.isArray(o.text) ? o.text.join('') : (o.text || '');
    if (o.output_type === 'stream' && /Traceback/.test(text)) errors.push(text.slice(-1500));
  }
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return {cells: code.length, done: code.filter(c => c.executionCount !== null).length,
          status: kernel ? kernel.status : 'none', errors: errors};
}"""


def _run_all(page, lab, name: str) -> None:
    """Open the notebook, Run All, wait for its last cell; fail on any error output or traceback."""
    # A workspace of its own, reset: only this notebook is open (JupyterLab reopens the tabs of the last visit).
    page.goto(f"{lab['url']}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token={lab['token']}")
    path = f"{name}.ipynb"
    page.wait_for_function(f"() => ({_STATE_JS})({path!r})?.status === 'idle' && "
                           "window.jupyterapp.commands.isEnabled('notebook:run-all-cells')", timeout=STEP_MS)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline, idle_polls, state = time.monotonic() + RUN_ALL_S, 0, None
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        state = page.evaluate(_STATE_JS, path)
        assert not state["errors"], f"{name}: error output after Run All:\n" + "\n".join(state["errors"])
        idle_polls = idle_polls + 1 if state["status"] == "idle" else 0
        if state["done"] == state["cells"] and idle_polls >= 2:
            break
        if idle_polls >= 10:
            pytest.fail(f"{name}: the kernel went idle with {state['done']}/{state['cells']} cells run")
    else:
        pytest.fail(f"{name}: Run All did not finish within {RUN_ALL_S} s ({state})")
    assert "Traceback" not in page.inner_text(".jp-Notebook"), f"{name}: a traceback is shown"
    assert not page.get_by_text("official Jupyter news").count(), "JupyterLab's news prompt is shown"


def _control(scope, kind: str, label: str):
    """The ipywidgets control of class ``widget-<kind>`` whose description is ``label``."""
    return scope.locator(f".widget-{kind}:has(> .widget-label:text-is('{label}'))").first


def _changes(page, image, action, what: str) -> None:
    """Do ``action``; the image's source (a new blob per redraw) must change."""
    before = image.get_attribute("src")
    action()
    try:
        page.wait_for_function("([el, old]) => el.getAttribute('src') !== old",
                               arg=[image.element_handle(), before], timeout=STEP_MS)
    except sync_api.Error as err:
        raise AssertionError(f"{what} did not redraw its image within {STEP_MS // 1000} s") from err


def _shows(caption, text: str) -> None:
    """The caption (page text) comes to contain ``text``: it and the image are separate widget messages, so the
    image may redraw first."""
    sync_api.expect(caption).to_contain_text(text, timeout=STEP_MS)


def _type_into(page, field, text: str) -> None:
    """Select a field's text (a slider's editable readout, a number box) and type a value, as a user does."""
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def _drive_latent_explorer(page) -> None:
    """gancore.widgets.interpolation_widget: seeds, path, t; then the latent walk's frame slider and play."""
    tab = page.locator(".jupyter-widget-tab").last
    tab.scroll_into_view_if_needed()
    image_at_t, strip = tab.locator(".widget-image").nth(0), tab.locator(".widget-image").nth(1)
    caption = tab.locator(".gancore-caption").first
    for t in ("t=0.00", "t=1.00"):
        _shows(caption, t)
    slider = _control(tab, "slider", "t")
    _changes(page, image_at_t, lambda: _type_into(page, slider.locator(".widget-readout"), "0.1"), "the t slider")
    seed_a = _control(tab, "text", "seed A").locator("input")
    _changes(page, strip, lambda: _type_into(page, seed_a, "5"), "seed A")
    _shows(caption, "seed 5 →")
    seed_b = _control(tab, "text", "seed B").locator("input")
    _changes(page, strip, lambda: _type_into(page, seed_b, "7"), "seed B")
    _shows(caption, "→ seed 7")
    mode = _control(tab, "dropdown", "mode").locator("select")
    _changes(page, strip, lambda: mode.select_option("lerp"), "the path menu")
    _shows(caption, "lerp")

    walk_tab = tab.locator(".lm-TabBar-tab", has_text="latent walk")
    if not walk_tab.count():
        return
    walk_tab.click()
    frame_image = tab.locator(".widget-vbox:visible .widget-image").last
    frame = _control(tab, "slider", "frame")
    _changes(page, frame_image, lambda: _type_into(page, frame.locator(".widget-readout"), "3"), "the frame slider")
    play = tab.locator(".widget-play button").first
    _changes(page, frame_image, play.click, "the play button")
    play.click()  # pause again


def _drive_biggan_explorer(page) -> None:
    """gancore.recipes.biggan.widgets.biggan_explorer: truncation, class, seed, the truncate box, all four views, and
    each view's own controls (seed B and the path, class B)."""
    box = page.locator(".widget-vbox:has(> .widget-toggle-buttons)").last
    box.scroll_into_view_if_needed()
    image, caption = box.locator(".widget-image").first, box.locator(".gancore-caption").first
    truncation = _control(box, "slider", "truncation")
    _changes(page, image, lambda: _type_into(page, truncation.locator(".widget-readout"), "0.3"),
             "the truncation slider")
    _shows(caption, "truncation 0.3")
    menu = _control(box, "dropdown", "class").locator("select")
    options = menu.locator("option").all_inner_texts()
    assert len(options) >= 3  # class A, class B and one more to pick
    current = menu.evaluate("el => el.options[el.selectedIndex].text")
    pick = next(o for o in options if o != current)
    _changes(page, image, lambda: menu.select_option(label=pick), "the class menu")
    _shows(caption, pick)
    seed = _control(box, "text", "seed").locator("input")
    _changes(page, image, lambda: _type_into(page, seed, "3"), "the seed box")
    _shows(caption, "seed 3")
    _changes(page, image, box.locator(".widget-checkbox", has_text="truncate").locator("input").click, "the truncate box")
    _shows(caption, "untruncated")
    expected = {"truncation strip": "truncation threshold per column", "latent interpolation": "t=1.00",
                "class interpolation": "t=1.00", "samples": "#0"}
    for view, text in expected.items():
        button = box.locator(".widget-toggle-button", has_text=view).first
        _changes(page, image, button.click, f"the {view!r} view")
        _shows(caption, text)
        if view == "latent interpolation":  # the controls only this view uses
            _changes(page, image, lambda: _type_into(page, _control(box, "text", "seed B").locator("input"), "11"),
                     "seed B")
            _shows(caption, "seed 11")
            _changes(page, image, lambda: _control(box, "dropdown", "path").locator("select").select_option("lerp"),
                     "the path menu")
            _shows(caption, "lerp")
        if view == "class interpolation":
            menu_b = _control(box, "dropdown", "class B").locator("select")
            now = menu_b.evaluate("el => el.options[el.selectedIndex].text")
            pick_b = next(o for o in options if o not in (now, pick))
            _changes(page, image, lambda: menu_b.select_option(label=pick_b), "the class B menu")
            _shows(caption, pick_b)


DRIVERS = {"progan": _drive_latent_explorer, "alphagan": _drive_latent_explorer, "dggan": _drive_latent_explorer,
           "biggan": _drive_biggan_explorer}


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_notebook_runs_and_its_widgets_redraw_in_a_browser(lab, browser, name):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(STEP_MS)
    try:
        _run_all(page, lab, name)
        DRIVERS[name](page)
        assert page.evaluate(_STATE_JS, f"{name}.ipynb")["errors"] == [], "a widget callback wrote an error"
    finally:
        try:  # free the kernel's memory for the next notebook
            page.evaluate("async (path) => { const w = [...window.jupyterapp.shell.widgets('main')].find("
                          "x => x.context && x.context.path === path); if (w) await w.sessionContext.shutdown(); }",
                          f"{name}.ipynb")
        finally:
            page.close()
