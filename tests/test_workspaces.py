"""Workspaces: isolation in the store, the CLI and the pages; sharing; the instructor; the fair queue;
quotas; an old store migrated in place."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest

from seqlab import jobs, quotas
from seqlab.config import RunConfig
from seqlab.data.uploads import list_uploads
from seqlab.quotas import Limits, QuotaExceeded, check_queue, save_upload_within_limits
from seqlab.store import MIGRATIONS, RunNotFoundError, RunStore
from seqlab.workspaces import (
    Actor, PermissionDenied, check_workspace_name, command_line_actor, instructor_token_matches,
    login_workspace_name,
)
from tests.apptest_support import (
    ATTENTION_PAGE, COMPARE_PAGE, HOME_PAGE, ROOT, check_page, open_page, texts_of,
)

ADA, BOB = Actor("ada"), Actor("bob")
GOOD_CSV = b"text,label\n" + b"".join(
    f"{word} film number {i},{label}\n".encode() for i in range(8) for word, label in (("great", "p"), ("bad", "n")))


def finished_run(store: RunStore, arch: str = "lstm") -> str:
    """Records a completed run with two made-up epochs in the store's workspace."""
    run_id = store.create_run(RunConfig().with_overrides({"model.arch": arch}), status="running")
    for epoch in (1, 2):
        store.for_actor(None).add_epoch(run_id, epoch, {"loss": 1.0 / epoch, "val_loss": 1.0, "accuracy": 0.5,
                                                        "val_accuracy": 0.5, "seconds": 0.1})
    store.for_actor(None).finish_run(run_id, "completed", test_accuracy=0.5)
    return run_id


# ------------------------------------------------------------------ library
def test_a_workspace_lists_only_its_own_runs(store):
    own = finished_run(store.for_actor(ADA))
    finished_run(store.for_actor(BOB))
    ada = store.for_actor(ADA)
    assert [record.run_id for record in ada.list_runs()] == [own]
    assert ada.runs_frame()["run_id"].tolist() == [own]
    assert set(ada.epochs_frame()["run_id"]) == {own}
    assert ada.summaries_frame()["run_id"].tolist() == [own]


def test_another_workspaces_run_reads_as_missing(store):
    hidden = finished_run(store.for_actor(BOB))
    ada = store.for_actor(ADA)
    with pytest.raises(RunNotFoundError):
        ada.get_run(hidden)
    with pytest.raises(RunNotFoundError):
        ada.model_path(hidden)
    assert ada.epochs(hidden) == [] and ada.read_meta is not None
    assert not ada.has_model(hidden)


def test_a_crafted_run_id_cannot_stop_or_delete_another_workspaces_run(store):
    hidden = store.for_actor(BOB).create_run(RunConfig())
    ada = store.for_actor(ADA)
    with pytest.raises(RunNotFoundError):
        jobs.stop_run(ada, hidden)
    with pytest.raises(RunNotFoundError):
        ada.delete_run(hidden)
    record = store.get_run(hidden)
    assert record.status == "queued" and not record.stop_requested


def test_a_shared_run_is_seen_on_request_but_cannot_be_changed(store):
    shared = finished_run(store.for_actor(BOB))
    store.for_actor(Actor("teacher", instructor=True)).set_shared(shared, True)
    assert store.for_actor(ADA).list_runs() == []
    viewer = store.for_actor(Actor("ada", include_shared=True))
    assert [record.run_id for record in viewer.list_runs()] == [shared]
    with pytest.raises(PermissionDenied, match="belongs to workspace 'bob'"):
        viewer.delete_run(shared)
    assert store.get_run(shared).status == "completed"


def test_only_the_instructor_shares_runs(store):
    own = finished_run(store.for_actor(ADA))
    with pytest.raises(PermissionDenied, match="only the instructor"):
        store.for_actor(ADA).set_shared(own, True)
    assert not store.get_run(own).shared


def test_the_instructor_sees_and_deletes_every_workspaces_runs(store):
    runs = [finished_run(store.for_actor(ADA)), finished_run(store.for_actor(BOB))]
    teacher = store.for_actor(Actor("teacher", instructor=True))
    assert {record.run_id for record in teacher.list_runs()} == set(runs)
    teacher.delete_run(runs[0])
    assert [record.run_id for record in store.list_runs()] == [runs[1]]


def test_new_runs_belong_to_the_actors_workspace_and_not_another(store):
    ada = store.for_actor(ADA)
    assert store.get_run(ada.create_run(RunConfig())).workspace == "ada"
    with pytest.raises(PermissionDenied):
        ada.create_run(RunConfig(), workspace="bob")


