"""The owner's application: the `opsbench` CLI and its verbs (status, audit, retry, erase,
reprocess, memory review), the headless runner, the `run` supervisor and the guarded web
server. It sits above every layer and may import any of them; no layer imports it."""
