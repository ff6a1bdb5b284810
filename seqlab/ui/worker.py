"""Keeps workers warm while people use the app, so the first click pays no TensorFlow import."""

from __future__ import annotations

import os
import time

import streamlit as st

from seqlab import jobs
from seqlab.store import RunStore

# Checked at most this often per browser session; a warm worker waits
# `jobs.IDLE_TIMEOUT_SECONDS` before exiting, several times longer.
WARM_CHECK_SECONDS = 60.0
_LAST_CHECK_KEY = "app.worker_checked_at"
WARM_VARIABLE = "SEQLAB_WARM_WORKER"  # "0": start workers only when runs are queued


def keep_worker_warm(store: RunStore) -> None:
    """Starts workers (each imports TensorFlow at once) until `jobs.WARM_WORKERS` are alive.

    Called on every page's run by app.py; it looks at the store at most once
    a minute per session. Errors are left to the pages: a damaged store is
    reported where it is read. `SEQLAB_WARM_WORKER=0` turns it off (a
    server short of memory: an idle worker holds TensorFlow).
    """
    if os.environ.get(WARM_VARIABLE, "1") == "0":
        return
    now = time.monotonic()
    if now - st.session_state.setdefault(_LAST_CHECK_KEY, -WARM_CHECK_SECONDS) < WARM_CHECK_SECONDS:
        return
    st.session_state[_LAST_CHECK_KEY] = now
    try:
        jobs.ensure_worker(store, warm=True)
    except Exception:  # noqa: BLE001 - warming is an optimisation; the page shows real errors
        pass