def test_searches_are_kept_to_their_workspace(store):
    study = store.for_actor(ADA).create_search({"trials": 3})
    assert [search["study_id"] for search in store.for_actor(ADA).list_searches()] == [study]
    assert store.for_actor(BOB).list_searches() == []
    with pytest.raises(RunNotFoundError):
        store.for_actor(BOB).get_search(study)


def test_uploads_are_listed_for_the_workspace_that_uploaded_them(store):
    upload = save_upload_within_limits(store.for_actor(ADA), "films.csv", GOOD_CSV)
    assert [found.path for found in list_uploads(store.home, "ada")] == [upload.path]
    assert list_uploads(store.home, "bob") == []
    save_upload_within_limits(store.for_actor(BOB), "mine.csv", GOOD_CSV)  # same bytes, kept once
    assert [found.path for found in list_uploads(store.home, "bob")] == [upload.path]
    assert [found.path for found in list_uploads(store.home, "ada")] == [upload.path]


# ------------------------------------------------------------------ names and tokens
@pytest.mark.parametrize("name", ["", "Has Space", "../etc", "-lead", "x" * 41, 7])
def test_bad_workspace_names_are_refused_with_the_rule(name):
    with pytest.raises(ValueError, match="expected 1-40 lower-case letters"):
        check_workspace_name(name)


def test_workspace_names_are_lower_cased():
    assert Actor("Ada").workspace == "ada"
    assert login_workspace_name("Ada.Lovelace@example.org") == "ada.lovelace"


def test_the_instructor_token_must_match_and_be_configured(monkeypatch):
    monkeypatch.delenv("SEQLAB_INSTRUCTOR_TOKEN", raising=False)
    assert not instructor_token_matches("")
    assert not instructor_token_matches("anything")
    monkeypatch.setenv("SEQLAB_INSTRUCTOR_TOKEN", "s3cret")
    assert instructor_token_matches("s3cret")
    assert not instructor_token_matches("s3cre")
    assert not instructor_token_matches("")


def test_a_wrong_token_on_the_command_line_is_refused(monkeypatch):
    monkeypatch.setenv("SEQLAB_INSTRUCTOR_TOKEN", "s3cret")
    assert command_line_actor("ada", "s3cret").instructor
    with pytest.raises(PermissionDenied, match="does not match"):
        command_line_actor("ada", "guess")


# ------------------------------------------------------------------ the fair queue
def test_the_queue_serves_workspaces_round_robin(store):
    for _ in range(3):
        store.for_actor(ADA).create_run(RunConfig())
    store.for_actor(BOB).create_run(RunConfig())
    store.for_actor(Actor("cy")).create_run(RunConfig())
    order = [store.claim_next_run(100 + index).workspace for index in range(5)]
    assert order == ["ada", "bob", "cy", "ada", "ada"]


def test_a_workspace_with_a_running_run_waits_behind_one_without(store):
    first = store.for_actor(ADA).create_run(RunConfig())
    store.for_actor(ADA).create_run(RunConfig())
    assert store.claim_next_run(1).run_id == first  # ada's first run is now running
    late = store.for_actor(BOB).create_run(RunConfig())  # queued after ada's second
    assert store.claim_next_run(2).run_id == late


def test_a_second_run_waits_behind_anothers_first_even_after_the_first_run_finished(store):
    ada = store.for_actor(ADA)
    first, _ = ada.create_run(RunConfig()), ada.create_run(RunConfig())
    late = store.for_actor(BOB).create_run(RunConfig())
    assert store.claim_next_run(1).run_id == first
    store.finish_run(first, "completed")
    assert store.claim_next_run(1).run_id == late


def test_a_cancelled_run_does_not_cost_its_workspace_a_turn(store):
    ada = store.for_actor(ADA)
    cancelled, waiting = ada.create_run(RunConfig()), ada.create_run(RunConfig())
    store.for_actor(BOB).create_run(RunConfig())
    jobs.stop_run(ada, cancelled)
    assert store.claim_next_run(1).run_id == waiting


# ------------------------------------------------------------------ quotas
def test_the_queue_limit_refuses_with_its_name_value_and_when(store, monkeypatch):
    monkeypatch.setenv("SEQLAB_MAX_QUEUED", "2")
    ada = store.for_actor(ADA)
    jobs.queue_runs(ada, [RunConfig(), RunConfig()], start_worker=False)
    with pytest.raises(QuotaExceeded) as refused:
        jobs.queue_runs(ada, [RunConfig()], start_worker=False)
    text = str(refused.value)
    assert "SEQLAB_MAX_QUEUED" in text and "allows 2" in text and "Try again when one of them has finished" in text
    assert len(store.list_runs()) == 2  # nothing recorded by the refused call
    jobs.queue_runs(store.for_actor(BOB), [RunConfig()], start_worker=False)  # bob has his own allowance


