"""The Streamlit script of zhiku's web UI (``zhiku start`` serves it at ``/``)."""

from zhiku.ui.shell import run

run()
