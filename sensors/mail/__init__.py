"""Mail parsing for intake: RFC 5322 files and JSON work items become ``ParsedMessage`` records.

Pure and stdlib-first (charset-normalizer is the one library, for bodies whose declared
charset lies). Uses nothing above it; ``sensors.parsing`` is its facade for the rest of the
code. Modules: ``model`` (records, codes, flags), ``text`` (one-line and address helpers),
``html`` (visible text only), ``charset`` (strict, then fallback decoding), ``eml`` and
``json_item`` (the two input kinds).
"""
