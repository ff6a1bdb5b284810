"""Streamlit glue of workspaces: whose session this is, kept in the URL; the instructor; shared runs.

Each browser session acts for one workspace (`seqlab.workspaces`). Its name
comes, in order, from the login when the server configures Streamlit's
OIDC login (`st.login`), from `?workspace=` in the URL (a student's link
brings them back), from this session's earlier choice, or is generated
(on a classroom server: `seqlab.workspaces.workspaces_enabled`; else
"default", so one person's runs stay in every new tab). The
name is written back into the URL on every run (`keep_in_url`), so it
survives page switches and reloads. "Copy link" leaves it out
(`seqlab.ui.links.share_url`), so a shared view opens in the reader's own
workspace.

Session keys: `workspace.name`, `workspace.instructor`; widget keys
`app.show_shared` (sidebar), `home.workspace.*` (Home's panel).
"""

from __future__ import annotations

import streamlit as st

from seqlab.workspaces import (
    DEFAULT_WORKSPACE,
    Actor,
    check_workspace_name,
    generate_name,
    instructor_token_configured,
    instructor_token_matches,
    login_workspace_name,
    workspaces_enabled,
)

URL_PARAMETER = "workspace"
NAME_KEY = "workspace.name"
INSTRUCTOR_KEY = "workspace.instructor"
SHOW_SHARED_KEY = "app.show_shared"


def login_configured() -> bool:
    """Returns whether the server configured Streamlit's built-in login (an `[auth]` section in secrets)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all: no login
        return False


def _login_name() -> str | None:
    """The workspace name of the logged-in user, or None when no one is logged in."""
    user = st.user
    if not getattr(user, "is_logged_in", False):
        return None
    return login_workspace_name(str(user.get("email") or user.get("name") or ""))


def current_name() -> str:
    """Returns this session's workspace name (login, URL, earlier choice or a new one), remembering it."""
    if login_configured():
        name = _login_name()
        if name is not None:
            st.session_state[NAME_KEY] = name
            return name
    linked = st.query_params.get(URL_PARAMETER)
    if linked:
        try:
            st.session_state[NAME_KEY] = check_workspace_name(linked)
        except ValueError:
            pass  # a mangled link: keep the session's own name; the URL is rewritten below
    if NAME_KEY not in st.session_state:
        st.session_state[NAME_KEY] = generate_name() if workspaces_enabled() else DEFAULT_WORKSPACE
    return st.session_state[NAME_KEY]


def current_actor() -> Actor:
    """Returns who this session acts for: its workspace, instructor or not, shared runs shown or not."""
    return Actor(workspace=current_name(), instructor=bool(st.session_state.get(INSTRUCTOR_KEY)),
                 include_shared=bool(st.session_state.get(SHOW_SHARED_KEY, False)))


def keep_in_url() -> None:
    """Writes the session's workspace into the URL (`?workspace=`), unless a login decides it."""
    if login_configured() and _login_name() is not None:
        return
    name = current_name()
    if name == DEFAULT_WORKSPACE and not workspaces_enabled() and URL_PARAMETER not in st.query_params:
        return  # one person's server: no workspace in every address
    if st.query_params.get(URL_PARAMETER) != name:
        st.query_params[URL_PARAMETER] = name


def switch_workspace(name: str) -> str:
    """Makes `name` this session's workspace (and the URL's); leaves instructor rights as they are.

    Raises:
        ValueError: for a name that is not a valid workspace name.
    """
    name = check_workspace_name(name)
    st.session_state[NAME_KEY] = name
    st.query_params[URL_PARAMETER] = name
    return name


def sidebar_badge() -> None:
    """Shows the workspace (and instructor role) in the sidebar, with the shared-runs toggle."""
    actor = current_actor()
    if actor.workspace == DEFAULT_WORKSPACE and not workspaces_enabled() and not actor.instructor:
        return  # one person's server: nothing to tell apart
    with st.sidebar:
        role = " · instructor" if actor.instructor else ""
        st.caption(f":material/workspaces: Workspace **{actor.workspace}**{role}")
        st.toggle("Show runs shared with the class", key=SHOW_SHARED_KEY,
                  help="Adds the runs the instructor shared to every page's lists (read only).")


def workspace_panel() -> None:
    """Home's workspace panel: the name (switchable), login, and the instructor's token."""
    actor = current_actor()
    with st.expander(f"Workspace: {actor.workspace}" + (" (instructor)" if actor.instructor else ""),
                     icon=":material/workspaces:"):
        if login_configured():
            _login_controls()
            return
        st.caption("Your runs and uploads belong to this workspace; bookmark this page's address to come "
                   "back to them. A name is not a password: pick one others will not guess.")
        typed = st.text_input("Workspace name", value=actor.workspace, key="home.workspace.name",
                              help="1-40 lower-case letters, digits, '-', '_' or '.'.")
        if st.button("Switch workspace", key="home.workspace.switch"):
            try:
                switch_workspace(typed)
                st.rerun()
            except ValueError as error:
                st.error(str(error))
        if instructor_token_configured():
            _instructor_controls(actor)


def _login_controls() -> None:
    if getattr(st.user, "is_logged_in", False):
        st.caption(f"Logged in as {st.user.get('email') or st.user.get('name')}: the workspace is yours.")
        st.button("Log out", key="home.workspace.logout", on_click=st.logout)
    else:
        st.caption("This server asks you to log in: your workspace is then named after your account.")
        st.button("Log in", key="home.workspace.login", on_click=st.login)


def _instructor_controls(actor: Actor) -> None:
    if actor.instructor:
        st.caption("You are the instructor: every page lists every workspace's runs, and you may stop, "
                   "delete or share any of them.")
        if st.button("Leave instructor mode", key="home.workspace.leave"):
            st.session_state[INSTRUCTOR_KEY] = False
            st.rerun()
        return
    token = st.text_input("Instructor token", type="password", key="home.workspace.token",
                          help="The secret the server was started with (SEQLAB_INSTRUCTOR_TOKEN).")
    if st.button("Enter instructor mode", key="home.workspace.enter"):
        if instructor_token_matches(token):
            st.session_state[INSTRUCTOR_KEY] = True
            st.rerun()
        else:
            st.error("That is not this server's instructor token; ask whoever started the server.")


def share_panel(store) -> None:
    """The instructor's "Share with the class" picker of finished runs (Home); nothing for students."""
    from seqlab.views.home import set_sharing, sharing_choices

    actor = store.actor
    if actor is None or not actor.instructor:
        return
    options, shared = sharing_choices(store)
    with st.expander("Share runs with the class", icon=":material/share:"):
        if not options:
            st.caption("No finished runs yet.")
            return
        chosen = st.multiselect("Shared runs", list(options), default=shared, format_func=options.get,
                                key="home.workspace.shared",
                                help="Students see these (read only) when they turn on "
                                     "'Show runs shared with the class'.")
        if st.button("Save sharing", key="home.workspace.save_sharing"):
            changed = set_sharing(store, chosen)
            st.success(f"Sharing saved ({changed} run(s) changed).")