def test_the_queue_limit_says_when_a_running_run_should_end(store):
    ada = store.for_actor(ADA)
    run_id = ada.create_run(RunConfig().with_overrides({"train.epochs": 4}))
    store.claim_next_run(1)
    store.set_progress(run_id, epoch=1, epochs=4)
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE runs SET started_at = ? WHERE run_id = ?", (time.time() - 60, run_id))
    with pytest.raises(QuotaExceeded, match=r"in about 3 min, when your earliest run should finish"):
        check_queue(ada, [RunConfig()], Limits(max_queued=1))


def test_the_work_limit_refuses_a_run_too_big(store):
    big = RunConfig().with_overrides({"data.dataset": "imdb", "data.subset": 5000, "train.epochs": 10})
    with pytest.raises(QuotaExceeded, match=r"SEQLAB_MAX_RUN_WORK.*50,000 examples x epochs.*allows 20,000"):
        check_queue(store.for_actor(ADA), [big], Limits(max_run_work=20_000))


def test_the_instructor_and_the_system_are_not_limited(store):
    big = [RunConfig().with_overrides({"train.epochs": 50})] * 3
    limits = Limits(max_queued=1, max_run_work=10)
    check_queue(store.for_actor(Actor("teacher", instructor=True)), big, limits)
    check_queue(store, big, limits)


def test_the_upload_limit_refuses_a_large_file_and_saves_nothing(store):
    with pytest.raises(QuotaExceeded, match=r"SEQLAB_MAX_UPLOAD_MB.*allows 0.0001 MB"):
        save_upload_within_limits(store.for_actor(ADA), "films.csv", GOOD_CSV, limits=Limits(max_upload_mb=0.0001))
    assert list_uploads(store.home) == []


def test_a_bad_limit_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("SEQLAB_MAX_QUEUED", "lots")
    with pytest.raises(ValueError, match="SEQLAB_MAX_QUEUED: received 'lots', expected a positive whole number"):
        Limits.from_environment()


def test_run_work_counts_examples_times_epochs():
    config = RunConfig().with_overrides({"data.dataset": "synthetic-longrange", "data.num_examples": 2000,
                                         "train.epochs": 5})
    assert quotas.run_work(config) == (2000, 10_000)


# ------------------------------------------------------------------ migration
def test_an_old_store_migrates_in_place_and_keeps_its_runs(seqlab_home):
    home = seqlab_home / "old"
    home.mkdir(parents=True)
    conn = sqlite3.connect(home / "runs.db", isolation_level=None)
    for migration in MIGRATIONS[:4]:  # a store written by the version before workspaces
        migration(conn)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO runs (run_id, status, config, created_at) VALUES (?, 'completed', ?, ?)",
                 ("r20261101-000000-abcd", RunConfig().to_json(), time.time()))
    conn.close()
    store = RunStore(home)
    record = store.get_run("r20261101-000000-abcd")
    assert (record.workspace, record.shared, record.backend) == ("default", False, "local")
    assert [r.run_id for r in store.for_actor(Actor("default")).list_runs()] == [record.run_id]
    assert store.for_actor(ADA).list_runs() == []


# ------------------------------------------------------------------ command line
def _cli(*args: str, env_home) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqlab", "--home", str(env_home), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_command_line_lists_only_its_workspaces_runs(store):
    own, other = finished_run(store.for_actor(ADA)), finished_run(store.for_actor(BOB))
    listed = json.loads(_cli("runs", "--workspace", "ada", "--json", env_home=store.home).stdout)
    assert [row["run_id"] for row in listed] == [own]
    assert listed[0]["workspace"] == "ada" and listed[0]["backend"] == "local"
    shown = _cli("show", other, "--workspace", "ada", env_home=store.home)
    assert shown.returncode == 2 and f"no run '{other}'" in shown.stderr


def test_the_command_line_refuses_to_delete_a_shared_run_of_another_workspace(store):
    shared = finished_run(store.for_actor(BOB))
    store.set_shared(shared, True)
    result = _cli("delete", shared, "--workspace", "ada", env_home=store.home)
    assert result.returncode == 3
    assert result.stderr.strip().startswith("seqlab: refused: cannot delete run")
    assert len(result.stderr.strip().splitlines()) == 1
    assert store.get_run(shared).status == "completed"


