"""Workspaces: whose runs a session sees and may change, and who the instructor is.

A classroom server is one store shared by many browsers. Each session (and
each command line call) acts for one workspace, named on Home (kept in the
URL as `?workspace=`) or by `--workspace`. Runs, uploads, groups and searches
record the workspace that made them. `RunStore.for_actor(actor)` returns the
store as that actor sees it: listings and reads keep to the actor's own runs
(plus the runs the instructor shared, when the actor asks for them), and
stop, delete and share refuse runs of another workspace. The instructor sees
every run and may change any.

The instructor is whoever presents the secret the server was started with
(`SEQLAB_INSTRUCTOR_TOKEN`), compared in constant time. Workspace names are
not passwords: with Streamlit's login configured (`st.login`), the page
takes the name from the login instead of letting the user type one.

Nothing here imports Streamlit or TensorFlow.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from dataclasses import dataclass

# Runs recorded before workspaces existed, and command-line calls without --workspace.
DEFAULT_WORKSPACE = "default"
INSTRUCTOR_TOKEN_VARIABLE = "SEQLAB_INSTRUCTOR_TOKEN"
WORKSPACE_VARIABLE = "SEQLAB_WORKSPACE"  # the command line's default workspace
# "1" makes a server give each new browser session its own generated workspace. Off (and no
# instructor token), every session starts in "default": one person on a laptop finds
# yesterday's runs, and the command line's, in a new tab.
WORKSPACES_VARIABLE = "SEQLAB_WORKSPACES"
# Lower-case letters, digits, '-', '_' and '.', starting with a letter or digit: safe in a
# URL, a file name and a sentence.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
NAME_RULE = "1-40 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit"

_ADJECTIVES = ("amber", "brave", "calm", "clever", "eager", "gentle", "keen", "lucky", "merry",
               "quick", "quiet", "sunny", "swift", "tidy", "vivid", "witty")
_ANIMALS = ("badger", "crane", "dolphin", "falcon", "fox", "heron", "koala", "lynx", "otter",
            "owl", "panda", "puffin", "raven", "seal", "tiger", "wren")


class PermissionDenied(PermissionError):
    """An actor asked to change a run (or search) of another workspace; the text says whose and why."""


@dataclass(frozen=True)
class Actor:
    """Who is asking: a workspace, whether they are the instructor, whether they look at shared runs.

    Attributes:
        workspace: the workspace the actor's new runs belong to.
        instructor: sees and may change every run of every workspace.
        include_shared: also sees (read only) the runs the instructor shared with the class.
    """

    workspace: str = DEFAULT_WORKSPACE
    instructor: bool = False
    include_shared: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "workspace", check_workspace_name(self.workspace))

    def may_change(self, owner: str) -> bool:
        """Returns whether this actor may stop, delete or share a run of workspace `owner`."""
        return self.instructor or owner == self.workspace


def upload_scope(actor: Actor | None) -> str | None:
    """Returns the workspace whose uploads `actor` may pick (None: every upload, for the system or the instructor)."""
    return None if actor is None or actor.instructor else actor.workspace


def check_workspace_name(name: object) -> str:
    """Returns `name` stripped and lower-cased when it is a valid workspace name.

    Raises:
        ValueError: naming what was received and the rule.
    """
    text = str(name).strip().lower() if isinstance(name, str) else None
    if text is None or not NAME_PATTERN.fullmatch(text):
        raise ValueError(f"workspace: received {name!r}, expected {NAME_RULE} (e.g. 'ada' or 'team-3')")
    return text


def generate_name() -> str:
    """Returns a fresh, hard-to-guess workspace name such as "swift-otter-4821"."""
    return (f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_ANIMALS)}-"
            f"{secrets.randbelow(10000):04d}")


def workspaces_enabled() -> bool:
    """Returns whether new browser sessions get a generated workspace (a classroom server).

    True when `SEQLAB_WORKSPACES` is 1/true/yes or an instructor token is configured.
    """
    flag = os.environ.get(WORKSPACES_VARIABLE, "").strip().lower()
    return flag in ("1", "true", "yes", "on") or instructor_token_configured()


def instructor_token_configured() -> bool:
    """Returns whether the server was started with an instructor token."""
    return bool(os.environ.get(INSTRUCTOR_TOKEN_VARIABLE, ""))


def instructor_token_matches(token: object) -> bool:
    """Returns whether `token` is the server's instructor token (constant-time comparison).

    False when no token is configured, so an empty entry never makes anyone the instructor.
    """
    expected = os.environ.get(INSTRUCTOR_TOKEN_VARIABLE, "")
    if not expected or not isinstance(token, str) or not token:
        return False
    return hmac.compare_digest(token.encode(), expected.encode())


def command_line_actor(workspace: str | None, token: str | None = None) -> Actor:
    """Returns the actor of one command-line call.

    Args:
        workspace: `--workspace` (None: `SEQLAB_WORKSPACE`, else "default").
        token: `--instructor-token` (None: not the instructor).

    Raises:
        ValueError: for a bad workspace name, or a token that is not the server's.
    """
    name = workspace if workspace is not None else os.environ.get(WORKSPACE_VARIABLE) or DEFAULT_WORKSPACE
    if token is not None and not instructor_token_matches(token):
        why = ("no instructor token is configured (set SEQLAB_INSTRUCTOR_TOKEN)"
               if not instructor_token_configured() else "it does not match SEQLAB_INSTRUCTOR_TOKEN")
        raise PermissionDenied(f"--instructor-token: {why}")
    return Actor(workspace=name, instructor=token is not None, include_shared=True)


def login_workspace_name(email: str) -> str:
    """Turns a login's e-mail address into a workspace name ("Ada.L@uni.edu" -> "ada.l").

    Raises:
        ValueError: when nothing usable is left of the address.
    """
    local = str(email).split("@", 1)[0].lower()
    cleaned = re.sub(r"[^a-z0-9_.-]+", "-", local).strip("-_.")[:40]
    return check_workspace_name(cleaned or str(email))
