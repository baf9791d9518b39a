
__title__ = "open_chatcaht"
__version__ = "1.35.13"
