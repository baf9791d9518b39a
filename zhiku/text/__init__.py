"""Text helpers every layer uses: normalisation and lexical tokens (``normalize``), sentences
(``sentences``), ids, timestamps and hashes (``ids``).

The bottom of the house: nothing here imports anything else of zhiku.
"""
