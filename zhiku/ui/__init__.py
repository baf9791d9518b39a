"""zhiku's web UI: Streamlit pages that talk to the API only through ``zhiku.client``.

``zhiku.ui.server.mount_ui`` mounts it at ``/`` of the API's app (same process and port).
"""