# ------------------------------------------------------------------ pages
def test_a_page_shows_only_the_sessions_workspace(store, monkeypatch):
    monkeypatch.setenv("SEQLAB_WORKSPACES", "1")
    own, other = finished_run(store.for_actor(ADA)), finished_run(store.for_actor(BOB))
    at = open_page(COMPARE_PAGE)
    at.query_params["workspace"] = "ada"
    check_page(at.run())
    assert at.multiselect(key="compare.selected").options == [store.get_run(own).label] or \
        list(at.multiselect(key="compare.selected").value) == [own]
    assert other not in str(at.multiselect(key="compare.selected").options)


def test_a_crafted_url_does_not_open_another_workspaces_run(store, monkeypatch):
    monkeypatch.setenv("SEQLAB_WORKSPACES", "1")
    hidden = finished_run(store.for_actor(BOB), arch="transformer")
    at = open_page(ATTENTION_PAGE)
    at.query_params["workspace"] = "ada"
    at.query_params["run"] = hidden
    check_page(at.run())
    notice = texts_of(at.info)
    assert f"There is no run '{hidden}'" in notice  # reported missing: not even its label shows


def test_a_classroom_session_gets_a_generated_workspace_in_its_url(store, monkeypatch):
    monkeypatch.setenv("SEQLAB_WORKSPACES", "1")
    at = check_page(open_page(HOME_PAGE).run())
    name = at.query_params["workspace"]
    name = name[0] if isinstance(name, list) else name
    assert check_workspace_name(name) == name and name != "default"
    assert f"Workspace **{name}**" in texts_of(at.sidebar.caption)


def test_home_switches_the_workspace_and_the_url(store, monkeypatch):
    monkeypatch.setenv("SEQLAB_WORKSPACES", "1")
    finished_run(store.for_actor(BOB))
    at = check_page(open_page(HOME_PAGE).run())
    at.text_input(key="home.workspace.name").input("bob")
    check_page(at.button(key="home.workspace.switch").click().run())
    name = at.query_params["workspace"]
    assert (name[0] if isinstance(name, list) else name) == "bob"
    assert store.get_run(store.list_runs()[0].run_id).label in texts_of(at.dataframe) or len(at.dataframe) == 1


def test_home_refuses_a_bad_workspace_name(store, monkeypatch):
    monkeypatch.setenv("SEQLAB_WORKSPACES", "1")
    at = check_page(open_page(HOME_PAGE).run())
    at.text_input(key="home.workspace.name").input("Not Valid!")
    check_page(at.button(key="home.workspace.switch").click().run(), "expected 1-40 lower-case letters")


def test_the_instructor_token_on_home_opens_every_workspace(store, monkeypatch):
    monkeypatch.setenv("SEQLAB_INSTRUCTOR_TOKEN", "s3cret")
    at = check_page(open_page(HOME_PAGE).run())
    at.text_input(key="home.workspace.token").input("wrong")
    check_page(at.button(key="home.workspace.enter").click().run(), "not this server's instructor token")
    assert not at.session_state["workspace.instructor"] if "workspace.instructor" in at.session_state else True
    at.text_input(key="home.workspace.token").input("s3cret")
    check_page(at.button(key="home.workspace.enter").click().run())
    assert at.session_state["workspace.instructor"] is True
    assert "You are the instructor" in texts_of(at.caption)


def test_the_compare_cache_keeps_each_workspaces_runs_apart(store):
    from seqlab.views.compare import CompareCache, load_compare

    own, other = finished_run(store.for_actor(ADA)), finished_run(store.for_actor(BOB))
    cache = CompareCache()
    assert load_compare(store.for_actor(ADA), cache).runs["run_id"].tolist() == [own]
    assert load_compare(store.for_actor(BOB), cache).runs["run_id"].tolist() == [other]


def test_with_a_login_configured_home_offers_log_in_instead_of_a_name(store):
    at = open_page(HOME_PAGE)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "seqlab", "client_secret": "secret",
                          "server_metadata_url": "https://accounts.example.org/.well-known/openid-configuration"}
    check_page(at.run())
    assert at.button(key="home.workspace.login").label == "Log in"
    assert not [widget for widget in at.text_input if widget.key == "home.workspace.name"]


def test_run_tables_name_the_workspace_only_when_runs_of_several_are_listed(store):
    from seqlab.views.runs import recent_runs_table

    finished_run(store.for_actor(ADA)), finished_run(store.for_actor(BOB))
    assert "workspace" not in recent_runs_table(store.for_actor(ADA)).columns
    teacher = recent_runs_table(store.for_actor(Actor("teacher", instructor=True)))
    assert sorted(teacher["workspace"]) == ["ada", "bob"]
