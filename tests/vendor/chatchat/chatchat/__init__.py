"""zhiku's stand-in for the ``chatchat`` package around the one vendored module
``chatchat/webui_pages/utils.py`` (Chatchat's ``ApiRequest``, unmodified): only the few
names that module imports, with Chatchat 0.3.1.3's default values. See ../README.md."""
