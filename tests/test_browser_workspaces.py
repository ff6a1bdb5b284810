"""Real-browser tests of workspaces on a classroom server (`SEQLAB_WORKSPACES=1`).

A new browser gets its own workspace, named in its address; the name stays
there across a sidebar page switch and a reload, so a student's bookmark
brings their runs back. Another browser, in another workspace, sees none of
them, and a run id of the first typed into its address opens nothing.
"""

import os
import re

import pytest

from seqlab.store import RunStore
from seqlab.workspaces import Actor, check_workspace_name
from tests.browser_support import page_problems, wait_for_app
from tests.test_browser import seed_run

INFO_BOX = '[data-testid="stAlertContentInfo"]'
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def server_home(tmp_path_factory):
    """The server's store: two runs of workspace ada; the server hands out workspaces."""
    saved = os.environ.get("SEQLAB_WORKSPACES")
    os.environ["SEQLAB_WORKSPACES"] = "1"  # read by the server the `server` fixture starts
    home = tmp_path_factory.mktemp("browser-workspaces") / "seqlab_home"
    ada = RunStore(home).for_actor(Actor("ada"))
    seed_run(ada, {"model.arch": "lstm"}, 0.8, 0.5)
    seed_run(ada, {"model.arch": "transformer"}, 0.9, 0.5)
    yield home
    if saved is None:
        os.environ.pop("SEQLAB_WORKSPACES", None)
    else:
        os.environ["SEQLAB_WORKSPACES"] = saved


def _workspace_of(url: str) -> str | None:
    found = re.search(r"[?&]workspace=([^&]+)", url)
    return found.group(1) if found else None


def test_a_new_browser_gets_its_own_workspace_in_the_address(page, server):
    page.goto(server.url)
    wait_for_app(page)
    page.wait_for_url(re.compile(r"workspace="))
    name = _workspace_of(page.url)
    assert name is not None and check_workspace_name(name) == name and name != "ada"
    assert page.get_by_text("No runs yet").count() >= 1  # ada's runs are not this browser's
    assert page_problems(page) == []


def test_the_workspace_survives_a_page_switch_and_a_reload(page, server, server_home):
    page.goto(f"{server.url}/?workspace=ada")
    wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Compare", exact=True).click()
    wait_for_app(page)
    page.wait_for_url(re.compile(r"/Compare\?"))
    assert _workspace_of(page.url) == "ada"
    page.reload()
    wait_for_app(page)
    labels = {record.label for record in RunStore(server_home).list_runs()}
    assert all(page.get_by_text(label).count() >= 1 for label in labels)
    assert page_problems(page) == []


def test_another_workspace_cannot_open_adas_run_by_its_id(page, server, server_home):
    hidden = next(record.run_id for record in RunStore(server_home).list_runs() if record.arch == "transformer")
    page.goto(f"{server.url}/Attention?workspace=bob&run={hidden}")
    wait_for_app(page)
    notice = " ".join(page.locator(INFO_BOX).all_inner_texts())
    assert f"There is no run '{hidden}'" in notice
    assert page_problems(page) == []
