"""Presentation mode: text and charts large enough for a projector at the back of a room.

Turned on by the sidebar's toggle or `?present=1` in the URL (kept there, so
an instructor's link opens in it). While it is on, body text is 22 px,
headings scale with it, widget labels are 20 px, and every chart placed by
`seqlab.ui.place_chart` gets 18 px axis and legend labels and a 24 px title
(Streamlit's defaults are 16 px text and about 11-12 px chart labels). The
sidebar starts collapsed and the Train page folds its form away, so one run
or comparison fills the screen.
"""

from __future__ import annotations

import streamlit as st

KEY, PARAM = "app.present", "present"
TEXT_PX, LABEL_PX, CHART_LABEL_PX, CHART_TITLE_PX = 22, 20, 18, 24
_STYLE = f"""
<style>
  [data-testid="stMain"] {{ font-size: {TEXT_PX}px; }}
  [data-testid="stMain"] p, [data-testid="stMain"] li,
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] {{ font-size: {TEXT_PX}px; }}
  [data-testid="stMain"] [data-testid="stWidgetLabel"] p {{ font-size: {LABEL_PX}px; }}
  [data-testid="stMain"] [data-testid="stCaptionContainer"] {{ font-size: {LABEL_PX}px; }}
  [data-testid="stMain"] h1 {{ font-size: 3.2rem; }}
  [data-testid="stMain"] h2, [data-testid="stMain"] h3 {{ font-size: 2.2rem; }}
</style>
"""


def presentation_mode() -> bool:
    """Draws the sidebar toggle, applies the large style when on; returns whether it is on.

    `?present=1` turns it on when a session opens the link; the toggle keeps
    the URL in step, so the link stays shareable.
    """
    wanted = st.query_params.get(PARAM) in ("1", "true", "yes")
    st.session_state.setdefault(KEY, wanted)
    on = st.sidebar.toggle("Presentation mode", key=KEY,
                           help=f"Text {TEXT_PX} px and chart labels {CHART_LABEL_PX} px for a projector; "
                                f"the same as ?{PARAM}=1 in the link.")
    if on:
        st.query_params[PARAM] = "1"
        st.html(_STYLE)
    elif PARAM in st.query_params:
        del st.query_params[PARAM]
    return on


def presenting() -> bool:
    """Whether this session is in presentation mode (read by charts and pages)."""
    return bool(st.session_state.get(KEY, False))


def projector_chart(chart):
    """Returns the chart with projector-sized axis, legend, header and title fonts."""
    try:
        return (chart.configure_axis(labelFontSize=CHART_LABEL_PX, titleFontSize=CHART_LABEL_PX)
                .configure_legend(labelFontSize=CHART_LABEL_PX, titleFontSize=CHART_LABEL_PX)
                .configure_header(labelFontSize=CHART_LABEL_PX, titleFontSize=CHART_LABEL_PX)
                .configure_title(fontSize=CHART_TITLE_PX))
    except (AttributeError, ValueError):  # a chart that takes no top-level configuration
        return chart
